r"""Storing data as compact codes: quantisation, a PCA codec, a JPEG baseline, rate-distortion.

A *codec* turns a sample into stored bytes (``encode``) and the bytes back into an
approximation of the sample (``decode``). This module counts the bytes exactly, so codecs
can be compared at equal *rate* (bytes per sample) by their *distortion* (PSNR, SSIM):

* :class:`Quantizer` stores codes as float32, float16 or int8. The int8 map has one scale
  :math:`s_j` and one offset per code dimension, learned from training codes,
  :math:`q_j = \operatorname{round}((z_j - o_j) / s_j) \in \{-128, \dots, 127\}` with
  :math:`s_j = (\max_j - \min_j) / 255`, so inside the training range the round trip is
  off by at most :math:`s_j / 2`.
* :class:`PCACodec` stores the first ``k`` principal-component scores of each sample
  (quantised the same way): the linear baseline of a learned codec.
* :class:`AutoEncoderCodec` stores an autoencoder's code (quantised the same way).
* :func:`jpeg_roundtrip` encodes 8-bit grey-scale images with JPEG (Pillow) and returns
  the decoded images and the size of every encoded file.
* :func:`rate_distortion` and :func:`value_at_rate` summarise and compare such curves.

Side information (PCA basis and mean, quantisation scales, decoder weights) is stored
once for a whole data set; ``side_nbytes`` reports it so that the total cost of a data
set, ``n_samples * bytes_per_sample + side_nbytes``, can be stated honestly.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from ._checks import as_array, as_images, check_choice, check_number

__all__ = [
    "CODE_DTYPES",
    "AutoEncoderCodec",
    "PCACodec",
    "Quantizer",
    "code_nbytes",
    "fit_pca_codecs",
    "jpeg_roundtrip",
    "rate_distortion",
    "value_at_rate",
]

#: Storage types of a code, from the most to the least precise.
CODE_DTYPES = ("float32", "float16", "int8")

#: Largest magnitude float16 can hold.
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def _check_fitted(obj: Any, attribute: str) -> None:
    if not hasattr(obj, attribute):
        raise RuntimeError(f"this {type(obj).__name__} is not fitted yet; call fit() first")


def code_nbytes(n_samples: int, n_components: int, dtype: str = "int8") -> int:
    """Exact bytes of ``n_samples`` codes of ``n_components`` numbers stored as ``dtype``.

    Args:
        n_samples (int): number of stored codes, >= 0.
        n_components (int): numbers per code (the code size k), >= 1.
        dtype (str): one of :data:`CODE_DTYPES`.

    Returns:
        int: ``n_samples * n_components * itemsize`` (4, 2 or 1 bytes per number).

    Raises:
        TypeError: if a count is not an integer.
        ValueError: for a negative count or an unknown dtype.

    Example:
        >>> code_nbytes(200, 64, "float16")
        25600
    """
    n = check_number(n_samples, "n_samples", integer=True, low=0)
    k = check_number(n_components, "n_components", integer=True, low=1)
    dtype = check_choice(dtype, "dtype", CODE_DTYPES)
    return int(n * k * np.dtype(dtype).itemsize)


class Quantizer:
    """Store real-valued codes as float32, float16 or int8 (per-dimension scale).

    Follows scikit-learn's conventions: ``__init__`` only stores ``dtype``; :meth:`fit`
    learns ``scale_`` and ``offset_`` (int8 only) from training codes.

    Args:
        dtype (str): ``"float32"``, ``"float16"`` or ``"int8"``.

    Attributes:
        n_components_ (int): code size k seen in :meth:`fit`.
        scale_ (ndarray): float32 [k], step of each dimension (int8; ones otherwise).
        offset_ (ndarray): float32 [k], value stored as 0 (int8; zeros otherwise).

    Example:
        >>> import numpy as np
        >>> z = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
        >>> q = Quantizer("int8").fit(z)
        >>> stored = q.transform(z)
        >>> stored.dtype, stored.nbytes
        (dtype('int8'), 400)
        >>> bool(np.all(np.abs(q.inverse_transform(stored) - z) <= q.scale_ / 2 + 1e-6))
        True
    """

    def __init__(self, dtype: str = "int8") -> None:
        self.dtype = dtype

    def fit(self, Z: Any) -> Quantizer:
        """Learn the per-dimension range of the training codes.

        Args:
            Z (ndarray or Tensor): [N, k] training codes (finite).

        Returns:
            Quantizer: ``self``.
        """
        dtype = check_choice(self.dtype, "dtype", CODE_DTYPES)
        Z = as_array(Z, "Z", ndim=2, dtype=np.float64)
        if Z.shape[0] == 0 or Z.shape[1] == 0:
            raise ValueError(f"Z must have at least one row and one column, got {Z.shape}")
        k = Z.shape[1]
        if dtype == "int8":
            lo, hi = Z.min(axis=0), Z.max(axis=0)
            scale = (hi - lo) / 255.0
            scale[scale == 0] = 1.0  # a constant dimension is stored exactly as -128
            self.scale_ = scale.astype(np.float32)
            self.offset_ = (lo + 128.0 * scale).astype(np.float32)
        else:
            if dtype == "float16" and np.abs(Z).max() > _FLOAT16_MAX:
                raise ValueError(
                    f"Z has values up to {np.abs(Z).max():.3g}, beyond float16's range "
                    f"({_FLOAT16_MAX:g}); use int8 (with a scale) or float32"
                )
            self.scale_ = np.ones(k, dtype=np.float32)
            self.offset_ = np.zeros(k, dtype=np.float32)
        self.n_components_ = k
        return self

    def _check_codes(self, Z: Any, name: str) -> np.ndarray:
        _check_fitted(self, "scale_")
        Z = as_array(Z, name, ndim=2)
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"{name} must have shape [N, {self.n_components_}] (the code size seen in "
                f"fit), got {Z.shape}"
            )
        return Z

    def transform(self, Z: Any) -> np.ndarray:
        """Codes -> the numbers that are stored.

        Args:
            Z (ndarray or Tensor): [N, k] codes.

        Returns:
            ndarray: [N, k] of ``dtype`` (int8 values are clipped to the training range).
        """
        Z = self._check_codes(Z, "Z").astype(np.float64)
        if self.dtype == "int8":
            q = np.round((Z - self.offset_) / self.scale_)
            return np.clip(q, -128, 127).astype(np.int8)
        if self.dtype == "float16" and np.abs(Z).max() > _FLOAT16_MAX:
            raise ValueError(f"Z has values beyond float16's range ({_FLOAT16_MAX:g})")
        return Z.astype(self.dtype)

    def inverse_transform(self, stored: Any) -> np.ndarray:
        """Stored numbers -> codes.

        Args:
            stored (ndarray): [N, k] as returned by :meth:`transform`.

        Returns:
            ndarray: float32 [N, k].
        """
        stored = self._check_codes(stored, "stored")
        if self.dtype == "int8":
            if stored.dtype != np.int8:
                raise TypeError(f"stored int8 codes must have dtype int8, got {stored.dtype}")
            return (self.offset_ + stored.astype(np.float32) * self.scale_).astype(np.float32)
        return stored.astype(np.float32)

    @property
    def side_nbytes(self) -> int:
        """Bytes of the scales and offsets (float32, stored once; 0 for float codes)."""
        _check_fitted(self, "scale_")
        return 8 * self.n_components_ if self.dtype == "int8" else 0

    def __repr__(self) -> str:
        return f"Quantizer(dtype={self.dtype!r})"


class _Codec:
    """Shared part of the codecs: a quantiser on top of ``_encode_float``/``_decode_float``."""

    dtype: str
    n_components: int
    quantizer_: Quantizer
    sample_shape_: tuple[int, ...]

    def _encode_float(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decode_float(self, Z: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_samples(self, X: Any) -> np.ndarray:
        X = as_array(X, "X", dtype=np.float32)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"X must have shape [N, ...] with N >= 1, got {X.shape}")
        if hasattr(self, "sample_shape_") and X.shape[1:] != self.sample_shape_:
            raise ValueError(
                f"X must have shape [N, {', '.join(map(str, self.sample_shape_))}] like the "
                f"data seen in fit, got {list(X.shape)}"
            )
        return X

    def encode(self, X: Any) -> np.ndarray:
        """Samples -> stored codes.

        Args:
            X (ndarray or Tensor): [N, ...] samples shaped like the training data.

        Returns:
            ndarray: [N, k] of ``dtype``; ``codes.nbytes`` is what is stored per sample set.
        """
        _check_fitted(self, "quantizer_")
        return self.quantizer_.transform(self._encode_float(self._check_samples(X)))

    def decode(self, codes: Any) -> np.ndarray:
        """Stored codes -> reconstructions.

        Args:
            codes (ndarray): [N, k] as returned by :meth:`encode`.

        Returns:
            ndarray: float32 [N, ...], shaped like the training samples.
        """
        _check_fitted(self, "quantizer_")
        return self._decode_float(self.quantizer_.inverse_transform(codes))

    @property
    def bytes_per_sample(self) -> int:
        """Stored bytes of one code: k numbers of ``dtype``."""
        return code_nbytes(1, self.n_components, self.dtype)


class PCACodec(_Codec):
    """Principal-component scores as stored codes: the linear baseline of a learned codec.

    ``encode`` keeps the first ``n_components`` scores of each (flattened, centred)
    sample and quantises them like :class:`Quantizer`; ``decode`` maps them back through
    the principal axes. The axes come from an exact SVD of the centred training data (the
    signs fixed as in scikit-learn), so no seed is needed; :func:`fit_pca_codecs` fits
    codecs of several sizes from one SVD.

    Args:
        n_components (int): code size k (numbers stored per sample).
        dtype (str): storage type of the scores, one of :data:`CODE_DTYPES`.
        clip (tuple[float, float] | None): clip reconstructions to this range (e.g.
            ``(0, 1)`` for concentration fields), as a decoder with a sigmoid output does.

    Attributes:
        mean_ (ndarray): float32 [d], mean training sample (flattened).
        components_ (ndarray): float32 [k, d], principal axes (rows, unit length).
        singular_values_ (ndarray): float32 [k], of the centred training data.
        quantizer_ (Quantizer): fitted on the training scores.
        sample_shape_ (tuple): shape of one sample.

    Example::

        codec = PCACodec(64, dtype="int8", clip=(0, 1)).fit(train_images)   # [N, H, W]
        codes = codec.encode(test_images)          # int8 [M, 64]: 64 bytes per image
        recon = codec.decode(codes)                # float32 [M, H, W]
    """

    def __init__(
        self, n_components: int, dtype: str = "int8", clip: tuple[float, float] | None = None
    ) -> None:
        self.n_components = n_components
        self.dtype = dtype
        self.clip = clip

    def _check_params(self, max_components: int) -> None:
        check_number(self.n_components, "n_components", integer=True, low=1)
        check_choice(self.dtype, "dtype", CODE_DTYPES)
        if self.clip is not None:
            lo, hi = self.clip
            if not lo < hi:
                raise ValueError(f"clip must be (low, high) with low < high, got {self.clip}")
        if self.n_components > max_components:
            raise ValueError(
                f"n_components={self.n_components} exceeds min(n_samples, n_features) = "
                f"{max_components}"
            )

    def fit(self, X: Any) -> PCACodec:
        """Fit the principal axes and the quantiser on training samples.

        Args:
            X (ndarray or Tensor): [N, ...] training samples (flattened internally).

        Returns:
            PCACodec: ``self``.
        """
        X = self._check_samples(X)  # float32, as scikit-learn's PCA computes for float32 data
        flat = X.reshape(len(X), -1)
        self._check_params(min(flat.shape))
        mean, s, vt = _svd(flat)
        return self._set(X.shape[1:], flat, mean, s, vt)

    def _set(self, shape, flat, mean, s, vt) -> PCACodec:
        k = self.n_components
        self.sample_shape_ = tuple(shape)
        self.mean_, self.singular_values_, self.components_ = mean, s[:k], vt[:k]
        self.quantizer_ = Quantizer(self.dtype).fit(self._encode_float(flat))
        return self

    def _encode_float(self, X: np.ndarray) -> np.ndarray:
        flat = X.reshape(len(X), -1).astype(np.float64)
        return (flat - self.mean_) @ self.components_.T  # [N, k]

    def _decode_float(self, Z: np.ndarray) -> np.ndarray:
        out = (Z.astype(np.float64) @ self.components_ + self.mean_).astype(np.float32)
        if self.clip is not None:
            out = np.clip(out, *self.clip)
        return out.reshape(len(Z), *self.sample_shape_)

    @property
    def side_nbytes(self) -> int:
        """Bytes stored once: principal axes and mean (float32) plus the quantiser scales."""
        _check_fitted(self, "components_")
        d = int(np.prod(self.sample_shape_))
        return 4 * (self.n_components + 1) * d + self.quantizer_.side_nbytes

    def __repr__(self) -> str:
        return f"PCACodec(n_components={self.n_components}, dtype={self.dtype!r}, clip={self.clip})"


def _svd(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, singular values and right singular vectors of centred data (sklearn's signs)."""
    mean = flat.mean(axis=0)
    _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    signs = np.sign(vt[np.arange(len(vt)), np.argmax(np.abs(vt), axis=1)])
    signs[signs == 0] = 1.0
    return mean, s, vt * signs[:, None]


