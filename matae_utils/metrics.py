"""Metrics for autoencoders: reconstruction, latent-space quality, anomaly detection, storage.

Every function accepts NumPy arrays or PyTorch tensors (tensors are detached and moved to
the CPU) and returns plain Python floats, NumPy arrays or dicts of floats, so the results
can be printed, glued into the book text or put in a :class:`pandas.DataFrame`.

The heavy lifting is delegated to trusted implementations: scikit-learn for
trustworthiness, k-NN regression and ROC/PR curves, scikit-image for PSNR and SSIM.
Those libraries are imported inside the functions that use them, so importing this
module stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ._checks import as_array, as_images, check_choice, check_number

__all__ = [
    "reconstruction_error",
    "psnr",
    "ssim",
    "trustworthiness",
    "knn_property_score",
    "anomaly_metrics",
    "compression_ratio",
    "model_nbytes",
    "continuity",
    "knn_holdout_score",
]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(values: np.ndarray, reduction: str) -> np.ndarray | float:
    if reduction == "none":
        return values
    if reduction == "mean":
        return float(values.mean())
    return float(values.sum())


def reconstruction_error(x: Any, x_hat: Any, *, reduction: str = "none") -> np.ndarray | float:
    """Mean squared error of each sample, averaged over all its features.

    Works for any trailing shape: feature vectors ``[N, n_features]``, images
    ``[N, 1, H, W]`` or spectra ``[N, 1, L]``. The per-sample error is the usual anomaly
    score of an autoencoder.

    Args:
        x (Tensor or ndarray): [N, ...] original samples.
        x_hat (Tensor or ndarray): [N, ...] reconstructions, same shape as ``x``.
        reduction: ``"none"`` for one error per sample, ``"mean"`` or ``"sum"`` over
            the samples.

    Returns:
        ndarray or float: [N] per-sample MSE when ``reduction="none"``, else a float.

    Raises:
        ValueError: If the shapes differ, ``x`` has no batch dimension or
            ``reduction`` is unknown.

    Example:
        >>> import numpy as np
        >>> reconstruction_error(np.zeros((2, 3)), np.array([[1, 1, 1], [0, 0, 3]]))
        array([1., 3.])
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    x = as_array(x, "x", dtype=np.float64)
    x_hat = as_array(x_hat, "x_hat", dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}")
    if x.ndim < 2:
        raise ValueError(
            f"x must have a batch dimension, shape [N, ...]; got shape {x.shape} "
            "(use x[None] for a single sample)"
        )
    err = ((x - x_hat) ** 2).reshape(len(x), -1).mean(axis=1)  # [N]
    return _reduce(err, reduction)


