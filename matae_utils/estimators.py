"""scikit-learn wrappers: autoencoders as transformers for ``Pipeline``, ``GridSearchCV``...

:class:`AutoEncoderTransformer` and :class:`VAETransformer` follow the scikit-learn estimator
contract: ``__init__`` only stores its arguments, ``fit`` learns attributes ending in ``_``
and returns ``self``, every other method starts with ``check_is_fitted``, and randomness
comes from ``random_state``. Inside, they standardise the features (optionally), build a
:class:`~matae_utils.models.AutoEncoder` or :class:`~matae_utils.models.VAE`, and train it
with :func:`matae_utils.training.fit`.

Example::

    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_score

    pipe = make_pipeline(AutoEncoderTransformer(latent_dim=4, random_state=0), Ridge())
    scores = cross_val_score(pipe, X, y, cv=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from . import training
from ._checks import check_number
from .models import VAE, AutoEncoder

__all__ = ["AutoEncoderTransformer", "VAETransformer"]

_FLOATS = [np.float64, np.float32]


def _validate_data(est: BaseEstimator, X: Any, reset: bool) -> np.ndarray:
    """sklearn's ``validate_data`` (>= 1.6) or the older ``_validate_data`` method."""
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # scikit-learn < 1.6
        return est._validate_data(X, reset=reset, dtype=_FLOATS)
    return validate_data(est, X, reset=reset, dtype=_FLOATS)


