"""Bundled materials datasets: registry, loaders, citations and leakage-aware splits.

Three real datasets ship with the package as small gzip-compressed CSV snapshots, so every
chapter runs offline. They are described in one registry (``data/registry.json``, in the
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
sets, either average the repeats with :func:`deduplicate_formulas` or keep them and split by
group with :func:`group_train_test_split` / :func:`group_kfold`, using the reduced formulas
from :func:`reduced_formulas` as groups; otherwise the test score is inflated by compounds
seen during training.

The snapshots are read from the package's ``data`` directory; set the environment variable
``MATAE_DATA_DIR`` to read them from another directory (the expected hashes still come from
the packaged registry).
"""

from __future__ import annotations

import copy
import difflib
import gzip
import hashlib
import io
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
]

#: Environment variable that overrides the directory the snapshots are read from.
DATA_DIR_ENV = "MATAE_DATA_DIR"

_SOURCES = ("bundled", "matminer")
_AGGREGATIONS = ("mean", "median", "min", "max")
# Text columns are object (str values, NaN if missing) on every pandas version.
_DTYPES: dict[str, Any] = {"str": object, "float64": "float64", "int64": "int64"}
_MAX_LISTED = 10  # offending rows named in an error message


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
        close = difflib.get_close_matches(name, list(registry), n=3, cutoff=0.6)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"Unknown dataset {name!r}.{hint} Available: {available}.")
    return registry[name]


def list_datasets() -> list[str]:
    """Names of the bundled datasets, sorted.

    Returns:
        list[str]: e.g. ``["expt_gap", "perovskite_oxides", "steel_fatigue"]``.
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
        ``bibtex`` (list of BibTeX entries) and, when matminer has the same data,
        ``matminer_name``.

    Raises:
        ValueError: Unknown name (the message suggests close matches).
    """
    return copy.deepcopy(_entry(name))