def _image_pair(x: Any, x_hat: Any, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    x_arr = as_images(x, "x")
    x_hat_arr = as_images(x_hat, "x_hat")
    if x_arr.shape != x_hat_arr.shape:
        raise ValueError(
            f"x and x_hat must have the same shape; got {np.shape(x)} and {np.shape(x_hat)}"
        )
    check_number(data_range, "data_range", low=0, low_inclusive=False)
    return x_arr, x_hat_arr


def psnr(x: Any, x_hat: Any, *, data_range: float, reduction: str = "mean") -> np.ndarray | float:
    """Peak signal-to-noise ratio (dB) of reconstructed images.

    ``PSNR = 10 log10(data_range**2 / MSE)``, computed per image by
    :func:`skimage.metrics.peak_signal_noise_ratio`. A perfect reconstruction has an
    infinite PSNR.

    Args:
        x (Tensor or ndarray): [N, H, W], [N, 1, H, W] or [H, W] original images.
        x_hat (Tensor or ndarray): reconstructions, same shape as ``x``.
        data_range: Difference between the largest and smallest possible pixel
            values (1.0 for images scaled to [0, 1]). Required: guessing it from the
            dtype is wrong for float images.
        reduction: ``"mean"`` over the images (default), ``"sum"`` or ``"none"``.

    Returns:
        float or ndarray: The mean PSNR, or [N] per-image PSNRs with ``reduction="none"``.

    Raises:
        ValueError: On a shape mismatch, a non-positive ``data_range`` or an unknown
            ``reduction``.
    """
    from skimage.metrics import peak_signal_noise_ratio

    check_choice(reduction, "reduction", _REDUCTIONS)
    x_arr, x_hat_arr = _image_pair(x, x_hat, data_range)
    with np.errstate(divide="ignore"):  # identical images -> inf, as documented
        values = np.array(
            [
                peak_signal_noise_ratio(a, b, data_range=data_range)
                for a, b in zip(x_arr, x_hat_arr, strict=True)
            ]
        )
    return _reduce(values, reduction)


def ssim(x: Any, x_hat: Any, *, data_range: float, reduction: str = "mean") -> np.ndarray | float:
    """Structural similarity index of reconstructed images (1 means identical).

    Computed per image by :func:`skimage.metrics.structural_similarity` with its default
    7 x 7 window; for images smaller than 7 pixels on a side the window shrinks to the
    largest odd size that fits (at least 3).

    Args:
        x (Tensor or ndarray): [N, H, W], [N, 1, H, W] or [H, W] original images.
        x_hat (Tensor or ndarray): reconstructions, same shape as ``x``.
        data_range: Difference between the largest and smallest possible pixel values.
        reduction: ``"mean"`` over the images (default), ``"sum"`` or ``"none"``.

    Returns:
        float or ndarray: The mean SSIM, or [N] per-image SSIMs with ``reduction="none"``.

    Raises:
        ValueError: On a shape mismatch, images smaller than 3 x 3, a non-positive
            ``data_range`` or an unknown ``reduction``.
    """
    from skimage.metrics import structural_similarity

    check_choice(reduction, "reduction", _REDUCTIONS)
    x_arr, x_hat_arr = _image_pair(x, x_hat, data_range)
    smallest = min(x_arr.shape[1:])
    win_size = min(7, smallest if smallest % 2 else smallest - 1)
    if win_size < 3:
        raise ValueError(f"SSIM needs images of at least 3 x 3 pixels; got {x_arr.shape[1:]}")
    values = np.array(
        [
            structural_similarity(a, b, data_range=data_range, win_size=win_size)
            for a, b in zip(x_arr, x_hat_arr, strict=True)
        ]
    )
    return _reduce(values, reduction)


def trustworthiness(
    X: Any,
    Z: Any,
    *,
    n_neighbors: int = 5,
    max_samples: int | None = None,
    seed: int = 0,
) -> float:
    """How well the latent space keeps the neighbourhoods of the input space.

    Wraps :func:`sklearn.manifold.trustworthiness`: 1 means that the ``n_neighbors``
    nearest neighbours of every sample in the latent space are also among its nearest
    neighbours in the input space; unexpected latent neighbours lower the score. The
    computation stores an ``[n, n]`` distance matrix, so for large data sets pass
    ``max_samples`` to score a random subset.

    Args:
        X (Tensor or ndarray): [N, n_features] inputs (scaled as the model sees them).
        Z (Tensor or ndarray): [N, latent_dim] latent codes of the same samples.
        n_neighbors: Neighbourhood size; must be smaller than ``N / 2``.
        max_samples: If given and smaller than ``N``, score this many samples drawn
            without replacement.
        seed: Seed of the subsample (unused when all samples are scored).

    Returns:
        float: Trustworthiness in [0, 1].

    Raises:
        ValueError: If ``X`` and ``Z`` are not 2D with the same number of rows, or
            ``n_neighbors`` is too large for the number of samples.
    """
    from sklearn.manifold import trustworthiness as _sk_trustworthiness

    X = as_array(X, "X", ndim=2, dtype=np.float64)
    Z = as_array(Z, "Z", ndim=2, dtype=np.float64)
    if len(X) != len(Z):
        raise ValueError(f"X and Z must have the same number of rows; got {len(X)} and {len(Z)}")
    if max_samples is not None and max_samples < len(X):
        idx = np.random.default_rng(seed).choice(len(X), size=max_samples, replace=False)
        X, Z = X[idx], Z[idx]
    if not 1 <= n_neighbors < len(X) / 2:
        raise ValueError(
            f"n_neighbors must be >= 1 and smaller than n_samples / 2 = {len(X) / 2}; "
            f"got {n_neighbors}"
        )
    return float(_sk_trustworthiness(X, Z, n_neighbors=n_neighbors))


def knn_property_score(
    Z: Any,
    y: Any,
    *,
    n_neighbors: int = 5,
    cv: int = 5,
    groups: Any = None,
    seed: int = 0,
) -> dict[str, float]:
    """Cross-validated k-NN regression of a property from the latent codes.

    A good latent space puts materials with similar properties close together, so a
    plain k-nearest-neighbour regressor (after a :class:`~sklearn.preprocessing.StandardScaler`,
    in one :class:`~sklearn.pipeline.Pipeline` so the scaler only sees training folds)
    predicts the property well. Without ``groups`` the folds are a shuffled
    :class:`~sklearn.model_selection.KFold`; with ``groups`` (e.g. the reduced formula of
    each row) :func:`matae_utils.group_kfold` keeps every group in one fold, so
    duplicates of a formula cannot leak between training and test folds.

    Args:
        Z (Tensor or ndarray): [N, latent_dim] latent codes.
        y (Tensor or ndarray): [N] property values.
        n_neighbors: Number of neighbours of the regressor.
        cv: Number of folds (at least 2).
        groups (array-like): Optional [N] group labels (see :func:`matae_utils.group_kfold`).
        seed: Seed of the fold assignment.

    Returns:
        dict: ``{"mae", "mae_std", "r2", "r2_std", "n_splits"}``: mean and standard
        deviation over the folds of the test MAE (units of ``y``) and R^2.

    Raises:
        ValueError: On mismatched lengths, non-finite values, ``cv < 2``, fewer groups
            than folds, or ``n_neighbors`` larger than a training fold.
    """
    from sklearn.model_selection import KFold, cross_validate
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .datasets import group_kfold

    Z = as_array(Z, "Z", ndim=2, dtype=np.float64)
    y = as_array(y, "y", ndim=1, dtype=np.float64)
    if len(y) != len(Z):
        raise ValueError(f"y must have shape [{len(Z)}] to match Z; got shape {y.shape}")
    cv = check_number(cv, "cv", integer=True, low=2)
    if groups is not None:
        if np.shape(groups) != (len(Z),):
            raise ValueError(f"groups must have shape [{len(Z)}]; got shape {np.shape(groups)}")
        folds = group_kfold(groups, n_splits=cv, seed=seed)
    else:
        folds = list(KFold(n_splits=cv, shuffle=True, random_state=seed).split(Z))
    smallest_train = min(len(train) for train, _ in folds)
    if n_neighbors > smallest_train:
        raise ValueError(
            f"n_neighbors={n_neighbors} exceeds the smallest training fold ({smallest_train} samples)"
        )
    model = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=n_neighbors))
    scores = cross_validate(
        model,
        Z,
        y,
        cv=folds,
        scoring=("neg_mean_absolute_error", "r2"),
        error_score="raise",
    )
    mae = -scores["test_neg_mean_absolute_error"]
    r2 = scores["test_r2"]
    return {
        "mae": float(mae.mean()),
        "mae_std": float(mae.std()),
        "r2": float(r2.mean()),
        "r2_std": float(r2.std()),
        "n_splits": cv,
    }


