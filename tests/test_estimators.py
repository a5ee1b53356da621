"""Tests of matae_utils.estimators: the scikit-learn contract and use in pipelines.

Every check of ``sklearn.utils.estimator_checks`` is run (``parametrize_with_checks``); none
is marked as an expected failure. ``check_array_api_input`` is skipped by scikit-learn itself
unless the ``SCIPY_ARRAY_API=1`` environment variable is set; the estimators do not claim
array-API support (the network runs in torch on a numpy copy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from matae_utils.estimators import AutoEncoderTransformer, VAETransformer
from matae_utils.models import VAE, AutoEncoder

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data():
    """150 x 6 features of very different units driven by 2 latent factors, and a target."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(150, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(150, 6))
    X = X * np.array([1.0, 10.0, 100.0, 0.1, 1000.0, 1.0]) + 50.0
    y = latent[:, 0] - 2 * latent[:, 1] + 0.05 * rng.normal(size=150)
    return X, y


@parametrize_with_checks(
    [
        AutoEncoderTransformer(hidden=(8,), epochs=3, random_state=0),
        VAETransformer(hidden=(8,), epochs=3, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_fit_transform_inverse_transform(data):
    X, _ = data
    ae = AutoEncoderTransformer(latent_dim=2, hidden=(16,), epochs=150, lr=1e-2, random_state=0)
    assert ae.fit(X) is ae
    assert isinstance(ae.model_, AutoEncoder) and ae.model_.latent_dim == 2
    assert ae.n_features_in_ == 6 and ae.n_iter_ == ae.history_.n_epochs
    Z = ae.transform(X)
    assert Z.shape == (150, 2) and Z.dtype == np.float64
    X_back = ae.inverse_transform(Z)
    assert X_back.shape == X.shape
    # back in the original units: per-feature error small compared with each feature's spread
    rel = np.sqrt(np.mean((X_back - X) ** 2, axis=0)) / X.std(axis=0)
    assert rel.max() < 0.3
    assert ae.score(X) == pytest.approx(-ae.reconstruction_error_, rel=1e-6)
    assert list(ae.get_feature_names_out()) == ["ae0", "ae1"]
    assert ae.transform(X.astype(np.float32)).dtype == np.float32


def test_scale_false_uses_raw_units(data):
    X, _ = data
    ae = AutoEncoderTransformer(latent_dim=2, epochs=2, scale=False, random_state=0).fit(X)
    assert ae.scaler_ is None
    Z = ae.transform(X)
    assert ae.inverse_transform(Z).shape == X.shape


def test_random_state_controls_everything(data):
    X, _ = data
    kw = {"latent_dim": 2, "hidden": (8,), "epochs": 5}
    a = AutoEncoderTransformer(random_state=1, **kw).fit_transform(X)
    b = AutoEncoderTransformer(random_state=1, **kw).fit_transform(X)
    c = AutoEncoderTransformer(random_state=2, **kw).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_pipeline_cross_val_score_and_clone(data):
    X, y = data
    ae = AutoEncoderTransformer(latent_dim=2, hidden=(16,), epochs=100, lr=1e-2, random_state=0)
    pipe = make_pipeline(ae, Ridge(alpha=1e-3))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert scores.mean() > 0.8  # y is linear in the 2 latent factors the codes recover
    twin = clone(ae)
    assert twin.get_params() == ae.get_params()
    assert not hasattr(twin, "model_")
    with pytest.raises(NotFittedError):
        twin.transform(X)


def test_grid_search_picks_enough_latent_dims(data):
    X, _ = data
    ae = AutoEncoderTransformer(hidden=(16,), epochs=60, lr=1e-2, patience=None, random_state=0)
    search = GridSearchCV(ae, {"latent_dim": [1, 2]}, cv=2).fit(X)  # score = -recon error
    assert search.best_params_ == {"latent_dim": 2}


def test_set_output_pandas(data):
    X, _ = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    ae = AutoEncoderTransformer(latent_dim=3, epochs=2, random_state=0).set_output(
        transform="pandas"
    )
    out = ae.fit_transform(frame)
    assert list(out.columns) == ["ae0", "ae1", "ae2"]
    assert list(ae.feature_names_in_) == list(frame.columns)


def test_vae_transformer(data):
    X, _ = data
    vae = VAETransformer(latent_dim=2, hidden=(16,), epochs=30, beta=0.5, random_state=0)
    vae.fit(X)
    assert isinstance(vae.model_, VAE) and vae.model_.beta == 0.5
    assert set(vae.history_.train) == {"loss", "recon_sum", "kl", "recon"}
    Z = vae.transform(X)
    with torch.no_grad():
        mu = vae.model_.encode(torch.as_tensor(vae._scale(X))).numpy()
    np.testing.assert_allclose(Z, mu, rtol=1e-6, atol=1e-6)  # posterior means
    assert list(vae.get_feature_names_out()) == ["vae0", "vae1"]
    new = vae.sample(20, random_state=0)
    assert new.shape == (20, 6)
    np.testing.assert_array_equal(new, vae.sample(20, random_state=0))
    assert not np.allclose(new, vae.sample(20, random_state=1))
    # in the original units: the samples sit around the data mean, not around 0
    assert np.all(np.abs(new.mean(0) - X.mean(0)) < 2 * X.std(0))


def test_errors(data):
    X, _ = data
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AutoEncoderTransformer(epochs=1).fit(bad)
    with pytest.raises(ValueError, match="n_samples=1"):
        AutoEncoderTransformer(epochs=1).fit(X[:1])
    with pytest.raises(ValueError, match="validation_fraction > 0"):
        AutoEncoderTransformer(epochs=1, validation_fraction=0.0).fit(X)
    with pytest.raises(ValueError, match="validation_fraction must be"):
        AutoEncoderTransformer(epochs=1, validation_fraction=1.5).fit(X)
    AutoEncoderTransformer(epochs=1, validation_fraction=0.0, patience=None).fit(X)
    with pytest.raises(ValueError, match="activation"):
        AutoEncoderTransformer(epochs=1, activation="nope").fit(X)
    ae = AutoEncoderTransformer(latent_dim=2, epochs=1, random_state=0)
    with pytest.raises(NotFittedError):
        ae.transform(X)
    ae.fit(X)
    with pytest.raises(ValueError, match="6 features"):
        ae.transform(X[:, :5])
    with pytest.raises(ValueError, match="latent_dim=2"):
        ae.inverse_transform(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="input_features"):
        ae.get_feature_names_out(["a"])


def test_shared_vocabulary_and_shared_implementation(data, capsys):
    X, _ = data
    for cls in (AutoEncoderTransformer, VAETransformer):
        params = cls().get_params()
        assert params["device"] == "auto" and params["progress"] is False
        assert "verbose" not in params and "random_state" in params  # sklearn's name
    assert issubclass(VAETransformer, AutoEncoderTransformer)
    assert VAETransformer.fit is AutoEncoderTransformer.fit  # one implementation
    AutoEncoderTransformer(epochs=2, progress=True, random_state=0).fit(X)
    assert "fit AutoEncoder" in capsys.readouterr().err  # the progress bar ran
    vae = VAETransformer(epochs=2, beta=3.0, hidden=(8,), random_state=0).fit(X)
    assert vae.model_.config["beta"] == 3.0 and vae.model_.config["hidden"] == [8]
    assert next(vae.model_.parameters()).device.type == "cpu"  # model_ stays on the CPU