class AutoEncoderTransformer(TransformerMixin, BaseEstimator):
    """Autoencoder as a scikit-learn transformer: ``X -> latent codes``.

    ``fit`` standardises the features (``scale=True``), holds out ``validation_fraction`` of
    the rows for early stopping, and trains an :class:`~matae_utils.models.AutoEncoder`
    with :func:`matae_utils.training.fit`. ``transform`` returns the codes,
    ``inverse_transform`` decodes codes back to the original units and ``score`` is the
    negative reconstruction error, so the estimator works in ``Pipeline``,
    ``cross_val_score``, ``GridSearchCV`` and ``clone``.

    Args:
        latent_dim (int): number of latent features.
        hidden (Sequence[int]): encoder hidden sizes (the decoder mirrors them).
        activation (str | None): hidden activation (see :data:`matae_utils.models.ACTIVATIONS`).
        epochs (int): maximum number of epochs.
        batch_size (int): mini-batch size.
        lr (float): learning rate of Adam.
        weight_decay (float): L2 penalty.
        patience (int | None): early-stopping patience in epochs on the validation loss;
            None trains for all epochs.
        validation_fraction (float): fraction of the rows held out for early stopping and
            for choosing the best epoch, in [0, 1); 0 trains on all rows (then
            ``patience`` must be None).
        scale (bool): standardise the features before training (recommended unless they
            are already on comparable scales).
        device (str): ``"auto"`` (GPU if available), ``"cpu"``, ``"cuda"`` or ``"mps"``;
            the fitted ``model_`` is kept on the CPU.
        random_state (int | numpy.random.RandomState | None): controls the initial
            weights, the validation split, the shuffling and dropout/noise.
        progress (bool): show a progress bar.

    Attributes:
        model_ (AutoEncoder): the trained network (eval mode).
        scaler_ (StandardScaler | None): the fitted scaler, or None if ``scale=False``.
        history_ (History): losses per epoch (see :class:`matae_utils.training.History`).
        n_iter_ (int): number of epochs run.
        reconstruction_error_ (float): mean squared reconstruction error on the training
            data, in the scaled space.
        n_features_in_ (int): number of features seen in ``fit``.
        feature_names_in_ (np.ndarray): feature names, if ``X`` was a DataFrame with
            string column names.

    Notes:
        Every check of ``sklearn.utils.estimator_checks.check_estimator`` (scikit-learn 1.9)
        passes and none is marked as an expected failure (see ``tests/test_estimators.py``);
        only ``check_array_api_input`` is skipped, by scikit-learn itself, because the
        estimator does not claim array-API support. The network computes in float32, so
        float64 outputs carry float32 precision.

    Example::

        ae = AutoEncoderTransformer(latent_dim=2, random_state=0).fit(X)
        Z = ae.transform(X)               # [n_samples, 2]
        X_back = ae.inverse_transform(Z)  # original units
    """

    _feature_prefix = "ae"
    _model_class = AutoEncoder
    #: Settings passed on to the model (besides ``n_features``).
    _model_params: tuple[str, ...] = ("latent_dim", "hidden", "activation")

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: Sequence[int] = (64,),
        activation: str | None = "relu",
        epochs: int = 200,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int | None = 20,
        validation_fraction: float = 0.1,
        scale: bool = True,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        progress: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.progress = progress

    # -- helpers
    def _scale(self, X: np.ndarray) -> np.ndarray:
        Xs = X if self.scaler_ is None else self.scaler_.transform(X)
        return np.asarray(Xs, dtype=np.float32)

    def _unscale(self, Xs: np.ndarray) -> np.ndarray:
        Xs = np.asarray(Xs, dtype=np.float64)
        return Xs if self.scaler_ is None else self.scaler_.inverse_transform(Xs)

    def _reconstruction_error(self, Xs: np.ndarray) -> float:
        X_hat = training.reconstruct(self.model_, Xs, device=self.device)
        return float(np.mean((X_hat - Xs) ** 2))

    # -- scikit-learn API
    def fit(self, X: Any, y: Any = None) -> AutoEncoderTransformer:
        """Standardise (if ``scale``), then train the autoencoder on ``X``.

        Args:
            X (array-like): [n_samples, n_features], finite numbers.
            y: ignored; present for API consistency.

        Returns:
            self: the fitted estimator.

        Raises:
            ValueError: for NaN or infinite values, fewer than 2 samples, or
                ``patience`` without a validation split (``validation_fraction=0``).
        """
        from sklearn.preprocessing import StandardScaler

        X = _validate_data(self, X, reset=True)
        n = X.shape[0]
        if n < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to train, got n_samples={n}"
            )
        frac = check_number(
            self.validation_fraction, "validation_fraction", low=0, high=1, high_inclusive=False
        )
        n_val = min(int(np.ceil(frac * n)), n - 1)
        if self.patience is not None and n_val == 0:
            raise ValueError(
                f"patience={self.patience} (early stopping) needs a validation split; set "
                "validation_fraction > 0, or patience=None to train for all epochs"
            )

        rng = check_random_state(self.random_state)
        init_seed, fit_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        perm = rng.permutation(n)

        self.scaler_ = StandardScaler().fit(X) if self.scale else None
        Xs = self._scale(X)
        X_train, X_val = Xs[perm[n_val:]], (Xs[perm[:n_val]] if n_val else None)

        with training._fork_rng(torch.device("cpu")):
            torch.manual_seed(init_seed)  # reproducible initial weights
            settings = {name: getattr(self, name) for name in self._model_params}
            model = self._model_class(n_features=X.shape[1], **settings)
        self.history_ = training.fit(
            model,
            X_train,
            X_val,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            weight_decay=self.weight_decay,
            patience=self.patience if n_val else None,
            device=self.device,
            seed=fit_seed,
            progress=bool(self.progress),
        )
        self.model_ = model
        self.n_iter_ = self.history_.n_epochs
        self.reconstruction_error_ = self._reconstruction_error(Xs)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Latent codes of ``X``.

        Args:
            X (array-like): [n_samples, n_features].

        Returns:
            np.ndarray: [n_samples, latent_dim], float32 for float32 input, else float64.
        """
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        Z = training.encode(self.model_, self._scale(X), device=self.device)
        return Z.astype(X.dtype, copy=False)

    def inverse_transform(self, X: Any) -> np.ndarray:
        """Decode latent codes back to feature space, in the original units.

        Args:
            X (array-like): latent codes, [n_samples, latent_dim] (named ``X`` as in
                scikit-learn's other transformers).

        Returns:
            np.ndarray: [n_samples, n_features], float32 for float32 codes, else float64.

        Raises:
            ValueError: if the codes do not have ``latent_dim`` columns.
        """
        check_is_fitted(self)
        Z = check_array(X, dtype=_FLOATS)
        if Z.shape[1] != self.latent_dim:
            raise ValueError(
                f"the latent codes have {Z.shape[1]} columns, but {type(self).__name__} has "
                f"latent_dim={self.latent_dim}"
            )
        X_out = self._unscale(
            training.decode(self.model_, Z.astype(np.float32), device=self.device)
        )
        return X_out.astype(Z.dtype, copy=False)

    def score(self, X: Any, y: Any = None) -> float:
        """Negative mean squared reconstruction error, in the scaled space (higher is better).

        With ``scale=True`` the error is in units of feature variance, so every feature
        counts equally whatever its units; this is the score ``GridSearchCV`` maximises.

        Args:
            X (array-like): [n_samples, n_features].
            y: ignored.

        Returns:
            float: ``-mean((reconstruction - X_scaled) ** 2)``.
        """
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return -self._reconstruction_error(self._scale(X))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the latent features: ``["ae0", "ae1", ...]`` (``"vae0"``... for a VAE).

        Args:
            input_features (array-like of str | None): checked against the names seen in
                ``fit`` if given; not used otherwise.

        Returns:
            np.ndarray: object array of ``latent_dim`` strings.
        """
        check_is_fitted(self)
        if input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if len(input_features) != self.n_features_in_:
                raise ValueError(
                    f"input_features should have length equal to number of features "
                    f"({self.n_features_in_}), got {len(input_features)}"
                )
            names = getattr(self, "feature_names_in_", None)
            if names is not None and not np.array_equal(input_features, names):
                raise ValueError("input_features is not equal to feature_names_in_")
        return np.asarray(
            [f"{self._feature_prefix}{i}" for i in range(self.latent_dim)], dtype=object
        )

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _more_tags(self) -> dict[str, Any]:  # scikit-learn < 1.6
        return {"preserves_dtype": [np.float64, np.float32]}


class VAETransformer(AutoEncoderTransformer):
    """Variational autoencoder as a scikit-learn transformer, with sampling.

    Like :class:`AutoEncoderTransformer` with a :class:`~matae_utils.models.VAE` inside:
    ``transform`` returns the posterior means, ``inverse_transform`` decodes codes, and
    :meth:`sample` generates new rows in the original units. ``score`` is the negative
    mean squared reconstruction error of the posterior means (not the ELBO), so scores
    of the two transformers are comparable.

    Args:
        latent_dim (int): number of latent features.
        hidden (Sequence[int]): encoder hidden sizes (the decoder mirrors them).
        activation (str | None): hidden activation.
        beta (float): weight of the KL term (see :class:`~matae_utils.models.VAE`).
        epochs (int): maximum number of epochs.
        batch_size (int): mini-batch size.
        lr (float): learning rate of Adam.
        weight_decay (float): L2 penalty.
        patience (int | None): early-stopping patience on the validation loss (negative
            ELBO); None trains for all epochs.
        validation_fraction (float): fraction of the rows held out, in [0, 1).
        scale (bool): standardise the features before training.
        device (str): ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        random_state (int | numpy.random.RandomState | None): controls initial weights,
            split, shuffling and the sampling of ``z`` during training.
        progress (bool): show a progress bar.

    Attributes:
        model_ (VAE): the trained network (eval mode).
        scaler_ (StandardScaler | None): the fitted scaler, or None if ``scale=False``.
        history_ (History): losses per epoch: ``loss``, ``recon_sum`` and ``kl`` (sums per
            sample, the ELBO's scale) and ``recon`` (per element, as for the autoencoder).
        n_iter_ (int): number of epochs run.
        reconstruction_error_ (float): mean squared reconstruction error (posterior means)
            on the training data, in the scaled space.
        n_features_in_ (int): number of features seen in ``fit``.
        feature_names_in_ (np.ndarray): feature names, if ``X`` was a DataFrame with
            string column names.

    Notes:
        Passes the scikit-learn estimator checks like :class:`AutoEncoderTransformer`.

    Example::

        vae = VAETransformer(latent_dim=2, beta=1.0, random_state=0).fit(X)
        X_new = vae.sample(100, random_state=0)  # [100, n_features], original units
    """

    _feature_prefix = "vae"
    _model_class = VAE
    _model_params = ("latent_dim", "hidden", "activation", "beta")

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: Sequence[int] = (64,),
        activation: str | None = "relu",
        beta: float = 1.0,
        epochs: int = 200,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int | None = 20,
        validation_fraction: float = 0.1,
        scale: bool = True,
        device: str = "auto",
        random_state: int | np.random.RandomState | None = None,
        progress: bool = False,
    ) -> None:
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.activation = activation
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.progress = progress

    def sample(
        self, n_samples: int = 1, random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Generate new rows by decoding ``z ~ N(0, I)``, in the original units.

        Args:
            n_samples (int): number of rows.
            random_state (int | numpy.random.RandomState | None): seed for the draws; the
                same value gives the same rows.

        Returns:
            np.ndarray: [n_samples, n_features], float64.
        """
        check_is_fitted(self)
        seed = int(check_random_state(random_state).randint(0, 2**31 - 1))
        Xs = self.model_.sample(n_samples, seed=seed).cpu().numpy()
        return self._unscale(Xs)
