"""``make bench``: the book's headline comparisons and micro-benchmarks, run outside the notebooks
from package code with the chapters' protocols, plus the runtime budget.

Writes ``benchmarks/results.json`` (machine-readable: value, baseline, target, whether it holds,
protocol, dataset, split, seed, package versions, machine) and ``benchmarks/results.md`` (the table
that the book's "Results at a glance" appendix includes). Exits with status 1, after writing
both, when the runtime budget is broken (a notebook over 120 s, the book build over 15 minutes or
`make test` over 25 minutes, as far as those were measured), so that a slower book fails loudly.
A headline target that is missed is reported in the table, not hidden, and does not fail the run:
the targets are aims, and the text of each chapter says where they are missed.

Usage::

    python benchmarks/run.py                 # everything (about 10 minutes on 2 cores)
    python benchmarks/run.py --only micro    # one group: micro, headline or budget
    python benchmarks/run.py --suite anomaly --suite design --out /tmp/bench
                                             # named suites only (any group), written elsewhere
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import micro  # noqa: E402

#: Runtime budget (DEVELOPERS.md and issue 19).
NOTEBOOK_BUDGET_S = 120.0
BOOK_BUILD_BUDGET_S = 15 * 60.0
MAKE_TEST_BUDGET_S = 25 * 60.0


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("matae_utils", "torch", "numpy", "scikit-learn", "pymatgen", "matminer", "smact"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _machine() -> dict[str, object]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None,)
    return {"platform": platform.platform(), "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_1min": None if load[0] is None else round(load[0], 1)}


# ------------------------------------------------------------------------------- headline
def _headline_suites() -> dict[str, Callable[[], list[dict]]]:
    """The headline comparison of each application chapter, from the package's own functions.

    Each returns rows with ``value``, ``baseline``, ``target``, ``holds``, ``protocol``,
    ``dataset``, ``split`` and ``seed``. A chapter whose evaluation function is not in the
    package yet simply has no suite.
    """
    suites: dict[str, Callable[[], list[dict]]] = {}
    import headline

    for name in headline.SUITES:
        suites[name] = getattr(headline, name)
    return suites


# --------------------------------------------------------------------------------- budget
def budget() -> list[dict]:
    """Notebook times measured by the last book build (``_build/notebook_times.json``, written
    by the build itself), and the book-build and ``make test`` durations if they were recorded."""
    rows = []
    times_file = ROOT / "_build" / "notebook_times.json"
    if not times_file.is_file():
        return [{"name": "notebook run times", "value": None, "unit": "s", "holds": None,
                 "protocol": "no _build/notebook_times.json: run `make book` or `make test` first"}]
    times = json.loads(times_file.read_text())
    for docname, info in sorted(times.items()):
        seconds = info["seconds"]
        rows.append({"name": f"notebook: {info['title']}", "value": seconds, "unit": "s",
                     "target": f"<= {NOTEBOOK_BUDGET_S:.0f} s",
                     "holds": seconds is not None and seconds <= NOTEBOOK_BUDGET_S,
                     "protocol": f"{docname}.ipynb executed by the book build (myst-nb)",
                     "budget": True})
    assignments = ROOT / "_build" / "assignments-timings.json"
    if assignments.is_file():
        for name, kinds in sorted(json.loads(assignments.read_text()).items()):
            solution = kinds.get("solution")
            if solution is None:
                continue
            seconds = solution["seconds"]
            rows.append({"name": f"assignment {name}: solution run and graded", "value": seconds,
                         "unit": "s", "target": f"<= {NOTEBOOK_BUDGET_S:.0f} s",
                         "holds": seconds <= NOTEBOOK_BUDGET_S,
                         "protocol": f"otter grading of the solution notebook in "
                                     f"tests/test_assignments.py ({solution['score']:g} of "
                                     f"{solution['possible']:g} points)",
                         "budget": True})
    for name, file, limit in (("book build", "book_build_seconds.json", BOOK_BUILD_BUDGET_S),
                              ("make test, fresh clone", "make_test_seconds.json",
                               MAKE_TEST_BUDGET_S)):
        path = ROOT / "_build" / file
        if path.is_file():
            seconds = json.loads(path.read_text())["seconds"]
            rows.append({"name": name, "value": seconds, "unit": "s",
                         "target": f"<= {limit / 60:.0f} min", "holds": seconds <= limit,
                         "protocol": f"recorded in _build/{file}", "budget": True})
    return rows


# ---------------------------------------------------------------------------------- output
def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != 0 and abs(value) < 1e-3:  # for readers: 2.15 × 10⁻⁴, never 2.15e-04
            from matae_utils.notebook import format_sci

            return format_sci(value, digits=3)
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def to_markdown(results: dict) -> str:
    lines = [f"Measured on {results['date']} on {results['machine']['cpus']} CPU cores "
             f"({results['machine']['platform']}), load {results['machine']['load_average_1min']}; "
             f"matae_utils {results['versions']['matae_utils']}, torch {results['versions']['torch']}.",
             ""]
    for group, rows in results["groups"].items():
        lines += [f"## {group.capitalize()}", "",
                  "| measure | value | baseline | target | holds | protocol |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            value = _fmt(row.get("value"))
            if row.get("std") is not None:
                value += f" ± {_fmt(row['std'])}"
            unit = f" {row['unit']}" if row.get("unit") and row.get("value") is not None else ""
            lines.append(f"| {row['name']} | {value}{unit} | {_fmt(row.get('baseline'))} | "
                         f"{row.get('target', '-')} | {_fmt(row.get('holds'))} | "
                         f"{row.get('protocol', '')} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["micro", "headline", "budget"], action="append")
    parser.add_argument("--suite", action="append", metavar="NAME",
                        help="run only this suite (repeatable), e.g. anomaly, compression, "
                             "design, denoising, property_prediction, featurization, budget")
    parser.add_argument("--out", type=Path, default=HERE,
                        help="directory for results.json and results.md (default: benchmarks/)")
    args = parser.parse_args(argv)
    groups: dict[str, dict[str, Callable[[], list[dict]]]] = {
        "headline": _headline_suites(),
        "micro": micro.ALL,
        "budget": {"budget": budget},
    }
    wanted = args.only or list(groups)
    if args.suite:
        known = [name for group in wanted for name in groups[group]]
        unknown = [name for name in args.suite if name not in known]
        if unknown:
            hints = "; ".join(
                f"{name!r}" + (f" (did you mean {close[0]!r}?)"
                               if (close := difflib.get_close_matches(name, known, n=1)) else "")
                for name in unknown)
            parser.error(f"unknown suite {hints}; available: {', '.join(known)}")
        groups = {group: {name: fn for name, fn in suites.items() if name in args.suite}
                  for group, suites in groups.items()}
        wanted = [group for group in wanted if groups[group]]
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "versions": _versions(), "machine": _machine(), "groups": {},
               "suite_seconds": {}}
    failures = []
    for group in wanted:
        rows: list[dict] = []
        for name, suite in groups[group].items():
            print(f"[{group}] {name} ...", flush=True)
            start = time.perf_counter()
            try:
                rows += [{"suite": name, **row} for row in suite()]
            except Exception:  # noqa: BLE001 - report the broken suite, run the others
                failures.append(name)
                rows.append({"suite": name, "name": f"{name}: FAILED", "value": None,
                             "protocol": traceback.format_exc(limit=3).splitlines()[-1]})
                traceback.print_exc()
            results["suite_seconds"][name] = round(time.perf_counter() - start, 1)
        results["groups"][group] = rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (args.out / "results.md").write_text(to_markdown(results))
    print(to_markdown(results))
    over = [r["name"] for r in results["groups"].get("budget", []) if r.get("holds") is False]
    if over:
        print("RUNTIME BUDGET BROKEN: " + "; ".join(over), file=sys.stderr)
    if failures:
        print("BENCHMARK SUITES FAILED: " + ", ".join(failures), file=sys.stderr)
    return 1 if over or failures else 0


if __name__ == "__main__":
    sys.exit(main())
