"""Generate the course assignments from their otter-grader sources (``make assignments``).

Every assignment is ONE source notebook ``book/assignments/<name>.ipynb`` in otter-grader's
Otter Assign format (a ``# ASSIGNMENT CONFIG`` raw cell, ``# BEGIN QUESTION`` / ``# BEGIN
SOLUTION`` / ``# BEGIN TESTS`` blocks, exception-based tests, hidden tests marked in each test's
config). This script runs ``otter assign`` on each source and writes, into ``--out``
(default ``_build/assignments``)::

    <name>/student/, <name>/autograder/     otter assign's own output (kept as it is)
    student/<name>-student.ipynb            the student version (the Colab branch's assignments/)
    handout/<name>-student.zip              the student version + its public tests, for a zip handout
    instructor/<name>-solution.ipynb        the instructor version (solutions, every check)
    grading/<name>-autograder.zip           the autograder (``otter run``, ``otter grade``, Gradescope)

Otter 7 refuses tests stored in notebook metadata on Colab (``Notebook.check`` raises there), so
the tests are written as files (``tests: files: true``) and this script embeds them in the
notebook's otter setup cell (``CHECKS = {...}``), which writes them to ``.checks/<name>/`` beside
the notebook before ``otter.Notebook(tests_dir=...)``: ``grader.check("q1")`` then works in Colab,
in Jupyter or in a zip handout with nothing but ``pip install otter-grader``. The student version
embeds only the public tests, the instructor version all of them. Nothing generated is edited by
hand or committed: re-run ``make assignments`` after changing a source.

The script refuses to write a student version that still contains solution code, a hidden test or
a rubric (:func:`leaks`).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "book" / "assignments"
#: Tag of the code cell whose ``CHECKS = {}`` line receives the embedded tests.
SETUP_TAG = "otter-setup"
CHECKS_LINE = re.compile(r"^CHECKS = \{\}.*$", flags=re.MULTILINE)


def sources(folder: Path = SOURCES) -> list[Path]:
    """The assignment source notebooks, in order (a1_..., a2_..., ...)."""
    return sorted(folder.glob("a[0-9]*.ipynb"))


def read_nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def write_nb(nb: dict, path: Path) -> None:
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def test_files(tests_dir: Path) -> dict[str, str]:
    """``{question: test file source}`` of an otter tests folder."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(tests_dir.glob("*.py"))
            if p.name != "__init__.py"}


def hidden_test_names(tests: dict[str, str]) -> list[str]:
    """Names of the test functions decorated with ``hidden=True`` in otter test files."""
    names = []
    for source in tests.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                for dec in node.decorator_list:
                    if isinstance(dec, ast.Call) and any(
                        k.arg == "hidden" and isinstance(k.value, ast.Constant) and k.value.value
                        for k in dec.keywords
                    ):
                        names.append(node.name)
    return names


def otter_version() -> str:
    """Version of the installed otter-grader (the one that generates the checks)."""
    from importlib.metadata import version

    return version("otter-grader")