def anomaly_metrics(scores: Any, labels: Any) -> dict[str, float]:
    """Area under the ROC curve and average precision of anomaly scores.

    Convention: a **higher score means more anomalous** (e.g. the reconstruction error)
    and ``labels`` is 1 (or ``True``) for anomalies, 0 for normal samples.

    Args:
        scores (Tensor or ndarray): [N] anomaly scores.
        labels (Tensor or ndarray): [N] binary labels, 1 = anomaly.

    Returns:
        dict: ``{"auroc", "average_precision", "n_anomalies", "n_normal"}``. An AUROC of
        0.5 is chance; average precision should be compared with the anomaly fraction
        ``n_anomalies / N`` (its chance level).

    Raises:
        ValueError: On mismatched lengths, non-finite scores, labels other than 0/1, or
            labels with a single class.

    Example:
        >>> anomaly_metrics([0.1, 0.2, 0.9, 0.8], [0, 0, 1, 1])["auroc"]
        1.0
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = as_array(scores, "scores", dtype=np.float64).ravel()
    labels = as_array(labels, "labels", ndim=1)
    if len(labels) != len(scores):
        raise ValueError(
            f"labels must be 1D with one entry per score ({len(scores)}); got shape {labels.shape}"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0/1 or bool; got values {np.unique(labels)[:10]}")
    labels = labels.astype(int)
    n_anomalies = int(labels.sum())
    if n_anomalies in (0, len(labels)):
        raise ValueError(
            "labels must contain both classes (0 = normal, 1 = anomaly); "
            f"got {n_anomalies} anomalies out of {len(labels)} samples"
        )
    return {
        "auroc": float(roc_auc_score(labels, scores)),
        "average_precision": float(average_precision_score(labels, scores)),
        "n_anomalies": n_anomalies,
        "n_normal": len(labels) - n_anomalies,
    }


def _nbytes(a: Any, name: str) -> int:
    if isinstance(a, torch.Tensor):
        return a.element_size() * a.numel()
    return as_array(a, name, allow_nan=True).nbytes


def compression_ratio(
    original: Any, codes: Any, *, code_dtype: Any = "float16", decoder_bytes: int = 0
) -> float:
    """How many times smaller the latent codes are than the data they encode.

    ``ratio = original_bytes / (code_bytes + decoder_bytes)`` where ``original_bytes`` is
    the size of ``original`` in its own dtype (a list is converted by NumPy, so Python
    floats count as float64) and ``code_bytes`` is the real size of the codes stored as
    ``code_dtype``. ``decoder_bytes`` is the size of the decoder that must be shipped
    with the codes to reconstruct the data (see :func:`model_nbytes`); it is counted
    **once for the whole data set**, i.e. amortised over all samples in ``original``.
    Leave it at 0 to compare the codes alone (a decoder shared by many data sets), or
    pass it to get the honest ratio for this data set: then the ratio grows with the
    number of samples and falls below 1 for small data sets.

    Args:
        original (Tensor or ndarray): [N, ...] data as stored.
        codes (Tensor or ndarray): [N, latent_dim] latent codes.
        code_dtype: NumPy dtype the codes are stored in (default ``"float16"``).
        decoder_bytes: Bytes of the shared decoder, counted once (>= 0).

    Returns:
        float: The compression ratio (> 1 means the codes are smaller).

    Raises:
        ValueError: If ``codes`` is empty or ``decoder_bytes`` is negative.

    Example:
        >>> import numpy as np
        >>> compression_ratio(np.zeros(1000, dtype=np.float32), np.zeros(10))
        200.0
    """
    decoder_bytes = check_number(decoder_bytes, "decoder_bytes", integer=True, low=0)
    original_bytes = _nbytes(original, "original")
    code_bytes = as_array(codes, "codes", dtype=np.dtype(code_dtype), allow_nan=True).nbytes
    if code_bytes + decoder_bytes == 0:
        raise ValueError("codes is empty and decoder_bytes is 0: nothing is stored")
    return original_bytes / (code_bytes + int(decoder_bytes))


def model_nbytes(module: nn.Module, dtype: Any = "float32") -> int:
    """Bytes needed to store the weights of a module.

    Counts every parameter, plus floating-point buffers such as the running mean and
    variance of batch normalisation (needed at inference); integer bookkeeping buffers
    (``num_batches_tracked``) are ignored.

    Args:
        module: Any :class:`torch.nn.Module`, e.g. ``model.decoder``.
        dtype: Storage dtype of the weights (``"float32"``, ``"float16"``, ...); ``None``
            counts each tensor in its own dtype.

    Returns:
        int: The number of bytes.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Example:
        >>> from torch import nn
        >>> model_nbytes(nn.Linear(2, 3))  # (2 * 3 + 3) float32 values
        36
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    tensors = list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]
    if dtype is None:
        return int(sum(t.numel() * t.element_size() for t in tensors))
    itemsize = np.dtype(dtype).itemsize
    return int(sum(t.numel() for t in tensors) * itemsize)


