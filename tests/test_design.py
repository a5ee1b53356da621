"""Tests for matae_utils.design (decoding, SMACT validity, metrics, baseline, latent search)
and the generative models appended to matae_utils.models (PropertyVAE, ConvVAE)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import matae_utils as mu
from matae_utils import design
from matae_utils.featurize import ELEMENTS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _vec(**amounts: float) -> np.ndarray:
    x = np.zeros(len(ELEMENTS))
    for el, value in amounts.items():
        x[ELEMENTS.index(el)] = value
    return x


# --------------------------------------------------------------------------- decoding
def test_decode_gives_reduced_integer_formulas():
    X = np.stack(
        [
            _vec(Fe=0.41, O=0.59),  # rationalised to Fe2O3
            _vec(Na=0.5, Cl=0.5),
            _vec(Ga=0.49, As=0.49, Cu=0.02),  # leakage below the threshold dropped
            _vec(Fe=4, O=6),  # unnormalised rows are normalised first
        ]
    )
    assert design.decode_compositions(X) == ["Fe2O3", "NaCl", "GaAs", "Fe2O3"]


def test_decode_single_vector_and_subset_vocabulary():
    assert design.decode_compositions(_vec(Ti=1, O=2)) == ["TiO2"]
    assert design.decode_compositions([0.25, 0.75], elements=["Al", "Cl"]) == ["AlCl3"]


def test_decode_caps_atoms_per_formula_unit():
    x = [0.21, 0.19, 0.60]  # Ba11Ti10O30 with denominators up to 10
    assert mu.fractions_to_formula(x, elements=["Ba", "Ti", "O"]) == "Ba11Ti10O30"
    out = design.decode_compositions(x, elements=["Ba", "Ti", "O"], max_denominator=10)
    assert out == ["BaTiO3"]  # smaller denominators until at most 20 atoms
    # [0.06, 0.94] needs 1:16 (17 atoms): rejected when only 10 are allowed
    assert design.decode_compositions([0.06, 0.94], elements=["Li", "O"], max_atoms=10) == [None]


def test_decode_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="NaN"):
        design.decode_compositions(np.stack([_vec(Fe=1), _vec(Fe=np.nan)]))
    with pytest.raises(ValueError, match="non-negative.*rows \\[1\\]"):
        design.decode_compositions(np.stack([_vec(Fe=1), _vec(Fe=1, O=-0.2)]))
    with pytest.raises(ValueError, match=f"{len(ELEMENTS)} columns"):
        design.decode_compositions(np.ones((2, 5)))
    with pytest.raises(ValueError, match="all zero"):
        design.decode_compositions(np.zeros(len(ELEMENTS)))
    with pytest.raises(ValueError, match="threshold"):
        design.decode_compositions(_vec(Fe=1), threshold=1.5)
    with pytest.raises(TypeError):
        design.decode_compositions(np.array(["a"] * len(ELEMENTS)))
    # round-off below -1e-6 is accepted as zero (softmax outputs never go negative)
    assert design.decode_compositions(_vec(Na=0.5, Cl=0.5, K=-1e-9)) == ["NaCl"]


# --------------------------------------------------------------------------- validity
def test_smact_validity_with_and_without_alloy_shortcut():
    formulas = ["NaCl", "Fe2O3", "NaCl2", "CuZn", "Fe", None]
    assert design.smact_valid(formulas).tolist() == [True, True, False, True, True, False]
    no_alloys = design.smact_valid(formulas, alloys=False).tolist()
    assert no_alloys == [True, True, False, False, True, False]


def test_smact_handles_non_integer_amounts():
    from smact.screening import smact_validity

    # SMACT itself truncates amounts with int(): all below 1 -> ZeroDivisionError
    with pytest.raises(ZeroDivisionError):
        smact_validity("Na0.5Cl0.5")
    assert design.smact_valid(["Na0.5Cl0.5", "Cd0.3Hg0.7Te1"]).tolist() == [True, True]


def test_smact_bad_input():
    with pytest.raises(TypeError, match="single str"):
        design.smact_valid("NaCl")
    with pytest.raises(ValueError, match="'Xyz3' is not a valid"):
        design.smact_valid(["NaCl", "Xyz3"])
    with pytest.raises(TypeError):
        design.smact_valid(["NaCl"], alloys=1)


# --------------------------------------------------------------------------- set metrics
def test_uniqueness_and_novelty_compare_reduced_formulas():
    gen = ["Fe2O3", "Fe4O6", "NaCl", None]
    assert design.uniqueness(gen) == pytest.approx(2 / 4)
    assert design.novelty(gen, ["ClNa"]) == pytest.approx(1 / 2)  # Fe2O3 new, NaCl known
    assert design.novelty(gen, ["Fe2O3", "NaCl"]) == 0.0
    assert np.isnan(design.novelty([None], ["NaCl"]))
    with pytest.raises(ValueError, match="empty"):
        design.uniqueness([])


def test_composition_statistics_and_distances():
    assert design.n_elements(["NaCl", "Fe2O3", "LiFePO4", None]).tolist() == [2, 2, 4, -1]
    en = design.mean_electronegativity(["NaCl", "Ar"])
    assert en[0] == pytest.approx((0.93 + 3.16) / 2)
    assert np.isnan(en[1])  # no Pauling value for argon
    same = design.distribution_distances(["NaCl", "KBr"], ["KBr", "NaCl"])
    assert same == {"n_elements": 0.0, "electronegativity": 0.0}
    far = design.distribution_distances(["LiFePO4"], ["NaCl"])
    assert far["n_elements"] == pytest.approx(2.0)


def test_evaluate_generated_on_training_data_itself():
    train = ["NaCl", "Fe2O3", "GaAs", "CuZn"]
    m = design.evaluate_generated(train + [None], train)
    assert m["n"] == 5 and m["decoded"] == pytest.approx(0.8)
    assert m["validity"] == pytest.approx(4 / 5)
    assert m["validity_no_alloys"] == pytest.approx(3 / 5)
    assert m["uniqueness"] == pytest.approx(4 / 5)
    assert m["novelty"] == 0.0 and m["w_n_elements"] == 0.0


# --------------------------------------------------------------------------- baseline
def test_random_compositions_follow_the_data_statistics():
    data = ["NaCl", "KCl", "NaBr", "KBr", "NaI", "Fe2O3"]
    X = mu.element_fractions(data)
    out = design.random_compositions(400, X, seed=0)
    assert out == design.random_compositions(400, X, seed=0)  # seeded
    assert len(out) == 400
    assert set(design.n_elements(out)) == {2}  # every data compound has two elements
    seen = {el for f in out for el in __import__("pymatgen.core").core.Composition(f).as_dict()}
    assert seen <= {"Na", "K", "Cl", "Br", "I", "Fe", "O"}
    with pytest.raises(ValueError, match="NaN"):
        design.random_compositions(5, np.full((2, len(ELEMENTS)), np.nan))


# --------------------------------------------------------------------------- search
def test_search_latent_reaches_the_window():
    weight = torch.tensor([1.0, -2.0])

    def prop(z):  # a linear "property head": [B, 2] -> [B]
        return z @ weight

    z, p = design.search_latent(prop, 2, target=(1.1, 1.5), n_starts=64, steps=300, seed=0)
    assert z.shape == (64, 2) and p.shape == (64,)
    assert ((p > 1.09) & (p < 1.51)).mean() > 0.95
    assert np.allclose(p, z @ weight.numpy(), atol=1e-5)
    with pytest.raises(ValueError):
        design.search_latent(prop, 2, target=(1.5, 1.1))
    with pytest.raises(ValueError, match="\\[B\\] or \\[B, 1\\]"):
        design.search_latent(lambda z: z, 2, target=(0, 1), steps=1)


def test_nearest_known():
    ref = mu.element_fractions(["NaCl", "Fe2O3", "GaAs"])
    names, dist = design.nearest_known(
        mu.element_fractions(["Fe3O4"]), ref, ["NaCl", "Fe2O3", "GaAs"]
    )
    assert names.tolist() == [["Fe2O3"]] and dist[0, 0] < 0.1
    with pytest.raises(ValueError, match="reference_formulas"):
        design.nearest_known(ref, ref, ["NaCl"])


# --------------------------------------------------------------------------- models
def test_composition_vae_categorical_loss_and_head():
    torch.manual_seed(0)
    model = mu.CompositionVAE(6, 2, hidden=(8,), beta=0.1, n_targets=1, alpha=2.0)
    x = torch.softmax(torch.randn(5, 6), dim=1)
    y = torch.tensor([1.0, float("nan"), 0.5, 2.0, float("nan")])
    model.eval()  # decodes the posterior mean
    terms = model.loss(x, y)
    mu_z, logvar = model.encode_dist(x)
    pi = model.decode(mu_z)  # softmax probabilities [5, 6]
    assert torch.allclose(pi.sum(dim=1), torch.ones(5))
    cross_entropy = -(x * pi.log()).sum(dim=1).mean()
    kl = (
        torch.distributions.kl_divergence(
            torch.distributions.Normal(mu_z, torch.exp(0.5 * logvar)),
            torch.distributions.Normal(0.0, 1.0),
        )
        .sum(dim=1)
        .mean()
    )
    pred = model.predict(x)[:, 0]
    sup = ((pred[[0, 2, 3]] - y[[0, 2, 3]]) ** 2).mean()
    assert torch.allclose(terms["recon_sum"], cross_entropy, atol=1e-6)
    assert torch.allclose(terms["kl"], kl, atol=1e-6)
    assert torch.allclose(terms["supervised"], sup)
    assert torch.allclose(terms["loss"], cross_entropy + 0.1 * kl + 2.0 * sup, atol=1e-6)
    assert torch.allclose(model.predict_latent(mu_z), model.predict(x))
    assert mu.models.MODELS["CompositionVAE"] is mu.CompositionVAE
    assert mu.CompositionVAE(**model.config).config == model.config
    history = mu.fit(model, (x, y), epochs=2, batch_size=5, progress=False, device="cpu")
    assert "supervised" in history.train


def test_composition_vae_without_head_is_unsupervised():
    model = mu.CompositionVAE(4, 2, hidden=(8,))
    assert model.supervised is False and model.head is None
    x = torch.full((3, 4), 0.25)
    assert set(model.loss(x)) == {"loss", "recon_sum", "kl", "recon"}
    with pytest.raises(ValueError, match="no property head"):
        model.predict_latent(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="softmax"):
        mu.CompositionVAE(4, 2, output_activation="sigmoid")
    with pytest.raises(ValueError, match="unsupervised"):
        mu.fit(model, (x, torch.ones(3)), epochs=1, progress=False)


def test_conv_vae_shapes_loss_and_checkpoint(tmp_path):
    torch.manual_seed(0)
    model = mu.ConvVAE(
        (1, 16, 16),
        latent_dim=3,
        channels=(4, 8),
        output_activation="sigmoid",
        recon_loss="bce",
        beta=0.5,
    )
    x = torch.rand(4, 1, 16, 16)
    mu_, logvar = model.encode_dist(x)
    assert mu_.shape == logvar.shape == (4, 3)
    assert torch.equal(model.encode(x), mu_)
    assert model.sample(5, seed=0).shape == (5, 1, 16, 16)
    assert torch.equal(model.sample(2, seed=1), model.sample(2, seed=1))
    model.eval()  # eval: decodes the mean, deterministic
    terms = model.loss(x)
    assert torch.equal(terms["loss"], model.loss(x)["loss"])
    ref = mu.losses.vae_loss(model.decoder(mu_), x, mu_, logvar, beta=0.5, recon="bce")
    assert torch.allclose(terms["loss"], ref["loss"])
    with pytest.raises(ValueError, match="channel axis"):
        model.encode_dist(torch.rand(2, 16, 16))
    path = mu.save_checkpoint(model, tmp_path / "cvae.pt")
    again = mu.load_checkpoint(path)
    assert type(again) is mu.ConvVAE
    assert torch.equal(again.encode(x), model.encode(x))


def test_decode_rejects_diffuse_vectors():
    flat = np.full(len(ELEMENTS), 1.0 / len(ELEMENTS))  # every fraction ~0.011 < 0.05
    assert design.decode_compositions(np.stack([flat, _vec(Na=1, Cl=1)])) == [None, "NaCl"]


def test_abo3_site_balance():
    a, b = ["Ba", "Sr", "La", "Zn"], ["Ti", "Fe", "Zn"]
    got = design.abo3_site_balance(
        ["BaTiO3", "Ba1Sr7Ti8O24", "BaTiO2", "ZnTiO3", "Ba2TiO4", "NaTiO3", None], a, b
    )
    # Zn may sit on A (ZnTiO3); Na is on no site; Ba2TiO4 has the wrong O share
    assert got.tolist() == [True, True, False, True, False, False, False]


def test_smact_skips_the_search_beyond_max_elements():
    many = "MnZn2CrTcSnSbTeAsOs"  # 9 elements: SMACT's search would take minutes
    assert design.smact_valid([many]).tolist() == [False]
    assert design.smact_valid(["CuZnAgAuPtPdNi"], max_elements=3).tolist() == [True]  # alloy
    assert design.smact_valid(["CuZnAgAuPtPdNi"], alloys=False, max_elements=3).tolist() == [False]
    assert design.smact_valid(["LiFePO4"], max_elements=3).tolist() == [False]
    assert design.smact_valid(["LiFePO4"]).tolist() == [True]
