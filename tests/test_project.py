"""Project-level checks: packaging, the two commands, notebooks rules, dependency files in sync."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import notebook_tools
import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _req_name(req: str) -> str:
    return re.split(r"[<>=!~\[; ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _toc_files() -> list[str]:
    """Docnames of ``_toc.yml`` in reading order (the Colab-edition generator's reader)."""
    import colab_edition

    return colab_edition.toc_docs(ROOT)


def _resolve(doc: str) -> Path:
    for suffix in ("", ".md", ".ipynb"):
        path = ROOT / f"{doc}{suffix}"
        if path.is_file():
            return path
    raise FileNotFoundError(doc)


def _notebooks(include_assignments: bool = False) -> list[Path]:
    """The book's notebooks; assignment sources (book/assignments, with solutions) only if asked:
    they are no pages, so the toc and README checks skip them, the notebook rules do not."""
    nbs = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if "_build" not in p.parts)
    return nbs if include_assignments else [
        p for p in nbs if (ROOT / "book" / "assignments") not in p.parents]


# --------------------------------------------------------------------------------- packaging
def test_single_version_string_is_exposed():
    import matae_utils

    assert re.fullmatch(r"\d+\.\d+\.\d+", matae_utils.__version__)
    assert _pyproject()["project"]["dynamic"] == ["version"]
    from importlib.metadata import version

    assert version("matae_utils") == matae_utils.__version__