# ------------------------------------------------------------------ latent maps (chapter 4)
def continuity(
    X: Any,
    Z: Any,
    *,
    n_neighbors: int = 5,
    max_samples: int | None = None,
    seed: int = 0,
) -> float:
    r"""How well the latent space keeps the input neighbours of every sample together.

    Continuity (Venna & Kaski 2001) is the mirror image of :func:`trustworthiness`:
    trustworthiness penalises latent neighbours that were far apart in the input space
    (false neighbours), continuity penalises input neighbours that the map tore apart
    (missing neighbours). With :math:`V_k(i)` the input-space ``n_neighbors`` nearest
    neighbours of sample :math:`i` that are *not* among its latent-space neighbours and
    :math:`\hat r(i, j)` the rank of :math:`j` by latent distance from :math:`i`,

    .. math::

        C(k) = 1 - \frac{2}{N k (2N - 3k - 1)} \sum_{i=1}^{N} \sum_{j \in V_k(i)}
        \big(\hat r(i, j) - k\big),

    which is trustworthiness with the roles of the two spaces swapped:
    ``continuity(X, Z) == trustworthiness(Z, X)``. It is computed that way, by
    :func:`sklearn.manifold.trustworthiness` with Euclidean distances in both spaces.

    Args:
        X (Tensor or ndarray): [N, n_features] inputs (scaled as the model sees them).
        Z (Tensor or ndarray): [N, latent_dim] latent codes of the same samples.
        n_neighbors: Neighbourhood size k; must be smaller than ``N / 2``.
        max_samples: If given and smaller than ``N``, score this many samples drawn
            without replacement (the same subset :func:`trustworthiness` draws for the
            same seed).
        seed: Seed of the subsample (unused when all samples are scored).

    Returns:
        float: Continuity in [0, 1]; 1 means no input neighbour is lost.

    Raises:
        ValueError: If ``X`` and ``Z`` are not 2D with the same number of rows, contain
            NaN or inf, or ``n_neighbors`` is too large for the number of samples.
        TypeError: If an argument is not numeric.

    Example:
        >>> import numpy as np
        >>> X = np.arange(20.0).reshape(10, 2)
        >>> continuity(X, 3 * X[:, :1], n_neighbors=3)  # a scaled copy loses nothing
        1.0
    """
    from sklearn.manifold import trustworthiness as _sk_trustworthiness

    from ._checks import as_array, check_number

    X = as_array(X, "X", ndim=2, dtype=np.float64)
    Z = as_array(Z, "Z", ndim=2, dtype=np.float64)
    if len(X) != len(Z):
        raise ValueError(f"X and Z must have the same number of rows; got {len(X)} and {len(Z)}")
    if max_samples is not None:
        max_samples = check_number(max_samples, "max_samples", integer=True, low=2)
        if max_samples < len(X):
            idx = np.random.default_rng(seed).choice(len(X), size=max_samples, replace=False)
            X, Z = X[idx], Z[idx]
    n_neighbors = check_number(n_neighbors, "n_neighbors", integer=True, low=1)
    if not n_neighbors < len(X) / 2:
        raise ValueError(
            f"n_neighbors must be smaller than n_samples / 2 = {len(X) / 2}; got {n_neighbors}"
        )
    # swapping the spaces turns trustworthiness into continuity
    return float(_sk_trustworthiness(Z, X, n_neighbors=n_neighbors))


