"""Tests of matae_utils.widgets with tiny stand-in decoders (no dependency on models.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import sys  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from matae_utils import widgets  # noqa: E402

ELEMENTS = ["Li", "Fe", "P", "O", "Mn"]


class LinearDecoder(nn.Module):
    """Stand-in model with the interface of matae_utils.models: decode, latent_dim, input_shape."""

    def __init__(self, latent_dim: int, input_shape: tuple[int, ...], softmax: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.input_shape = input_shape
        self.softmax = softmax
        self.linear = nn.Linear(latent_dim, int(np.prod(input_shape)))
        self.dropout = nn.Dropout(0.5)  # would make decoding random outside eval mode
        torch.nn.init.normal_(self.linear.weight, generator=torch.Generator().manual_seed(0))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = self.dropout(self.linear(z))
        y = torch.softmax(y, dim=-1) if self.softmax else torch.sigmoid(y)
        return y.reshape(len(z), *self.input_shape)


def _find(widget, cls):
    """All descendants of an ipywidgets container that are instances of ``cls``."""
    found = [widget] if isinstance(widget, cls) else []
    for child in getattr(widget, "children", ()):
        found.extend(_find(child, cls))
    return found


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch):
    monkeypatch.delenv("MATAE_STATIC_WIDGETS", raising=False)


@pytest.fixture
def composition_model():
    return LinearDecoder(3, (len(ELEMENTS),), softmax=True)


# -------------------------------------------------------------------- live widget path
def test_latent_explorer_sliders_update_the_output(composition_model):
    import ipywidgets

    composition_model.train()  # mode must be restored after decoding
    box = widgets.latent_explorer(
        composition_model,
        elements=ELEMENTS,
        property_fn=lambda z: z.sum(),
        formula_fn=lambda f: ELEMENTS[int(np.argmax(f))],
        z_range=(-2.0, 2.0),
        static=False,
    )
    assert isinstance(box, ipywidgets.Box)
    sliders = _find(box, ipywidgets.FloatSlider)
    assert len(sliders) == composition_model.latent_dim
    assert [(s.min, s.max, s.value) for s in sliders] == [(-2.0, 2.0, 0.0)] * 3
    (image,) = _find(box, ipywidgets.Image)
    (info,) = _find(box, ipywidgets.HTML)
    assert image.value[:4] == b"\x89PNG"
    assert "predicted property:</b> 0" in info.value
    first_png = image.value

    sliders[0].value = 1.5
    assert image.value != first_png
    assert "predicted property:</b> 1.5" in info.value
    with torch.no_grad():
        composition_model.eval()
        expected = composition_model.decode(torch.tensor([[1.5, 0.0, 0.0]]))[0].numpy()
        composition_model.train()
    assert f"formula:</b> {ELEMENTS[int(np.argmax(expected))]}" in info.value
    assert composition_model.training

    (reset,) = _find(box, ipywidgets.Button)
    reset.click()
    assert [s.value for s in sliders] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(("kind", "shape"), [("image", (1, 6, 6)), ("spectrum", (1, 20))])
def test_latent_explorer_images_and_spectra(kind, shape):
    import ipywidgets

    model = LinearDecoder(2, shape)
    box = widgets.latent_explorer(model, kind=kind, z0=[0.5, -0.5], static=False)
    sliders = _find(box, ipywidgets.FloatSlider)
    assert [s.value for s in sliders] == [0.5, -0.5]
    (image,) = _find(box, ipywidgets.Image)
    before = image.value
    sliders[1].value = 2.0
    assert image.value != before


def test_interpolation_explorer_slider(composition_model):
    import ipywidgets

    z_a, z_b = torch.zeros(3), torch.ones(1, 3)
    box = widgets.interpolation_explorer(
        composition_model,
        z_a,
        z_b,
        elements=ELEMENTS,
        property_fn=lambda z: float(z.sum()),
        static=False,
    )
    (slider,) = _find(box, ipywidgets.FloatSlider)
    (info,) = _find(box, ipywidgets.HTML)
    assert (slider.min, slider.max, slider.value) == (0.0, 1.0, 0.0)
    assert "predicted property:</b> 0" in info.value
    slider.value = 0.5  # z = 0.5 * (1, 1, 1)
    assert "predicted property:</b> 1.5" in info.value


# ------------------------------------------------------------------------- static path
def test_static_true_returns_a_figure_per_kind(composition_model):
    fig = widgets.latent_explorer(
        composition_model,
        elements=ELEMENTS,
        static=True,
        n_steps=5,
        property_fn=lambda z: float(z[0, 0]),
        formula_fn=lambda f: "LiFePO4",
    )
    assert isinstance(fig, Figure)
    main_axes = [ax for ax in fig.axes if ax.get_ylabel() == "fraction"]
    assert len(main_axes) == 3  # one row per latent dimension
    assert "LiFePO4" in main_axes[0].get_xlabel()
    assert len(main_axes[0].get_lines()) == len(ELEMENTS)
    np.testing.assert_allclose(main_axes[0].get_lines()[0].get_xdata(), np.linspace(-3, 3, 5))

    image_fig = widgets.latent_explorer(
        LinearDecoder(2, (1, 6, 6)), kind="image", static=True, n_steps=4
    )
    assert len(image_fig.axes) == 2 * 4
    assert all(len(ax.images) == 1 for ax in image_fig.axes)

    x_axis = np.linspace(10, 80, 20)
    spec_fig = widgets.latent_explorer(
        LinearDecoder(2, (1, 20)), kind="spectrum", x_axis=x_axis, static=True, n_steps=3
    )
    line = spec_fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), x_axis)


def test_static_interpolation_strip():
    model = LinearDecoder(2, (1, 6, 6))
    fig = widgets.interpolation_explorer(
        model, [0, 0], [1, 1], kind="image", static=True, n_steps=5
    )
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [f"t = {t:.2f}" for t in np.linspace(0, 1, 5)]
    with torch.no_grad():
        model.eval()
        expected = model.decode(torch.ones(1, 2))[0, 0].numpy()
    np.testing.assert_allclose(fig.axes[-1].images[0].get_array(), expected, rtol=1e-6)


def test_missing_ipywidgets_falls_back_to_a_figure(monkeypatch, composition_model):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now fails
    fig = widgets.latent_explorer(composition_model, elements=ELEMENTS)
    assert isinstance(fig, Figure)
    with pytest.warns(UserWarning, match="ipywidgets"):
        fig = widgets.interpolation_explorer(
            composition_model, [0, 0, 0], [1, 1, 1], elements=ELEMENTS, static=False
        )
    assert isinstance(fig, Figure)


def test_detection_rule(monkeypatch):
    # plain Python (no kernel): static
    assert widgets.use_static_widgets() is True
    assert widgets.use_static_widgets(False) is False
    # a live kernel: widgets, unless the environment variable asks for figures
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace(kernel=object()))
    assert widgets.use_static_widgets() is False
    monkeypatch.setenv("MATAE_STATIC_WIDGETS", "1")
    assert widgets.use_static_widgets() is True
    assert widgets.use_static_widgets(False) is False  # an explicit argument wins
    monkeypatch.setenv("MATAE_STATIC_WIDGETS", "0")
    assert widgets.use_static_widgets() is False
    # a terminal IPython has no kernel
    monkeypatch.setattr(IPython, "get_ipython", lambda: SimpleNamespace())
    assert widgets.use_static_widgets() is True
    with pytest.raises(TypeError, match="static"):
        widgets.use_static_widgets("yes")


# ------------------------------------------------------------------------------ errors
def test_bad_inputs_raise_clear_errors(composition_model):
    with pytest.raises(ValueError, match="elements"):
        widgets.latent_explorer(composition_model, static=True)
    with pytest.raises(ValueError, match="5 features"):
        widgets.latent_explorer(composition_model, elements=ELEMENTS[:3], static=True)
    with pytest.raises(ValueError, match="kind"):
        widgets.latent_explorer(composition_model, kind="graph", static=True)
    with pytest.raises(ValueError, match="z0 must have 3 values"):
        widgets.latent_explorer(composition_model, elements=ELEMENTS, z0=[0, 0], static=True)
    with pytest.raises(ValueError, match="inside z_range"):
        widgets.latent_explorer(composition_model, elements=ELEMENTS, z0=[5, 0, 0], static=True)
    with pytest.raises(ValueError, match="z_b must have 3 values"):
        widgets.interpolation_explorer(composition_model, [0, 0, 0], [1, 1], elements=ELEMENTS)
    with pytest.raises(ValueError, match="input_shape"):
        widgets.latent_explorer(composition_model, kind="image", static=True)
    with pytest.raises(TypeError, match="decode"):
        widgets.latent_explorer(nn.Linear(2, 2), static=True)
    with pytest.raises(ValueError, match="z_range"):  # the shared validator of _checks
        widgets.latent_explorer(composition_model, elements=ELEMENTS, z_range=(1, -1), static=True)
    with pytest.raises(TypeError, match="z_range"):
        widgets.latent_explorer(composition_model, elements=ELEMENTS, z_range="wide", static=True)
    with pytest.raises(ValueError, match="n_steps must be >= 2"):
        widgets.latent_explorer(composition_model, elements=ELEMENTS, n_steps=1, static=True)
    with pytest.raises(TypeError, match="n_steps"):
        widgets.interpolation_explorer(
            composition_model, [0, 0, 0], [1, 1, 1], elements=ELEMENTS, n_steps=2.5, static=True
        )


def test_composition_sweeps_differ_in_marker_as_well_as_colour(composition_model):
    fig = widgets.interpolation_explorer(
        composition_model, [0, 0, 0], [1, 1, 1], elements=ELEMENTS, static=True
    )
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in ELEMENTS]
    assert len(lines) >= 2
    styles = {(line.get_color(), line.get_marker()) for line in lines}
    assert len({marker for _, marker in styles}) == len(lines)  # one marker per element


# ------------------------------------------------------------------ latent map explorer
def _map_inputs():
    """A 2-D code on a 4 x 4 grid with one named row per code (formula, gap)."""
    import pandas as pd

    g = np.arange(4.0)
    Z = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)  # [16, 2]
    table = pd.DataFrame({"formula": [f"X{i}" for i in range(16)], "gap": np.arange(16.0)})
    return LinearDecoder(2, (3,)), Z, table


def test_latent_map_explorer_lists_the_nearest_samples_and_decodes_in_physical_units():
    import ipywidgets

    model, Z, table = _map_inputs()
    box = widgets.latent_map_explorer(
        model,
        Z,
        table,
        features=["a", "b", "c"],
        show=["b"],
        inverse_transform=lambda X: 100.0 * X,  # e.g. a scaler back to physical units
        labels={"b": "feature b (K)"},
        c=table["gap"],
        n_nearest=1,
        static=False,
    )
    sliders = _find(box, ipywidgets.FloatSlider)
    (info,) = _find(box, ipywidgets.HTML)
    assert len(sliders) == 2 and "feature b (K)" in info.value
    sliders[0].value, sliders[1].value = 0.0, 0.0
    assert "X0" in info.value and "X15" not in info.value
    expected = 100.0 * model.eval().decode(torch.zeros(1, 2))[0, 1].item()  # no dropout
    assert f"{expected:.3g}" in info.value
    sliders[0].value, sliders[1].value = 3.0, 3.0  # the far corner of the grid
    assert "X15" in info.value and "X0" not in info.value


def test_latent_map_explorer_static_figure_marks_the_probes():
    model, Z, table = _map_inputs()
    fig = widgets.latent_map_explorer(
        model,
        Z,
        table,
        features=["a", "b", "c"],
        show=["a", "c"],
        probes=[[0, 0], [3, 3]],
        static=True,
    )
    assert isinstance(fig, Figure)
    ax_map, ax_text = fig.axes[:2]
    assert [t.get_text() for t in ax_map.texts] == ["A", "B"]
    (tab,) = ax_text.tables  # decoded features x probes
    assert {cell.get_text().get_text() for cell in tab.get_celld().values()} >= {"A", "B", "a", "c"}
    lines = [t.get_text() for t in ax_text.texts]
    assert any(t.startswith("A: X0 (0)") for t in lines)
    assert any(t.startswith("B: X15 (15)") for t in lines)


def test_latent_map_explorer_rejects_bad_inputs():
    model, Z, table = _map_inputs()
    kw = dict(features=["a", "b", "c"], show=["a"], static=True)
    with pytest.raises(ValueError, match="2-D code"):
        widgets.latent_map_explorer(LinearDecoder(3, (3,)), np.zeros((16, 3)), table, **kw)
    with pytest.raises(ValueError, match="one row per code"):
        widgets.latent_map_explorer(model, Z, table.iloc[:5], **kw)
    with pytest.raises(ValueError, match="not in features"):
        widgets.latent_map_explorer(model, Z, table, **(kw | {"show": ["density"]}))
    with pytest.raises(ValueError, match="features has 2 names"):
        widgets.latent_map_explorer(model, Z, table, **(kw | {"features": ["a", "b"]}))
    with pytest.raises(TypeError, match="DataFrame"):
        widgets.latent_map_explorer(model, Z, table.to_numpy(), **kw)
    with pytest.raises(ValueError, match="n_nearest"):
        widgets.latent_map_explorer(model, Z, table, n_nearest=0, **kw)
