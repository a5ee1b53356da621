"""Tools for the book's notebooks: the standard setup cell, output stripping, chapter skeletons.

Usage::

    python scripts/notebook_tools.py clean book          # strip outputs (run before committing)
    python scripts/notebook_tools.py check book          # exit 1 if a notebook breaks the rules

The rules (also enforced by ``tests/test_notebooks_static.py``): committed notebooks carry no outputs
and no execution counts, and their first code cell is exactly :data:`SETUP_CELL`, tagged
``hide-input`` so the HTML book hides the plumbing while Colab readers can still see it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def repository_url(root: Path = _ROOT) -> str:
    """``repository.url`` of ``_config.yml``, the one place where the repository URL is written
    (the launch buttons, the setup cell and the Colab edition read it; tests/test_colab.py checks
    the files that cannot read it: README.md, pyproject.toml, the chapters' badge lines)."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    return str(config["repository"]["url"]).rstrip("/")


#: Repository that Colab installs ``matae_utils`` from when it is missing.
REPO_URL = repository_url()

#: The first code cell of every chapter notebook.
SETUP_CELL = f'''# matae setup cell: installs matae_utils when it is missing (e.g. on Colab), fixes
# the random seeds, picks the device (GPU if available), gives PyTorch one CPU thread
# (fastest for small models), shows figures inline in the book's style, prints versions.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("matae_utils") is None:
    subprocess.check_call(
        [sys.executable, "-m", "pip", "install", "--quiet", "matae_utils @ git+{REPO_URL}"]
    )

import matae_utils as mu

device = mu.setup(seed=0)'''

SETUP_TAGS = ["hide-input"]


def load(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def save(nb: dict, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(nb, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def clean(nb: dict) -> dict:
    """Strip outputs, execution counts and volatile metadata (in place); returns the notebook."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        meta = cell.get("metadata", {})
        for key in ("execution", "collapsed", "scrolled", "ExecuteTime"):
            meta.pop(key, None)
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def problems(nb: dict) -> list[str]:
    """Return the rules a notebook breaks (empty list when it is fine)."""
    out = []
    code = [c for c in nb.get("cells", []) if c.get("cell_type") == "code"]
    if any(c.get("outputs") for c in code):
        out.append("has outputs (run `make clean-notebooks`)")
    if any(c.get("execution_count") is not None for c in code):
        out.append("has execution counts (run `make clean-notebooks`)")
    if not code:
        out.append("has no code cell")
    else:
        first = code[0]
        if cell_source(first).strip() != SETUP_CELL.strip():
            out.append("first code cell is not the standard setup cell (scripts/notebook_tools.py)")
        tags = first.get("metadata", {}).get("tags", [])
        if not set(SETUP_TAGS) <= set(tags):
            out.append(f"setup cell lacks the tags {SETUP_TAGS}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["clean", "check"])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    status = 0
    for path in sorted(args.folder.rglob("*.ipynb")):
        if "_build" in path.parts or ".ipynb_checkpoints" in path.parts:
            continue
        nb = load(path)
        if args.action == "clean":
            save(clean(nb), path)
            print(f"cleaned {path}")
        else:
            for problem in problems(nb):
                print(f"{path}: {problem}")
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
