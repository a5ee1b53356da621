"""Argument validators shared by every module of the package (the one place for them).

Public functions call these at their entry points only; internal helpers trust their
arguments. Every validator returns the cleaned value, so a call reads
``n = check_number(n, "n", integer=True, low=1)``.

Errors follow one pattern: :class:`TypeError` when the kind of value is wrong (a string
where a number is expected), :class:`ValueError` when the kind is right but the value is
not (out of range, NaN, unknown name), and the message names the argument and shows what
was received.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "check_number",
    "check_range",
    "check_choice",
    "close_matches_hint",
    "as_array",
    "as_images",
    "check_finite",
]


def check_number(
    value: Any,
    name: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> int | float:
    """Validate a finite real number (or an integer) inside optional bounds.

    Args:
        value: The value to check. Python and NumPy numbers are accepted; ``bool`` is not.
        name: Name of the argument, used in error messages.
        integer: Require an integer (``3.0`` is rejected).
        low: Optional lower bound.
        high: Optional upper bound.
        low_inclusive: Whether ``value == low`` is allowed.
        high_inclusive: Whether ``value == high`` is allowed.

    Returns:
        int or float: ``int(value)`` when ``integer`` else ``float(value)``.

    Raises:
        TypeError: If ``value`` is not a (integer) number, or is a bool.
        ValueError: If ``value`` is NaN or infinite, or violates a bound (the message
            names the bound).

    Example:
        >>> check_number(3, "n", integer=True, low=1)
        3
    """
    kinds: tuple[type, ...] = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise TypeError(f"{name} must be {kind}; got {value!r} ({type(value).__name__})")
    value = int(value) if integer else float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    if low is not None and (value < low or (not low_inclusive and value == low)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low:g}; got {value}")
    if high is not None and (value > high or (not high_inclusive and value == high)):
        raise ValueError(f"{name} must be {'<=' if high_inclusive else '<'} {high:g}; got {value}")
    return value


def check_range(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    inclusive: bool = False,
    allow_equal: bool = False,
    allow_scalar: bool = False,
) -> tuple[float, float]:
    """Validate a ``(lo, hi)`` pair of finite numbers with ``lo < hi``.

    Args:
        value: A pair (tuple, list, array) of two numbers; with ``allow_scalar`` a single
            number ``v`` is also accepted and means the fixed range ``(v, v)``.
        name: Name of the argument, used in error messages.
        low: Optional bound: both ends must be greater than ``low``.
        high: Optional bound: both ends must be smaller than ``high``.
        inclusive: Whether the ends may equal ``low`` / ``high`` (default: no).
        allow_equal: Accept ``lo == hi`` (a degenerate range).
        allow_scalar: Accept a single number (implies ``allow_equal`` for it).

    Returns:
        tuple[float, float]: ``(lo, hi)`` as floats.

    Raises:
        TypeError: If ``value`` is not a pair of numbers (or a number, with ``allow_scalar``).
        ValueError: If an end is not finite, ``lo > hi`` (or ``lo == hi`` unless allowed),
            or an end lies outside ``(low, high)`` (``[low, high]`` if ``inclusive``).

    Example:
        >>> check_range((0, 1), "z_range")
        (0.0, 1.0)
    """
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )
    if is_number and allow_scalar:
        pair: list[Any] = [value, value]
        allow_equal = True
    else:
        try:
            pair = list(value)
        except TypeError:
            pair = []
    if len(pair) != 2 or any(
        isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating))
        for v in pair
    ):
        what = "a number or a (low, high) pair" if allow_scalar else "a (low, high) pair of numbers"
        raise TypeError(f"{name} must be {what}; got {value!r}")
    lo, hi = float(pair[0]), float(pair[1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite; got {value!r}")
    if lo > hi or (lo == hi and not allow_equal):
        op = "<=" if allow_equal else "<"
        raise ValueError(f"{name} must be (low, high) with low {op} high; got {value!r}")
    below = low is not None and (lo < low or (lo == low and not inclusive))
    above = high is not None and (hi > high or (hi == high and not inclusive))
    if below or above:
        bounds = f"{-math.inf if low is None else low:g}, {math.inf if high is None else high:g}"
        bounds = f"[{bounds}]" if inclusive else f"({bounds})"
        raise ValueError(f"{name} must lie inside {bounds}; got {value!r}")
    return lo, hi


def close_matches_hint(name: Any, options: Iterable[str]) -> str:
    """A sentence suggesting the options closest to ``name`` (empty string if none).

    Args:
        name: The unknown name a user typed.
        options: The valid names.

    Returns:
        str: e.g. ``" Did you mean 'expt_gap'?"`` (with a leading space) or ``""``.

    Example:
        >>> close_matches_hint("expt_gapp", ["expt_gap", "steel_fatigue"])
        " Did you mean 'expt_gap'?"
    """
    options = [str(o) for o in options]
    text = str(name)
    lower = {o.lower(): o for o in options}
    matches = difflib.get_close_matches(text.lower(), list(lower), n=3, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(lower[m]) for m in matches) + "?"


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """Validate that ``value`` is one of ``choices`` (exact, case-sensitive match).

    Args:
        value: The value to check.
        name: Name of the argument, used in error messages.
        choices: The allowed strings.

    Returns:
        str: ``value``.

    Raises:
        ValueError: If ``value`` is not one of ``choices``; the message lists them and
            suggests close matches.

    Example:
        >>> check_choice("mean", "reduction", ("none", "mean", "sum"))
        'mean'
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}."
            + close_matches_hint(value, choices)
        )
    return value


