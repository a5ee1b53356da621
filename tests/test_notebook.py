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


def test_setup_seeds_picks_device_and_prints_versions(capsys):
    with matplotlib.rc_context():
        before = dict(matplotlib.rcParams)
        device = notebook.setup(seed=7)
        assert dict(matplotlib.rcParams) == before  # global style untouched by default
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
    notebook.setup(seed=7, verbose=False)
    assert torch.equal(a, torch.randn(2))
    assert capsys.readouterr().out == ""


def test_setup_explicit_cpu_and_readable_figures():
    with matplotlib.rc_context():
        device = notebook.setup(seed=0, verbose=False, device="cpu", readable_figures=True)
        assert matplotlib.rcParams["font.size"] == notebook.READABLE_RC["font.size"]
    assert device == torch.device("cpu")


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
