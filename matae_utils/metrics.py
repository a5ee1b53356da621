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

__all__ = [
    "reconstruction_error",
    "psnr",
    "ssim",
    "trustworthiness",
    "knn_property_score",
    "anomaly_metrics",
    "compression_ratio",
    "model_nbytes",
]

_REDUCTIONS = ("none", "mean", "sum")


def _as_numpy(a: Any, name: str, *, dtype: Any = None) -> np.ndarray:
    """Return ``a`` as a NumPy array (tensors are detached and copied to the CPU).

    Args:
        a: NumPy array, PyTorch tensor or anything :func:`numpy.asarray` accepts.
        name: Name of the argument, used in error messages.
        dtype: Optional dtype to convert to.

    Returns:
        np.ndarray: The array (not a copy when no conversion is needed).

    Raises:
        TypeError: If ``a`` cannot be converted to a numeric array.
    """
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        # NumPy has no bfloat16: widen it rather than fail
        a = (a.float() if a.dtype == torch.bfloat16 else a).numpy()
    try:
        arr = np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a numeric array or tensor; got {type(a).__name__} ({err})"
        ) from err
    if dtype is None and not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{name} must be a numeric array or tensor; got dtype {arr.dtype}")
    return arr


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")


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
    _check_reduction(reduction)
    x = _as_numpy(x, "x", dtype=np.float64)
    x_hat = _as_numpy(x_hat, "x_hat", dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}")
    if x.ndim < 2:
        raise ValueError(
            f"x must have a batch dimension, shape [N, ...]; got shape {x.shape} "
            "(use x[None] for a single sample)"
        )
    err = ((x - x_hat) ** 2).reshape(len(x), -1).mean(axis=1)  # [N]
    return _reduce(err, reduction)


def _as_images(x: Any, name: str) -> np.ndarray:
    """Return a float64 array of images [N, H, W] from [H, W], [N, H, W] or [N, 1, H, W]."""
    arr = _as_numpy(x, name, dtype=np.float64)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be images of shape [H, W], [N, H, W] or [N, 1, H, W]; "
            f"got shape {np.shape(x)}"
        )
    return arr


def _image_pair(x: Any, x_hat: Any, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    x_arr = _as_images(x, "x")
    x_hat_arr = _as_images(x_hat, "x_hat")
    if x_arr.shape != x_hat_arr.shape:
        raise ValueError(
            f"x and x_hat must have the same shape; got {np.shape(x)} and {np.shape(x_hat)}"
        )
    if not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive number; got {data_range!r}")
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

    _check_reduction(reduction)
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

    _check_reduction(reduction)
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


def _as_2d(a: Any, name: str) -> np.ndarray:
    arr = _as_numpy(a, name, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2D, shape [n_samples, n_dims]; got shape {arr.shape}")
    return arr


def trustworthiness(
    X: Any,
    Z: Any,
    *,
    n_neighbors: int = 5,
    max_samples: int | None = None,
    random_state: int = 0,
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
        random_state: Seed of the subsample (unused when all samples are scored).

    Returns:
        float: Trustworthiness in [0, 1].

    Raises:
        ValueError: If ``X`` and ``Z`` are not 2D with the same number of rows, or
            ``n_neighbors`` is too large for the number of samples.
    """
    from sklearn.manifold import trustworthiness as _sk_trustworthiness

    X = _as_2d(X, "X")
    Z = _as_2d(Z, "Z")
    if len(X) != len(Z):
        raise ValueError(f"X and Z must have the same number of rows; got {len(X)} and {len(Z)}")
    if max_samples is not None and max_samples < len(X):
        idx = np.random.default_rng(random_state).choice(len(X), size=max_samples, replace=False)
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
    random_state: int = 0,
) -> dict[str, float]:
    """Cross-validated k-NN regression of a property from the latent codes.

    A good latent space puts materials with similar properties close together, so a
    plain k-nearest-neighbour regressor (after a :class:`~sklearn.preprocessing.StandardScaler`,
    in one :class:`~sklearn.pipeline.Pipeline` so the scaler only sees training folds)
    predicts the property well. Without ``groups`` the folds are a shuffled
    :class:`~sklearn.model_selection.KFold`; with ``groups`` (e.g. the reduced formula of
    each row) a :class:`~sklearn.model_selection.GroupKFold` keeps every group in one
    fold, so duplicates of a formula cannot leak between training and test folds.

    Args:
        Z (Tensor or ndarray): [N, latent_dim] latent codes.
        y (Tensor or ndarray): [N] property values.
        n_neighbors: Number of neighbours of the regressor.
        cv: Number of folds (at least 2).
        groups (array-like): Optional [N] group labels for ``GroupKFold``.
        random_state: Seed of the fold shuffling (``GroupKFold`` is deterministic).

    Returns:
        dict: ``{"mae", "mae_std", "r2", "r2_std", "n_splits"}``: mean and standard
        deviation over the folds of the test MAE (units of ``y``) and R^2.

    Raises:
        ValueError: On mismatched lengths, non-finite values, ``cv < 2``, fewer groups
            than folds, or ``n_neighbors`` larger than a training fold.
    """
    from sklearn.model_selection import GroupKFold, KFold, cross_validate
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Z = _as_2d(Z, "Z")
    y = _as_numpy(y, "y", dtype=np.float64)
    if y.ndim != 1 or len(y) != len(Z):
        raise ValueError(f"y must have shape [{len(Z)}] to match Z; got shape {y.shape}")
    if not (np.isfinite(Z).all() and np.isfinite(y).all()):
        raise ValueError("Z and y must be finite (found NaN or inf)")
    if not isinstance(cv, int) or cv < 2:
        raise ValueError(f"cv must be an integer >= 2; got {cv!r}")
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (len(Z),):
            raise ValueError(f"groups must have shape [{len(Z)}]; got shape {groups.shape}")
        n_groups = len(np.unique(groups))
        if n_groups < cv:
            raise ValueError(f"cv={cv} folds need at least {cv} distinct groups; got {n_groups}")
        splitter: Any = GroupKFold(n_splits=cv)
    else:
        splitter = KFold(n_splits=cv, shuffle=True, random_state=random_state)
    smallest_train = min(len(train) for train, _ in splitter.split(Z, y, groups))
    if n_neighbors > smallest_train:
        raise ValueError(
            f"n_neighbors={n_neighbors} exceeds the smallest training fold ({smallest_train} samples)"
        )
    model = make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=n_neighbors))
    scores = cross_validate(
        model,
        Z,
        y,
        groups=groups,
        cv=splitter,
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

    scores = _as_numpy(scores, "scores", dtype=np.float64).ravel()
    labels = _as_numpy(labels, "labels")
    if labels.ndim != 1 or len(labels) != len(scores):
        raise ValueError(
            f"labels must be 1D with one entry per score ({len(scores)}); got shape {labels.shape}"
        )
    if not np.isfinite(scores).all():
        raise ValueError("scores must be finite (found NaN or inf)")
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
    return _as_numpy(a, name).nbytes


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
    if not isinstance(decoder_bytes, (int, np.integer)) or decoder_bytes < 0:
        raise ValueError(f"decoder_bytes must be a non-negative integer; got {decoder_bytes!r}")
    original_bytes = _nbytes(original, "original")
    code_bytes = _as_numpy(codes, "codes", dtype=np.dtype(code_dtype)).nbytes
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