def knn_holdout_score(
    Z_train: Any,
    y_train: Any,
    Z_test: Any,
    y_test: Any,
    *,
    task: str = "regression",
    n_neighbors: int = 5,
) -> dict[str, float]:
    """How well a map organises a property: k-NN fitted on training codes, scored on test codes.

    A :class:`~sklearn.preprocessing.StandardScaler` and a k-nearest-neighbour model, in
    one :class:`~sklearn.pipeline.Pipeline`, are fitted on ``(Z_train, y_train)`` and
    evaluated on ``(Z_test, y_test)``: the fixed-split counterpart of
    :func:`knn_property_score` (which cross-validates within one set), for comparing
    maps of the same training and test samples. The scaler puts both axes of every map
    on the same footing, whatever the units of its coordinates.

    Args:
        Z_train (Tensor or ndarray): [N_train, latent_dim] codes of the training samples.
        y_train (array-like): [N_train] property values (regression) or class labels
            (classification; any hashable labels, e.g. strings or bools).
        Z_test (Tensor or ndarray): [N_test, latent_dim] codes of the test samples.
        y_test (array-like): [N_test] values or labels of the test samples.
        task: ``"regression"`` (:class:`~sklearn.neighbors.KNeighborsRegressor`) or
            ``"classification"`` (:class:`~sklearn.neighbors.KNeighborsClassifier`).
        n_neighbors: Number of neighbours, at most ``N_train``.

    Returns:
        dict: For regression ``{"mae", "rmse", "r2", "n_train", "n_test"}`` (MAE and RMSE
        in the units of ``y``). For classification ``{"accuracy", "balanced_accuracy",
        "n_classes", "n_train", "n_test"}``, plus ``"roc_auc"`` when there are exactly two
        classes (score: the fraction of neighbours in the class that sorts last, e.g.
        ``True`` for bools).

    Raises:
        ValueError: On an unknown ``task``, mismatched shapes or latent sizes, non-finite
            codes or regression targets, fewer than two training classes, or
            ``n_neighbors`` larger than the training set.

    Example:
        >>> import numpy as np
        >>> Z = np.arange(10.0)[:, None]
        >>> knn_holdout_score(Z[::2], Z[::2, 0] > 4, Z[1::2], Z[1::2, 0] > 4,
        ...                   task="classification", n_neighbors=1)["accuracy"]
        1.0
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        mean_absolute_error,
        mean_squared_error,
        r2_score,
        roc_auc_score,
    )
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ._checks import as_array, check_choice, check_number

    task = check_choice(task, "task", ("regression", "classification"))
    Z_train = as_array(Z_train, "Z_train", ndim=2, dtype=np.float64)
    Z_test = as_array(Z_test, "Z_test", ndim=2, dtype=np.float64)
    if Z_train.shape[1] != Z_test.shape[1]:
        raise ValueError(
            f"Z_train and Z_test must have the same number of columns; got "
            f"{Z_train.shape[1]} and {Z_test.shape[1]}"
        )
    if task == "regression":
        y_train = as_array(y_train, "y_train", ndim=1, dtype=np.float64)
        y_test = as_array(y_test, "y_test", ndim=1, dtype=np.float64)
    else:
        y_train = np.asarray(y_train.detach().cpu() if hasattr(y_train, "detach") else y_train)
        y_test = np.asarray(y_test.detach().cpu() if hasattr(y_test, "detach") else y_test)
    for name, Zs, ys in (("train", Z_train, y_train), ("test", Z_test, y_test)):
        if ys.shape != (len(Zs),):
            raise ValueError(
                f"y_{name} must have shape [{len(Zs)}] to match Z_{name}; got {ys.shape}"
            )
    n_neighbors = check_number(n_neighbors, "n_neighbors", integer=True, low=1)
    if n_neighbors > len(Z_train):
        raise ValueError(
            f"n_neighbors={n_neighbors} exceeds the number of training samples ({len(Z_train)})"
        )
    out: dict[str, float] = {"n_train": len(Z_train), "n_test": len(Z_test)}
    if task == "regression":
        model = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=n_neighbors))
        pred = model.fit(Z_train, y_train).predict(Z_test)
        out.update(
            mae=float(mean_absolute_error(y_test, pred)),
            rmse=float(np.sqrt(mean_squared_error(y_test, pred))),
            r2=float(r2_score(y_test, pred)),
        )
        return out
    classes = np.unique(y_train)
    if len(classes) < 2:
        raise ValueError(f"y_train must contain at least two classes; got {classes.tolist()}")
    model = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=n_neighbors))
    model.fit(Z_train, y_train)
    pred = model.predict(Z_test)
    out.update(
        accuracy=float(accuracy_score(y_test, pred)),
        balanced_accuracy=float(balanced_accuracy_score(y_test, pred)),
        n_classes=len(classes),
    )
    if len(classes) == 2:
        positive = model.predict_proba(Z_test)[:, 1]  # fraction of neighbours in classes[1]
        out["roc_auc"] = float(roc_auc_score(y_test == classes[1], positive))
    return out


# ----------------------------------------------------------- disentanglement (issue 13)
def _discretize(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width histogram bins of every column: int [N, m] in 0..n_bins-1."""
    lo, hi = values.min(axis=0), values.max(axis=0)
    width = np.where(hi > lo, hi - lo, 1.0)
    return np.clip(((values - lo) / width * n_bins).astype(int), 0, n_bins - 1)


