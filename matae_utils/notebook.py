"""Helpers for the first cell of a chapter notebook: seeds, device, versions, glue.

Every chapter starts with::

    import matae_utils as mu
    device = mu.setup(seed=0)

which fixes the random seeds, picks the device and prints one line of versions, so a
reader who reports a problem can paste it.
"""

from __future__ import annotations

import platform
import random
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import torch

__all__ = ["set_seed", "setup", "glue", "in_colab", "versions"]

#: Distributions reported by :func:`setup` (PyPI names).
_REPORTED = ("torch", "numpy", "scikit-learn", "pymatgen", "matminer")

#: Matplotlib settings applied by ``setup(readable_figures=True)``.
READABLE_RC = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "image.cmap": "viridis",
}


def in_colab() -> bool:
    """Whether the code runs in Google Colab.

    Colab imports ``google.colab`` when its kernel starts, so this only looks at
    :data:`sys.modules` and never imports anything.

    Returns:
        bool: ``True`` inside a Colab runtime.
    """
    return "google.colab" in sys.modules


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU, CUDA, MPS).

    Library functions take their own ``seed``/``random_state``; this is for the
    notebook-level randomness (weight initialisation, data-loader shuffling). GPU
    kernels may still be non-deterministic.

    Args:
        seed: Integer in [0, 2**32).

    Raises:
        TypeError: If ``seed`` is not an integer.
        ValueError: If ``seed`` is outside [0, 2**32).

    Example:
        >>> import torch
        >>> set_seed(0); a = torch.randn(2)
        >>> set_seed(0); bool((a == torch.randn(2)).all())
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32); got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - the legacy global generator is what notebooks use
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def versions() -> dict[str, str]:
    """Versions of Python, matae_utils and the main libraries, without importing them.

    Returns:
        dict: Name -> version string (``"not installed"`` when missing).
    """
    from . import __version__

    out = {"Python": platform.python_version(), "matae_utils": __version__}
    for dist in _REPORTED:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def setup(
    seed: int = 0,
    *,
    verbose: bool = True,
    device: str | torch.device = "auto",
    readable_figures: bool = False,
) -> torch.device:
    """Prepare a notebook: seeds, device, (optionally) figure style, versions.

    The device is chosen by :func:`matae_utils.training.get_device`: CUDA if available,
    then Apple MPS, then the CPU.

    Args:
        seed: Seed passed to :func:`set_seed`.
        verbose: Print one line with the versions and the device.
        device: ``"auto"`` or an explicit device (``"cpu"``, ``"cuda"``, ``"mps"``).
        readable_figures: Also update matplotlib's global ``rcParams`` with
            :data:`READABLE_RC` (larger fonts, sharper figures). Off by default: the
            global style is left alone unless asked.

    Returns:
        torch.device: The device to put models and tensors on.

    Example::

        import matae_utils as mu
        device = mu.setup(seed=0)
    """
    from .training import get_device

    set_seed(seed)
    dev = get_device(device)
    if readable_figures:
        import matplotlib

        matplotlib.rcParams.update(READABLE_RC)
    if verbose:
        info = " | ".join(f"{name} {ver}" for name, ver in versions().items())
        where = " (Colab)" if in_colab() else ""
        print(f"{info} | device: {dev}{where} | seed: {seed}")
    return dev


def _myst_nb_glue() -> Callable[..., Any] | None:
    """``myst_nb.glue`` when myst-nb is installed (the book build), else ``None``."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    return myst_glue


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Make a computed value available to the book's text (``{glue:}`role```).

    In the book build myst-nb is installed and this calls ``myst_nb.glue``, which
    stores the displayed form of ``value`` in the cell outputs so the page text can
    quote it. Elsewhere (Colab, a plain Jupyter install) it only shows ``value`` when
    ``display=True`` and does nothing otherwise, so chapters run without myst-nb.

    Args:
        name: Key used in the text, e.g. ``{glue:text}`best_mae```.
        value: Any object (numbers, strings, figures, DataFrames). NumPy and torch
            scalars are converted to plain Python numbers first.
        display: Also show the value in the notebook.

    Raises:
        TypeError: If ``name`` is not a non-empty string.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string; got {name!r}")
    # NumPy 2 scalars print as ``np.float64(0.5)``, which myst-nb cannot format with
    # ``{glue:text}`name:.2f```; plain Python numbers can.
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    myst_glue = _myst_nb_glue()
    if myst_glue is not None:
        myst_glue(name, value, display=display)
        return
    if display:
        try:
            from IPython.display import display as show
        except ImportError:  # plain Python without IPython
            print(value)
        else:
            show(value)
