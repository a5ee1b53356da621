"""Tests of matae_utils.compression: exact byte counts, bounded quantisation error, errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from matae_utils import compression as cp
from matae_utils.models import ConvAutoEncoder


@pytest.fixture(scope="module")
def codes() -> np.ndarray:
    rng = np.random.default_rng(0)
    scales = np.array([0.01, 1.0, 30.0, 500.0])
    return (rng.normal(size=(200, 4)) * scales + [0.0, 3.0, -7.0, 1e3]).astype(np.float32)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Smooth two-phase-like test images in [0, 1]: [12, 32, 32]."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:32, 0:32] / 32.0
    out = []
    for _ in range(12):
        fx, fy, ph = rng.integers(1, 4), rng.integers(1, 4), rng.uniform(0, 2 * np.pi)
        field = np.sin(2 * np.pi * (fx * xx + fy * yy) + ph)
        out.append(0.5 + 0.5 * np.tanh(3 * field))
    return np.array(out, dtype=np.float32)


# ------------------------------------------------------------------------ byte counts
@pytest.mark.parametrize(("dtype", "itemsize"), [("float32", 4), ("float16", 2), ("int8", 1)])
def test_code_nbytes_exact(dtype, itemsize, codes):
    assert cp.code_nbytes(200, 4, dtype) == 200 * 4 * itemsize
    q = cp.Quantizer(dtype).fit(codes)
    stored = q.transform(codes)
    assert stored.dtype == np.dtype(dtype)
    assert stored.nbytes == cp.code_nbytes(200, 4, dtype)
    assert q.side_nbytes == (4 * 2 * 4 if dtype == "int8" else 0)


def test_pca_codec_bytes(images):
    codec = cp.PCACodec(5, dtype="int8", clip=(0, 1)).fit(images)
    stored = codec.encode(images)
    assert stored.dtype == np.int8 and stored.shape == (12, 5)
    assert codec.bytes_per_sample == 5 == stored.nbytes // len(images)
    # basis (5 x 1024) + mean (1024) as float32, plus 5 scales and 5 offsets
    assert codec.side_nbytes == 4 * 6 * 32 * 32 + 8 * 5
    assert codec.decode(stored).shape == images.shape


def test_jpeg_bytes_are_the_file_size(images):
    decoded, n_bytes = cp.jpeg_roundtrip(images, quality=20)
    buf = io.BytesIO()
    pixels = np.round(images[0] * 255).astype(np.uint8)
    Image.fromarray(pixels, mode="L").save(buf, format="JPEG", quality=20, optimize=True)
    assert n_bytes[0] == len(buf.getvalue())
    assert decoded.shape == images.shape and decoded.dtype == np.float32
    assert 0.0 <= decoded.min() and decoded.max() <= 1.0
    small, n_small = cp.jpeg_roundtrip(images, quality=1)
    assert n_small.mean() < n_bytes.mean()  # lower quality, smaller files, worse images
    assert np.abs(small - images).mean() > np.abs(decoded - images).mean()


# ------------------------------------------------------------------ round-trip errors
def test_int8_roundtrip_error_bounded_by_half_scale(codes):
    q = cp.Quantizer("int8").fit(codes)
    back = q.inverse_transform(q.transform(codes))
    err = np.abs(back - codes)
    # half a step, plus float32 rounding of the reconstruction itself
    tol = q.scale_ / 2 + 1e-6 * np.abs(codes).max(axis=0)
    assert np.all(err <= tol)
    assert np.all(err.max(axis=0) > 0.2 * q.scale_)  # the bound is not vacuous
    # the extremes of the training range are representable
    assert q.transform(codes).min() == -128 and q.transform(codes).max() == 127


def test_int8_clips_outside_training_range(codes):
    q = cp.Quantizer("int8").fit(codes)
    far = codes[:1] + 10 * (codes.max(axis=0) - codes.min(axis=0))
    assert np.all(q.transform(far) == 127)


def test_constant_dimension_is_exact():
    Z = np.zeros((10, 2), dtype=np.float32)
    Z[:, 1] = np.linspace(-1, 1, 10)
    Z[:, 0] = 3.5
    q = cp.Quantizer("int8").fit(Z)
    assert np.all(q.inverse_transform(q.transform(Z))[:, 0] == 3.5)


def test_float16_roundtrip_relative_error(codes):
    q = cp.Quantizer("float16").fit(codes)
    back = q.inverse_transform(q.transform(codes))
    assert np.all(np.abs(back - codes) <= 2.0**-11 * np.abs(codes) + 1e-7)


def test_pca_codec_matches_sklearn_pca(images):
    from sklearn.decomposition import PCA

    codec = cp.PCACodec(4, dtype="float32").fit(images)
    flat = images.reshape(12, -1)
    ref = PCA(4).fit(flat)
    expected = ref.inverse_transform(ref.transform(flat)).reshape(images.shape)
    np.testing.assert_allclose(codec.decode(codec.encode(images)), expected, atol=1e-4)


def test_fit_pca_codecs_share_one_svd(images):
    many = cp.fit_pca_codecs(images, [2, 5], dtype="int8", clip=(0, 1))
    for k, codec in many.items():
        alone = cp.PCACodec(k, dtype="int8", clip=(0, 1)).fit(images)
        np.testing.assert_array_equal(codec.encode(images), alone.encode(images))
        np.testing.assert_allclose(codec.decode(codec.encode(images)),
                                   alone.decode(alone.encode(images)))
    with pytest.raises(ValueError, match="n_components"):
        cp.fit_pca_codecs(images, [5, 500])


def test_autoencoder_codec_roundtrip(images):
    torch.manual_seed(0)
    model = ConvAutoEncoder((1, 32, 32), latent_dim=6, channels=(4, 8))
    X = images[:, None]
    codec = cp.AutoEncoderCodec(model, dtype="int8").fit(X)
    stored = codec.encode(X)
    assert stored.dtype == np.int8 and stored.shape == (12, 6)
    assert codec.bytes_per_sample == 6
    with torch.no_grad():
        exact = model(torch.from_numpy(X)).numpy()
    approx = codec.decode(stored)
    assert approx.shape == X.shape
    assert np.abs(approx - exact).max() < 0.05  # quantisation moves the output a little
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    assert codec.side_nbytes == 4 * n_dec + 8 * 6


# ------------------------------------------------------------------ rate-distortion
def test_rate_distortion_row(images):
    noisy = np.clip(images + 0.01, 0, 1)
    row = cp.rate_distortion(images, noisy, np.full(12, 100), method="x", setting=3)
    assert row["bytes"] == 100.0 and row["method"] == "x" and row["setting"] == 3
    mse = np.mean((noisy - images) ** 2, axis=(1, 2))
    assert row["psnr"] == pytest.approx(np.mean(10 * np.log10(1 / mse)))
    assert 0.9 < row["ssim"] <= 1.0


def test_value_at_rate_interpolates_in_log_bytes():
    assert float(cp.value_at_rate([100, 400], [20.0, 30.0], 200)) == pytest.approx(25.0)
    assert np.isnan(cp.value_at_rate([100, 400], [20.0, 30.0], 50))  # never extrapolated
    out = cp.value_at_rate([400, 100], [30.0, 20.0], [100, 400])  # any order
    np.testing.assert_allclose(out, [20.0, 30.0])


# ------------------------------------------------------------------------ bad input
def test_bad_input_errors(codes, images):
    with pytest.raises(ValueError, match="dtype must be one of"):
        cp.Quantizer("int4").fit(codes)
    with pytest.raises(ValueError, match="Did you mean 'int8'"):
        cp.code_nbytes(1, 1, "int 8")
    with pytest.raises(RuntimeError, match="not fitted"):
        cp.Quantizer().transform(codes)
    q = cp.Quantizer().fit(codes)
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        q.transform(codes[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        q.transform(np.full((2, 4), np.nan))
    with pytest.raises(TypeError, match="int8"):
        q.inverse_transform(codes)
    with pytest.raises(ValueError, match="float16"):
        cp.Quantizer("float16").fit(np.array([[1e6]]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        cp.jpeg_roundtrip(images * 2, quality=10)
    with pytest.raises(ValueError, match="quality"):
        cp.jpeg_roundtrip(images, quality=0)
    with pytest.raises(ValueError, match="n_components"):
        cp.PCACodec(50).fit(images)
    codec = cp.PCACodec(3).fit(images)
    with pytest.raises(ValueError, match="like the data seen in fit"):
        codec.encode(images[:, :16, :16])
    with pytest.raises(ValueError, match="same shape"):
        cp.rate_distortion(images, images[:3], 10)
    with pytest.raises(ValueError, match="> 0"):
        cp.value_at_rate([0, 10], [1.0, 2.0], 5)
    with pytest.raises(TypeError, match="autoencoder"):
        cp.AutoEncoderCodec(object()).fit(images)


# ------------------------------------------------------------- shipped codec weights
@pytest.mark.parametrize("name", ["ms_coarse_ae_k32", "xrd_ae_k16"])
def test_shipped_codec_reproduces_the_chapter(name):
    """The shipped weights and int8 scales give the held-out numbers recorded with them."""
    from matae_utils import training
    from matae_utils.metrics import psnr

    if name not in training.list_pretrained():
        pytest.skip(f"{name} is not shipped")
    meta = training.checkpoint_info(training.pretrained_path(name))["metadata"]
    model = training.load_pretrained(name)
    assert isinstance(model, ConvAutoEncoder)
    q = cp.Quantizer("int8")  # the quantiser stored with the decoder (side information)
    q.scale_ = meta["int8_scale"].numpy()
    q.offset_ = meta["int8_offset"].numpy()
    q.n_components_ = model.latent_dim
    if name.startswith("ms_"):
        from matae_utils.microstructure import generate_microstructures

        params = {k: tuple(v) for k, v in meta["generator_params"].items()}
        x, _ = generate_microstructures(meta["n_test"], seed=meta["test_seed"], **params)
        z = training.encode(model, x[:, None], device="cpu")
        x_hat = training.decode(model, q.inverse_transform(q.transform(z)), device="cpu")[:, 0]
        assert psnr(x, x_hat, data_range=1.0) == pytest.approx(meta["test_psnr_int8"], abs=0.05)
        # int8 codes cost the chapter's codec almost nothing against float32 codes
        assert abs(meta["test_psnr_int8"] - meta["test_psnr_float32"]) < 0.1
    else:
        from matae_utils.datasets import group_train_test_split
        from matae_utils.xrd import xrd_dataset

        X, labels = xrd_dataset(n_per_prototype=8, seed=meta["data_seed"])
        _, test_idx = group_train_test_split(labels["name"].to_numpy(), test_size=0.2, seed=0)
        x = X[np.sort(test_idx)]
        assert len(x) == meta["n_test"]
        z = training.encode(model, x[:, None], device="cpu")
        x_hat = training.decode(model, q.inverse_transform(q.transform(z)), device="cpu")[:, 0]
        assert np.mean((x_hat - x) ** 2) == pytest.approx(meta["test_mse_int8"], rel=0.02)