def get_citation(name: str) -> str:
    """BibTeX of the paper(s) to cite when using a dataset.

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
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {_SOURCES}, got {source!r}")
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
    except (ValueError, TypeError, KeyError):
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
) -> pd.DataFrame:
    """One row per compound: group rows by reduced formula and aggregate the target.

    Averaging repeated measurements is what matbench does for its experimental band-gap
    task; it removes the leakage of the same compound sitting in train and test sets.

    Args:
        df (pandas.DataFrame): ``[n_rows, ...]`` table with a formula and a numeric target.
        formula_col (str): Column holding chemical formulas.
        target_col (str): Numeric column to aggregate.
        agg (str): ``"mean"`` (default), ``"median"``, ``"min"`` or ``"max"``.

    Returns:
        pandas.DataFrame: ``[n_compounds, 4]`` with columns ``formula`` (reduced formula),
        ``target_col`` (aggregated), ``n_measurements`` (rows merged) and
        ``f"{target_col}_std"`` (population standard deviation, ``ddof=0``: 0.0 for a
        single measurement). Sorted by reduced formula, index ``0..n_compounds-1``;
        other columns of ``df`` are dropped.

    Raises:
        TypeError: ``df`` is not a DataFrame.
        ValueError: A column is missing, ``agg`` is unknown, the target is not numeric or
            has missing values, or a formula cannot be parsed (the rows are named).

    Example:
        >>> df = pd.DataFrame({"formula": ["Fe2O3", "Fe4O6", "NaCl"], "gap expt": [2.0, 2.5, 8.5]})
        >>> deduplicate_formulas(df).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
        {'formula': ['Fe2O3', 'NaCl'], 'gap expt': [2.25, 8.5], 'n_measurements': [2, 1],
         'gap expt_std': [0.25, 0.0]}
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    for col in (formula_col, target_col):
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in df; available columns: {list(df.columns)}")
    if agg not in _AGGREGATIONS:
        raise ValueError(f"agg must be one of {_AGGREGATIONS}, got {agg!r}")
    target = df[target_col]
    if not pd.api.types.is_numeric_dtype(target) or pd.api.types.is_bool_dtype(target):
        raise ValueError(f"column {target_col!r} must be numeric, got dtype {target.dtype}")
    if target.isna().any():
        rows = df.index[target.isna()].tolist()
        raise ValueError(
            f"column {target_col!r} has {len(rows)} missing value(s) at rows {rows[:_MAX_LISTED]}; "
            "drop or fill them first"
        )
    values = df[formula_col].tolist()
    reduced, bad = _reduce_all(values)
    if bad:
        raise ValueError(
            _describe_bad(df.index.tolist(), values, bad) + f" in column {formula_col!r}."
        )

    frame = pd.DataFrame({"formula": reduced, "y": target.to_numpy(dtype=float)})
    grouped = frame.groupby("formula", sort=True)["y"]
    out = pd.DataFrame(
        {
            "formula": grouped.size().index.to_numpy(dtype=object),
            target_col: grouped.agg(agg).to_numpy(),
            "n_measurements": grouped.size().to_numpy(dtype=np.int64),
            f"{target_col}_std": grouped.std(ddof=0).to_numpy(),
        }
    )
    return out


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
    groups: Labels, *, test_size: float = 0.2, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test indices such that no group has rows on both sides.

    Wraps :class:`sklearn.model_selection.GroupShuffleSplit`. ``test_size`` is the
    fraction of *groups* (not rows) sent to the test side, so the fraction of rows can
    differ a little when groups have different sizes.

    Args:
        groups (array-like): ``[n_rows]`` group label of each row, e.g.
            ``reduced_formulas(df["formula"])``.
        test_size (float): Fraction of groups in the test set, in (0, 1).
        random_state (int or None): Seed; the same seed gives the same split.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: ``train_idx [n_train]`` and
        ``test_idx [n_test]``, sorted integer positions into ``groups``.

    Raises:
        ValueError: ``test_size`` outside (0, 1), fewer than two groups, or missing labels.

    Example::

        groups = reduced_formulas(df["formula"])
        train_idx, test_idx = group_train_test_split(groups, test_size=0.2, random_state=0)
        train, test = df.iloc[train_idx], df.iloc[test_idx]
    """
    from sklearn.model_selection import GroupShuffleSplit

    codes = _as_groups(groups)
    if not isinstance(test_size, (float, np.floating)) or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}")
    n_groups = int(codes.max()) + 1 if codes.size else 0
    if n_groups < 2:
        raise ValueError(f"need at least 2 distinct groups to split, got {n_groups}")
    splitter = GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=random_state)
    train_idx, test_idx = next(splitter.split(np.zeros((codes.size, 1)), groups=codes))
    return np.sort(train_idx).astype(np.int64), np.sort(test_idx).astype(np.int64)


def group_kfold(
    groups: Labels, *, n_splits: int = 5, random_state: int | None = 0
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
        random_state (int or None): Seed of the shuffle of the groups.

    Returns:
        list[tuple[numpy.ndarray, numpy.ndarray]]: ``n_splits`` pairs
        ``(train_idx, test_idx)`` of sorted integer positions; every row is in exactly
        one ``test_idx``. Fold sizes differ by at most the size of the largest group.

    Raises:
        ValueError: ``n_splits`` < 2 or larger than the number of groups, or missing labels.

    Example::

        from sklearn.model_selection import cross_val_score
        folds = group_kfold(reduced_formulas(df["formula"]), n_splits=5, random_state=0)
        scores = cross_val_score(model, X, y, cv=folds)
    """
    codes = _as_groups(groups)
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 2:
        raise ValueError(f"n_splits must be an int >= 2, got {n_splits!r}")
    sizes = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.int64)
    if n_splits > sizes.size:
        raise ValueError(f"n_splits={n_splits} is larger than the number of groups ({sizes.size})")
    rng = np.random.default_rng(random_state)
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
