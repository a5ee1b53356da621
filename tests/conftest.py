"""Shared pytest configuration for the matae test suite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # scripts/notebook_tools.py etc. for the project tests

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-network",
        action="store_true",
        default=False,
        help="also run tests marked `network` (they need internet access)",
    )
    parser.addoption(
        "--run-colab",
        action="store_true",
        default=False,
        help="also run tests marked `colab` (Run all of every Colab notebook from the wheel)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skips = {
        "network": (config.getoption("--run-network"),
                    "needs the network; run with --run-network"),
        # executes every chapter a second time (from the installed wheel, tags stripped): the
        # publishing workflow runs it; locally `make test-colab`
        "colab": (config.getoption("--run-colab"),
                  "Colab 'Run all' of every chapter again; run with --run-colab (make test-colab)"),
    }
    for item in items:
        for marker, (wanted, reason) in skips.items():
            if marker in item.keywords and not wanted:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny models on one thread (fastest; no oversubscription on 2 cores)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The whole book, built once per test session into a temporary folder (every notebook
    executed by myst-nb). Returns the exit code, the log and the build paths.

    ``MATAE_BOOK_BUILD=_build`` reuses an existing build (the folder that holds ``html/``, e.g.
    after ``make book``) instead, to run the page and browser checks quickly while writing."""
    existing = os.environ.get("MATAE_BOOK_BUILD")
    if existing:
        build = Path(existing).resolve()
        assert (build / "html" / "index.html").is_file(), f"no built book in {build}"
        return {"returncode": 0, "log": "", "build": build, "html": build / "html"}
    jb = Path(sys.executable).with_name("jupyter-book")
    found = str(jb) if jb.exists() else shutil.which("jupyter-book")
    assert found, "jupyter-book is not installed (pip install -e '.[book]')"
    out = tmp_path_factory.mktemp("book")
    start = time.perf_counter()
    proc = subprocess.run(
        [found, "build", str(ROOT), "--path-output", str(out), "--warningiserror", "--keep-going"],
        capture_output=True, text=True, cwd=ROOT, timeout=3600,
        # static figures instead of live widgets in the HTML (no kernel behind a web page)
        # a sentence the numbers do not bear out fails the build (mu.claim)
        env={**os.environ, "MATAE_STATIC_WIDGETS": "1", "MATAE_STRICT_CLAIMS": "1"},
    )
    seconds = time.perf_counter() - start
    if proc.returncode == 0:  # the runtime budget of `make bench` reads it
        (ROOT / "_build").mkdir(exist_ok=True)
        (ROOT / "_build" / "book_build_seconds.json").write_text(
            json.dumps({"seconds": round(seconds, 1)}))
    build = out / "_build"
    return {"returncode": proc.returncode, "log": proc.stdout + proc.stderr, "build": build,
            "html": build / "html"}
