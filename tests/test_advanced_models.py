"""ConvVAE, ConvDenoisingAutoEncoder and MultimodalAutoEncoder (chapters 9 and 10)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import matae_utils as mu
from matae_utils.losses import vae_loss


def test_conv_vae_loss_is_the_vae_elbo_and_eval_is_deterministic():
    torch.manual_seed(0)
    model = mu.ConvVAE((1, 16, 16), latent_dim=3, channels=(4, 8), beta=2.0,
                       output_activation="sigmoid", recon_loss="bce")
    x = torch.rand(5, 1, 16, 16)
    model.eval()
    mu_, logvar = model.encode_dist(x)
    expected = vae_loss(model.decode(mu_), x, mu_, logvar, beta=2.0, recon="bce")
    got = model.loss(x)
    for key in ("loss", "recon_sum", "kl", "recon"):
        assert torch.allclose(got[key], expected[key])
    assert torch.equal(model.encode(x), mu_)
    assert model.sample(4, seed=0).shape == (4, 1, 16, 16)
    assert torch.equal(model.sample(2, seed=1), model.sample(2, seed=1))
    rebuilt = type(model)(**model.config)
    assert rebuilt.beta == 2.0 and rebuilt.encoder[-1].out_features == 6


def test_conv_vae_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = mu.ConvVAE((1, 16, 16), latent_dim=2, channels=(4,), beta=4.0)
    path = mu.save_checkpoint(model, tmp_path / "v.pt")
    again = mu.load_checkpoint(path)
    x = torch.rand(2, 1, 16, 16)
    assert torch.equal(again.encode(x), model.encode(x))


def test_conv_vae_learns_and_larger_beta_lowers_the_kl():
    rng = np.random.default_rng(0)
    X = (rng.uniform(size=(256, 1, 8, 8)) < np.linspace(0.1, 0.9, 256)[:, None, None, None])
    X = X.astype(np.float32)
    kls = []
    for beta in (0.5, 8.0):
        torch.manual_seed(0)
        model = mu.ConvVAE((1, 8, 8), latent_dim=2, channels=(4,), beta=beta,
                           output_activation="sigmoid", recon_loss="bce")
        h = mu.fit(model, X, X[:64], epochs=15, batch_size=32, lr=5e-3, progress=False)
        assert h.train["loss"][-1] < h.train["loss"][0]
        kls.append(h.val["kl"][-1])
    assert kls[1] < kls[0]


def test_conv_denoiser_learns_from_pairs_and_checks_targets():
    torch.manual_seed(0)
    model = mu.ConvDenoisingAutoEncoder((1, 30), channels=(4,), code_channels=2)
    assert model.latent_dim == 2 * 15
    x = torch.rand(3, 1, 30)
    assert model(x).shape == (3, 1, 30)
    terms = model.loss(x, torch.zeros(3, 30))
    assert torch.allclose(terms["loss"], (model(x) ** 2).mean())
    with pytest.raises(ValueError, match="targets y"):
        model.loss(x, torch.zeros(3, 29))
    with pytest.raises(ValueError, match="channel axis"):
        model.encode(torch.rand(3, 30))
    # learns to remove additive noise better than the noisy input itself
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 30)
    clean = np.exp(-((t[None] - rng.uniform(0.2, 0.8, (400, 1))) / 0.05) ** 2).astype(np.float32)
    noisy = (clean + 0.1 * rng.normal(size=clean.shape)).astype(np.float32)
    mu.fit(model, (noisy[:300, None], clean[:300]), epochs=40, batch_size=32, lr=5e-3,
           progress=False)
    out = mu.reconstruct(model, noisy[300:, None])[:, 0]
    assert np.mean((out - clean[300:]) ** 2) < 0.5 * np.mean((noisy[300:] - clean[300:]) ** 2)


def test_multimodal_autoencoder_codes_and_cross_prediction():
    torch.manual_seed(0)
    model = mu.MultimodalAutoEncoder((3, 4), latent_dim=2, hidden=(8,), cross_weight=0.5)
    x = torch.randn(6, 7)
    parts = model.split(x)
    z0, z1 = model.encode_modality(parts[0], 0), model.encode_modality(parts[1], 1)
    assert torch.allclose(model.encode(x), (z0 + z1) / 2)
    assert model.cross_predict(parts[0], source=0, target=1).shape == (6, 4)
    terms = model.loss(x)
    joint = ((model(x) - x) ** 2).mean()
    cross = (((model.decode(z0) - x) ** 2).mean() + ((model.decode(z1) - x) ** 2).mean()) / 2
    assert torch.allclose(terms["loss"], joint + 0.5 * cross)
    assert torch.allclose(terms["recon"], joint)
    with pytest.raises(ValueError):
        model.encode_modality(parts[0], 1)
    with pytest.raises(ValueError, match="modalities"):
        mu.MultimodalAutoEncoder((3,), latent_dim=2)
    rebuilt = type(model)(**model.config)
    assert rebuilt.modalities == (3, 4) and rebuilt.cross_weight == 0.5


def test_multimodal_cross_prediction_beats_the_mean_when_modalities_share_a_factor():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(600, 1))
    X = np.c_[s @ rng.normal(size=(1, 3)), np.tanh(s) @ rng.normal(size=(1, 4))]
    X = (X + 0.05 * rng.normal(size=X.shape)).astype(np.float32)
    X = (X - X.mean(0)) / X.std(0)
    torch.manual_seed(0)
    model = mu.MultimodalAutoEncoder((3, 4), latent_dim=1, hidden=(16,))
    mu.fit(model, X[:500], epochs=60, batch_size=64, lr=5e-3, progress=False)
    with torch.no_grad():
        pred = model.cross_predict(torch.from_numpy(X[500:, :3]), 0, 1).numpy()
    assert np.mean((pred - X[500:, 3:]) ** 2) < 0.2  # the mean predictor scores about 1


@pytest.mark.parametrize("beta", [1])
def test_shipped_beta_vae_reproduces_its_recorded_test_scores(beta):
    """The chapter-9 checkpoints load with weights_only and give the recorded MIG and MSE."""
    name = f"ms_beta_vae_b{beta}"
    assert name in mu.list_pretrained()
    meta = mu.checkpoint_info(mu.pretrained_path(name))["metadata"]
    model = mu.load_pretrained(name)
    assert isinstance(model, mu.ConvVAE) and model.beta == beta
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["data_kwargs"].items()}
    images, params = mu.generate_microstructures(meta["n"]["test"], seed=2, **kwargs)
    X = images[:, None]
    factors = np.c_[params["c_mean"], np.log10(params["kappa"]), np.log10(params["reduced_time"])]
    Z = mu.encode(model, X, device="cpu")
    assert mu.mutual_information_gap(Z, factors)["mig"] == pytest.approx(meta["test_mig"], abs=1e-6)
    mse = float(np.mean((mu.reconstruct(model, X, device="cpu") - X) ** 2))
    assert mse == pytest.approx(meta["test_mse"], rel=1e-4)
