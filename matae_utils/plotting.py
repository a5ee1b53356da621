"""Matplotlib helpers for the figures of the book.

Every function draws on the Axes it is given (``ax=None`` creates a new figure), returns
the Axes (or an array of Axes for grids), never calls ``plt.show()`` and never changes
the global ``rcParams``. Inputs may be NumPy arrays or PyTorch tensors. Continuous
quantities use the perceptually uniform ``viridis`` colour map by default.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize, to_rgba
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory

from ._checks import as_array, as_images

__all__ = [
    "plot_history",
    "plot_latent",
    "plot_reconstructions",
    "plot_spectra",
    "plot_periodic_table",
    "plot_composition",
    "format_space_group",
    "MARKERS",
]

#: Colour of periodic-table cells without a value.
MISSING_COLOR = "0.88"

#: Marker of the i-th category or series, so curves differ in shape as well as colour
#: (readable in grey scale and for colour-blind readers).
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")

_SUBSCRIPTS = str.maketrans(
    "0123456789", "\u2080\u2081\u2082\u2083\u2084\u2085\u2086\u2087\u2088\u2089"
)


def format_space_group(symbol: str) -> str:
    """Hermann-Mauguin symbol as plain Unicode text for labels: ``"P4_2/mnm"`` -> ``"P4₂/mnm"``.

    Screw axes written with an underscore (pymatgen's and spglib's notation) become
    subscript digits, and rotoinversions written with a minus sign get an overbar
    (``"Fm-3m"`` -> ``"Fm3̄m"``). The result contains no ``$`` or ``_``, so matplotlib
    draws it as ordinary text, never as mathtext.

    Args:
        symbol: International (Hermann-Mauguin) symbol, e.g. ``"P6_3/mmc"``.

    Returns:
        str: The symbol for display.

    Raises:
        TypeError: If ``symbol`` is not a string.

    Example:
        >>> format_space_group("P4_2/mnm")
        'P4₂/mnm'
        >>> format_space_group("R-3c") == "R3\u0305c"
        True
    """
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a string; got {type(symbol).__name__}")
    text = re.sub(r"_(\d)", lambda m: m.group(1).translate(_SUBSCRIPTS), symbol)
    return re.sub(r"-(\d)", "\\1\u0305", text)  # combining overline after the digit


def _get_ax(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    elif not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


# ------------------------------------------------------------------------ learning curves
def plot_history(
    history: Any,
    *,
    ax: Axes | None = None,
    keys: Sequence[str] | None = None,
    logy: bool = True,
) -> Axes:
    """Learning curves: training loss terms (solid) and validation (dashed) per epoch.

    Each loss term gets one colour; the best epoch (``history.best_epoch``) is marked
    with a dotted vertical line. Epochs are counted from 0, as in
    :class:`~matae_utils.training.History`.

    Args:
        history: A :class:`matae_utils.training.History` or any object with attributes
            ``train`` and ``val`` (dicts mapping a loss name to per-epoch values) and
            ``best_epoch`` (int, or ``None`` / negative for no marker).
        ax: Axes to draw on; a new figure is created when ``None``.
        keys: Loss terms to plot (default: all, ``"loss"`` first).
        logy: Logarithmic y axis. Falls back to a linear axis, with a warning, when a
            plotted value is not positive (e.g. a negative log-likelihood).

    Returns:
        Axes: The axes with the curves.

    Raises:
        TypeError: If ``history`` lacks ``train``/``val`` mappings.
        ValueError: If a requested key is not in the history, or nothing is recorded.
    """
    train = getattr(history, "train", None)
    val = getattr(history, "val", None)
    if not isinstance(train, Mapping) or not isinstance(val, Mapping):
        raise TypeError(
            "history must have `train` and `val` dicts of per-epoch values (like "
            f"matae_utils.training.History); got {type(history).__name__}"
        )
    available = [
        k for k in dict.fromkeys([*train, *val]) if len(train.get(k, [])) or len(val.get(k, []))
    ]
    if not available:
        raise ValueError("history is empty: no per-epoch values recorded")
    if keys is None:
        keys = sorted(available, key=lambda k: k != "loss")  # stable: "loss" first
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        unknown = [k for k in keys if k not in available]
        if unknown:
            raise ValueError(f"keys {unknown} not in history; available: {available}")
    ax = _get_ax(ax, (6, 4))
    values = []
    for i, key in enumerate(keys):
        color = f"C{i % 10}"
        for split, style in ((train, "-"), (val, "--")):
            y = np.asarray(split.get(key, []), dtype=float)
            if y.size:
                name = "train" if split is train else "val"
                ax.plot(np.arange(y.size), y, style, color=color, label=f"{name} {key}")
                values.append(y)
    best = getattr(history, "best_epoch", None)
    if best is not None and best >= 0:
        ax.axvline(best, color="0.4", linestyle=":", linewidth=1.2, label=f"best epoch ({best})")
    finite = np.concatenate(values)
    finite = finite[np.isfinite(finite)]
    if logy and finite.size and (finite <= 0).any():
        warnings.warn(
            "plot_history: some values are <= 0, using a linear y axis instead of logy=True",
            stacklevel=2,
        )
    elif logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(frameon=False)
    return ax


# --------------------------------------------------------------------------- latent space
def plot_latent(
    Z: Any,
    *,
    c: Any = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
    cbar_label: str | None = None,
    labels: Any = None,
    s: float = 8,
    alpha: float = 0.8,
) -> Axes:
    """Scatter plot of latent codes, coloured by a property or by categories.

    Only the **first two latent dimensions** are drawn. For a latent space with more
    than two dimensions, pass a 2D projection instead (e.g.
    ``PCA(n_components=2).fit_transform(Z)``), otherwise the plot shows a slice of the
    space, not its structure.

    Args:
        Z (Tensor or ndarray): [N, latent_dim] latent codes, ``latent_dim >= 2``.
        c (array-like): Optional [N] continuous property (colour bar added).
        ax: Axes to draw on; a new figure is created when ``None``.
        cmap: Colour map of ``c``.
        cbar_label: Label of the colour bar, with units (e.g. ``"band gap (eV)"``).
        labels (array-like): Optional [N] categories (legend added); up to 10
            categories use the qualitative ``tab10`` palette, more are spread over ``cmap``.
            Each category also gets its own marker (:data:`MARKERS`), so the legend
            can be read in grey scale.
        s: Marker size.
        alpha: Marker opacity.

    Returns:
        Axes: The axes with the scatter plot.

    Raises:
        ValueError: If ``Z`` is not [N, >=2], ``c``/``labels`` have the wrong length,
            or both ``c`` and ``labels`` are given.
    """
    Z = as_array(Z, "Z", dtype=float)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"Z must have shape [N, latent_dim >= 2]; got {Z.shape}")
    if c is not None and labels is not None:
        raise ValueError("pass either c (continuous colours) or labels (categories), not both")
    ax = _get_ax(ax, (5, 4.5))
    if labels is not None:
        labels = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else labels
        labels = np.asarray(labels)
        if labels.shape != (len(Z),):
            raise ValueError(f"labels must have shape [{len(Z)}]; got {labels.shape}")
        cats = list(dict.fromkeys(labels.tolist()))  # order of first appearance
        cm = matplotlib.colormaps["tab10" if len(cats) <= 10 else cmap]
        for i, cat in enumerate(cats):
            color = cm(i) if len(cats) <= 10 else cm(i / max(len(cats) - 1, 1))
            mask = labels == cat
            ax.scatter(
                Z[mask, 0],
                Z[mask, 1],
                s=s,
                alpha=alpha,
                color=color,
                marker=MARKERS[i % len(MARKERS)],
                label=str(cat),
                linewidths=0,
            )
        ax.legend(frameon=False, markerscale=2)
    elif c is not None:
        c = as_array(c, "c", dtype=float, allow_nan=True).ravel()
        if c.shape != (len(Z),):
            raise ValueError(f"c must have one value per row of Z ({len(Z)}); got {c.shape}")
        sc = ax.scatter(Z[:, 0], Z[:, 1], c=c, cmap=cmap, s=s, alpha=alpha, linewidths=0)
        ax.figure.colorbar(sc, ax=ax, label=cbar_label)
    else:
        ax.scatter(Z[:, 0], Z[:, 1], s=s, alpha=alpha, linewidths=0)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    return ax


# ---------------------------------------------------------------------------- images
def plot_reconstructions(
    x: Any,
    x_hat: Any,
    *,
    n: int = 8,
    axes: np.ndarray | None = None,
    cmap: str = "gray",
    titles: tuple[str, str] = ("input", "reconstruction"),
) -> np.ndarray:
    """Grid of input images (top row) and their reconstructions (bottom row).

    Both images of a column share one colour scale (the range of the input image and
    its reconstruction together), so differences in contrast are visible.

    Args:
        x (Tensor or ndarray): [N, H, W] or [N, 1, H, W] input images (or one [H, W]).
        x_hat (Tensor or ndarray): reconstructions, same shape as ``x``.
        n: Number of columns; the first ``min(n, N)`` images are shown.
        axes: Optional array of Axes of shape [2, n'] with n' >= ``min(n, N)``; a new
            figure is created when ``None``.
        cmap: Colour map of the images.
        titles: Labels of the two rows.

    Returns:
        ndarray: [2, n] array of Axes.

    Raises:
        ValueError: On shape mismatch, non-finite pixels, ``n < 1`` or ``axes`` of the
            wrong shape.
    """
    x = as_images(x, "x")
    x_hat = as_images(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}")
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    n = min(n, len(x))
    if axes is None:
        _, axes = plt.subplots(2, n, figsize=(1.4 * n, 3.0), squeeze=False, layout="constrained")
    axes = np.asarray(axes, dtype=object)
    if axes.ndim == 1 and axes.size == 2:  # a single column given as a flat pair
        axes = axes.reshape(2, 1)
    if np.ndim(axes) != 2 or axes.shape[0] != 2 or axes.shape[1] < n:
        raise ValueError(f"axes must have shape [2, {n}]; got shape {np.shape(axes)}")
    axes = axes[:, :n]
    for j in range(n):
        vmin = min(x[j].min(), x_hat[j].min())
        vmax = max(x[j].max(), x_hat[j].max())
        for i, img in enumerate((x[j], x_hat[j])):
            ax = axes[i, j]
            ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
    for i, title in enumerate(titles):
        axes[i, 0].set_ylabel(title)
    return axes


# ---------------------------------------------------------------------------- spectra
def _as_signals(x: Any, name: str) -> np.ndarray:
    arr = as_array(x, name, dtype=float)
    if arr.ndim == 3 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape [L], [N, L] or [N, 1, L]; got {np.shape(x)}")
    return arr


def plot_spectra(
    x: Any,
    x_hat: Any = None,
    *,
    x_axis: Any = None,
    ax: Axes | None = None,
    xlabel: str = "2$\\theta$ (deg)",
    ylabel: str = "intensity (a.u.)",
    offset: float | None = None,
    labels: Sequence[str] | None = None,
) -> Axes:
    """Original 1D signals (solid) overlaid with their reconstructions (dashed).

    Several signals are stacked with a vertical ``offset`` so they do not overlap. Pass
    a slice (e.g. ``x[:4]``) rather than a whole data set. Optional ``labels`` name
    each signal inside the axes, right-aligned just inside the right edge (so they are
    never cut off) and on a white box above its trace.

    Args:
        x (Tensor or ndarray): [L], [N, L] or [N, 1, L] signals, e.g. XRD patterns.
        x_hat (Tensor or ndarray): Optional reconstructions, same shape as ``x``.
        x_axis (array-like): [L] abscissa (e.g. 2 theta in degrees); default is the
            index 0 .. L-1.
        ax: Axes to draw on; a new figure is created when ``None``.
        xlabel: Label of the x axis, with units.
        ylabel: Label of the y axis, with units.
        offset: Vertical shift between consecutive signals; ``None`` uses 1.1 times
            the largest peak-to-peak range of ``x``.
        labels: Optional [N] names of the signals (e.g. formula and space group; use
            :func:`format_space_group` for symbols such as ``"P4_2/mnm"``).

    Returns:
        Axes: The axes with the signals.

    Raises:
        ValueError: On shape mismatches between ``x``, ``x_hat``, ``x_axis`` and
            ``labels``, or non-finite values.
    """
    x = _as_signals(x, "x")
    if x_hat is not None:
        x_hat = _as_signals(x_hat, "x_hat")
        if x_hat.shape != x.shape:
            raise ValueError(
                f"x and x_hat must have the same shape; got {x.shape} and {x_hat.shape}"
            )
    if x_axis is None:
        x_axis = np.arange(x.shape[1])
    x_axis = as_array(x_axis, "x_axis", dtype=float)
    if x_axis.shape != (x.shape[1],):
        raise ValueError(f"x_axis must have shape [{x.shape[1]}] to match x; got {x_axis.shape}")
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else [str(t) for t in labels]
        if len(labels) != len(x):
            raise ValueError(f"labels must name each of the {len(x)} signals; got {len(labels)}")
    if offset is None:
        offset = 1.1 * float(np.ptp(x, axis=1).max()) if len(x) > 1 else 0.0
    ax = _get_ax(ax, (7, 1.2 + 1.0 * len(x)))
    for i in range(len(x)):
        shift = i * offset
        ax.plot(
            x_axis, x[i] + shift, color="0.15", linewidth=1.0, label="original" if i == 0 else None
        )
        if x_hat is not None:
            ax.plot(
                x_axis,
                x_hat[i] + shift,
                "--",
                color="C1",
                linewidth=1.2,
                label="reconstruction" if i == 0 else None,
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(x_axis.min(), x_axis.max())
    if len(x) > 1 and offset:
        ax.set_yticks([])  # shifted intensities have no common scale
    if labels is not None:
        # x in axes coordinates (just inside the right edge), y in data coordinates
        where = blended_transform_factory(ax.transAxes, ax.transData)
        for i, text in enumerate(labels):
            base = i * offset + float(np.min(x[i]))
            ax.text(
                0.985,
                base + 0.45 * (offset or float(np.ptp(x[i]))),
                text,
                transform=where,
                ha="right",
                va="center",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5},
            )
    if x_hat is not None:
        ax.legend(frameon=False, loc="upper left")
    return ax


# ---------------------------------------------------------------------- periodic table
@functools.lru_cache(maxsize=1)
def _element_positions() -> dict[str, tuple[int, float]]:
    """Map each element symbol to its cell (group = x, row = y) in the drawn table.

    Lanthanides (La-Lu) and actinides (Ac-Lr) are placed in two extra rows below the
    main table (y = 8.5 and 9.5, columns 3-17), as in the usual 18-column layout.
    """
    from pymatgen.core.periodic_table import Element

    positions: dict[str, tuple[int, float]] = {}
    for el in Element:
        if 57 <= el.Z <= 71:
            positions[el.symbol] = (3 + el.Z - 57, 8.5)
        elif 89 <= el.Z <= 103:
            positions[el.symbol] = (3 + el.Z - 89, 9.5)
        else:
            positions[el.symbol] = (int(el.group), float(el.row))
    return positions


def _text_color(rgba: tuple[float, ...]) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba``."""
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


#: Extent of the drawn table in data coordinates (x: groups, y: rows, pointing down).
_TABLE_X = (0.4, 18.6)
_TABLE_Y = (10.1, 0.4)
#: Vertical offsets (in cells) of the symbol and of the value inside a cell.
_SYMBOL_SHIFT = -0.17
_VALUE_SHIFT = 0.23


def _cell_points(ax: Axes) -> float:
    """Side of one table cell in points, from the current size of ``ax``."""
    width, height = ax.get_position().size * ax.figure.get_size_inches()
    return 72.0 * min(width / np.ptp(_TABLE_X), height / abs(np.ptp(_TABLE_Y)))


def plot_periodic_table(
    values: Mapping[str, float],
    *,
    ax: Axes | None = None,
    cmap: str = "viridis",
    cbar_label: str | None = None,
    fmt: str = ".2f",
    vmin: float | None = None,
    vmax: float | None = None,
) -> Axes:
    """Periodic-table heatmap of one value per element.

    Cell positions come from pymatgen (``Element(symbol).row`` and ``.group``); the
    lanthanides and actinides sit in two extra rows below the table. The cell of an
    element in group ``g`` and row ``r`` is centred at ``(g, r)`` in data coordinates
    (y axis pointing down). Elements without a value, or with a NaN value, are drawn in
    light grey; the value is written under the symbol with format ``fmt`` (``fmt=""``
    writes symbols only), in black or white depending on the cell colour.

    Text sizes follow the size of a cell, so the table stays legible whatever the
    figure size: the default figure (8 in wide) shown at the page width of the book
    has symbols of about 11 pt and values of about 9 pt. The colour bar sits in the
    empty space above the transition metals, so the cells get the whole width.

    Args:
        values: Mapping from element symbol (``"Fe"``) to a number, e.g. the mean
            latent activation or frequency of each element in a data set.
        ax: Axes to draw on; a new figure is created when ``None``. Give it the
            aspect of the table (about 1.9 : 1) for the largest cells.
        cmap: Colour map.
        cbar_label: Label of the colour bar, with units.
        fmt: Format spec of the printed values (short formats such as ``".1f"`` or
            ``".0f"`` fit the cells best).
        vmin: Lower end of the colour scale (default: smallest value).
        vmax: Upper end of the colour scale (default: largest value).

    Returns:
        Axes: The axes with the table (axis lines hidden).

    Raises:
        TypeError: If ``values`` is not a mapping.
        ValueError: If a key is not an element symbol or a value is not a number.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping symbol -> number; got {type(values).__name__}")
    positions = _element_positions()
    unknown = [k for k in values if k not in positions]
    if unknown:
        raise ValueError(
            f"unknown element symbols {unknown[:10]} (symbols are case-sensitive, e.g. 'Fe')"
        )
    try:
        vals = {k: float(v) for k, v in values.items()}
    except (TypeError, ValueError) as err:
        raise ValueError(f"values must be numbers; {err}") from err
    present = {k: v for k, v in vals.items() if np.isfinite(v)}
    if ax is None:
        fig = plt.figure(figsize=(8.0, 4.45), layout="none")
        ax = fig.add_axes((0.005, 0.005, 0.99, 0.99))  # no layout engine: the axes fill it
    else:
        ax = _get_ax(ax, (8.0, 4.45))
    cell = _cell_points(ax)
    symbol_size = float(np.clip(0.37 * cell, 5.0, 16.0))
    value_size = float(np.clip(0.31 * cell, 4.5, 13.0))
    cm = matplotlib.colormaps[cmap]
    data = np.array(list(present.values())) if present else np.zeros(1)
    norm = Normalize(
        vmin=data.min() if vmin is None else vmin, vmax=data.max() if vmax is None else vmax
    )

    grey = [
        Rectangle((x - 0.5, y - 0.5), 1, 1) for s, (x, y) in positions.items() if s not in present
    ]
    ax.add_collection(
        PatchCollection(grey, facecolor=MISSING_COLOR, edgecolor="white", linewidth=1.5)
    )
    coloured = [Rectangle((positions[s][0] - 0.5, positions[s][1] - 0.5), 1, 1) for s in present]
    pc = PatchCollection(coloured, cmap=cm, norm=norm, edgecolor="white", linewidth=1.5)
    pc.set_array(np.array(list(present.values())))
    ax.add_collection(pc)

    for symbol, (x, y) in positions.items():
        if symbol in present:
            color = _text_color(cm(norm(present[symbol])))
            ax.text(
                x,
                y + (_SYMBOL_SHIFT if fmt else 0),
                symbol,
                ha="center",
                va="center",
                fontsize=symbol_size,
                fontweight="bold",
                color=color,
            )
            if fmt:
                ax.text(
                    x,
                    y + _VALUE_SHIFT,
                    format(present[symbol], fmt),
                    ha="center",
                    va="center",
                    fontsize=value_size,
                    color=color,
                )
        else:
            ax.text(x, y, symbol, ha="center", va="center", fontsize=symbol_size, color="0.45")
    for y, label in ((6, "57-71"), (7, "89-103")):  # placeholders of the f-block rows
        ax.text(3, y, label, ha="center", va="center", fontsize=0.8 * value_size, color="0.35")
    ax.set_xlim(*_TABLE_X)
    ax.set_ylim(*_TABLE_Y)  # row 1 on top
    ax.set_aspect("equal")
    ax.set_axis_off()
    if present:
        # horizontal colour bar in the gap above groups 3-12 (rows 1-3), in axes fractions
        (x0, x1), (y_bottom, y_top) = _TABLE_X, _TABLE_Y
        left = (3.6 - x0) / (x1 - x0)
        width = (12.4 - 3.6) / (x1 - x0)
        bottom = (y_bottom - 2.05) / (y_bottom - y_top)
        height = 0.32 / (y_bottom - y_top)
        cax = ax.inset_axes((left, bottom, width, height))
        cbar = ax.figure.colorbar(pc, cax=cax, orientation="horizontal")
        cbar.ax.tick_params(labelsize=value_size, length=3, pad=1.5)
        if cbar_label:
            cbar.ax.set_title(cbar_label, fontsize=symbol_size, pad=3)
    return ax


# ----------------------------------------------------------------------- compositions
def plot_composition(
    fractions: Any,
    elements: Sequence[str],
    *,
    ax: Axes | None = None,
    top: int = 10,
    color: Any = "C0",
) -> Axes:
    """Bar chart of the largest element fractions of one composition.

    Args:
        fractions (Tensor or ndarray): [n_elements] (or [1, n_elements]) element
            fractions, e.g. one decoded composition.
        elements: [n_elements] element symbols in the same order.
        ax: Axes to draw on; a new figure is created when ``None``.
        top: Number of largest fractions shown, in decreasing order.
        color: Bar colour.

    Returns:
        Axes: The axes with the bars (fractions written on top).

    Raises:
        ValueError: If ``fractions`` is not 1D or its length differs from ``elements``.
    """
    f = as_array(fractions, "fractions", dtype=float)
    if f.ndim == 2 and f.shape[0] == 1:
        f = f[0]
    elements = list(elements)
    if f.ndim != 1 or len(f) != len(elements):
        raise ValueError(
            f"fractions must have shape [{len(elements)}] to match elements; got {np.shape(fractions)}"
        )
    if top < 1:
        raise ValueError(f"top must be >= 1; got {top}")
    order = np.argsort(-f, kind="stable")[:top]
    ax = _get_ax(ax, (0.45 * len(order) + 1.5, 3))
    bars = ax.bar(np.arange(len(order)), f[order], color=to_rgba(color))
    ax.bar_label(bars, fmt="%.2f", fontsize="small", padding=1)
    ax.set_xticks(np.arange(len(order)), [elements[i] for i in order])
    ax.set_ylabel("fraction")
    shown = f[order]
    ax.set_ylim(min(0.0, 1.15 * shown.min()), max(1.15 * shown.max(), 1e-3))  # room for labels
    ax.margins(x=0.02)
    return ax
