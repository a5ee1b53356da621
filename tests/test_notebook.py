"""Tests of matae_utils.notebook: seeds, setup, glue (with and without myst-nb), Colab detection."""

from __future__ import annotations

import random
import subprocess
import sys
from types import ModuleType

import matplotlib
import numpy as np
import pytest
import torch

from matae_utils import notebook


def test_set_seed_makes_every_generator_repeatable():
    notebook.set_seed(123)
    first = (torch.randn(3), np.random.rand(3), random.random())  # noqa: NPY002
    notebook.set_seed(123)
    second = (torch.randn(3), np.random.rand(3), random.random())  # noqa: NPY002
    assert torch.equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert first[2] == second[2]
    notebook.set_seed(124)
    assert not torch.equal(first[0], torch.randn(3))


@pytest.mark.parametrize(
    ("seed", "error"),
    [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError)],
)
def test_set_seed_rejects_bad_seeds(seed, error):
    with pytest.raises(error, match="seed"):
        notebook.set_seed(seed)


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_setup_seeds_picks_device_and_prints_versions(capsys, restore_threads):
    with matplotlib.rc_context():
        device = notebook.setup(seed=7)
    from matae_utils.training import get_device

    assert device == get_device("auto")  # the one place that decides CUDA > MPS > CPU
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    for name in (
        "Python",
        "matae_utils",
        "torch",
        "numpy",
        "scikit-learn",
        "pymatgen",
        "matminer",
        f"device: {device}",
        "seed: 7",
    ):
        assert name in out
    a = torch.randn(2)
    with matplotlib.rc_context():
        notebook.setup(seed=7, show_versions=False)
    assert torch.equal(a, torch.randn(2))
    assert capsys.readouterr().out == ""


def test_setup_applies_the_book_style_by_default_with_an_opt_out(restore_threads):
    with matplotlib.rc_context():
        matplotlib.rcParams["font.size"] = 7.0
        device = notebook.setup(seed=0, show_versions=False, device="cpu")
        for key, value in notebook.BOOK_STYLE.items():
            assert matplotlib.rcParams[key] == value or tuple(matplotlib.rcParams[key]) == value
    assert device == torch.device("cpu")
    with matplotlib.rc_context():
        matplotlib.rcParams["font.size"] = 7.0
        before = dict(matplotlib.rcParams)
        notebook.setup(seed=0, show_versions=False, readable_figures=False)
        assert dict(matplotlib.rcParams) == before  # global style untouched


def test_book_style_is_legible_at_page_width():
    """Every text size of the style is >= 9 pt when a 9-in figure fills a 7.5-in page."""
    from matplotlib.font_manager import FontProperties

    scale = 7.5 / 9.0
    with matplotlib.rc_context(notebook.BOOK_STYLE):
        for key in (
            "font.size",
            "axes.titlesize",
            "axes.labelsize",
            "xtick.labelsize",
            "ytick.labelsize",
            "legend.fontsize",
            "legend.title_fontsize",
            "figure.titlesize",
        ):
            size = FontProperties(size=matplotlib.rcParams[key]).get_size_in_points()
            assert size * scale >= 9.0, key
        assert matplotlib.rcParams["figure.figsize"][0] <= 7.5  # default figure fits the page
        assert matplotlib.rcParams["image.cmap"] == "viridis"


