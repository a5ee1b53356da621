"""Tests of matae_utils.metrics against hand-computed values and trusted references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from matae_utils import metrics


# ------------------------------------------------------------------ reconstruction error
def test_reconstruction_error_per_sample_and_reductions():
    x = np.zeros((2, 3))
    x_hat = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 3.0]])
    np.testing.assert_allclose(metrics.reconstruction_error(x, x_hat), [1.0, 3.0])
    assert metrics.reconstruction_error(x, x_hat, reduction="mean") == pytest.approx(2.0)
    assert metrics.reconstruction_error(x, x_hat, reduction="sum") == pytest.approx(4.0)


def test_reconstruction_error_accepts_tensors_and_any_trailing_shape():
    x = torch.zeros(4, 1, 5, 5, requires_grad=True)
    x_hat = torch.full((4, 1, 5, 5), 0.5)
    err = metrics.reconstruction_error(x, x_hat)
    assert isinstance(err, np.ndarray) and err.shape == (4,)
    np.testing.assert_allclose(err, 0.25)
    # agrees with torch's own MSE
    ref = nn.functional.mse_loss(x.detach(), x_hat).item()
    assert metrics.reconstruction_error(x, x_hat, reduction="mean") == pytest.approx(ref)


@pytest.mark.parametrize(
    ("x", "x_hat", "match"),
    [
        (np.zeros((2, 3)), np.zeros((2, 4)), "same shape"),
        (np.zeros(3), np.zeros(3), "batch dimension"),
    ],
)
def test_reconstruction_error_rejects_bad_shapes(x, x_hat, match):
    with pytest.raises(ValueError, match=match):
        metrics.reconstruction_error(x, x_hat)


def test_reconstruction_error_rejects_unknown_reduction_and_non_numeric():
    with pytest.raises(ValueError, match="reduction"):
        metrics.reconstruction_error(np.zeros((1, 2)), np.zeros((1, 2)), reduction="avg")
    with pytest.raises(TypeError, match="numeric"):
        metrics.reconstruction_error([["a", "b"]], np.zeros((1, 2)))


# ----------------------------------------------------------------------- PSNR and SSIM
def test_psnr_of_known_mse():
    x = np.zeros((3, 8, 8))
    x_hat = np.full((3, 8, 8), 0.1)  # MSE = 0.01 -> PSNR = 10 log10(1 / 0.01) = 20 dB
    assert metrics.psnr(x, x_hat, data_range=1.0) == pytest.approx(20.0)
    # data_range 2 -> 10 log10(4 / 0.01)
    assert metrics.psnr(x, x_hat, data_range=2.0) == pytest.approx(10 * np.log10(400))
    per_image = metrics.psnr(x, x_hat, data_range=1.0, reduction="none")
    assert per_image.shape == (3,)
    np.testing.assert_allclose(per_image, 20.0)


def test_psnr_accepts_channel_dim_single_image_and_identical_is_inf():
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert metrics.psnr(x, x, data_range=1.0) == np.inf
    assert metrics.psnr(np.zeros((8, 8)), np.full((8, 8), 0.1), data_range=1.0) == pytest.approx(20)


def test_ssim_identical_is_one_and_noise_lowers_it():
    rng = np.random.default_rng(0)
    x = rng.random((4, 16, 16))
    assert metrics.ssim(x, x, data_range=1.0) == pytest.approx(1.0)
    noisy = np.clip(x + rng.normal(scale=0.2, size=x.shape), 0, 1)
    per_image = metrics.ssim(x, noisy, data_range=1.0, reduction="none")
    assert per_image.shape == (4,)
    assert (per_image < 0.9).all()


def test_ssim_small_images_use_a_smaller_window():
    x = np.random.default_rng(0).random((2, 5, 5))
    assert metrics.ssim(x, x, data_range=1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="3 x 3"):
        metrics.ssim(np.zeros((2, 2)), np.zeros((2, 2)), data_range=1.0)


def test_image_metrics_validate_inputs():
    with pytest.raises(ValueError, match="same shape"):
        metrics.psnr(np.zeros((2, 8, 8)), np.zeros((2, 8, 7)), data_range=1.0)
    with pytest.raises(ValueError, match="data_range"):
        metrics.ssim(np.zeros((8, 8)), np.zeros((8, 8)), data_range=0)
    with pytest.raises(ValueError, match="images of shape"):
        metrics.psnr(np.zeros((2, 3, 8, 8)), np.zeros((2, 3, 8, 8)), data_range=1.0)


# ---------------------------------------------------------------------- trustworthiness
def test_trustworthiness_of_an_isometric_embedding_is_one():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 2))
    X = np.hstack([Z, np.zeros((60, 3))])  # the data live in a 2D plane
    assert metrics.trustworthiness(X, Z) == pytest.approx(1.0)
    shuffled = rng.permutation(Z)
    assert metrics.trustworthiness(X, shuffled) < 0.7
    # subsampling keeps a perfect embedding perfect
    assert metrics.trustworthiness(X, Z, max_samples=30, seed=1) == pytest.approx(1.0)


def test_trustworthiness_validates_inputs():
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.trustworthiness(np.zeros((10, 3)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="n_neighbors"):
        metrics.trustworthiness(np.zeros((10, 3)), np.zeros((10, 2)), n_neighbors=5)


# ----------------------------------------------------------------------- k-NN property
def test_knn_property_score_smooth_property_is_predictable():
    rng = np.random.default_rng(0)
    Z = rng.uniform(-2, 2, size=(200, 2))
    y = np.sin(Z[:, 0]) + 0.5 * Z[:, 1]
    good = metrics.knn_property_score(Z, y)
    assert set(good) == {"mae", "mae_std", "r2", "r2_std", "n_splits"}
    assert good["r2"] > 0.9 and good["mae"] < 0.2
    noise = metrics.knn_property_score(Z, rng.normal(size=200))
    assert noise["r2"] < 0.2
    # same seed, same folds, same result
    assert metrics.knn_property_score(Z, y, seed=3) == metrics.knn_property_score(
        Z, y, seed=3
    )


def test_knn_property_score_groups_prevent_duplicate_leakage():
    """Duplicated formulas (same code, same value) leak through random folds, not group folds."""
    rng = np.random.default_rng(0)
    Z_unique = rng.normal(size=(40, 3))
    y_unique = rng.normal(size=40)  # unrelated to Z: nothing to learn
    Z = np.repeat(Z_unique, 3, axis=0)
    y = np.repeat(y_unique, 3)
    groups = np.repeat(np.arange(40), 3)
    leaky = metrics.knn_property_score(Z, y, n_neighbors=1)
    honest = metrics.knn_property_score(Z, y, n_neighbors=1, groups=groups)
    assert leaky["r2"] > 0.9  # the duplicate in the training fold gives the answer away
    assert honest["r2"] < 0.3


def test_knn_property_score_validates_inputs():
    Z = np.zeros((10, 2))
    with pytest.raises(ValueError, match="shape"):
        metrics.knn_property_score(Z, np.zeros(9))
    with pytest.raises(ValueError, match="larger than the number of groups"):
        metrics.knn_property_score(Z, np.zeros(10), groups=[0, 1] * 5)
    with pytest.raises(ValueError, match="n_neighbors"):
        metrics.knn_property_score(Z, np.arange(10.0), n_neighbors=9)
    with pytest.raises(ValueError, match="finite"):
        metrics.knn_property_score(Z, np.full(10, np.nan))


# ----------------------------------------------------------------------------- anomalies
def test_anomaly_metrics_perfect_and_reversed_scores():
    labels = np.array([0, 0, 0, 1, 1])
    perfect = metrics.anomaly_metrics([0.1, 0.2, 0.3, 0.8, 0.9], labels)
    assert perfect["auroc"] == 1.0 and perfect["average_precision"] == 1.0
    assert perfect["n_anomalies"] == 2 and perfect["n_normal"] == 3
    reversed_ = metrics.anomaly_metrics(torch.tensor([0.9, 0.8, 0.7, 0.2, 0.1]), labels == 1)
    assert reversed_["auroc"] == 0.0


def test_anomaly_metrics_needs_both_binary_classes():
    with pytest.raises(ValueError, match="both classes"):
        metrics.anomaly_metrics([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="0/1"):
        metrics.anomaly_metrics([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(ValueError, match="one entry per score"):
        metrics.anomaly_metrics([0.1, 0.2, 0.3], [0, 1])


# ------------------------------------------------------------------ storage and compression
def test_compression_ratio_counts_bytes():
    original = np.zeros(1000, dtype=np.float32)  # 4000 bytes
    codes = np.zeros(10)  # stored as float16: 20 bytes
    assert metrics.compression_ratio(original, codes) == pytest.approx(200.0)
    assert metrics.compression_ratio(original, codes, code_dtype="float32") == pytest.approx(100.0)
    # the decoder is counted once for the data set
    assert metrics.compression_ratio(original, codes, decoder_bytes=180) == pytest.approx(20.0)
    # tensors: their own dtype counts
    assert metrics.compression_ratio(torch.zeros(1000, dtype=torch.float64), codes) == 400.0


def test_compression_ratio_validates_inputs():
    with pytest.raises(ValueError, match="decoder_bytes"):
        metrics.compression_ratio(np.zeros(10), np.zeros(2), decoder_bytes=-1)
    with pytest.raises(ValueError, match="nothing is stored"):
        metrics.compression_ratio(np.zeros(10), np.zeros(0))


def test_model_nbytes():
    assert metrics.model_nbytes(nn.Linear(2, 3)) == (2 * 3 + 3) * 4
    assert metrics.model_nbytes(nn.Linear(2, 3), dtype="float16") == (2 * 3 + 3) * 2
    assert metrics.model_nbytes(nn.Linear(2, 3).double(), dtype=None) == (2 * 3 + 3) * 8
    # batch norm: weight, bias, running mean and variance; num_batches_tracked is ignored
    assert metrics.model_nbytes(nn.BatchNorm1d(4)) == 4 * 4 * 4
    with pytest.raises(TypeError, match="nn.Module"):
        metrics.model_nbytes(np.zeros(3))


# ------------------------------------------------------- continuity and k-NN hold-out score
# Five points on a line, and a map that moves E next to A. By hand (rank 1 = nearest):
#   input  x = A 0, B 1, C 3, D 7, E 15 -> 2-NN: A{B,C} B{A,C} C{B,A} D{C,B} E{D,C}
#   latent z = A 0, B 1, C 3, D 7, E -1.5 -> 2-NN: A{B,E} B{A,C} C{B,A} D{C,B} E{A,B}
# Trustworthiness (false latent neighbours, penalty input rank - k): A: E (rank 4) -> 2;
#   E: A (rank 4) -> 2, B (rank 3) -> 1; sum 5.
# Continuity (lost input neighbours, penalty latent rank - k): A: C (latent rank 3) -> 1;
#   E: D (latent rank 4) -> 2, C (latent rank 3) -> 1; sum 4.
# Normalisation 2 / (N k (2N - 3k - 1)) = 2 / (5 * 2 * 3) = 1 / 15.
_LINE_X = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]])
_LINE_Z = np.array([[0.0], [1.0], [3.0], [7.0], [-1.5]])


def test_continuity_and_trustworthiness_of_a_hand_computed_map():
    assert metrics.continuity(_LINE_X, _LINE_Z, n_neighbors=2) == pytest.approx(1 - 4 / 15)
    assert metrics.trustworthiness(_LINE_X, _LINE_Z, n_neighbors=2) == pytest.approx(1 - 5 / 15)


def test_continuity_is_trustworthiness_with_the_spaces_swapped():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    Z = X[:, :2] + 0.3 * rng.normal(size=(60, 2))  # a lossy projection
    c = metrics.continuity(X, Z, n_neighbors=5)
    assert c == pytest.approx(metrics.trustworthiness(Z, X, n_neighbors=5))
    assert c != pytest.approx(metrics.trustworthiness(X, Z, n_neighbors=5))
    assert 0.0 < c < 1.0
    # a rotated, scaled copy keeps every neighbourhood; subsampling scores a subset
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert metrics.continuity(X, 2.0 * X @ Q, n_neighbors=5) == pytest.approx(1.0)
    assert metrics.continuity(X, Z, n_neighbors=5, max_samples=40, seed=1) == pytest.approx(
        metrics.trustworthiness(Z, X, n_neighbors=5, max_samples=40, seed=1)
    )


def test_continuity_validates_inputs():
    with pytest.raises(ValueError, match="same number of rows"):
        metrics.continuity(np.zeros((6, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="n_samples / 2"):
        metrics.continuity(_LINE_X, _LINE_Z, n_neighbors=3)
    with pytest.raises(ValueError, match="NaN"):
        metrics.continuity(np.full((6, 2), np.nan), np.zeros((6, 2)), n_neighbors=1)
    with pytest.raises(ValueError, match="2-D"):
        metrics.continuity(np.zeros(6), np.zeros((6, 2)), n_neighbors=1)


def test_knn_holdout_score_regression_matches_a_hand_computed_case():
    Z_train = np.array([[0.0], [1.0], [10.0], [11.0]])
    y_train = np.array([0.0, 2.0, 10.0, 12.0])
    Z_test = np.array([[0.4], [10.6]])  # nearest two: (0, 1) -> 1.0 and (10, 11) -> 11.0
    y_test = np.array([1.5, 10.0])
    out = metrics.knn_holdout_score(Z_train, y_train, Z_test, y_test, n_neighbors=2)
    assert out["mae"] == pytest.approx((0.5 + 1.0) / 2)
    assert out["rmse"] == pytest.approx(np.sqrt((0.25 + 1.0) / 2))
    assert (out["n_train"], out["n_test"]) == (4, 2)


def test_knn_holdout_score_classification_auc_and_string_labels():
    rng = np.random.default_rng(0)
    Z = np.r_[rng.normal(0, 1, (40, 2)), rng.normal(4, 1, (40, 2))]
    metal = np.r_[np.ones(40, bool), np.zeros(40, bool)]
    out = metrics.knn_holdout_score(
        Z[::2], metal[::2], Z[1::2], metal[1::2], task="classification", n_neighbors=5
    )
    assert out["accuracy"] > 0.9 and out["roc_auc"] > 0.95 and out["n_classes"] == 2
    # reversed labels reverse the ranking: the score follows the class that sorts last
    flipped = metrics.knn_holdout_score(
        Z[::2], ~metal[::2], Z[1::2], ~metal[1::2], task="classification", n_neighbors=5
    )
    assert flipped["roc_auc"] == pytest.approx(out["roc_auc"])
    systems = np.array(["cubic", "hexagonal", "tetragonal"] * 10)
    Zs = np.tile(np.arange(3.0), 10)[:, None]  # one position per crystal system
    three = metrics.knn_holdout_score(
        Zs, systems, Zs + 0.1, systems, task="classification", n_neighbors=3
    )
    assert three["accuracy"] == 1.0 and "roc_auc" not in three and three["n_classes"] == 3


def test_knn_holdout_score_validates_inputs():
    Z = np.zeros((4, 2))
    with pytest.raises(ValueError, match="task"):
        metrics.knn_holdout_score(Z, np.zeros(4), Z, np.zeros(4), task="clustering")
    with pytest.raises(ValueError, match="same number of columns"):
        metrics.knn_holdout_score(Z, np.zeros(4), np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="y_test must have shape"):
        metrics.knn_holdout_score(Z, np.zeros(4), Z, np.zeros(3), n_neighbors=2)
    with pytest.raises(ValueError, match="exceeds"):
        metrics.knn_holdout_score(Z, np.zeros(4), Z, np.zeros(4), n_neighbors=5)
    with pytest.raises(ValueError, match="two classes"):
        metrics.knn_holdout_score(
            Z, np.ones(4), Z, np.ones(4), task="classification", n_neighbors=2
        )
    with pytest.raises(ValueError, match="NaN"):
        metrics.knn_holdout_score(Z, np.array([0, 1, np.nan, 2]), Z, np.zeros(4), n_neighbors=2)
