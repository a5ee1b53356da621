"""Execute every chapter notebook the way a reader does and print its wall time.

Usage (from the repository root, inside the project's environment)::

    python benchmarks/time_notebooks.py            # all notebooks under book/
    python benchmarks/time_notebooks.py --cold     # with an empty featurization cache

Prints a Markdown table (notebook, seconds) and writes ``_build/notebook_times.json``. The book's
"How to use this book" page shows the times measured during the book build (``nb-exec-table``); this
script is for measuring on your own machine, e.g. before and after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def time_notebook(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="use an empty MATAE_CACHE")
    args = parser.parse_args()
    if args.cold:
        os.environ["MATAE_CACHE"] = tempfile.mkdtemp(prefix="matae-cache-")
    notebooks = sorted(p for p in (ROOT / "book").rglob("*.ipynb") if "_build" not in p.parts)
    times = {}
    print(f"| notebook | seconds ({os.cpu_count()} cores, {platform.processor() or 'cpu'}) |")
    print("| --- | --- |")
    for path in notebooks:
        seconds = time_notebook(path)
        times[path.relative_to(ROOT).as_posix()] = round(seconds, 1)
        print(f"| {path.name} | {seconds:.1f} |", flush=True)
    out = ROOT / "_build" / "notebook_times.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(times, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
