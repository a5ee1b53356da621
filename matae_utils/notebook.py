"""Helpers for chapter notebooks: the setup cell, deliberate errors, glue.

Every chapter starts with::

    import matae_utils as mu
    device = mu.setup(seed=0)

which owns the global state of the notebook: it fixes the random seeds, picks the
device, gives PyTorch one CPU thread (fastest for the book's small models), makes
figures appear inline in a Jupyter kernel, switches on the book's figure style and
prints one line of versions, so a reader who reports a problem can paste it. Chapters
never change these settings themselves.

A cell that fails on purpose, to show a clear error message, wraps the call in
:class:`expect_error`, so that "Run all" does not stop there::

    with mu.expect_error(ValueError):
        mu.load_dataset("expt_gaps")
"""

from __future__ import annotations

import platform
import random
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import Any

import numpy as np
import torch

__all__ = [
    "claim",
    "set_seed",
    "setup",
    "glue",
    "format_sci",
    "in_colab",
    "versions",
    "expect_error",
    "BOOK_STYLE",
]

#: Distributions reported by :func:`setup` (PyPI names).
_REPORTED = ("torch", "numpy", "scikit-learn", "pymatgen", "matminer")

#: Matplotlib settings of the book's figures, applied by ``setup(readable_figures=True)``
#: (the default). A figure up to 9 in wide shown at the page width of the HTML book
#: (about 7.5 in) keeps every text of at least 11 pt above 9 pt.
BOOK_STYLE: dict[str, Any] = {
    "figure.figsize": (7.0, 4.2),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "figure.constrained_layout.use": True,
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.title_fontsize": 11,
    "legend.frameon": False,
    "figure.titlesize": 12,
    "lines.linewidth": 1.6,
    "lines.markersize": 6,
    "image.cmap": "viridis",
}

#: Deprecated name of :data:`BOOK_STYLE`.
READABLE_RC = BOOK_STYLE


def in_colab() -> bool:
    """Whether the code runs in Google Colab.

    Colab imports ``google.colab`` when its kernel starts, so this only looks at
    :data:`sys.modules` and never imports anything.

    Returns:
        bool: ``True`` inside a Colab runtime.
    """
    return "google.colab" in sys.modules