def test_setup_sets_one_cpu_thread_and_threads_none_leaves_them(restore_threads):
    torch.set_num_threads(2)
    notebook.setup(seed=0, show_versions=False, device="cpu", readable_figures=False)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)
    notebook.setup(seed=0, show_versions=False, device="cpu", threads=None, readable_figures=False)
    assert torch.get_num_threads() == 2
    notebook.setup(seed=0, show_versions=False, device="cpu", threads=2, readable_figures=False)
    assert torch.get_num_threads() == 2
    for bad, error in ((0, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="threads"):
            notebook.setup(seed=0, show_versions=False, threads=bad, readable_figures=False)


def test_setup_leaves_threads_alone_on_a_gpu(monkeypatch, restore_threads):
    from matae_utils import training

    monkeypatch.setattr(training, "get_device", lambda device="auto": torch.device("cuda"))
    torch.set_num_threads(2)
    device = notebook.setup(seed=0, show_versions=False, readable_figures=False)
    assert device.type == "cuda"
    assert torch.get_num_threads() == 2


class _FakeShell:
    kernel = object()

    def __init__(self):
        self.magics = []

    def run_line_magic(self, name, line):
        self.magics.append((name, line))


def test_setup_selects_the_inline_backend_only_in_a_kernel(monkeypatch, restore_threads):
    shell = _FakeShell()
    fake = ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    with matplotlib.rc_context():
        notebook.setup(seed=0, show_versions=False)
        assert shell.magics == [("matplotlib", "inline")]
        notebook.setup(seed=0, show_versions=False, inline=False)  # opt-out
        assert shell.magics == [("matplotlib", "inline")]
        fake.get_ipython = lambda: None  # IPython loaded, but no kernel (a script)
        notebook.setup(seed=0, show_versions=False)
        assert shell.magics == [("matplotlib", "inline")]


def test_setup_in_a_real_kernel_shows_figures_under_mplbackend_agg(tmp_path):
    """The regression of issue 9: with MPLBACKEND=Agg the built book had no figures."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    import os

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import os, matplotlib, torch\n"
            "import matae_utils as mu\n"
            "device = mu.setup(seed=0, show_versions=False)\n"
            "print(os.environ['MPLBACKEND'], matplotlib.get_backend(), "
            "torch.get_num_threads(), matplotlib.rcParams['font.size'])"
        ),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()"
        ),
        nbformat.v4.new_code_cell("plt.plot([0, 1], [0, 1]);"),  # no show(): flushed at the end
    ]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    old = dict(os.environ)
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = nb.cells[0].outputs[0]["text"].split()
    assert text[0] == "Agg"
    assert "inline" in text[1]
    assert text[2] == "1"
    assert float(text[3]) == notebook.BOOK_STYLE["font.size"]
    for cell in nb.cells[1:]:
        assert any("image/png" in out.get("data", {}) for out in cell.outputs)


# ------------------------------------------------------------------------- expect_error
def test_expect_error_shows_and_swallows_the_expected_error(capsys):
    with notebook.expect_error(ValueError) as caught:
        print("before")
        int("three")
    captured = capsys.readouterr()
    assert captured.out == "before\n"
    assert captured.err == "ValueError: invalid literal for int() with base 10: 'three'\n"
    assert isinstance(caught.value, ValueError)
    with notebook.expect_error(TypeError, LookupError) as caught:  # a subclass counts
        {}["missing"]
    assert isinstance(caught.value, KeyError)
    assert capsys.readouterr().err == "KeyError: 'missing'\n"


def test_expect_error_fails_loudly_without_the_expected_error():
    with pytest.raises(AssertionError, match="expected ValueError, but no exception"):
        with notebook.expect_error(ValueError):
            pass
    with pytest.raises(AssertionError, match="expected ValueError, got KeyError") as info:
        with notebook.expect_error(ValueError):
            {}["missing"]
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(KeyboardInterrupt):  # never swallowed, never turned into a failure
        with notebook.expect_error(ValueError):
            raise KeyboardInterrupt


@pytest.mark.parametrize("bad", [(), ("ValueError",), (ValueError("x"),), (int,)])
def test_expect_error_rejects_non_exception_arguments(bad):
    with pytest.raises(TypeError, match="exception class"):
        notebook.expect_error(*bad)


def test_expect_error_is_exported():
    import matae_utils as mu

    assert mu.expect_error is notebook.expect_error


def test_versions_reads_metadata_without_importing():
    info = notebook.versions()
    assert info["torch"] == str(torch.__version__)
    assert info["numpy"] == np.__version__
    code = (
        "import sys; from matae_utils import notebook; notebook.versions(); "
        "print([m for m in ('pymatgen', 'matminer', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_glue_delegates_to_myst_nb(monkeypatch):
    calls = []
    fake = ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    notebook.glue("mae", 0.123)
    notebook.glue("fig", "a figure", display=True)
    assert calls == [("mae", 0.123, False), ("fig", "a figure", True)]


def test_glue_passes_numpy_scalars_as_plain_numbers(monkeypatch):
    """myst-nb formats `{glue:text}`x:.2f`` only for Python numbers, not np.float64(...)."""
    import numpy as np

    calls = []
    fake = ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append(value)
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    notebook.glue("mae", np.float64(0.25))
    notebook.glue("n", np.int64(7))
    assert calls == [0.25, 7]
    assert type(calls[0]) is float and type(calls[1]) is int


def test_glue_without_myst_nb_only_displays_when_asked(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # `import myst_nb` now fails
    notebook.glue("mae", 0.123)
    assert capsys.readouterr().out == ""
    notebook.glue("mae", 0.123, display=True)
    assert "0.123" in capsys.readouterr().out


def test_glue_rejects_bad_names():
    with pytest.raises(TypeError, match="name"):
        notebook.glue("", 1)


def test_in_colab(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert notebook.in_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", ModuleType("google.colab"))
    assert notebook.in_colab() is True


def test_format_sci_writes_powers_of_ten_for_prose():
    assert notebook.format_sci(2.9e6) == "2.9 × 10⁶"
    assert notebook.format_sci(6.8e-08) == "6.8 × 10⁻⁸"
    assert notebook.format_sci(-0.000123, digits=1) == "-1 × 10⁻⁴"
    assert notebook.format_sci(3.21) == "3.2"
    assert notebook.format_sci(0.0) == "0"
    assert notebook.format_sci(np.float32(1.5e-12), digits=3) == "1.50 × 10⁻¹²"
    assert "e" not in notebook.format_sci(1.234e-5)
    with pytest.raises(ValueError):
        notebook.format_sci(float("nan"))
    with pytest.raises(ValueError):
        notebook.format_sci(1.0, digits=0)
    with pytest.raises(TypeError):
        notebook.format_sci("1e-3")


def test_claim_warns_by_default_and_raises_where_the_book_is_built(monkeypatch):
    import warnings

    from matae_utils.notebook import ClaimWarning, claim

    monkeypatch.delenv("MATAE_STRICT_CLAIMS", raising=False)
    assert claim(1 < 2, "one is less than two") is True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert claim(2 < 1, "two is less than one") is False
    assert caught and issubclass(caught[0].category, ClaimWarning)
    assert "two is less than one" in str(caught[0].message)
    monkeypatch.setenv("MATAE_STRICT_CLAIMS", "1")
    with pytest.raises(AssertionError, match="two is less than one"):
        claim(2 < 1, "two is less than one")
    assert claim(True, "fine") is True