def fit_pca_codecs(
    X: Any,
    n_components: Sequence[int],
    *,
    dtype: str = "int8",
    clip: tuple[float, float] | None = None,
) -> dict[int, PCACodec]:
    """Fit :class:`PCACodec` of several code sizes from one SVD of the training data.

    The same as ``{k: PCACodec(k, dtype, clip).fit(X) for k in n_components}`` at the cost
    of a single decomposition (the axes of a smaller code are the first rows of a larger
    one).

    Args:
        X (ndarray or Tensor): [N, ...] training samples.
        n_components (Sequence[int]): code sizes to fit.
        dtype (str): storage type of the scores.
        clip (tuple[float, float] | None): range to clip reconstructions to.

    Returns:
        dict[int, PCACodec]: fitted codecs by code size.
    """
    codecs = {int(k): PCACodec(k, dtype=dtype, clip=clip) for k in n_components}
    if not codecs:
        raise ValueError("n_components must list at least one code size")
    X = next(iter(codecs.values()))._check_samples(X)
    flat = X.reshape(len(X), -1)
    for codec in codecs.values():
        codec._check_params(min(flat.shape))
    mean, s, vt = _svd(flat)
    for codec in codecs.values():
        codec._set(X.shape[1:], flat, mean, s, vt)
    return codecs