def _kernel_shell() -> Any:
    """The IPython shell of a running Jupyter kernel (Colab included), else ``None``.

    Never imports IPython: if it is not loaded, no kernel is running.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    shell = ipython.get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


def set_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU, CUDA, MPS).

    Library functions take their own ``seed``; this is for the notebook-level
    randomness (weight initialisation, data-loader shuffling). GPU kernels may still be
    non-deterministic.

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


def _use_inline_backend() -> bool:
    """Switch a running Jupyter kernel to the inline backend; ``False`` outside a kernel.

    ``%matplotlib inline`` both selects the backend and registers the hook that shows
    the figures of a cell when it ends, whatever ``MPLBACKEND`` says (CI sets ``Agg``,
    under which ``plt.show()`` draws nothing and the built book would have no figures).
    """
    shell = _kernel_shell()
    if shell is None:
        return False
    shell.run_line_magic("matplotlib", "inline")
    return True


def setup(
    seed: int = 0,
    *,
    device: str | torch.device = "auto",
    threads: int | None = 1,
    inline: bool = True,
    readable_figures: bool = True,
    show_versions: bool = True,
) -> torch.device:
    """Prepare a notebook: seeds, device, CPU threads, inline figures, figure style.

    This is the one place that changes global state; chapters call it once, in their
    setup cell, and never set threads, backends or ``rcParams`` themselves.

    Args:
        seed: Seed passed to :func:`set_seed`.
        device: ``"auto"`` (CUDA, then Apple MPS, then the CPU; see
            :func:`matae_utils.training.get_device`) or an explicit device.
        threads: Number of PyTorch CPU threads when the device is the CPU. The book's
            models are tiny: one thread trains them as fast as several on an idle
            machine and much faster on a busy one. ``None`` leaves PyTorch's setting
            alone; on a GPU it is always left alone.
        inline: In a Jupyter kernel (Jupyter, VS Code, Colab, the book build), switch
            matplotlib to the inline backend even if ``MPLBACKEND`` selects another
            one, so ``plt.show()`` puts every figure into the notebook. Outside a
            kernel nothing changes.
        readable_figures: Apply :data:`BOOK_STYLE` to matplotlib's ``rcParams``
            (fonts of at least 11 pt, constrained layout, viridis). ``False`` leaves
            the style alone.
        show_versions: Print one line with the versions, the device and the seed.

    Returns:
        torch.device: The device to put models and tensors on.

    Raises:
        TypeError: If ``threads`` is not a positive int or ``None``.
        ValueError: If ``threads < 1``.

    Example::

        import matae_utils as mu
        device = mu.setup(seed=0)
    """
    from .training import get_device

    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
            raise TypeError(f"threads must be a positive int or None; got {threads!r}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1 (or None to leave them alone); got {threads}")
    set_seed(seed)
    dev = get_device(device)
    if threads is not None and dev.type == "cpu":
        torch.set_num_threads(int(threads))
    if inline:
        _use_inline_backend()  # first: selecting a backend must not undo the style
    if readable_figures:
        import matplotlib

        matplotlib.rcParams.update(BOOK_STYLE)
    if show_versions:
        info = " | ".join(f"{name} {ver}" for name, ver in versions().items())
        where = " (Colab)" if in_colab() else ""
        print(f"{info} | device: {dev}{where} | seed: {seed}")
    return dev


class expect_error:  # noqa: N801 - used like a function: ``with mu.expect_error(...)``
    """Context manager for a cell that fails on purpose.

    The expected exception is caught and shown as one line, ``TypeName: message``
    (the last line of a traceback), on standard error, so "Run all" in Colab or Jupyter
    goes on to the next cell. If the block raises nothing, or an exception of another
    type, the cell fails loudly with an :class:`AssertionError`: a chapter cannot
    silently stop demonstrating the error it talks about.

    Args:
        *exc_types: One or more exception classes that the block is expected to raise
            (subclasses count).

    Attributes:
        value (BaseException | None): The caught exception, after the block.

    Raises:
        TypeError: If no exception class is given, or something else is given.
        AssertionError: After the block, if it raised nothing or an unexpected type.

    Example::

        with mu.expect_error(ValueError) as caught:
            int("three")
        # prints: ValueError: invalid literal for int() with base 10: 'three'
        assert "three" in str(caught.value)
    """

    def __init__(self, *exc_types: type[BaseException]) -> None:
        if not exc_types:
            raise TypeError("expect_error needs at least one exception class, e.g. ValueError")
        for exc in exc_types:
            if not (isinstance(exc, type) and issubclass(exc, BaseException)):
                raise TypeError(f"expect_error takes exception classes; got {exc!r}")
        self.exc_types = exc_types
        self.value: BaseException | None = None

    def _names(self) -> str:
        return " or ".join(exc.__name__ for exc in self.exc_types)

    def __enter__(self) -> expect_error:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc_type is None:
            raise AssertionError(f"expected {self._names()}, but no exception was raised")
        if not issubclass(exc_type, Exception):
            return False  # KeyboardInterrupt, SystemExit: never swallowed
        if not issubclass(exc_type, self.exc_types):
            raise AssertionError(
                f"expected {self._names()}, got {exc_type.__name__}: {exc}"
            ) from exc
        self.value = exc
        sys.stdout.flush()  # keep the order of the lines printed before the error
        print(f"{exc_type.__name__}: {exc}", file=sys.stderr)
        return True  # swallow the expected error


_SUPERSCRIPTS = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


#: Environment variable that makes :func:`claim` raise instead of warn (set by the book build).
STRICT_CLAIMS_ENV = "MATAE_STRICT_CLAIMS"


class ClaimWarning(UserWarning):
    """A sentence of the chapter is not borne out by the numbers of this run."""


def claim(condition: Any, sentence: str) -> bool:
    """Check that a sentence of the text holds for the numbers computed on the page.

    Chapters back every comparative sentence ("the autoencoder wins at every code size") with a
    hidden ``mu.claim(...)`` cell, so the words cannot silently drift from the results. Where the
    book is built (``MATAE_STRICT_CLAIMS=1``: ``make book``, the tests, CI) a claim that does not
    hold is an error and fails the build. Anywhere else (a reader's Colab session on a GPU, a newer
    PyTorch) trained models can come out slightly differently, so a claim that does not hold
    there is a visible :class:`ClaimWarning` that names the sentence, and "Run all" goes on: the
    reader is told to trust the numbers on the page over the sentence.

    Args:
        condition: The check (anything with a truth value, e.g. a NumPy bool).
        sentence: The sentence of the text it backs, as the reader would recognise it.

    Returns:
        bool: Whether the claim holds.

    Raises:
        AssertionError: If it does not hold and ``MATAE_STRICT_CLAIMS`` is ``1``/``true``.

    Example::

        mu.claim(mse_ae < mse_pca, "the autoencoder reconstructs better than PCA at k = 2")
    """
    import os
    import warnings

    if bool(condition):
        return True
    message = f"the text says: {sentence!r}, but this run does not bear it out"
    if os.environ.get(STRICT_CLAIMS_ENV, "").lower() in ("1", "true", "yes"):
        raise AssertionError(message + f" ({STRICT_CLAIMS_ENV} is set: the book must be revised)")
    warnings.warn(
        message + ". Models trained on other hardware or library versions can differ a little; "
        "trust the numbers on the page over the sentence.", ClaimWarning, stacklevel=2)
    return False


def format_sci(value: float, digits: int = 2) -> str:
    """A number in scientific notation for prose: ``6.8e-08`` -> ``"6.8 × 10⁻⁸"``.

    Glue the returned string (``mu.glue("gap", mu.format_sci(x))``) and quote it with
    ``{glue:text}`gap```, so a sentence never shows ``6.8e-08``.

    Args:
        value: A finite number.
        digits: Significant digits of the mantissa (>= 1).

    Returns:
        str: ``"m × 10ⁿ"`` (``"m"`` alone when the exponent is 0, ``"0"`` for zero).

    Raises:
        TypeError: If ``value`` is not a number or ``digits`` not an int.
        ValueError: If ``value`` is not finite or ``digits < 1``.

    Example:
        >>> format_sci(2.9e6), format_sci(6.8e-08), format_sci(-0.000123, digits=1)
        ('2.9 × 10⁶', '6.8 × 10⁻⁸', '-1 × 10⁻⁴')
    """
    from ._checks import check_number

    value = check_number(value, "value")
    digits = check_number(digits, "digits", integer=True, low=1)
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    exponent = int(exponent)
    if exponent == 0:
        return mantissa
    return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPTS)}"


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
