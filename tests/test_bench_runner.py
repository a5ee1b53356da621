"""Tests of ``make bench``'s runner (benchmarks/run.py) and the headline suite registry.

The suites themselves take minutes and run in ``make bench``, not here; these tests check the
plumbing: every registered suite exists, unknown names get a hint, the runtime budget fails
loudly and the Markdown table says which targets are missed.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import headline  # noqa: E402
import run  # noqa: E402


def test_every_registered_suite_is_a_documented_function():
    assert len(headline.SUITES) == len(set(headline.SUITES)) >= 5
    for name in headline.SUITES:
        suite = getattr(headline, name)
        assert callable(suite) and inspect.getdoc(suite), name
        # every parameter has a default: run.py calls each suite without arguments
        params = inspect.signature(suite).parameters.values()
        assert all(p.default is not inspect.Parameter.empty for p in params), name


def test_unknown_suite_names_a_close_match(capsys):
    with pytest.raises(SystemExit) as exc:
        run.main(["--suite", "anomly"])
    assert exc.value.code == 2
    assert "did you mean 'anomaly'" in capsys.readouterr().err


def test_budget_over_the_limit_fails_loudly_and_is_marked(tmp_path, monkeypatch, capsys):
    build = tmp_path / "_build"
    build.mkdir()
    times = {"book/slow": {"seconds": 150.0, "succeeded": True, "title": "A slow chapter"},
             "book/fast": {"seconds": 20.0, "succeeded": True, "title": "A fast chapter"}}
    (build / "notebook_times.json").write_text(json.dumps(times))
    graded = {"a9_demo": {"solution": {"seconds": 30.0, "score": 5, "possible": 5},
                          "starter": {"seconds": 3.0, "score": 0, "possible": 5}}}
    (build / "assignments-timings.json").write_text(json.dumps(graded))
    monkeypatch.setattr(run, "ROOT", tmp_path)
    out = tmp_path / "out"
    assert run.main(["--only", "budget", "--out", str(out)]) == 1
    assert "RUNTIME BUDGET BROKEN: notebook: A slow chapter" in capsys.readouterr().err
    results = json.loads((out / "results.json").read_text())
    rows = {r["name"]: r for r in results["groups"]["budget"]}
    assert rows["notebook: A slow chapter"]["holds"] is False
    assert rows["notebook: A fast chapter"]["holds"] is True
    assert rows["assignment a9_demo: solution run and graded"]["holds"] is True
    assert rows["assignment a9_demo: solution run and graded"]["value"] == 30.0
    table = (out / "results.md").read_text()
    assert "| notebook: A slow chapter | 150 s |" in table and "| no |" in table
    assert {"python", "torch", "matae_utils"} <= set(results["versions"])


def test_table_numbers_are_written_for_readers():
    assert run._fmt(0.000215) == "2.15 × 10⁻⁴"
    assert run._fmt(2.46e-05) == "2.46 × 10⁻⁵"
    assert run._fmt(0.0) == "0" and run._fmt(0.4661) == "0.466" and run._fmt(1083.0) == "1,083"
    assert run._fmt(True) == "yes" and run._fmt(None) == "-"
