"""Tests of matae_utils.models and matae_utils.losses: shapes, losses against references, errors."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from matae_utils import losses
from matae_utils.models import (
    MODELS,
    VAE,
    AutoEncoder,
    ConvAutoEncoder,
    Decoder,
    DenoisingAutoEncoder,
    Encoder,
    SemiSupervisedAutoEncoder,
    SparseAutoEncoder,
    register_model,
)

N_FEATURES = 13


pytestmark = pytest.mark.usefixtures("one_torch_thread")


MODEL_FACTORIES = {
    "ae": lambda: AutoEncoder(N_FEATURES, 3, hidden=(16, 8)),
    "linear_ae": lambda: AutoEncoder(N_FEATURES, 2, hidden=(), activation=None),
    "sparse": lambda: SparseAutoEncoder(N_FEATURES, 5, hidden=(16,), l1=1e-2),
    "denoising": lambda: DenoisingAutoEncoder(N_FEATURES, 2, noise_std=0.2, mask_prob=0.1),
    "vae": lambda: VAE(N_FEATURES, 2, hidden=(16,), beta=0.5),
    "semi": lambda: SemiSupervisedAutoEncoder(N_FEATURES, 2, n_targets=2, hidden=(16,)),
    "conv2d": lambda: ConvAutoEncoder((1, 64, 64), latent_dim=16, channels=(16, 32, 64)),
    "conv1d": lambda: ConvAutoEncoder((1, 256), latent_dim=4, channels=(4, 8)),
    "conv2d_rgb_nochannels": lambda: ConvAutoEncoder((3, 8, 8), latent_dim=3, channels=()),
}


@pytest.mark.parametrize("name", list(MODEL_FACTORIES))
def test_shapes_round_trip(name):
    torch.manual_seed(0)
    model = MODEL_FACTORIES[name]()
    x = torch.randn(5, *model.input_shape)
    z = model.encode(x)
    assert z.shape == (5, model.latent_dim)
    assert model.decode(z).shape == x.shape
    assert model(x).shape == x.shape
    y = torch.randn(5, 2) if model.supervised else None
    terms = model.loss(x, y)
    assert "loss" in terms and "recon" in terms
    for value in terms.values():
        assert value.dim() == 0 and torch.isfinite(value)
    terms["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("name", list(MODEL_FACTORIES))
def test_config_is_json_and_rebuilds(name):
    model = MODEL_FACTORIES[name]()
    config = model.config
    assert json.loads(json.dumps(config)) == config
    clone = type(model)(**config)
    assert clone.config == config
    assert clone.input_shape == model.input_shape and clone.latent_dim == model.latent_dim
    assert [p.shape for p in clone.parameters()] == [p.shape for p in model.parameters()]
    assert type(model).__name__ in MODELS
    # the config is the model's dataclass fields (what checkpoints store)
    assert dataclasses.is_dataclass(model)
    assert set(config) == {f.name for f in dataclasses.fields(model)}


def test_linear_autoencoder_is_two_linear_maps():
    model = AutoEncoder(N_FEATURES, 2, hidden=(), activation=None)
    layers = [m for m in model.modules() if len(list(m.children())) == 0]
    assert [type(m).__name__ for m in layers] == ["Linear", "Linear", "Identity"]
    assert model.decoder.net[0].weight.shape == (N_FEATURES, 2)


def test_hidden_int_means_one_layer():
    assert AutoEncoder(4, 2, hidden=8).config["hidden"] == [8]


def test_decoder_output_activations():
    z = torch.randn(6, 2)
    soft = Decoder(2, 5, output_activation="softmax")(z)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(6))
    sig = Decoder(2, 5, output_activation="sigmoid")(z)
    assert ((sig > 0) & (sig < 1)).all()
    assert (Decoder(2, 5, output_activation="softplus")(z) > 0).all()
    # softmax over the channels of a conv decoder: phase fractions per pixel
    conv = ConvAutoEncoder((3, 8, 8), latent_dim=2, channels=(4,), output_activation="softmax")
    out = conv(torch.rand(2, 3, 8, 8))
    torch.testing.assert_close(out.sum(dim=1), torch.ones(2, 8, 8))


# ------------------------------------------------------------------ input validation
def test_wrong_feature_count_message():
    model = AutoEncoder(13, 2)
    msg = r"expected input of shape \[B, 13\] \(n_features=13\), got \[32, 12\]"
    with pytest.raises(ValueError, match=msg):
        model.encode(torch.randn(32, 12))
    with pytest.raises(ValueError, match=msg):
        model(torch.randn(32, 12))
    with pytest.raises(ValueError, match=msg):
        model.loss(torch.randn(32, 12))


def test_wrong_ndim_and_dtype():
    model = AutoEncoder(4, 2)
    with pytest.raises(ValueError, match=r"got \[4\]"):
        model.encode(torch.randn(4))
    with pytest.raises(TypeError, match="floating-point"):
        model.encode(torch.ones(3, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="floating-point"):
        model.loss(torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="float32"):
        model.encode(torch.randn(3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model.encode([[0.0] * 4])
    with pytest.raises(ValueError, match=r"latent codes of shape \[B, 2\]"):
        model.decode(torch.randn(3, 3))


@pytest.mark.parametrize("shape", [(1, 1401), (2, 30, 50), (1, 5)])
def test_conv_pads_and_crops_sizes_not_divisible(shape):
    torch.manual_seed(0)
    model = ConvAutoEncoder(shape, latent_dim=3, channels=(4, 4, 4))  # needs multiples of 8
    x = torch.rand(2, *shape)
    assert model(x).shape == x.shape
    assert model.decode(model.encode(x)).shape == x.shape
    # the first encoder layer zero-pads at the end to the next multiple of 8
    padded = model.encoder[0](x)
    assert padded.shape[2:] == tuple(-(-s // 8) * 8 for s in shape[1:])
    real = (..., *(slice(0, s) for s in shape[1:]))
    torch.testing.assert_close(padded[real], x)
    mask = torch.ones_like(padded, dtype=torch.bool)
    mask[real] = False
    assert (padded[mask] == 0).all()  # everything else is 0


def test_conv_errors():
    with pytest.raises(ValueError, match=r"\(C, L\).*\(C, H, W\)"):
        ConvAutoEncoder((64,))
    model = ConvAutoEncoder((1, 16, 16), latent_dim=2, channels=(4,))
    with pytest.raises(ValueError, match=r"\[B, 1, 16, 16\] \(input_shape=\(1, 16, 16\)\)"):
        model.encode(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"add the channel axis with x\[:, None\]"):
        model.encode(torch.randn(2, 16, 16))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"latent_dim": 0}, ValueError, "latent_dim"),
        ({"latent_dim": 2.5}, TypeError, "latent_dim"),
        ({"hidden": (16, -1)}, ValueError, r"hidden\[1\]"),
        ({"hidden": "64"}, TypeError, "hidden"),
        ({"activation": "relux"}, ValueError, "activation"),
        ({"output_activation": "tanh"}, ValueError, "output_activation"),
        ({"recon_loss": "bce"}, ValueError, "sigmoid"),
        ({"recon_loss": "l1"}, ValueError, "recon_loss"),
        ({"dropout": 1.0}, ValueError, "dropout"),
    ],
)
def test_bad_constructor_arguments(kwargs, error, match):
    args = {"n_features": 4, "latent_dim": 2, **kwargs}
    with pytest.raises(error, match=match):
        AutoEncoder(**args)


def test_bce_autoencoder():
    torch.manual_seed(0)
    model = AutoEncoder(4, 2, output_activation="sigmoid", recon_loss="bce")
    x = torch.rand(8, 4)
    expected = F.binary_cross_entropy(model(x), x)
    torch.testing.assert_close(model.loss(x)["recon"], expected)


# ------------------------------------------------------------------ losses
def test_gaussian_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(7, 3), torch.randn(7, 3)
    ref = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)
    out = losses.gaussian_kl(mu, logvar)
    assert out.shape == (7,)
    torch.testing.assert_close(out, ref)
    with pytest.raises(ValueError, match="same shape"):
        losses.gaussian_kl(mu, logvar[:, :2])


def test_mse_reductions_and_shape_check():
    a, b = torch.zeros(2, 3), torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    assert losses.mse(a, b).item() == pytest.approx(14 / 6)
    assert losses.mse(a, b, reduction="sum").item() == 14
    torch.testing.assert_close(losses.mse(a, b, reduction="per_sample"), torch.tensor([5.0, 9.0]))
    assert losses.mse(a, b, reduction="none").shape == (2, 3)
    with pytest.raises(ValueError, match="same shape"):
        losses.mse(torch.zeros(4, 1), torch.zeros(4))  # would broadcast silently in torch
    with pytest.raises(ValueError, match="reduction"):
        losses.mse(a, b, reduction="avg")


def test_bce_matches_torch_and_checks_range():
    torch.manual_seed(0)
    p, t = torch.rand(4, 5), torch.rand(4, 5)
    torch.testing.assert_close(losses.bce(p, t), F.binary_cross_entropy(p, t))
    logits = torch.randn(4, 5)
    torch.testing.assert_close(
        losses.bce(logits, t, logits=True), F.binary_cross_entropy_with_logits(logits, t)
    )
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        losses.bce(p, t * 3)
    with pytest.raises(ValueError, match="sigmoid"):
        losses.bce(p - 1, t)


def test_vae_loss_convention():
    torch.manual_seed(0)
    x_hat, x = torch.randn(6, 4), torch.randn(6, 4)
    mu, logvar = torch.randn(6, 2), torch.randn(6, 2)
    terms = losses.vae_loss(x_hat, x, mu, logvar, beta=2.0)
    recon = ((x_hat - x) ** 2).sum(dim=1).mean()  # per-sample sum, batch mean
    kl = losses.gaussian_kl(mu, logvar).mean()
    torch.testing.assert_close(terms["recon_sum"], recon)
    torch.testing.assert_close(terms["kl"], kl)
    torch.testing.assert_close(terms["loss"], recon + 2.0 * kl)
    # "recon" is per element, the AutoEncoder's scale (not part of the loss)
    torch.testing.assert_close(terms["recon"], losses.mse(x_hat, x))
    torch.testing.assert_close(terms["recon"] * 4, terms["recon_sum"])
    with pytest.raises(ValueError, match="beta"):
        losses.vae_loss(x_hat, x, mu, logvar, beta=-1.0)


# ------------------------------------------------------------------ model-specific maths
def test_sparse_term():
    torch.manual_seed(0)
    model = SparseAutoEncoder(N_FEATURES, 5, l1=0.1)
    x = torch.randn(8, N_FEATURES)
    terms = model.loss(x)
    z = model.encode(x)
    torch.testing.assert_close(terms["sparsity"], z.abs().sum(dim=1).mean())
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.1 * terms["sparsity"])


def test_denoising_corrupts_only_in_training_mode():
    torch.manual_seed(0)
    model = DenoisingAutoEncoder(N_FEATURES, 2, noise_std=0.5, mask_prob=0.3)
    x = torch.randn(64, N_FEATURES)
    model.eval()
    torch.testing.assert_close(model.loss(x)["recon"], F.mse_loss(model(x), x))
    model.train()
    torch.manual_seed(1)
    noisy = model.corrupt(x)
    torch.manual_seed(1)
    train_loss = model.loss(x)["recon"]  # same draws as `noisy`, target is the clean x
    torch.testing.assert_close(train_loss, F.mse_loss(model.decoder(model.encoder(noisy)), x))
    assert train_loss.item() != pytest.approx(F.mse_loss(model(x), x).item())
    masked = DenoisingAutoEncoder(N_FEATURES, 2, noise_std=0.0, mask_prob=0.3).corrupt(
        torch.ones(200, N_FEATURES)
    )
    assert set(masked.unique().tolist()) == {0.0, 1.0}
    assert 0.25 < (masked == 0).float().mean().item() < 0.35


def test_vae_encode_is_posterior_mean_and_forward_deterministic():
    torch.manual_seed(0)
    model = VAE(N_FEATURES, 3)
    x = torch.randn(4, N_FEATURES)
    mu, logvar = model.encode_dist(x)
    assert mu.shape == logvar.shape == (4, 3)
    torch.testing.assert_close(model.encode(x), mu)
    torch.testing.assert_close(model(x), model(x))
    assert set(model.loss(x)) == {"loss", "recon_sum", "kl", "recon"}


def test_vae_loss_is_deterministic_in_eval_mode_and_sampled_in_training():
    torch.manual_seed(0)
    model = VAE(N_FEATURES, 3, hidden=(16,))
    x = torch.randn(32, N_FEATURES)
    model.eval()
    first, second = model.loss(x), model.loss(x)
    for key in first:
        assert torch.equal(first[key], second[key]), key
    with torch.no_grad():
        mu, logvar = model.encode_dist(x)
        expected = losses.vae_loss(model.decode(mu), x, mu, logvar, beta=model.beta)
    torch.testing.assert_close(first["loss"], expected["loss"], rtol=0, atol=0)
    # explicit sampling in eval mode, and sampling by default in training mode
    assert model.loss(x, sample=True)["loss"] != first["loss"]
    model.train()
    assert model.loss(x)["loss"] != model.loss(x)["loss"]
    torch.testing.assert_close(model.loss(x, sample=False)["loss"], first["loss"])


@pytest.mark.parametrize(
    "kwargs", [{}, {"output_activation": "sigmoid", "recon_loss": "bce"}], ids=["mse", "bce"]
)
def test_vae_recon_is_the_autoencoder_per_element_error(kwargs):
    """VAE and AutoEncoder report "recon" on the same scale: the per-element mean."""
    torch.manual_seed(0)
    vae, ae = VAE(N_FEATURES, 2, **kwargs).eval(), AutoEncoder(N_FEATURES, 2, **kwargs)
    x = torch.rand(16, N_FEATURES)
    reference = F.binary_cross_entropy if kwargs else F.mse_loss
    with torch.no_grad():
        terms = vae.loss(x)  # eval mode: decodes the posterior mean, i.e. vae(x)
        x_hat = vae(x)
        # the AutoEncoder's definition of "recon", applied to the same x and x_hat
        torch.testing.assert_close(terms["recon"], ae._recon(x_hat, x))
        torch.testing.assert_close(terms["recon"], reference(x_hat, x))
        torch.testing.assert_close(ae.loss(x)["recon"], reference(ae(x), x))
        torch.testing.assert_close(terms["recon_sum"], terms["recon"] * N_FEATURES)


def test_vae_is_built_on_the_autoencoder():
    vae = VAE(N_FEATURES, 2, hidden=(16, 8), beta=2.0)
    assert isinstance(vae, AutoEncoder)
    assert isinstance(vae.encoder, Encoder) and vae.encoder.latent_dim == 4  # [mu, logvar]
    assert vae.decoder.config == AutoEncoder(N_FEATURES, 2, hidden=(16, 8)).decoder.config
    assert vae.config["beta"] == 2.0
    with pytest.raises(TypeError):  # added settings are keyword-only: no silent shift
        VAE(N_FEATURES, 2, (16,), "relu", None, "mse", 0.0, 2.0)


def test_reparameterize_statistics_and_gradient():
    mu = torch.full((20000, 1), 1.5, requires_grad=True)
    logvar = torch.full((20000, 1), math.log(4.0), requires_grad=True)
    z = VAE.reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert z.mean().item() == pytest.approx(1.5, abs=0.05)
    assert z.std().item() == pytest.approx(2.0, abs=0.05)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None


def test_vae_sample_seeded():
    torch.manual_seed(0)
    model = VAE(N_FEATURES, 2)
    state = torch.get_rng_state()
    a, b = model.sample(5, seed=3), model.sample(5, seed=3)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    assert a.shape == (5, N_FEATURES) and not a.requires_grad
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, model.sample(5, seed=4))


def test_semi_supervised_loss_with_missing_labels():
    torch.manual_seed(0)
    model = SemiSupervisedAutoEncoder(N_FEATURES, 2, n_targets=1, alpha=0.5)
    x = torch.randn(6, N_FEATURES)
    y = torch.tensor([1.0, float("nan"), -2.0, float("nan"), 0.5, float("nan")])
    terms = model.loss(x, y)
    pred = model.predict(x)[:, 0]
    present = ~torch.isnan(y)
    expected = ((pred[present] - y[present]) ** 2).mean()
    torch.testing.assert_close(terms["supervised"], expected)
    torch.testing.assert_close(terms["loss"], terms["recon"] + 0.5 * expected)
    terms["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_semi_supervised_all_missing_and_none():
    torch.manual_seed(0)
    model = SemiSupervisedAutoEncoder(N_FEATURES, 2, n_targets=2)
    x = torch.randn(4, N_FEATURES)
    terms = model.loss(x, torch.full((4, 2), float("nan")))
    assert terms["supervised"].item() == 0.0
    torch.testing.assert_close(terms["loss"], terms["recon"])
    terms["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.loss(x)["supervised"].item() == 0.0
    # entries missing per target: only the present ones count
    y = torch.tensor([[1.0, float("nan")], [float("nan"), 2.0], [0.0, 0.0], [3.0, 1.0]])
    pred = model.predict(x)
    present = ~torch.isnan(y)
    expected = ((pred[present] - y[present]) ** 2).mean()
    torch.testing.assert_close(model.loss(x, y)["supervised"], expected)


def test_semi_supervised_label_errors():
    model = SemiSupervisedAutoEncoder(N_FEATURES, 2, n_targets=2)
    x = torch.randn(4, N_FEATURES)
    with pytest.raises(ValueError, match=r"labels y of shape \[4, 2\]"):
        model.loss(x, torch.randn(4))
    with pytest.raises(TypeError, match="floating-point"):
        model.loss(x, torch.ones(4, 2, dtype=torch.long))
    assert model.predict(x).shape == (4, 2)


def test_encoder_decoder_blocks():
    enc, dec = Encoder(5, 2, hidden=(8, 4), dropout=0.1), Decoder(2, 5, hidden=(4, 8))
    assert enc(torch.randn(3, 5)).shape == (3, 2)
    assert dec(torch.randn(3, 2)).shape == (3, 5)
    assert any(isinstance(m, torch.nn.Dropout) for m in enc.modules())
    with pytest.raises(ValueError, match=r"\[B, 5\] \(n_features=5\)"):
        enc(torch.randn(3, 4))


def test_register_model():
    @register_model
    class TinyModel(AutoEncoder):
        pass

    assert MODELS["TinyModel"] is TinyModel
    del MODELS["TinyModel"]

    class VAE(torch.nn.Module):  # noqa: N801 - clashes with the built-in on purpose
        pass

    with pytest.raises(ValueError, match="built-in"):
        register_model(VAE)
    with pytest.raises(TypeError):
        register_model(object)
