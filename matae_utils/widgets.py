"""Interactive explorers of a trained decoder, with a static fallback.

:func:`latent_explorer` gives one slider per latent dimension and shows the decoded
output live; :func:`interpolation_explorer` walks the straight line between two latent
codes. Both work with any model that has ``decode(z)``, ``latent_dim`` and
``input_shape`` (every model of :mod:`matae_utils.models`).

**Static fallback.** Widgets need ipywidgets *and* a live Jupyter kernel (Jupyter,
JupyterLab, VS Code, Colab). The explorers return a static matplotlib
:class:`~matplotlib.figure.Figure` instead of widgets when

1. ``static=True`` is passed, or
2. ``static`` is left at ``None`` and

   - the environment variable ``MATAE_STATIC_WIDGETS`` is set to ``1`` (or ``true``/
     ``yes``; set it when building the HTML book, whose executed notebooks have a
     kernel but whose pages cannot run Python), or
   - ``ipywidgets`` cannot be imported, or
   - no Jupyter kernel is running: IPython is not loaded or ``get_ipython()`` has no
     ``kernel`` (plain Python, a terminal IPython, a script).

``static=False`` forces the widgets even without a kernel (they are then built but not
shown); if ipywidgets is missing it falls back to the figure with a warning. Missing
widgets never raise.

ipywidgets is imported only when the widgets are built. The live figure is rendered
to PNG into an ``ipywidgets.Image``, so it needs no interactive matplotlib backend.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import nn

from ._checks import as_array, check_number, check_range
from .plotting import MARKERS, plot_composition

__all__ = [
    "latent_explorer",
    "interpolation_explorer",
    "latent_map_explorer",
    "use_static_widgets",
]

_KINDS = ("composition", "image", "spectrum")
_ENV_VAR = "MATAE_STATIC_WIDGETS"


# ------------------------------------------------------------------ static-or-live decision
def _kernel_running() -> bool:
    """True inside a Jupyter kernel (including Colab); never imports IPython itself."""
    if "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def use_static_widgets(static: bool | None = None) -> bool:
    """Decide whether the explorers draw a static figure instead of widgets.

    Implements the rule in the module docstring: an explicit ``static`` wins, then the
    ``MATAE_STATIC_WIDGETS`` environment variable, then the availability of ipywidgets
    and of a live Jupyter kernel.

    Args:
        static: ``True``/``False`` to force a mode, ``None`` to detect it.

    Returns:
        bool: ``True`` for the static figure.

    Raises:
        TypeError: If ``static`` is not a bool or ``None``.
    """
    if static is not None and not isinstance(static, bool):
        raise TypeError(f"static must be True, False or None; got {static!r}")
    if static:
        return True
    if static is None and os.environ.get(_ENV_VAR, "").strip().lower() in ("1", "true", "yes"):
        return True
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        if static is False:
            warnings.warn("ipywidgets is not installed: drawing a static figure", stacklevel=3)
        return True
    return static is None and not _kernel_running()


# -------------------------------------------------------------------------- decoding
def _check_model(model: Any, kind: str) -> tuple[int, tuple[int, ...]]:
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}; got {kind!r}")
    if not isinstance(model, nn.Module) or not callable(getattr(model, "decode", None)):
        raise TypeError(
            f"model must be an nn.Module with a decode(z) method; got {type(model).__name__}"
        )
    latent_dim = getattr(model, "latent_dim", None)
    input_shape = getattr(model, "input_shape", None)
    if not isinstance(latent_dim, int) or latent_dim < 1 or input_shape is None:
        raise TypeError("model must have an int `latent_dim` >= 1 and an `input_shape` tuple")
    return latent_dim, tuple(input_shape)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Evaluation mode (no dropout, running batch-norm stats), restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


class _Decoder:
    """Decode batches of latent codes [B, k] into NumPy outputs shaped for ``kind``."""

    def __init__(self, model: nn.Module, kind: str, elements: Any, x_axis: Any) -> None:
        self.model = model
        self.kind = kind
        self.latent_dim, self.input_shape = _check_model(model, kind)
        param = next(model.parameters(), None)
        self.device = param.device if param is not None else torch.device("cpu")
        self.dtype = (
            param.dtype if param is not None and param.is_floating_point() else torch.float32
        )
        n_out = int(np.prod(self.input_shape))
        self.elements = None
        self.x_axis = None
        if kind == "composition":
            if elements is None:
                raise ValueError("kind='composition' needs `elements`, the symbols of the features")
            self.elements = list(elements)
            if len(self.elements) != n_out:
                raise ValueError(
                    f"elements has {len(self.elements)} symbols but the model decodes "
                    f"{n_out} features (input_shape={self.input_shape})"
                )
        elif kind == "image":
            if len(self.input_shape) < 2 or int(np.prod(self.input_shape[:-2])) != 1:
                raise ValueError(
                    f"kind='image' needs input_shape (1, H, W) or (H, W); got {self.input_shape}"
                )
        else:  # spectrum
            self.x_axis = (
                np.arange(n_out) if x_axis is None else as_array(x_axis, "x_axis", dtype=float)
            )
            if self.x_axis.shape != (n_out,):
                raise ValueError(f"x_axis must have shape [{n_out}]; got {self.x_axis.shape}")

    def latent(self, z: Any, name: str) -> np.ndarray:
        """Validate one latent code and return it as a float array [latent_dim]."""
        arr = as_array(z, name, dtype=float).reshape(-1)
        if arr.shape != (self.latent_dim,):
            raise ValueError(f"{name} must have {self.latent_dim} values; got shape {np.shape(z)}")
        return arr

    @torch.no_grad()
    def __call__(self, z: np.ndarray) -> np.ndarray:
        """Decode z [B, k] -> [B, n_elements] / [B, H, W] / [B, L]."""
        zt = torch.as_tensor(z, dtype=self.dtype, device=self.device)
        with _eval_mode(self.model):
            out = self.model.decode(zt)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"model.decode must return a Tensor; got {type(out).__name__}")
        out = out.detach().float().cpu().numpy()
        if self.kind == "image":
            return out.reshape(len(z), *self.input_shape[-2:])
        return out.reshape(len(z), -1)

    @torch.no_grad()
    def property(self, property_fn: Callable[[torch.Tensor], Any], z: np.ndarray) -> np.ndarray:
        """Call ``property_fn`` on each code as a tensor [1, k]; returns floats [B]."""
        values = []
        with _eval_mode(self.model):
            for row in z:
                zt = torch.as_tensor(row[None], dtype=self.dtype, device=self.device)
                value = property_fn(zt)
                if isinstance(value, torch.Tensor):
                    value = value.detach().cpu().reshape(-1)[0].item()
                values.append(float(value))
        return np.array(values)


# ---------------------------------------------------------------------- drawing helpers
def _draw_one(
    ax: Axes,
    dec: _Decoder,
    out: np.ndarray,
    *,
    top: int,
    cmap: str,
    limits: tuple[float, float],
    xlabel: str | None,
) -> None:
    """Draw one decoded output (composition bars, image or spectrum) on ``ax``."""
    if dec.kind == "composition":
        plot_composition(out, dec.elements, ax=ax, top=top)
    elif dec.kind == "image":
        ax.imshow(out, cmap=cmap, vmin=limits[0], vmax=limits[1])
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        ax.plot(dec.x_axis, out, color="C0", linewidth=1.0)
        ax.set_xlim(dec.x_axis.min(), dec.x_axis.max())
        ax.set_ylim(*limits)
        if xlabel:
            ax.set_xlabel(xlabel)


def _limits(outputs: np.ndarray) -> tuple[float, float]:
    """Fixed colour / y range over a sweep of decoded outputs, so frames compare."""
    lo, hi = float(np.nanmin(outputs)), float(np.nanmax(outputs))
    if hi <= lo:
        hi = lo + 1.0
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def _fig_to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    # the layout of a live frame does not change: solve it once, then keep the axes where
    # they are (a constrained-layout pass costs as much as drawing the frame)
    fig.set_layout_engine("none")
    return buf.getvalue()


def _info_html(
    formula: str | None, prop: float | None, property_label: str, prefix: str = ""
) -> str:
    parts = [prefix] if prefix else []
    if formula is not None:
        parts.append(f"<b>formula:</b> {formula}")
    if prop is not None:
        parts.append(f"<b>{property_label}:</b> {prop:.3g}")
    return " &nbsp; ".join(parts)


def _main_elements(outs: np.ndarray, top: int) -> np.ndarray:
    """Indices of the (at most 8) elements with the largest fraction anywhere in ``outs``."""
    flat = outs.reshape(-1, outs.shape[-1])
    return np.argsort(-flat.max(axis=0), kind="stable")[: min(top, 8)]


def _composition_sweep(
    ax: Axes,
    dec: _Decoder,
    t: np.ndarray,
    outs: np.ndarray,
    *,
    order: np.ndarray,
    props: np.ndarray | None,
    property_label: str,
    legend: bool = True,
) -> None:
    """Fractions of the elements ``order`` along a sweep, as lines against ``t``.

    Element ``order[r]`` always gets colour ``C{r}`` and marker ``MARKERS[r]``, so
    several sweeps drawn with the same ``order`` share one style per element and the
    legend can be read without colour.
    """
    for rank, i in enumerate(order):
        ax.plot(
            t,
            outs[:, i],
            "-",
            marker=MARKERS[rank % len(MARKERS)],
            markersize=5,
            color=f"C{rank % 10}",
            label=dec.elements[i],
        )
    ax.set_ylabel("fraction")
    if legend:  # above the axes, so the right-hand side stays free for the property axis
        ax.legend(
            frameon=False,
            fontsize="small",
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncol=len(order),
            borderaxespad=0.2,
            handlelength=1.5,
            columnspacing=1.0,
        )
    if props is not None:
        twin = ax.twinx()
        twin.plot(t, props, "--", color="black", linewidth=1.2)
        twin.set_ylabel(property_label, fontsize="small")


# ----------------------------------------------------------------------- latent explorer
def latent_explorer(
    model: nn.Module,
    *,
    kind: str = "composition",
    elements: Sequence[str] | None = None,
    x_axis: Any = None,
    property_fn: Callable[[torch.Tensor], float] | None = None,
    formula_fn: Callable[[np.ndarray], str] | None = None,
    z_range: tuple[float, float] = (-3.0, 3.0),
    z0: Any = None,
    static: bool | None = None,
    n_steps: int = 7,
    top: int = 10,
    cmap: str = "viridis",
    xlabel: str | None = "2$\\theta$ (deg)",
    property_label: str = "predicted property",
) -> Any:
    """Explore a latent space: one slider per latent dimension, decoded output drawn live.

    The decoded output is drawn as a bar chart of the largest element fractions
    (``kind="composition"``), an image (``"image"``) or a line (``"spectrum"``). Images
    and spectra keep one colour / y range, measured on a sweep of every axis over
    ``z_range``, so frames can be compared. The model is put in evaluation mode while
    decoding and its previous mode is restored.

    The static figure (see the module docstring for when it is drawn) sweeps each
    latent axis over ``n_steps`` values of ``z_range``, the other coordinates fixed at
    ``z0``: a grid of images (one row per dimension), overlaid spectra coloured by the
    value of the swept coordinate, or the fractions of the main elements against it.

    Args:
        model: Trained model with ``decode``, ``latent_dim`` and ``input_shape``.
        kind: ``"composition"``, ``"image"`` or ``"spectrum"``.
        elements: Element symbols of the decoded features (required for compositions).
        x_axis (array-like): [L] abscissa of spectra (e.g. 2 theta); default index.
        property_fn: Optional ``property_fn(z) -> float`` with ``z`` a Tensor
            [1, latent_dim] (e.g. the property head of a semi-supervised model).
        formula_fn: Optional ``formula_fn(fractions) -> str`` turning decoded
            fractions [n_elements] (ndarray) into a formula (compositions only).
        z_range: (low, high) range of every slider.
        z0: [latent_dim] starting point (default: the origin, the prior mean of a VAE).
        static: ``True``/``False`` forces the static figure / the widgets; ``None``
            detects (see the module docstring).
        n_steps: Values per latent axis in the static figure.
        top: Number of elements shown for compositions.
        cmap: Colour map of images.
        xlabel: x label of spectra, with units.
        property_label: Name (and units) of the predicted property.

    Returns:
        ipywidgets.Widget or matplotlib.figure.Figure: The widget container, or the
        static figure.

    Raises:
        TypeError: If ``model`` lacks the decoder interface.
        ValueError: On an unknown ``kind``, missing ``elements``, or ``z0``/``z_range``
            of the wrong shape.
    """
    dec = _Decoder(model, kind, elements, x_axis)
    lo, hi = check_range(z_range, "z_range")
    z0 = np.zeros(dec.latent_dim) if z0 is None else dec.latent(z0, "z0")
    if ((z0 < lo) | (z0 > hi)).any():
        raise ValueError(f"z0 must lie inside z_range {z_range}; got {z0}")
    n_steps = check_number(n_steps, "n_steps", integer=True, low=2)
    steps = np.linspace(lo, hi, n_steps)
    sweep = np.repeat(z0[None, None], dec.latent_dim, axis=0).repeat(n_steps, axis=1)  # [k, n, k]
    for i in range(dec.latent_dim):
        sweep[i, :, i] = steps
    outs = dec(sweep.reshape(-1, dec.latent_dim))  # [k * n, ...]
    limits = _limits(outs)

    if use_static_widgets(static):
        outs = outs.reshape(dec.latent_dim, n_steps, *outs.shape[1:])
        props = None
        if property_fn is not None:
            props = dec.property(property_fn, sweep.reshape(-1, dec.latent_dim))
            props = props.reshape(dec.latent_dim, n_steps)
        return _static_latent(
            dec,
            steps,
            outs,
            props,
            formula_fn=formula_fn,
            top=top,
            cmap=cmap,
            limits=limits,
            xlabel=xlabel,
            property_label=property_label,
        )

    import ipywidgets as widgets

    sliders = [
        widgets.FloatSlider(
            value=float(z0[i]),
            min=lo,
            max=hi,
            step=(hi - lo) / 100,
            description=f"z{i + 1}",
            continuous_update=False,
            readout_format=".2f",
        )
        for i in range(dec.latent_dim)
    ]
    reset = widgets.Button(description="reset", tooltip="move every slider back to z0")
    fig = Figure(figsize=(5.5, 3.2) if kind != "image" else (3.5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    image = widgets.Image(format="png")
    info = widgets.HTML()

    def update(_change: Any = None) -> None:
        z = np.array([[s.value for s in sliders]])  # [1, k]
        out = dec(z)[0]
        ax.clear()
        _draw_one(ax, dec, out, top=top, cmap=cmap, limits=limits, xlabel=xlabel)
        image.value = _fig_to_png(fig)
        formula = formula_fn(out) if formula_fn is not None and kind == "composition" else None
        prop = float(dec.property(property_fn, z)[0]) if property_fn is not None else None
        info.value = _info_html(formula, prop, property_label)

    def on_reset(_button: Any) -> None:
        for s, value in zip(sliders, z0, strict=True):
            s.value = float(value)

    for s in sliders:
        s.observe(update, names="value")
    reset.on_click(on_reset)
    update()
    return widgets.HBox([widgets.VBox([*sliders, reset]), widgets.VBox([image, info])])


def _static_latent(
    dec: _Decoder,
    steps: np.ndarray,
    outs: np.ndarray,
    props: np.ndarray | None,
    *,
    formula_fn: Callable[[np.ndarray], str] | None,
    top: int,
    cmap: str,
    limits: tuple[float, float],
    xlabel: str | None,
    property_label: str,
) -> Figure:
    """Figure of a sweep along each latent axis: outs [k, n, ...], props [k, n] or None."""
    k, n = outs.shape[:2]
    if dec.kind == "image":
        fig = Figure(figsize=(1.3 * n + 0.6, 1.35 * k + 0.5), layout="constrained")
        axes = fig.subplots(k, n, squeeze=False)
        for i in range(k):
            for j in range(n):
                _draw_one(
                    axes[i, j], dec, outs[i, j], top=top, cmap=cmap, limits=limits, xlabel=None
                )
                if i == 0:
                    axes[i, j].set_title(f"{steps[j]:+.2g}", fontsize="small")
                if props is not None:
                    axes[i, j].set_xlabel(f"{props[i, j]:.3g}", fontsize="small")
            axes[i, 0].set_ylabel(f"$z_{{{i + 1}}}$")
        suptitle = "decoded images along each latent axis, the others fixed at z0"
        suptitle += "\n(column titles: value of the coordinate"
        suptitle += f"; under each image: {property_label})" if props is not None else ")"
        fig.suptitle(suptitle, fontsize="medium")
        return fig

    fig = Figure(figsize=(7, 1.9 * k + 0.6), layout="constrained")
    axes = fig.subplots(k, 1, squeeze=False, sharex=dec.kind == "spectrum")[:, 0]
    if dec.kind == "spectrum":
        norm = Normalize(steps.min(), steps.max())
        cm = matplotlib.colormaps["viridis"]
        for i, ax in enumerate(axes):
            for j in range(n):
                label = f"{steps[j]:.2g}" + (f" ({props[i, j]:.3g})" if props is not None else "")
                ax.plot(
                    dec.x_axis, outs[i, j], color=cm(norm(steps[j])), linewidth=1.0, label=label
                )
            ax.set_ylim(*limits)
            ax.set_ylabel(f"$z_{{{i + 1}}}$ sweep")
            if props is not None:
                ax.legend(
                    title=property_label,
                    fontsize="small",
                    frameon=False,
                    loc="upper left",
                    bbox_to_anchor=(1.0, 1.0),
                )
        axes[-1].set_xlim(dec.x_axis.min(), dec.x_axis.max())
        if xlabel:
            axes[-1].set_xlabel(xlabel)
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=cm),
            ax=list(axes),
            label="value of the swept coordinate",
            shrink=0.8,
        )
        return fig

    order = _main_elements(outs, top)  # one colour per element in every row
    for i, ax in enumerate(axes):
        _composition_sweep(
            ax,
            dec,
            steps,
            outs[i],
            order=order,
            props=None if props is None else props[i],
            property_label=property_label,
            legend=i == 0,
        )
        label = f"$z_{{{i + 1}}}$"
        if formula_fn is not None:
            label += f"   ({formula_fn(outs[i, 0])} $\\rightarrow$ {formula_fn(outs[i, -1])})"
        ax.set_xlabel(label)
    fig.suptitle(
        "decoded composition along each latent axis, the others fixed at z0"
        + (f"\n(dashed: {property_label})" if props is not None else ""),
        fontsize="medium",
    )
    return fig


# ---------------------------------------------------------------- interpolation explorer
def interpolation_explorer(
    model: nn.Module,
    z_a: Any,
    z_b: Any,
    *,
    kind: str = "composition",
    elements: Sequence[str] | None = None,
    x_axis: Any = None,
    property_fn: Callable[[torch.Tensor], float] | None = None,
    formula_fn: Callable[[np.ndarray], str] | None = None,
    static: bool | None = None,
    n_steps: int = 7,
    top: int = 10,
    cmap: str = "viridis",
    xlabel: str | None = "2$\\theta$ (deg)",
    property_label: str = "predicted property",
) -> Any:
    """Walk the straight line between two latent codes: decode ``(1 - t) z_a + t z_b``.

    The widget has one slider ``t`` in [0, 1]; the static figure (see the module
    docstring) shows ``n_steps`` evenly spaced values of ``t``: a strip of images,
    overlaid spectra coloured by ``t``, or the fractions of the main elements against
    ``t``.

    Args:
        model: Trained model with ``decode``, ``latent_dim`` and ``input_shape``.
        z_a (Tensor or ndarray): [latent_dim] (or [1, latent_dim]) start code, t = 0.
        z_b (Tensor or ndarray): end code, t = 1, same shape.
        kind: ``"composition"``, ``"image"`` or ``"spectrum"``.
        elements: Element symbols of the decoded features (required for compositions).
        x_axis (array-like): [L] abscissa of spectra; default index.
        property_fn: Optional ``property_fn(z) -> float`` with ``z`` a Tensor [1, latent_dim].
        formula_fn: Optional ``formula_fn(fractions) -> str`` (compositions only).
        static: ``True``/``False`` forces the static figure / the widgets; ``None`` detects.
        n_steps: Number of values of ``t`` in the static figure.
        top: Number of elements shown for compositions.
        cmap: Colour map of images.
        xlabel: x label of spectra, with units.
        property_label: Name (and units) of the predicted property.

    Returns:
        ipywidgets.Widget or matplotlib.figure.Figure: The widget container, or the
        static figure.

    Raises:
        TypeError: If ``model`` lacks the decoder interface.
        ValueError: On an unknown ``kind``, missing ``elements`` or codes of the wrong size.
    """
    dec = _Decoder(model, kind, elements, x_axis)
    z_a = dec.latent(z_a, "z_a")
    z_b = dec.latent(z_b, "z_b")
    n_steps = check_number(n_steps, "n_steps", integer=True, low=2)
    ts = np.linspace(0.0, 1.0, n_steps)
    path = (1 - ts[:, None]) * z_a + ts[:, None] * z_b  # [n, k]
    outs = dec(path)
    limits = _limits(outs)
    props = dec.property(property_fn, path) if property_fn is not None else None

    if use_static_widgets(static):
        return _static_path(
            dec,
            ts,
            outs,
            props,
            formula_fn=formula_fn,
            top=top,
            cmap=cmap,
            limits=limits,
            xlabel=xlabel,
            property_label=property_label,
        )

    import ipywidgets as widgets

    slider = widgets.FloatSlider(
        value=0.0,
        min=0.0,
        max=1.0,
        step=0.01,
        description="t",
        continuous_update=False,
        readout_format=".2f",
    )
    fig = Figure(figsize=(5.5, 3.2) if kind != "image" else (3.5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    image = widgets.Image(format="png")
    info = widgets.HTML()

    def update(_change: Any = None) -> None:
        t = slider.value
        z = ((1 - t) * z_a + t * z_b)[None]  # [1, k]
        out = dec(z)[0]
        ax.clear()
        if kind == "spectrum":  # the two end points as a faint reference
            for ref, style in ((outs[0], "-"), (outs[-1], ":")):
                ax.plot(dec.x_axis, ref, style, color="0.7", linewidth=0.8)
        _draw_one(ax, dec, out, top=top, cmap=cmap, limits=limits, xlabel=xlabel)
        ax.set_title(f"t = {t:.2f}", fontsize="medium")
        image.value = _fig_to_png(fig)
        formula = formula_fn(out) if formula_fn is not None and kind == "composition" else None
        prop = float(dec.property(property_fn, z)[0]) if property_fn is not None else None
        info.value = _info_html(formula, prop, property_label)

    slider.observe(update, names="value")
    update()
    return widgets.VBox([slider, image, info])


def _static_path(
    dec: _Decoder,
    ts: np.ndarray,
    outs: np.ndarray,
    props: np.ndarray | None,
    *,
    formula_fn: Callable[[np.ndarray], str] | None,
    top: int,
    cmap: str,
    limits: tuple[float, float],
    xlabel: str | None,
    property_label: str,
) -> Figure:
    """Figure of the decoded interpolation path: outs [n, ...], props [n] or None."""
    n = len(ts)
    if dec.kind == "image":
        fig = Figure(figsize=(1.4 * n, 1.7 if props is None else 2.0), layout="constrained")
        axes = fig.subplots(1, n, squeeze=False)[0]
        for j, ax in enumerate(axes):
            _draw_one(ax, dec, outs[j], top=top, cmap=cmap, limits=limits, xlabel=None)
            ax.set_title(f"t = {ts[j]:.2f}", fontsize="small")
            if props is not None:
                ax.set_xlabel(f"{props[j]:.3g}", fontsize="small")
        if props is not None:
            fig.suptitle(f"under each image: {property_label}", fontsize="small")
        return fig

    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.add_subplot()
    if dec.kind == "spectrum":
        norm = Normalize(0.0, 1.0)
        cm = matplotlib.colormaps["viridis"]
        for j in range(n):
            label = f"{ts[j]:.2f}" + (f" ({props[j]:.3g})" if props is not None else "")
            ax.plot(dec.x_axis, outs[j], color=cm(norm(ts[j])), linewidth=1.0, label=label)
        ax.set_xlim(dec.x_axis.min(), dec.x_axis.max())
        ax.set_ylim(*limits)
        if xlabel:
            ax.set_xlabel(xlabel)
        if props is not None:
            ax.legend(
                title=f"t ({property_label})",
                fontsize="small",
                frameon=False,
                loc="upper left",
                bbox_to_anchor=(1.0, 1.0),
            )
        fig.colorbar(ScalarMappable(norm=norm, cmap=cm), ax=ax, label="t")
        return fig

    _composition_sweep(
        ax,
        dec,
        ts,
        outs,
        order=_main_elements(outs, top),
        props=props,
        property_label=property_label,
    )
    label = "t"
    if formula_fn is not None:
        label += f"   ({formula_fn(outs[0])} $\\rightarrow$ {formula_fn(outs[-1])})"
    ax.set_xlabel(label)
    return fig


# ------------------------------------------------------------------- latent map explorer
def _format_row(row: Any) -> str:
    """One table row as short text, ``first (second, ...)``; numbers with 3 significant digits."""
    parts = []
    for value in row:
        is_number = isinstance(value, (int, float, np.integer, np.floating))
        parts.append(f"{value:.3g}" if is_number and not isinstance(value, bool) else str(value))
    return f"{parts[0]} ({', '.join(parts[1:])})" if len(parts) > 1 else parts[0]


def latent_map_explorer(
    model: nn.Module,
    Z: Any,
    table: Any,
    *,
    features: Sequence[str],
    show: Sequence[str],
    inverse_transform: Callable[[np.ndarray], np.ndarray] | None = None,
    labels: dict[str, str] | None = None,
    c: Any = None,
    cbar_label: str | None = None,
    n_nearest: int = 5,
    probes: Any = None,
    static: bool | None = None,
) -> Any:
    """Move a cursor over a 2-D latent map: decoded features and the nearest real samples.

    The map is the scatter of the codes ``Z`` of real samples (coloured by ``c``). At the
    cursor position ``z`` the explorer shows the decoded features ``show`` (converted to
    physical units by ``inverse_transform``, e.g. a fitted ``StandardScaler``'s
    ``inverse_transform``) and the ``n_nearest`` samples whose codes are closest to
    ``z``, as rows of ``table`` (e.g. formula and measured band gap).

    The widgets are two sliders (``z1``, ``z2``, spanning the map), the map with the
    cursor and the nearest samples circled, and two HTML tables. The static figure (see
    the module docstring for when it is drawn) marks ``probes`` on the map with letters
    and lists, for each probe, the decoded features and the three nearest samples.

    Args:
        model: Trained model with ``decode``, ``latent_dim == 2`` and ``input_shape``.
        Z (Tensor or ndarray): [N, 2] codes of the reference samples.
        table (pandas.DataFrame): N rows, one per reference sample, in the order of
            ``Z``; its columns are what is listed for the nearest samples.
        features: [d] names of the decoded features (``d`` = outputs of the decoder).
        show: Names from ``features`` to display.
        inverse_transform: Optional ``f(X) -> X`` mapping decoded rows [B, d] to the
            units in which they are shown.
        labels: Optional display names (with units) for the names in ``show``.
        c (array-like): Optional [N] colour values of the reference samples.
        cbar_label: Label of the colour bar, with units.
        n_nearest: Number of nearest samples listed (the static figure lists at most 3,
            as ``first column (other columns)``).
        probes (array-like): [P, 2] cursor positions of the static figure, at most 6;
            default: the four combinations of the 20th and 80th percentiles of ``Z``.
        static: ``True``/``False`` forces the static figure / the widgets; ``None``
            detects (see the module docstring).

    Returns:
        ipywidgets.Widget or matplotlib.figure.Figure: The widget container, or the
        static figure.

    Raises:
        TypeError: If ``model`` lacks the decoder interface or ``table`` is not a
            DataFrame.
        ValueError: If the model's code is not 2-D, ``Z``, ``table``, ``c`` or
            ``probes`` have the wrong shape, a name in ``show`` is not in ``features``,
            or ``n_nearest`` is not between 1 and N.

    Example::

        mu.latent_map_explorer(model, Z_test, compounds[["formula", "gap expt"]],
                               features=data.descriptors,
                               show=["MagpieData mean Electronegativity"],
                               inverse_transform=data.scaler.inverse_transform,
                               c=y_test, cbar_label="band gap (eV)")
    """
    import pandas as pd

    dec = _Decoder(model, "spectrum", None, None)
    if dec.latent_dim != 2:
        raise ValueError(f"latent_map_explorer needs a 2-D code; the model has {dec.latent_dim}")
    Z = as_array(Z, "Z", ndim=2, dtype=float)
    if Z.shape[1] != 2:
        raise ValueError(f"Z must have shape [N, 2]; got {Z.shape}")
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    if len(table) != len(Z):
        raise ValueError(f"table must have one row per code ({len(Z)}); got {len(table)} rows")
    features = list(features)
    if len(features) != dec.x_axis.size:
        raise ValueError(
            f"features has {len(features)} names but the model decodes {dec.x_axis.size} values"
        )
    missing = [name for name in show if name not in features]
    if missing:
        raise ValueError(f"names in show are not in features: {missing}")
    columns = [features.index(name) for name in show]
    labels = dict(labels or {})
    names = [labels.get(name, name) for name in show]
    n_nearest = check_number(n_nearest, "n_nearest", integer=True, low=1, high=len(Z))
    if c is not None:
        c = as_array(c, "c", ndim=1, dtype=float)
        if c.shape != (len(Z),):
            raise ValueError(f"c must have one value per code ({len(Z)}); got {c.shape}")
    rows = table.reset_index(drop=True)

    def decoded(z: np.ndarray) -> np.ndarray:  # [P, 2] -> [P, len(show)] shown units
        out = dec(z)
        if inverse_transform is not None:
            out = np.asarray(inverse_transform(out), dtype=float)
        return out[:, columns]

    def nearest(z: np.ndarray) -> np.ndarray:  # [2] -> indices of the nearest codes
        return np.argsort(((Z - z) ** 2).sum(axis=1), kind="stable")[:n_nearest]

    def draw_map(ax: Axes) -> None:
        style = dict(s=6, alpha=0.6, linewidths=0)
        if c is None:
            ax.scatter(Z[:, 0], Z[:, 1], color="0.6", **style)
        else:
            scatter = ax.scatter(Z[:, 0], Z[:, 1], c=c, cmap="viridis", **style)
            ax.figure.colorbar(scatter, ax=ax, label=cbar_label, shrink=0.85)
        ax.set_xlabel("$z_1$")
        ax.set_ylabel("$z_2$")

    lo, hi = Z.min(axis=0), Z.max(axis=0)
    if use_static_widgets(static):
        if probes is None:
            q20, q80 = np.percentile(Z, [20, 80], axis=0)
            probes = np.array(
                [[q20[0], q80[1]], [q80[0], q80[1]], [q20[0], q20[1]], [q80[0], q20[1]]]
            )
        probes = as_array(probes, "probes", ndim=2, dtype=float)
        if probes.shape[1] != 2 or not 1 <= len(probes) <= 6:
            raise ValueError(f"probes must have shape [P, 2] with 1 <= P <= 6; got {probes.shape}")
        values = decoded(probes)  # [P, len(show)]
        letters = "ABCDEF"[: len(probes)]
        fig = Figure(figsize=(11, 4.4), layout="constrained")
        ax_map, ax_text = fig.subplots(1, 2, width_ratios=[1, 1.3])
        draw_map(ax_map)
        for letter, z in zip(letters, probes, strict=True):
            ax_map.plot(*z, marker="X", color="red", markersize=10, markeredgecolor="white")
            ax_map.annotate(
                letter,
                z,
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=12,
                fontweight="bold",
                color="red",
            )
        ax_map.set_title("cursor positions A-" + letters[-1], fontsize="medium")
        ax_text.set_axis_off()
        cell_text = [[f"{v:.3g}" for v in values[:, j]] for j in range(len(show))]
        tab = ax_text.table(
            cellText=cell_text,
            rowLabels=names,
            colLabels=list(letters),
            cellLoc="center",
            bbox=[0.45, 0.38, 0.55, 0.6],  # the row labels extend to the left
        )
        tab.auto_set_font_size(False)
        tab.set_fontsize(9)
        ax_text.text(0.0, 0.3, "nearest real samples:", fontsize=9, fontweight="bold")
        for r, (letter, z) in enumerate(zip(letters, probes, strict=True)):
            near = "; ".join(_format_row(rows.iloc[i]) for i in nearest(z)[:3])
            ax_text.text(0.0, 0.22 - 0.07 * r, f"{letter}: {near}", fontsize=9)
        ax_text.set_title("decoded at each position", fontsize="medium")
        return fig

    import ipywidgets as widgets

    pad = 0.05 * (hi - lo)
    sliders = [
        widgets.FloatSlider(
            value=float(np.median(Z[:, i])),
            min=float(lo[i] - pad[i]),
            max=float(hi[i] + pad[i]),
            step=float((hi[i] - lo[i]) / 100),
            description=f"z{i + 1}",
            continuous_update=False,
            readout_format=".2f",
        )
        for i in range(2)
    ]
    fig = Figure(figsize=(4.8, 3.8), layout="constrained")
    ax = fig.add_subplot()
    draw_map(ax)
    (cursor,) = ax.plot([], [], marker="X", color="red", markersize=11, markeredgecolor="white")
    (ring,) = ax.plot([], [], "o", markersize=9, markerfacecolor="none", markeredgecolor="red")
    image = widgets.Image(format="png")
    info = widgets.HTML()

    def update(_change: Any = None) -> None:
        z = np.array([s.value for s in sliders])
        idx = nearest(z)
        cursor.set_data([z[0]], [z[1]])
        ring.set_data(Z[idx, 0], Z[idx, 1])
        image.value = _fig_to_png(fig)
        shown = pd.DataFrame({"decoded": decoded(z[None])[0]}, index=names)
        near = rows.iloc[idx].assign(distance=np.sqrt(((Z[idx] - z) ** 2).sum(axis=1)))
        info.value = (
            "<b>decoded at the cursor</b>"
            + shown.to_html(float_format=lambda v: f"{v:.3g}")
            + f"<b>{n_nearest} nearest samples</b>"
            + near.to_html(index=False, float_format=lambda v: f"{v:.3g}")
        )

    for s in sliders:
        s.observe(update, names="value")
    update()
    return widgets.HBox([widgets.VBox([*sliders, image]), info])