def embed_checks(nb: dict, tests: dict[str, str]) -> dict:
    """Put ``tests`` into the otter setup cell's ``CHECKS = {}`` line (in place)."""
    cells = [c for c in nb["cells"] if SETUP_TAG in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise ValueError(f"expected one code cell tagged {SETUP_TAG!r}, found {len(cells)}")
    src = _source(cells[0])
    if not CHECKS_LINE.search(src):
        raise ValueError(f"the {SETUP_TAG!r} cell has no 'CHECKS = {{}}' line")
    literal = "CHECKS = " + json.dumps(tests, indent=1, ensure_ascii=False)
    # json string literals are valid Python string literals; the dict holds strings only
    ast.literal_eval(literal.split("=", 1)[1])
    src = CHECKS_LINE.sub(lambda _: literal, src, count=1)
    # the checks were written by this otter version: install exactly it where it is missing
    unpinned = '"--quiet", "otter-grader"]'
    if unpinned not in src:
        raise ValueError(f"the {SETUP_TAG!r} cell does not install otter-grader with {unpinned}")
    cells[0]["source"] = src.replace(unpinned, f'"--quiet", "otter-grader=={otter_version()}"]')
    meta = cells[0]["metadata"]
    meta.setdefault("jupyter", {})["source_hidden"] = True  # JupyterLab: collapsed input
    meta["cellView"] = "form"  # Colab: show the cell as a collapsed form
    return nb


def name_export(nb: dict, filename: str) -> dict:
    """Give otter's export cell the notebook's file name (in place): without it, otter cannot
    tell which notebook to export when a folder holds several."""
    for cell in nb["cells"]:
        src = _source(cell)
        if cell["cell_type"] == "code" and "grader.export(" in src:
            cell["source"] = src.replace("grader.export(", f'grader.export("{filename}", ', 1)
    return nb


def solution_lines(master: dict) -> list[str]:
    """Distinctive solution lines of a source notebook: the code between ``# BEGIN SOLUTION``
    and ``# END SOLUTION`` and the right-hand sides of ``# SOLUTION`` lines, except code that
    the notebook also hands out in its other cells."""
    out = []
    for cell in master["cells"]:
        if cell["cell_type"] != "code":
            continue
        inside = False
        for line in _source(cell).splitlines():
            stripped = line.strip()
            if stripped.startswith("# BEGIN SOLUTION"):
                inside = True
            elif stripped.startswith("# END SOLUTION"):
                inside = False
            elif inside and len(stripped) > 12 and not stripped.startswith("#"):
                out.append(stripped)
            elif re.search(r"# ?SOLUTION\s*$", line):
                out.append(line.split("=", 1)[-1].split("#")[0].strip())
    # code that is also handed out as it is (e.g. ``X_val.copy()`` in a given cell) is no leak
    given = "\n".join(_source(c) for c in master["cells"]
                       if c["cell_type"] == "code" and "SOLUTION" not in _source(c))
    return [s for s in out if len(s) > 8 and s not in given]


def leaks(student: dict, master: dict, hidden: list[str]) -> list[str]:
    """What a student notebook must not contain: solution code, hidden tests, rubrics."""
    text = "\n".join(_source(c) for c in student["cells"])
    # the public checks embedded in the setup cell may use the same calls as a solution
    answers = "\n".join(_source(c) for c in student["cells"]
                        if SETUP_TAG not in c.get("metadata", {}).get("tags", []))
    problems = [f"solution line {s!r}" for s in solution_lines(master) if s in answers]
    problems += [f"hidden test {h!r}" for h in hidden if h in text]
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "Rubric", "Model answer", "BEGIN TESTS"):
        if marker in text:
            problems.append(f"marker {marker!r}")
    return problems


def generate(source: Path, out: Path, *, run_tests: bool = False) -> dict[str, Path]:
    """Run otter assign on one source and write the distribution files; returns their paths."""
    name = source.stem
    dest = out / name
    if dest.exists():
        shutil.rmtree(dest)
    cmd = [sys.executable, "-m", "otter", "assign", "--no-pdfs"]
    if not run_tests:
        cmd.append("--no-run-tests")
    subprocess.run([*cmd, str(source), str(dest)], check=True, cwd=source.parent)

    master = read_nb(source)
    all_tests = test_files(dest / "autograder" / "tests")
    public_tests = test_files(dest / "student" / "tests")
    hidden = hidden_test_names(all_tests)
    leaked = hidden_test_names(public_tests)
    if leaked:
        raise RuntimeError(f"{name}: hidden tests in the student tests: {leaked}")

    student = embed_checks(read_nb(dest / "student" / f"{name}.ipynb"), public_tests)
    problems = leaks(student, master, hidden)
    if problems:
        raise RuntimeError(f"{name}: the student version leaks: {problems}")
    instructor = embed_checks(read_nb(dest / "autograder" / f"{name}.ipynb"), all_tests)

    paths = {
        "student": out / "student" / f"{name}-student.ipynb",
        "handout": out / "handout" / f"{name}-student.zip",
        "instructor": out / "instructor" / f"{name}-solution.ipynb",
        "autograder": out / "grading" / f"{name}-autograder.zip",
    }
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    write_nb(name_export(student, paths["student"].name), paths["student"])
    write_nb(name_export(instructor, paths["instructor"].name), paths["instructor"])
    with zipfile.ZipFile(paths["handout"], "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(paths["student"], paths["student"].name)
        for q, text in public_tests.items():
            zf.writestr(f"tests/{q}.py", text)
    (zipped,) = (dest / "autograder").glob(f"{name}-autograder_*.zip")
    shutil.copy(zipped, paths["autograder"])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="assignment names (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "assignments")
    parser.add_argument("--run-tests", action="store_true",
                        help="let otter assign execute each solution and run its tests (slow)")
    args = parser.parse_args(argv)
    chosen = [s for s in sources() if not args.names or s.stem in args.names]
    if args.names and len(chosen) != len(args.names):
        known = [s.stem for s in sources()]
        parser.error(f"unknown assignment in {args.names}; known: {known}")
    for source in chosen:
        paths = generate(source, args.out.resolve(), run_tests=args.run_tests)
        print(f"{source.stem}: " + ", ".join(str(p.relative_to(args.out.resolve()))
                                              for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
