"""Tests of matae_utils.benchmark: fold preparation, PropertyNet, the comparison runner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import matae_utils as mu
from matae_utils import benchmark

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = benchmark.NetSettings(latent_dim=3, hidden=(8,), head_hidden=(4,), batch_size=32,
                             epochs=5, patience=3, ae_epochs=3, probe_epochs=2, semi_epochs=3,
                             n_estimators=5)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    X[:, 5] = 1.0  # a constant descriptor, to be dropped
    X[:3, 5] = 2.0
    y = X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=120)
    return X, y


def test_prepare_fold_uses_training_rows_only(data):
    X, y = data
    train_idx, test_idx = np.arange(100), np.arange(100, 120)
    fold = benchmark.prepare_fold(X, y, train_idx, test_idx, seed=0)
    X_shifted = X.copy()
    X_shifted[test_idx] += 1000.0  # a wildly different test fold changes nothing upstream
    other = benchmark.prepare_fold(X_shifted, y, train_idx, test_idx, seed=0)
    np.testing.assert_array_equal(fold.X_train, other.X_train)
    np.testing.assert_array_equal(fold.keep, other.keep)
    assert not fold.keep[5] and fold.keep[:5].all()
    assert fold.d == 5 and fold.X_train.dtype == np.float32
    assert np.intersect1d(np.concatenate([fold.train_idx, fold.val_idx]), test_idx).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([fold.train_idx, fold.val_idx])),
                                  train_idx)
    np.testing.assert_allclose(fold.X_fit.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(fold.transform(X[test_idx]), fold.X_test, rtol=1e-6)


def test_prepare_fold_rejects_leaks_and_bad_input(data):
    X, y = data
    with pytest.raises(ValueError, match="overlap"):
        benchmark.prepare_fold(X, y, np.arange(100), np.arange(90, 120))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        benchmark.prepare_fold(bad, y, np.arange(100), np.arange(100, 120))
    with pytest.raises(ValueError, match="rows"):
        benchmark.prepare_fold(X, y[:-1], np.arange(100), np.arange(100, 119))


def test_property_net_losses_match_their_definitions():
    torch.manual_seed(0)
    x, y = torch.randn(16, 6), torch.rand(16)
    net = benchmark.PropertyNet(6, latent_dim=3, hidden=(8,), head_hidden=(4,))
    assert torch.allclose(net.loss(x, y)["loss"], (net(x) - y).abs().mean())
    clf = benchmark.PropertyNet(6, latent_dim=3, hidden=(8,), task="classification")
    labels = (y > 0.5).float()
    expected = torch.nn.functional.binary_cross_entropy(torch.sigmoid(clf(x)), labels)
    assert torch.allclose(clf.loss(x, labels)["loss"], expected, atol=1e-6)
    p = clf.predict(x)
    assert p.shape == (16, 1) and bool(((p > 0) & (p < 1)).all())
    with pytest.raises(ValueError, match="task"):
        benchmark.PropertyNet(6, task="ranking")


def test_from_autoencoder_copies_the_encoder_without_sharing_it():
    torch.manual_seed(0)
    ae = mu.AutoEncoder(6, 3, hidden=(8,))
    net = benchmark.PropertyNet.from_autoencoder(ae, head_hidden=(4,))
    x = torch.randn(5, 6)
    assert torch.equal(net.encoder(x), ae.encode(x))
    with torch.no_grad():
        for p in net.encoder.parameters():
            p.add_(1.0)
    assert not torch.equal(net.encoder(x), ae.encode(x))  # the autoencoder is untouched


def test_fine_tuning_starts_from_the_pretrained_encoder(data):
    X, y = data
    fold = benchmark.prepare_fold(X, y, np.arange(100), np.arange(100, 120), seed=0)
    ae = benchmark.pretrain_autoencoder(fold.X_train, fold.X_val, FAST, seed=0)
    probe_only = dataclasses.replace(FAST, epochs=1, finetune_lr=1e-12)
    net = benchmark.train_property_net(fold, probe_only, autoencoder=ae, seed=0)
    # stage 1 freezes the encoder and stage 2 barely moves it: still the autoencoder's
    for p, q in zip(net.encoder.parameters(), ae.encoder.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert all(p.requires_grad for p in net.parameters())


def test_evaluate_fold_scores_every_row(data):
    X, y = data
    fold = benchmark.prepare_fold(X, y, np.arange(100), np.arange(100, 120), seed=0)
    scores, preds = benchmark.evaluate_fold(fold, settings=FAST, seed=0, return_predictions=True)
    assert list(scores) == list(benchmark.ROWS)
    dummy = np.abs(fold.y_test - fold.y_fit.mean()).mean()
    assert scores["dummy"] == pytest.approx(dummy, rel=1e-6)
    assert scores["rf"] < scores["dummy"]  # a forest learns the linear signal
    assert all(p.shape == fold.y_test.shape for p in preds.values())
    with pytest.raises(ValueError, match="row"):
        benchmark.evaluate_fold(fold, rows=("xgboost",), settings=FAST)


def test_scale_target_reports_original_units(data):
    X, y = data
    y_mpa = 500.0 + 100.0 * y  # a target far from unit scale
    fold = benchmark.prepare_fold(X, y_mpa, np.arange(100), np.arange(100, 120), seed=0,
                                  scale_target=True)
    assert fold.y_mean == pytest.approx(y_mpa[:100].mean())
    _, preds = benchmark.evaluate_fold(fold, rows=("mlp",), settings=FAST, seed=0,
                                       return_predictions=True)
    assert abs(preds["mlp"].mean() - 500.0) < 100.0  # predictions are in MPa, not in std units


def test_classification_and_cross_validate_summary(data):
    X, y = data
    labels = (y > np.median(y)).astype(float)
    folds = mu.matbench_folds(labels, task="classification")[:2]
    scores, aes = benchmark.cross_validate(X, labels, folds, task="classification",
                                           rows=("dummy", "rf", "finetuned"), settings=FAST)
    assert len(scores) == 2 and len(aes) == 2
    assert all(s["dummy"] == pytest.approx(0.5) for s in scores)  # constant score: AUC 0.5
    assert isinstance(aes[0], mu.AutoEncoder)
    table = benchmark.summarize(scores, task="classification")
    assert list(table.columns) == ["ROC-AUC mean", "ROC-AUC std", "folds"]
    assert list(table.index) == ["dummy", "rf", "finetuned"]
    assert (table["folds"] == 2).all()


@pytest.mark.slow  # starts worker processes (seconds of imports each)
def test_parallel_folds_give_the_same_scores(data):
    X, y = data
    folds = mu.matbench_folds(y)[:2]
    rows = ("dummy", "pca_rf", "mlp")
    serial, _ = benchmark.cross_validate(X, y, folds, rows=rows, settings=FAST, n_jobs=1)
    parallel, _ = benchmark.cross_validate(X, y, folds, rows=rows, settings=FAST, n_jobs=2)
    for a, b in zip(serial, parallel, strict=True):
        for row in rows:
            assert a[row] == pytest.approx(b[row], rel=1e-5)


def test_learning_curve_has_one_point_per_model_size_and_seed(data):
    X, y = data
    fold = benchmark.prepare_fold(X, y, np.arange(100), np.arange(100, 120), seed=0)
    curve = benchmark.learning_curve(fold, (20, 40), seeds=(0, 1), models=("rf", "mlp"),
                                     settings=FAST)
    assert len(curve) == 2 * 2 * 2
    assert set(curve["model"]) == {"rf", "mlp"} and set(curve["n"]) == {20, 40}
    with pytest.raises(ValueError):
        benchmark.learning_curve(fold, (500,), settings=FAST)  # more labels than rows


def test_clusters_and_leave_one_cluster_out(data):
    X, _ = data
    labels = benchmark.composition_clusters(X, n_clusters=3, seed=0)
    sizes = np.bincount(labels)
    assert sizes.size == 3 and (np.diff(sizes) <= 0).all()  # cluster 0 is the largest
    folds = benchmark.leave_one_cluster_out(labels)
    tested = np.concatenate([te for _, te in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(len(X)))
    for (tr, te), c in zip(folds, range(3), strict=True):
        assert (labels[te] == c).all() and (labels[tr] != c).all()
    with pytest.raises(ValueError, match="2 clusters"):
        benchmark.leave_one_cluster_out(np.zeros(10))


def test_score_metrics():
    assert benchmark.score("regression", [1.0, 2.0], [1.5, 2.5]) == pytest.approx(0.5)
    assert benchmark.score("classification", [0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0
    with pytest.raises(ValueError, match="task"):
        benchmark.score("ordinal", [1.0], [1.0])