def _codes_and_factors(Z: Any, factors: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes [N, k] and factors [N, K] (a single factor [N] becomes [N, 1]) as float64,
    checked for NaN and for matching rows."""
    Z = as_array(Z, "Z", ndim=2, dtype=np.float64)
    V = as_array(factors, "factors", dtype=np.float64)
    V = V[:, None] if V.ndim == 1 else V
    if V.ndim != 2 or V.shape[0] != Z.shape[0]:
        raise ValueError(
            f"factors must be [N, K] with N={Z.shape[0]} rows like Z, got {list(V.shape)}"
        )
    return Z, V


def mutual_information_gap(Z: Any, factors: Any, *, n_bins: int = 20) -> dict[str, Any]:
    r"""Mutual information gap (MIG) between latent codes and known generating factors.

    Each code dimension and each factor is discretised into ``n_bins`` equal-width bins
    (as in Chen et al. 2018 and Locatello et al. 2019's ``disentanglement_lib``); the mutual
    information :math:`I(z_j; v_k)` is computed from the joint histogram
    (:func:`sklearn.metrics.mutual_info_score`, in nats). For factor :math:`v_k` the gap is
    the difference between the two most informative code dimensions, divided by the
    factor's entropy :math:`H(v_k)`:

    .. math::

        \mathrm{MIG} = \frac{1}{K} \sum_{k=1}^{K}
        \frac{I(z_{j^{(1)}}; v_k) - I(z_{j^{(2)}}; v_k)}{H(v_k)} .

    A score of 1 means every factor is captured by one code dimension alone; 0 means the
    information about each factor is spread over several dimensions (or absent). Histogram
    estimates are biased upwards for few samples: compare models on the same samples and
    bins.

    Args:
        Z (array-like): codes [N, k] (e.g. the posterior means of a VAE), k >= 2.
        factors (array-like): generating factors [N, K] (continuous or discrete).
        n_bins (int): histogram bins per variable, >= 2.

    Returns:
        dict: ``"mig"`` (float), ``"gaps"`` (float64 [K], normalised gap per factor),
        ``"mi"`` (float64 [k, K], mutual information divided by each factor's entropy) and
        ``"best"`` (int [K], the most informative code dimension of each factor).

    Raises:
        ValueError: for NaN, mismatched rows, fewer than 2 code dimensions or a constant
            factor.

    Example::

        out = mutual_information_gap(Z_test, params[["c_mean", "kappa"]].to_numpy())
        out["mig"], out["mi"].round(2)
    """
    from sklearn.metrics import mutual_info_score

    Z, V = _codes_and_factors(Z, factors)
    if Z.shape[1] < 2:
        raise ValueError(f"Z needs at least 2 code dimensions for a gap, got {Z.shape[1]}")
    n_bins = check_number(n_bins, "n_bins", integer=True, low=2)
    if np.any(V.max(axis=0) == V.min(axis=0)):
        raise ValueError("a factor is constant: its entropy is 0 and the gap undefined")
    zb, vb = _discretize(Z, n_bins), _discretize(V, n_bins)
    mi = np.array([[mutual_info_score(zb[:, j], vb[:, k]) for k in range(V.shape[1])]
                   for j in range(Z.shape[1])])  # fmt: skip
    entropy = np.array([mutual_info_score(vb[:, k], vb[:, k]) for k in range(V.shape[1])])
    mi = mi / entropy[None, :]
    top2 = np.sort(mi, axis=0)[::-1][:2]  # [2, K]
    gaps = top2[0] - top2[1]
    return {"mig": float(gaps.mean()), "gaps": gaps, "mi": mi,
            "best": np.argmax(mi, axis=0)}  # fmt: skip


def factor_correlation(Z: Any, factors: Any) -> np.ndarray:
    """Absolute Spearman rank correlation of every code dimension with every factor.

    A quick, bin-free picture of disentanglement: one large entry per column (factor) and
    per row (code dimension) is the ideal; a dimension correlated with several factors
    mixes them. Spearman's correlation catches any monotonic relation, not only a linear
    one. A constant code dimension (a collapsed VAE unit) gets 0.

    Args:
        Z (array-like): codes [N, k].
        factors (array-like): factors [N, K].

    Returns:
        np.ndarray: float64 [k, K] in [0, 1].

    Raises:
        ValueError: for NaN or mismatched rows.
    """
    from scipy.stats import rankdata

    Z, V = _codes_and_factors(Z, factors)
    k = Z.shape[1]
    out = np.zeros((k, V.shape[1]))
    live = Z.std(axis=0) > 0
    if live.any():
        ranks = rankdata(np.c_[Z[:, live], V], axis=0)  # Spearman = Pearson of the ranks
        rho = np.corrcoef(ranks, rowvar=False)
        n_live = int(live.sum())
        out[live] = np.abs(rho[:n_live, n_live:])
    return out


__all__ += ["factor_correlation", "mutual_information_gap"]
