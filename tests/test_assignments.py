"""Course assignments (issue 15): otter-grader sources, generated versions and grading.

Fast tests check the sources and the generator (``make assignments``): the student versions
contain no solution code, no hidden test and no rubric. Slow tests grade, with otter's own grading
API (non-containerized, as ``otter run`` does), each instructor version (every check passes),
each student version as handed out (every autograded check fails with an assertion message,
no crash) and one deliberately wrong submission per assignment (a partial score).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import time
from pathlib import Path

import assignments
import notebook_tools
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCES = assignments.sources()
NAMES = [p.stem for p in SOURCES]

#: One deliberately wrong submission per assignment: text replacements applied to the instructor
#: version (each must still run), and the questions that must lose points.
WRONG = {
    "a1_first_autoencoder": (
        [("settings = dict(epochs=60", "settings = dict(epochs=1"),  # (almost) untrained model
         ("np.argsort(per_descriptor_mse)[::-1][:5]", "np.argsort(per_descriptor_mse)[:5]")],
        {"q3", "q4"},
    ),
    "a2_latent_band_gap": (  # the forest learns from shuffled targets
        [("forest().fit(Z_fit, fold.y_fit)",
          "forest().fit(Z_fit, np.random.default_rng(0).permutation(fold.y_fit))")],
        {"q2"},
    ),
    "a3_anomaly_hunting": (  # threshold at the median: half the clean records flagged
        [("np.quantile(anomaly_score(ae, X_train), 0.99)",
          "np.quantile(anomaly_score(ae, X_train), 0.5)")],
        {"q3"},
    ),
    "a4_compression": (  # PCA fitted on the validation images; the shipped codec barely fine-tuned
        [('PCACodec(K_INT8, dtype="int8", clip=(0.0, 1.0)).fit(X_train)',
          'PCACodec(K_INT8, dtype="int8", clip=(0.0, 1.0)).fit(X_val)'),
         ("FINETUNE = dict(epochs=20", "FINETUNE = dict(epochs=1")],
        {"q2", "q3"},
    ),
    "a5_vae_design": (  # validity with SMACT's alloy shortcut instead of without
        [("mu.smact_valid(generated, alloys=False).mean()",
          "mu.smact_valid(generated, alloys=True).mean()")],
        {"q2"},
    ),
}


def _raw_cells(nb: dict, marker: str) -> list[str]:
    return [notebook_tools.cell_source(c) for c in nb["cells"]
            if c["cell_type"] == "raw" and notebook_tools.cell_source(c).lstrip().upper()
            .startswith(marker)]


# ----------------------------------------------------------------------------- sources (fast)
def test_there_are_assignment_sources():
    assert SOURCES, "no book/assignments/a*.ipynb"
    assert NAMES[0] == "a1_first_autoencoder"


@pytest.mark.parametrize("path", SOURCES, ids=NAMES)
def test_source_follows_the_book_and_otter_formats(path):
    nb = notebook_tools.load(path)
    assert notebook_tools.problems(nb) == []  # no outputs, the book's setup cell first
    (config,) = _raw_cells(nb, "# ASSIGNMENT CONFIG")
    config = yaml.safe_load(config)
    assert config["name"] == path.stem
    # tests as files (embedded by scripts/assignments.py): otter 7 refuses metadata tests on Colab
    assert config["tests"] == {"files": True, "ok_format": False}
    assert config["init_cell"] is False  # the notebook's own otter setup cell replaces otter's
    setup = [c for c in nb["cells"] if assignments.SETUP_TAG in c["metadata"].get("tags", [])]
    assert len(setup) == 1 and assignments.CHECKS_LINE.search(notebook_tools.cell_source(setup[0]))
    intro = notebook_tools.cell_source(nb["cells"][1])
    for needed in ("Learning goals", "Estimated time", "hidden checks"):
        assert needed in intro, f"{path.name}: the introduction does not state {needed!r}"
    questions = [yaml.safe_load(q) for q in _raw_cells(nb, "# BEGIN QUESTION")]
    manual = [q for q in questions if q.get("manual")]
    assert len(questions) - len(manual) >= 3, "at least three auto-checked questions"
    assert manual, "at least one hand-graded question"
    text = "\n".join(notebook_tools.cell_source(c) for c in nb["cells"])
    assert text.count("**Rubric") >= len(manual), "every hand-graded question has a rubric"
    tests = [notebook_tools.cell_source(c) for c in nb["cells"]
             if c["cell_type"] == "code" and "BEGIN TEST CONFIG" in notebook_tools.cell_source(c)]
    assert any("hidden: true" in t for t in tests) and any("hidden: false" in t for t in tests)
    for t in tests:  # exception-based test cells: a config, a function, a call to it
        body = ast.parse(t).body
        assert len(body) == 3 and isinstance(body[1], ast.FunctionDef), t[:200]


def test_leak_check_catches_solutions_hidden_tests_and_rubrics():
    master = {"cells": [
        {"cell_type": "code", "source": "x = compute_the_answer(42)  # SOLUTION"},
        {"cell_type": "code", "source": "# BEGIN SOLUTION\nmodel = build_the_model(7)\n# END SOLUTION"},
    ]}
    clean = {"cells": [{"cell_type": "code", "source": "x = ...\n..."}]}
    assert assignments.leaks(clean, master, ["test_secret"]) == []
    for bad in ("x = compute_the_answer(42)", "model = build_the_model(7)", "def test_secret():",
                "**Rubric (3 points).**"):
        assert assignments.leaks({"cells": [{"cell_type": "code", "source": bad}]}, master,
                                 ["test_secret"]), bad


# ------------------------------------------------------------------------- generator (fast)
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """``make assignments`` into a temporary folder (the install stamp is taken as up to date:
    the test environment is the installed one)."""
    out = tmp_path_factory.mktemp("assignments")
    subprocess.run(["make", "-o", ".venv/.matae-dev-installed", "assignments",
                    f"ASSIGNMENTS_OUT={out}"], cwd=ROOT, check=True, capture_output=True)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_make_assignments_writes_every_version(generated, name):
    for rel in (f"student/{name}-student.ipynb", f"handout/{name}-student.zip",
                f"instructor/{name}-solution.ipynb", f"grading/{name}-autograder.zip"):
        assert (generated / rel).is_file(), rel


def _embedded_checks(nb: dict) -> dict[str, str]:
    (cell,) = [c for c in nb["cells"] if assignments.SETUP_TAG in c["metadata"].get("tags", [])]
    src = notebook_tools.cell_source(cell)
    literal = src.split("CHECKS = ", 1)[1].split("\nchecks_dir", 1)[0]
    return ast.literal_eval(literal)


@pytest.mark.parametrize("name", NAMES)
def test_student_version_has_no_solutions_and_no_hidden_tests(generated, name):
    master = notebook_tools.load(ROOT / "book" / "assignments" / f"{name}.ipynb")
    student = notebook_tools.load(generated / "student" / f"{name}-student.ipynb")
    instructor = notebook_tools.load(generated / "instructor" / f"{name}-solution.ipynb")
    all_checks, public = _embedded_checks(instructor), _embedded_checks(student)
    hidden = assignments.hidden_test_names(all_checks)
    assert hidden and assignments.hidden_test_names(public) == []
    assert set(public) <= set(all_checks) and public, "the student version has public checks"
    text = "\n".join(notebook_tools.cell_source(c) for c in student["cells"]
                     if assignments.SETUP_TAG not in c["metadata"].get("tags", []))
    assert assignments.leaks(student, master, hidden) == []
    solutions = assignments.solution_lines(master)
    assert solutions and not [s for s in solutions if s in text]
    assert "hidden=True" not in text and "Rubric" not in text
    # the same solution lines are in the instructor version: the check above is not vacuous
    instructor_text = "\n".join(notebook_tools.cell_source(c) for c in instructor["cells"])
    assert all(s in instructor_text for s in solutions)
    assert not any(c.get("outputs") for c in student["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("name", NAMES)
def test_student_version_installs_the_otter_that_wrote_its_checks(generated, name):
    student = notebook_tools.load(generated / "student" / f"{name}-student.ipynb")
    (cell,) = [c for c in student["cells"] if assignments.SETUP_TAG in c["metadata"].get("tags", [])]
    src = notebook_tools.cell_source(cell)
    assert f'"otter-grader=={assignments.otter_version()}"' in src
    assert '"otter-grader"]' not in src


# ---------------------------------------------------------------------------- grading (slow)
def _grade(notebook: Path, autograder: Path) -> tuple[object, float]:
    import otter.api

    start = time.perf_counter()
    results = otter.api.grade_submission(str(notebook), str(autograder), quiet=True)
    return results, time.perf_counter() - start


def _failures(results) -> dict[str, list[str]]:
    out = {}
    for q in results.test_files:
        messages = [r.message for r in results.get_result(q).test_case_results if not r.passed]
        if messages:
            out[q] = messages
    return out


def _record(name: str, kind: str, results, seconds: float) -> None:
    path = ROOT / "_build" / "assignments-timings.json"
    path.parent.mkdir(exist_ok=True)
    data = json.loads(path.read_text()) if path.is_file() else {}
    data.setdefault(name, {})[kind] = {"seconds": round(seconds, 1), "score": results.total,
                                       "possible": results.possible}
    path.write_text(json.dumps(data, indent=1))


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_instructor_version_passes_every_check(generated, name, tmp_path):
    nb = tmp_path / f"{name}-solution.ipynb"
    nb.write_bytes((generated / "instructor" / nb.name).read_bytes())
    results, seconds = _grade(nb, generated / "grading" / f"{name}-autograder.zip")
    _record(name, "solution", results, seconds)
    assert _failures(results) == {}
    assert results.total == results.possible > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_student_version_fails_with_helpful_messages(generated, name, tmp_path):
    nb = tmp_path / f"{name}-student.ipynb"
    nb.write_bytes((generated / "student" / nb.name).read_bytes())
    results, seconds = _grade(nb, generated / "grading" / f"{name}-autograder.zip")
    _record(name, "starter", results, seconds)
    failures = _failures(results)
    assert results.total == 0 and set(failures) == set(results.test_files)
    for q, messages in failures.items():
        for m in messages:
            # an assertion written for students, not a TypeError/NameError from the test itself
            assert "AssertionError: " in m, f"{q}: unhelpful failure\n{m}"
            assert len(m.split("AssertionError: ", 1)[1].strip()) > 15, m


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_wrong_submission_gets_a_partial_score(generated, name, tmp_path):
    if name not in WRONG:
        pytest.fail(f"no wrong submission defined for {name}")
    edits, losing = WRONG[name]
    nb = notebook_tools.load(generated / "instructor" / f"{name}-solution.ipynb")
    text = json.dumps(nb)
    for old, new in edits:
        assert json.dumps(old)[1:-1] in text, old
        text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
    path = tmp_path / f"{name}-wrong.ipynb"
    path.write_text(text)
    results, seconds = _grade(path, generated / "grading" / f"{name}-autograder.zip")
    _record(name, "wrong", results, seconds)
    assert 0 < results.total < results.possible
    failures = _failures(results)
    assert set(failures) == losing, failures
    for messages in failures.values():
        assert all("AssertionError: " in m for m in messages), messages


def test_wrong_submission_table_covers_every_assignment():
    assert set(WRONG) == set(NAMES)
    assert all(re.fullmatch(r"q\d+", q) for _, losing in WRONG.values() for q in losing)