class AutoEncoderCodec(_Codec):
    """An autoencoder's code as stored codes, quantised like :class:`Quantizer`.

    ``encode`` runs the encoder (:func:`matae_utils.training.encode`) and quantises the
    code with scales learned on the training codes; ``decode`` runs the decoder.

    Args:
        model (nn.Module): a trained autoencoder with ``encode``/``decode`` and
            ``latent_dim`` (e.g. :class:`~matae_utils.models.ConvAutoEncoder`).
        dtype (str): storage type of the code, one of :data:`CODE_DTYPES`.

    Attributes:
        quantizer_ (Quantizer): fitted on the codes of the training samples.
        sample_shape_ (tuple): shape of one sample (the model's ``input_shape``).

    Example::

        codec = AutoEncoderCodec(model, dtype="int8").fit(X_train)   # X: [N, 1, 64, 64]
        recon = codec.decode(codec.encode(X_test))
    """

    def __init__(self, model: nn.Module, dtype: str = "int8") -> None:
        self.model = model
        self.dtype = dtype

    @property
    def n_components(self) -> int:  # type: ignore[override]
        """Code size k (the model's ``latent_dim``)."""
        return int(self.model.latent_dim)

    def fit(self, X: Any) -> AutoEncoderCodec:
        """Learn the quantisation scales from the codes of training samples.

        Args:
            X (ndarray or Tensor): ``[N, *input_shape]`` training samples.

        Returns:
            AutoEncoderCodec: ``self``.
        """
        if not isinstance(self.model, nn.Module) or not hasattr(self.model, "latent_dim"):
            raise TypeError(
                f"model must be an autoencoder with encode/decode and latent_dim, got "
                f"{type(self.model).__name__}"
            )
        check_choice(self.dtype, "dtype", CODE_DTYPES)
        self.sample_shape_ = tuple(int(s) for s in self.model.input_shape)
        X = self._check_samples(X)
        self.quantizer_ = Quantizer(self.dtype).fit(self._encode_float(X))
        return self

    def _encode_float(self, X: np.ndarray) -> np.ndarray:
        from .training import encode

        return encode(self.model, X, batch_size=256)

    def _decode_float(self, Z: np.ndarray) -> np.ndarray:
        from .training import decode

        return decode(self.model, Z, batch_size=256)

    @property
    def side_nbytes(self) -> int:
        """Bytes stored once: the decoder's weights (float32) plus the quantiser scales."""
        from .metrics import model_nbytes

        _check_fitted(self, "quantizer_")
        return model_nbytes(self.model.decoder, dtype="float32") + self.quantizer_.side_nbytes

    def __repr__(self) -> str:
        return f"AutoEncoderCodec(model={type(self.model).__name__}, dtype={self.dtype!r})"