def as_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: Any = None,
    allow_nan: bool = False,
) -> np.ndarray:
    """Return ``x`` as a numeric NumPy array (tensors are detached and copied to the CPU).

    Args:
        x: NumPy array, PyTorch tensor, pandas object or nested sequence of numbers.
        name: Name of the argument, used in error messages.
        ndim: Required number of dimensions (an int or a tuple of allowed values).
        dtype: Optional dtype to convert to (e.g. ``np.float64``).
        allow_nan: Accept NaN and infinite values (rejected by default).

    Returns:
        np.ndarray: The array (not a copy when no conversion is needed).

    Raises:
        TypeError: If ``x`` is not numeric (strings, objects).
        ValueError: If ``x`` has the wrong number of dimensions, or contains NaN/inf
            and ``allow_nan`` is False.

    Example:
        >>> as_array([[1, 2]], "x", ndim=2, dtype=np.float32).shape
        (1, 2)
    """
    if type(x).__module__.startswith("torch"):  # a Tensor, without importing torch
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":  # NumPy has no bfloat16: widen it
            x = x.float()
        x = x.numpy()
    try:
        arr = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a numeric array or tensor; got {type(x).__name__} ({err})"
        ) from err
    if not (np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)):
        raise TypeError(f"{name} must be a numeric array or tensor; got dtype {arr.dtype}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}; got shape {arr.shape}")
    if not allow_nan and np.issubdtype(arr.dtype, np.inexact) and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite value(s)")
    return arr


def as_images(x: Any, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """Return a float64 stack of grey-scale images ``[N, H, W]``.

    Accepts one image ``[H, W]``, a stack ``[N, H, W]`` or a channel-first batch with one
    channel ``[N, 1, H, W]`` (the layout of :class:`matae_utils.ConvAutoEncoder`).

    Args:
        x (Tensor or ndarray): [H, W], [N, H, W] or [N, 1, H, W] images.
        name: Name of the argument, used in error messages.
        allow_nan: Accept NaN and infinite pixels (rejected by default).

    Returns:
        ndarray: [N, H, W] float64 images.

    Raises:
        TypeError: If ``x`` is not numeric.
        ValueError: If ``x`` has another shape, or non-finite pixels.
    """
    arr = as_array(x, name, dtype=np.float64, allow_nan=allow_nan)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be images of shape [H, W], [N, H, W] or [N, 1, H, W]; "
            f"got shape {tuple(np.shape(arr))}"
        )
    return arr


def check_finite(arr: np.ndarray, name: str, *, allow_nan: bool = False) -> np.ndarray:
    """Reject NaN and infinite values (or only infinite ones), naming the first bad rows.

    Args:
        arr: A numeric array ``[N, ...]`` (e.g. from :func:`as_array` with ``allow_nan=True``).
        name: Name of the argument, used in error messages.
        allow_nan: Accept NaN (e.g. missing labels) and reject only infinite values.

    Returns:
        np.ndarray: ``arr`` unchanged.

    Raises:
        ValueError: If a value is infinite, or NaN unless ``allow_nan``; the message counts
            them and lists the first rows that hold them.
    """
    bad = np.isinf(arr) if allow_nan else ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(bad) if bad.ndim else 1, -1).any(axis=1))
        what = "infinite" if allow_nan else "NaN or infinite"
        raise ValueError(
            f"{name} contains {int(bad.sum())} {what} values (rows {rows[:5].tolist()}"
            f"{'...' if len(rows) > 5 else ''}); impute or drop those rows first"
        )
    return arr
