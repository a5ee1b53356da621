"""Tests of matae_utils.plotting: returned Axes, drawn artists, labels, untouched rcParams."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from dataclasses import dataclass, field  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from matae_utils import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _rcparams_untouched_and_figures_closed():
    before = dict(matplotlib.rcParams)
    yield
    after = dict(matplotlib.rcParams)
    changed = {k for k in before if before[k] != after[k] and not (k == "backend")}
    plt.close("all")
    assert not changed, f"rcParams changed: {changed}"


@dataclass
class FakeHistory:
    train: dict = field(default_factory=dict)
    val: dict = field(default_factory=dict)
    best_epoch: int = -1


def _history(n=10, best=6):
    epochs = np.arange(n)
    return FakeHistory(
        train={"loss": list(1 / (epochs + 1)), "kl": list(0.1 + 0.01 * epochs)},
        val={"loss": list(1.2 / (epochs + 1)), "kl": list(0.12 + 0.01 * epochs)},
        best_epoch=best,
    )


def _texts(ax):
    return {t.get_text(): t for t in ax.texts}


# ------------------------------------------------------------------------------ history
def test_plot_history_draws_train_solid_val_dashed_and_best_epoch():
    ax = plotting.plot_history(_history())
    assert isinstance(ax, Axes)
    by_label = {line.get_label(): line for line in ax.get_lines()}
    assert set(by_label) == {"train loss", "val loss", "train kl", "val kl", "best epoch (6)"}
    assert by_label["train loss"].get_linestyle() == "-"
    assert by_label["val loss"].get_linestyle() == "--"
    assert by_label["train loss"].get_color() == by_label["val loss"].get_color()
    np.testing.assert_array_equal(by_label["best epoch (6)"].get_xdata(), [6, 6])
    np.testing.assert_array_equal(by_label["train loss"].get_xdata(), np.arange(10))
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch"
    assert ax.get_legend() is not None


def test_plot_history_keys_order_and_existing_axes():
    fig, ax = plt.subplots()
    out = plotting.plot_history(_history(), ax=ax, keys=["kl"], logy=False)
    assert out is ax
    assert [line.get_label() for line in ax.get_lines()][:2] == ["train kl", "val kl"]
    assert ax.get_yscale() == "linear"
    # default order: "loss" first
    ax2 = plotting.plot_history(FakeHistory(train={"kl": [1.0], "loss": [2.0]}))
    assert ax2.get_lines()[0].get_label() == "train loss"


def test_plot_history_without_validation_and_negative_values():
    history = FakeHistory(train={"loss": [1.0, -0.5, -1.0]}, best_epoch=-1)
    with pytest.warns(UserWarning, match="linear"):
        ax = plotting.plot_history(history)
    assert ax.get_yscale() == "linear"
    assert [line.get_label() for line in ax.get_lines()] == ["train loss"]


def test_plot_history_errors():
    with pytest.raises(TypeError, match="History"):
        plotting.plot_history({"train": {}})
    with pytest.raises(ValueError, match="available"):
        plotting.plot_history(_history(), keys=["recon"])
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_history(FakeHistory())


# ------------------------------------------------------------------------------- latent
def test_plot_latent_continuous_colour_bar():
    rng = np.random.default_rng(0)
    Z = torch.as_tensor(rng.normal(size=(50, 4)))
    c = rng.random(50)
    ax = plotting.plot_latent(Z, c=c, cbar_label="band gap (eV)")
    (sc,) = ax.collections
    np.testing.assert_allclose(sc.get_offsets(), Z[:, :2].numpy())  # first two dims
    np.testing.assert_allclose(sc.get_array(), c)
    assert sc.get_cmap().name == "viridis"
    cbar_axes = [a for a in ax.figure.axes if a is not ax]
    assert len(cbar_axes) == 1 and cbar_axes[0].get_ylabel() == "band gap (eV)"
    assert ax.get_xlabel() == "$z_1$" and ax.get_ylabel() == "$z_2$"


def test_plot_latent_categorical_legend():
    Z = np.arange(12.0).reshape(6, 2)
    labels = ["oxide", "metal", "oxide", "nitride", "metal", "oxide"]
    ax = plotting.plot_latent(Z, labels=labels)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["oxide", "metal", "nitride"]
    assert [len(coll.get_offsets()) for coll in ax.collections] == [3, 2, 1]
    assert len(ax.figure.axes) == 1  # no colour bar
    # categories differ in shape too, so the legend reads in grey scale
    markers = [coll.get_paths()[0].vertices.tobytes() for coll in ax.collections]
    assert len(set(markers)) == 3


def test_plot_latent_errors():
    with pytest.raises(ValueError, match="latent_dim >= 2"):
        plotting.plot_latent(np.zeros((5, 1)))
    with pytest.raises(ValueError, match="not both"):
        plotting.plot_latent(np.zeros((5, 2)), c=np.zeros(5), labels=np.zeros(5))
    with pytest.raises(ValueError, match="one value per row"):
        plotting.plot_latent(np.zeros((5, 2)), c=np.zeros(4))
    with pytest.raises(TypeError, match="Axes"):
        plotting.plot_latent(np.zeros((5, 2)), ax="left")


# ----------------------------------------------------------------------- reconstructions
def test_plot_reconstructions_grid():
    rng = np.random.default_rng(0)
    x = rng.random((5, 1, 8, 8))
    x_hat = x * 0.5
    axes = plotting.plot_reconstructions(x, x_hat, n=3)
    assert axes.shape == (2, 3)
    assert all(len(ax.images) == 1 for ax in axes.ravel())
    np.testing.assert_allclose(axes[0, 1].images[0].get_array(), x[1, 0])
    np.testing.assert_allclose(axes[1, 1].images[0].get_array(), x_hat[1, 0])
    # both images of a column share the colour scale
    assert axes[0, 2].images[0].get_clim() == axes[1, 2].images[0].get_clim()
    assert axes[0, 0].get_ylabel() == "input" and axes[1, 0].get_ylabel() == "reconstruction"


def test_plot_reconstructions_rejects_non_finite_images():
    x = np.zeros((2, 4, 4))
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        plotting.plot_reconstructions(x, bad)
    with pytest.raises(ValueError, match=r"\[N, 1, H, W\]"):
        plotting.plot_reconstructions(np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 4, 4)))


def test_plot_reconstructions_caps_n_and_accepts_axes():
    x = np.zeros((2, 4, 4))
    fig, axes = plt.subplots(2, 2)
    out = plotting.plot_reconstructions(x, x, n=8, axes=axes, titles=("a", "b"))
    assert out.shape == (2, 2) and out[0, 0] is axes[0, 0]
    with pytest.raises(ValueError, match="same shape"):
        plotting.plot_reconstructions(x, np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"axes must have shape \[2, 2\]"):
        plotting.plot_reconstructions(x, x, axes=plt.subplots(1, 2)[1])


# ------------------------------------------------------------------------------- spectra
def test_plot_spectra_overlays_with_offset():
    two_theta = np.linspace(10, 80, 50)
    x = np.stack([np.sin(two_theta / 5) + 1, np.cos(two_theta / 7) + 1])  # [2, 50]
    ax = plotting.plot_spectra(x[:, None], x[:, None] * 0.9, x_axis=two_theta, offset=3.0)
    lines = ax.get_lines()
    assert len(lines) == 4
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "--"]
    np.testing.assert_allclose(lines[0].get_xdata(), two_theta)
    np.testing.assert_allclose(lines[2].get_ydata(), x[1] + 3.0)
    assert ax.get_xlabel() == "2$\\theta$ (deg)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["original", "reconstruction"]


def test_plot_spectra_labels_stay_inside_the_right_edge():
    two_theta = np.linspace(10, 80, 200)
    x = np.stack([np.exp(-((two_theta - c) ** 2)) for c in (30, 45, 78)])  # a peak at 78 deg
    labels = ["TiO2 (" + plotting.format_space_group("P4_2/mnm") + ")", "Cu (Fm-3m)", "W"]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    plotting.plot_spectra(x, x_axis=two_theta, ax=ax, labels=labels)
    assert [t.get_text() for t in ax.texts] == labels
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    right = ax.get_window_extent(renderer).x1
    for text in ax.texts:
        assert text.get_window_extent(renderer).x1 <= right  # never cut at the right edge
        assert text.get_ha() == "right"
    assert "$" not in labels[0] and "_" not in labels[0]
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_spectra(x, x_axis=two_theta, labels=["one"])


def test_format_space_group_writes_subscripts_and_bars_as_text():
    assert plotting.format_space_group("P4_2/mnm") == "P4\u2082/mnm"
    assert plotting.format_space_group("P6_3/mmc") == "P6\u2083/mmc"
    assert plotting.format_space_group("Fm-3m") == "Fm3\u0305m"
    assert plotting.format_space_group("P2_1/c") == "P2\u2081/c"
    assert plotting.format_space_group("Pnma") == "Pnma"
    with pytest.raises(TypeError, match="string"):
        plotting.format_space_group(136)
    # plain text: no "$" that matplotlib would parse as mathtext, no literal "_"
    for symbol in ("I4_1/amd", "P4_2/mnm", "R-3c"):
        assert not set("$_-") & set(plotting.format_space_group(symbol))


def test_plot_spectra_single_signal_and_errors():
    ax = plotting.plot_spectra(np.arange(10.0), xlabel="energy (eV)", ylabel="counts")
    assert len(ax.get_lines()) == 1 and ax.get_legend() is None
    assert ax.get_xlabel() == "energy (eV)" and ax.get_ylabel() == "counts"
    with pytest.raises(ValueError, match="x_axis"):
        plotting.plot_spectra(np.zeros((2, 10)), x_axis=np.arange(9))
    with pytest.raises(ValueError, match="same shape"):
        plotting.plot_spectra(np.zeros((2, 10)), np.zeros((3, 10)))


# ------------------------------------------------------------------------ periodic table
def test_periodic_table_positions_and_colours():
    values = {"Fe": 2.0, "O": 1.0, "La": 3.0, "Th": np.nan}
    ax = plotting.plot_periodic_table(values, cbar_label="count")
    texts = _texts(ax)
    assert texts["Fe"].get_position()[0] == 8  # group 8
    assert texts["Fe"].get_position()[1] == pytest.approx(4, abs=0.2)  # row 4 (symbol above value)
    assert texts["O"].get_position()[0] == 16
    assert texts["La"].get_position() == pytest.approx((3, 8.5 + plotting._SYMBOL_SHIFT))
    assert texts["U"].get_position() == (6, 9.5)  # Ac=3, Th, Pa, U=6; grey, no value
    assert "2.00" in texts and "3.00" in texts
    grey, coloured = [c for c in ax.collections if isinstance(c, PatchCollection)]
    assert len(coloured.get_paths()) == 3  # Fe, O, La; NaN counts as missing
    assert len(grey.get_paths()) == 118 - 3
    np.testing.assert_allclose(grey.get_facecolor()[0], to_rgba(plotting.MISSING_COLOR))
    np.testing.assert_allclose(coloured.get_array(), [2.0, 1.0, 3.0])
    fe_cell = coloured.get_paths()[0].get_extents()  # Fe's coloured cell: group 8, row 4
    assert (fe_cell.x0, fe_cell.x1, fe_cell.y0, fe_cell.y1) == (7.5, 8.5, 3.5, 4.5)
    assert coloured.get_cmap().name == "viridis"
    # the colour bar is an inset in the gap above groups 3-12, not beside the table
    assert [a for a in ax.figure.axes if a is not ax] == []
    (cbar,) = ax.child_axes
    assert cbar.get_title() == "count"
    ax.figure.canvas.draw()
    bar = cbar.get_window_extent()
    left, _ = ax.transData.transform((3.5, 1.0))
    right, top = ax.transData.transform((12.5, 0.5))
    _, bottom = ax.transData.transform((12.5, 3.5))
    assert left <= bar.x0 and bar.x1 <= right and bottom <= bar.y0 and bar.y1 <= top


def test_periodic_table_text_is_legible_at_page_width():
    """Default figure (8 in) shown at the 7.5-in page width: every text >= ~9 pt."""
    values = {el: float(i) for i, el in enumerate(["H", "Fe", "O", "La", "U"])}
    ax = plotting.plot_periodic_table(values, fmt=".1f", cbar_label="count")
    width = ax.figure.get_size_inches()[0]
    scale = min(1.0, 7.5 / width)
    sizes = [t.get_fontsize() for t in ax.texts if t.get_text() not in ("57-71", "89-103")]
    assert min(sizes) * scale >= 8.8
    fig, small = plt.subplots(figsize=(4, 2.2))  # a small axes gets smaller, but scaled, text
    plotting.plot_periodic_table(values, ax=small)
    assert max(t.get_fontsize() for t in small.texts) < max(sizes)


def test_periodic_table_errors():
    with pytest.raises(ValueError, match="unknown element"):
        plotting.plot_periodic_table({"Xx": 1.0})
    with pytest.raises(ValueError, match="unknown element"):
        plotting.plot_periodic_table({"fe": 1.0})
    with pytest.raises(ValueError, match="numbers"):
        plotting.plot_periodic_table({"Fe": "a lot"})


# --------------------------------------------------------------------------- composition
def test_plot_composition_sorted_top_bars():
    elements = ["Li", "Fe", "P", "O", "Mn"]
    fractions = torch.tensor([[0.1, 0.15, 0.15, 0.55, 0.05]])
    ax = plotting.plot_composition(fractions, elements, top=3)
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.55, 0.15, 0.15])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["O", "Fe", "P"]
    assert ax.get_ylabel() == "fraction"
    with pytest.raises(ValueError, match="match elements"):
        plotting.plot_composition(np.zeros(4), elements)
