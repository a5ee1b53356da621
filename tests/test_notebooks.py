"""Every chapter notebook runs top to bottom, the way a reader runs it, within its time budget.

Notebooks execute with nbclient in their own folder with a fresh ``python3`` kernel (what Jupyter,
Colab and the book build do). Cells tagged ``raises-exception`` may raise; any other error fails the
test with the failing cell's traceback. The measured wall times are written to
``_build/notebook_times.json`` (``benchmarks/time_notebooks.py`` turns them into the runtime table).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if "_build" not in p.parts)
#: A chapter must execute in under 2 minutes on a 2-core CPU (DEVELOPERS.md, non-negotiable 4).
BUDGET_SECONDS = float(os.environ.get("MATAE_NOTEBOOK_BUDGET", "120"))
TIMES = ROOT / "_build" / "notebook_times.json"

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,  # per cell
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        allow_errors=False,
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start

    TIMES.parent.mkdir(exist_ok=True)
    times = json.loads(TIMES.read_text()) if TIMES.exists() else {}
    times[path.relative_to(ROOT).as_posix()] = round(seconds, 1)
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True))

    assert seconds < BUDGET_SECONDS, f"{path.name} took {seconds:.0f} s (budget {BUDGET_SECONDS:.0f} s)"
