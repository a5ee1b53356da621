"""Turn the hidden ``assert`` statements of chapter notebooks into ``mu.claim(...)`` calls.

A comparative sentence of a chapter is backed by a check in a hidden (``remove-cell``) cell. As a
bare ``assert`` it would stop "Run all" for a reader whose GPU or newer PyTorch trains a model a
little differently; ``mu.claim`` fails the book build (``MATAE_STRICT_CLAIMS=1``) but only warns
elsewhere. Usage::

    python scripts/claims.py book/04_characterization.ipynb [...]   # rewrites in place
    python scripts/claims.py --check book                            # exit 1 if any assert is left
"""

from __future__ import annotations

import argparse
import ast
import io
import sys
import tokenize
from pathlib import Path

import notebook_tools


def _comments(source: str) -> dict[int, str]:
    out = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            out[tok.start[0]] = tok.string.lstrip("#").strip()
    return out


def convert_source(source: str) -> str:
    """Replace every top-level-or-nested ``assert`` statement by ``mu.claim(test, sentence)``;
    the sentence is the assert's message, else its trailing comment, else its expression."""
    tree = ast.parse(source)
    comments = _comments(source)
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        test = ast.get_source_segment(source, node.test)
        if isinstance(node.msg, (ast.JoinedStr, ast.Constant)) and not (
                isinstance(node.msg, ast.Constant) and not isinstance(node.msg.value, str)):
            sentence = ast.get_source_segment(source, node.msg)
        else:  # the comment after it, or a comment line just above it, or the check itself
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            text = (comments.get(node.end_lineno)
                    or (above.lstrip("#").strip() if above.startswith("#") else "")
                    or " ".join(test.split()))
            sentence = repr(text.strip('"').strip("'"))
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        edits.append((start, end, f"mu.claim({test}, {sentence})"))
    for start, end, text in sorted(edits, reverse=True):
        source = source[:start] + text + source[end:]
    return source


def hidden_asserts(nb: dict) -> list[int]:
    found = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or "remove-cell" not in cell.get("metadata", {}).get(
                "tags", []):
            continue
        tree = ast.parse(notebook_tools.cell_source(cell))
        if any(isinstance(n, ast.Assert) for n in ast.walk(tree)):
            found.append(i)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    paths = [q for p in args.paths for q in (sorted(p.rglob("*.ipynb")) if p.is_dir() else [p])]
    bad = 0
    for path in paths:
        nb = notebook_tools.load(path)
        cells = hidden_asserts(nb)
        if args.check:
            if cells:
                print(f"{path}: hidden assert in cells {cells}; run scripts/claims.py on it")
                bad += 1
            continue
        for i in cells:
            new = convert_source(notebook_tools.cell_source(nb["cells"][i]))
            nb["cells"][i]["source"] = new.splitlines(keepends=True)
        if cells:
            notebook_tools.save(nb, path)
            print(f"{path}: {len(cells)} cells converted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