def test_import_is_lazy():
    """`import matae_utils` loads none of its submodules and no heavy library (torch, pymatgen,
    matminer, ...): they are imported on first use. Structural, so a loaded machine cannot flake it;
    the import time itself is measured by the benchmarks."""
    code = (
        "import sys; before = set(sys.modules); import matae_utils; "
        "new = sorted(set(sys.modules) - before); print(repr(new))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    new = ast.literal_eval(out.stdout)  # a list of module names
    assert "matae_utils" in new
    heavy = ("torch", "pymatgen", "matminer", "smact", "ipywidgets", "sklearn", "numpy", "pandas",
             "matplotlib", "scipy")
    assert [m for m in new if m.split(".")[0] in heavy] == []
    assert [m for m in new if m.startswith("matae_utils.")] == []


def test_every_public_name_resolves():
    import matae_utils

    missing = []
    for name in matae_utils._EXPORTS:
        try:
            getattr(matae_utils, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing


def test_unknown_attribute_raises_attribute_error():
    import matae_utils

    with pytest.raises(AttributeError, match="no attribute 'does_not_exist'"):
        matae_utils.does_not_exist  # noqa: B018


def test_wheel_contains_package_data(tmp_path):
    """Bundled datasets (and shipped weights) must be inside the wheel, not only in the checkout."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("matae_utils-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [p.relative_to(ROOT).as_posix() for p in (ROOT / "matae_utils").rglob("*")
               if p.is_file() and p.suffix in {".gz", ".json", ".pt", ".md"}]
    assert shipped, "no package data found in matae_utils/"
    assert not [s for s in shipped if s not in names]
    assert "matae_utils/__init__.py" in names


# ----------------------------------------------------------------- dependency files in sync
def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project_lines = [r for r in pip_section if r.startswith("-e")]
    assert project_lines == ["-e .[book,dev]"]
    env_reqs = sorted(r for r in pip_section if not r.startswith("-e"))
    py_reqs = sorted(_pyproject()["project"]["dependencies"])
    assert env_reqs == py_reqs, "environment.yml and pyproject.toml list different dependencies"


def test_runtime_dependencies_have_lower_bounds_only():
    for req in _pyproject()["project"]["dependencies"]:
        assert ">=" in req and "<" not in req.replace("<=", "") and "==" not in req, req


def test_ci_pins_the_local_torch_wheel_and_calls_make_test():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "torch==2.13.0" in ci
    assert "TORCH_REQUIREMENT" in (ROOT / "Makefile").read_text()


# ------------------------------------------------------------------------ book structure
def test_toc_files_exist_and_no_orphan_notebooks():
    docs = _toc_files()
    paths = [_resolve(d) for d in docs]
    in_toc = {p.resolve() for p in paths}
    orphans = [p for p in _notebooks() if p.resolve() not in in_toc]
    assert not orphans, f"notebooks missing from _toc.yml: {orphans}"


@pytest.mark.parametrize("path", _notebooks(include_assignments=True), ids=lambda p: p.name)
def test_notebook_follows_the_rules(path):
    """No outputs, no execution counts, the standard setup cell first, no absolute paths."""
    nb = notebook_tools.load(path)
    assert notebook_tools.problems(nb) == []
    sources = "\n".join(notebook_tools.cell_source(c) for c in nb["cells"])
    for pattern in (r"(?<![\w.])/(home|work|root|Users|tmp)/", r"[A-Za-z]:\\\\"):
        assert not re.search(pattern, sources), f"absolute path in {path.name}"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


#: What only the setup cell may do: chapters that change global state break the next cells' fonts,
#: threads or tracebacks in ways a reader cannot see (CHAPTER_GUIDE.md, "Conventions").
GLOBAL_STATE = re.compile(r"set_num_threads|%xmode|rcParams\[|rcParams\.update|matplotlib\.use\(")


def global_state_problems(nb: dict) -> list[str]:
    problems = []
    for i, cell in enumerate(nb["cells"]):
        src = notebook_tools.cell_source(cell)
        if cell["cell_type"] == "code" and GLOBAL_STATE.search(src):
            problems.append(f"cell {i} changes global state: {GLOBAL_STATE.search(src).group()}")
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            problems.append(f"cell {i} is tagged raises-exception (use mu.expect_error)")
    return problems


@pytest.mark.parametrize("path", _notebooks(include_assignments=True), ids=lambda p: p.name)
def test_notebook_leaves_global_state_to_the_setup_cell(path):
    assert global_state_problems(notebook_tools.load(path)) == []


def test_global_state_check_catches_threads_xmode_and_error_tags():
    cell = {"cell_type": "code", "metadata": {}, "source": "torch.set_num_threads(1)"}
    assert global_state_problems({"cells": [cell]})
    cell = {"cell_type": "code", "metadata": {}, "source": "%xmode Minimal"}
    assert global_state_problems({"cells": [cell]})
    cell = {"cell_type": "code", "metadata": {"tags": ["raises-exception"]}, "source": "1/0"}
    assert global_state_problems({"cells": [cell]})
    cell = {"cell_type": "code", "metadata": {}, "source": "with mu.expect_error(ValueError): f()"}
    assert global_state_problems({"cells": [cell]}) == []


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_hidden_checks_of_the_text_use_claim(path):
    """A hidden check of a sentence is ``mu.claim`` (fails the book build, warns in a reader's
    Colab), never a bare ``assert`` that would stop "Run all" on other hardware."""
    import claims

    assert claims.hidden_asserts(notebook_tools.load(path)) == []


def test_claims_converter_keeps_the_check_and_finds_the_sentence():
    import claims

    src = 'x = 2\nassert x > 1  # "x exceeds one"\nassert x < 3, "x is small"\n'
    out = claims.convert_source(src)
    assert "mu.claim(x > 1, 'x exceeds one')" in out and 'mu.claim(x < 3, "x is small")' in out
    assert "assert" not in out.replace("# ", "")


def test_rules_catch_outputs_and_missing_setup_cell():
    """The notebook checker itself fails on the mistakes it is meant to catch."""
    good = {
        "cells": [{"cell_type": "code", "source": notebook_tools.SETUP_CELL, "outputs": [],
                   "execution_count": None, "metadata": {"tags": ["hide-input"]}}],
        "metadata": {},
    }
    assert notebook_tools.problems(good) == []
    with_output = yaml.safe_load(yaml.safe_dump(good))
    with_output["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    assert any("outputs" in p for p in notebook_tools.problems(with_output))
    no_setup = yaml.safe_load(yaml.safe_dump(good))
    no_setup["cells"][0]["source"] = "import matae_utils"
    assert any("setup cell" in p for p in notebook_tools.problems(no_setup))
    untagged = yaml.safe_load(yaml.safe_dump(good))
    untagged["cells"][0]["metadata"] = {}
    assert any("tags" in p for p in notebook_tools.problems(untagged))


def test_clean_strips_outputs():
    nb = {"cells": [{"cell_type": "code", "source": "1", "execution_count": 3,
                     "outputs": [{"output_type": "execute_result"}], "metadata": {"execution": {}}}],
          "metadata": {"widgets": {}}}
    notebook_tools.clean(nb)
    assert nb["cells"][0]["outputs"] == [] and nb["cells"][0]["execution_count"] is None
    assert "widgets" not in nb["metadata"] and "execution" not in nb["cells"][0]["metadata"]


def test_readme_documents_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make book" in readme and "make test" in readme
    for nb in _notebooks():
        assert nb.name in readme, f"README does not list {nb.name}"


def test_code_passes_ruff():
    """The package, tests, scripts and benchmarks are lint-clean (config in pyproject.toml)."""
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    proc = subprocess.run(
        [str(ruff), "check", "matae_utils", "tests", "scripts", "benchmarks"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