def jpeg_roundtrip(
    images: Any, quality: int, *, optimize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Encode grey-scale images as JPEG files with Pillow and decode them again.

    Each image (values in [0, 1]) is rounded to 8 bits, saved as a baseline grey-scale
    JPEG in memory, and read back. The byte count is the length of the whole file
    (headers, quantisation and Huffman tables included), which is what a JPEG on disk
    costs.

    Args:
        images (ndarray or Tensor): [N, H, W], [N, 1, H, W] or [H, W], values in [0, 1].
        quality (int): Pillow's JPEG quality, 1 (smallest) to 95.
        optimize (bool): let Pillow compute optimal Huffman tables (smaller files, same
            pixels); the fair setting for a size comparison.

    Returns:
        tuple: ``(decoded, n_bytes)``: decoded images, float32 [N, H, W] in [0, 1], and
        the size of each file in bytes, int64 [N].

    Raises:
        ValueError: if the images are not in [0, 1], or the quality is outside 1-95.

    Example:
        >>> import numpy as np
        >>> decoded, n_bytes = jpeg_roundtrip(np.full((2, 16, 16), 0.5), quality=10)
        >>> decoded.shape, bool(abs(decoded.mean() - 0.5) < 0.01)
        ((2, 16, 16), True)
    """
    from PIL import Image

    quality = check_number(quality, "quality", integer=True, low=1, high=95)
    imgs = as_images(images, "images")
    if imgs.min() < 0.0 or imgs.max() > 1.0:
        raise ValueError(
            f"images must be scaled to [0, 1] for 8-bit JPEG, got values from "
            f"{imgs.min():.3g} to {imgs.max():.3g}"
        )
    pixels = np.round(imgs * 255.0).astype(np.uint8)
    decoded = np.empty(imgs.shape, dtype=np.float32)
    n_bytes = np.empty(len(imgs), dtype=np.int64)
    for i, img in enumerate(pixels):
        buf = io.BytesIO()
        Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=quality, optimize=optimize)
        n_bytes[i] = buf.tell()
        with Image.open(io.BytesIO(buf.getvalue())) as back:
            decoded[i] = np.asarray(back, dtype=np.float32) / 255.0
    return decoded, n_bytes


def rate_distortion(
    x: Any,
    x_hat: Any,
    n_bytes: Any,
    *,
    data_range: float = 1.0,
    method: str = "",
    setting: Any = None,
) -> dict[str, Any]:
    """One point of a rate-distortion curve: bytes per image, PSNR and SSIM.

    Args:
        x (ndarray or Tensor): [N, H, W] (or [N, 1, H, W]) original images.
        x_hat (ndarray or Tensor): reconstructions, same shape.
        n_bytes (int or array): stored bytes per image, one number or one per image [N]
            (JPEG files differ in size).
        data_range (float): pixel value range for PSNR and SSIM (1 for [0, 1] images).
        method (str): label of the codec (e.g. ``"autoencoder"``).
        setting: the codec's setting (code size, JPEG quality, ...), kept in the row.

    Returns:
        dict: ``method``, ``setting``, ``bytes`` (mean per image), ``psnr`` (dB, mean over
        images), ``psnr_std`` (dB, spread over images) and ``ssim`` (mean).

    Raises:
        ValueError: on mismatched shapes, negative bytes or a wrong number of byte counts.
    """
    from .metrics import psnr, ssim

    a, b = as_images(x, "x"), as_images(x_hat, "x_hat")
    if a.shape != b.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {a.shape} and {b.shape}")
    nb = as_array(n_bytes, "n_bytes", dtype=np.float64).reshape(-1)
    if nb.size not in (1, len(a)):
        raise ValueError(f"n_bytes must be one number or one per image ({len(a)}), got {nb.size}")
    if np.any(nb < 0):
        raise ValueError("n_bytes must be >= 0")
    per_image = psnr(a, b, data_range=data_range, reduction="none")
    return {
        "method": method,
        "setting": setting,
        "bytes": float(nb.mean()),
        "psnr": float(np.mean(per_image)),
        "psnr_std": float(np.std(per_image)),
        "ssim": float(ssim(a, b, data_range=data_range)),
    }


def value_at_rate(rates: Any, values: Any, at: Any) -> np.ndarray:
    """Read a rate-distortion curve at given rates (linear in log-bytes).

    Used to compare two codecs "at equal bytes" when their points fall at different
    rates. Outside the measured range of ``rates`` the result is NaN: a curve is never
    extrapolated.

    Args:
        rates (array): bytes per sample of the measured points [n] (any order, > 0).
        values (array): PSNR (or another quality) of those points [n].
        at (float or array): rates to read the curve at.

    Returns:
        ndarray: float64, same shape as ``at``.

    Raises:
        ValueError: on non-positive rates, mismatched lengths or repeated rates.

    Example:
        >>> float(value_at_rate([100, 400], [20.0, 30.0], 200))
        25.0
    """
    r = as_array(rates, "rates", ndim=1, dtype=np.float64)
    v = as_array(values, "values", ndim=1, dtype=np.float64)
    if r.shape != v.shape or r.size < 2:
        raise ValueError(f"rates and values need the same length >= 2, got {r.size} and {v.size}")
    if np.any(r <= 0):
        raise ValueError("rates must be > 0 (bytes per sample)")
    order = np.argsort(r)
    r, v = np.log(r[order]), v[order]
    if np.any(np.diff(r) == 0):
        raise ValueError("rates must be distinct")
    q = np.log(as_array(np.atleast_1d(at), "at", dtype=np.float64))
    out = np.interp(q, r, v, left=np.nan, right=np.nan)
    return out.reshape(np.shape(at))
