"""Compositions -> features: strict formula parsing, Magpie descriptors, element fractions.

Formulas are parsed by pymatgen and described by matminer; this module adds what a
teaching book needs around them:

* :func:`parse_formulas` validates every formula strictly and names the offending rows
  (pymatgen on its own silently accepts some odd strings, see its docstring);
* :func:`magpie_features` computes the 132 Magpie descriptors of Ward et al. (2016) with
  matminer's ``ElementProperty.from_preset("magpie")`` and caches them on disk, so the
  second featurization of a dataset is near instant;
* :func:`element_fractions` and :func:`fractions_to_formula` map formulas to fixed-length
  vectors of atomic fractions over :data:`ELEMENTS` and back (the input and output of a
  composition autoencoder).

pymatgen and matminer are imported inside the functions that use them, so importing
this module stays cheap.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import multiprocessing
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover - for static analysers only
    from pymatgen.core import Composition

__all__ = [
    "ELEMENTS",
    "parse_formulas",
    "magpie_features",
    "magpie_citations",
    "element_fractions",
    "fractions_to_formula",
    "cache_dir",
    "clear_cache",
]

#: The element vocabulary of element-fraction vectors, hydrogen (Z=1) to plutonium (Z=94)
#: in order of atomic number. These are all the elements found in nature (Tc, Pm, Np and Pu
#: only in traces) and they cover essentially every compound of the experimental and
#: computed inorganic databases used in this book. Heavier elements are too rare in
#: materials data for a model to learn anything about them, so :func:`element_fractions`
#: rejects a formula containing one rather than silently dropping the element.
ELEMENTS: tuple[str, ...] = (
    "H", "He",
    "Li", "Be", "B", "C", "N", "O", "F", "Ne",
    "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
    "In", "Sn", "Sb", "Te", "I", "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy",
    "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt",
    "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn",
    "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu",
)  # fmt: skip

_ERRORS = ("raise", "drop")
#: How many offending rows an error or warning message lists before "... and N more".
_MAX_LISTED = 10

#: Magpie featurizer settings. ``impute_nan=True`` (matminer's default) replaces the
#: elemental properties that the Magpie tables lack (for example some values of He, Ne,
#: Ar, Rn, At, Fr) by their mean over all elements, so no real compound gets NaN features.
_MAGPIE_IMPUTE_NAN = True
_MAGPIE_NAME = "ElementProperty.from_preset('magpie', impute_nan=True)"
_MAGPIE_N_FEATURES = 132

#: Above this many distinct compositions a progress bar is shown (about 2 s of work).
_PROGRESS_MIN_ITEMS = 1000
#: Above this many distinct compositions ``n_jobs=None`` uses several processes (Linux
#: only): below it the cost of starting the worker pool outweighs the gain.
_PARALLEL_MIN_ITEMS = 2000
#: ``n_jobs=None`` never uses more processes than this.
_PARALLEL_MAX_AUTO_JOBS = 4
_CHUNK_SIZE = 256

_CACHE_PREFIX = "features-"
_CACHE_FORMAT = 1

# One token of a formula: an element symbol (a capital letter and any lowercase letters
# that follow, so "Nacl" is read as one unknown symbol rather than Na + "cl"), an amount,
# a bracket or a run of spaces. Amounts are plain positive decimals: no sign, no exponent.
_TOKEN_RE = re.compile(
    r"(?P<symbol>[A-Z][a-z]*)"
    r"|(?P<number>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<open>[(\[{])"
    r"|(?P<close>[)\]}])"
    r"|(?P<space> +)"
)
_BRACKETS = {"(": ")", "[": "]", "{": "}"}


# --------------------------------------------------------------------------- parsing


@functools.lru_cache(maxsize=1)
def _element_symbols() -> frozenset[str]:
    """Symbols of the 118 elements (pymatgen also accepts D and T, mapping them to H)."""
    from pymatgen.core import Element

    return frozenset(Element.from_Z(z).symbol for z in range(1, 119))


def _formula_syntax_error(formula: str) -> tuple[str | None, set[str]]:
    """Check the grammar of a formula string that pymatgen will then parse.

    pymatgen's parser is lenient: it reads unknown symbols as dummy species ("Xx2O3"),
    drops zero amounts ("Fe0O" -> O), maps D and T to H, accepts exponents ("Fe1e-3O"),
    mismatched brackets ("Fe(O]2") and "@". This check closes those gaps; it does not
    compute the composition, which is left to pymatgen.

    Args:
        formula (str): the formula, already stripped of surrounding whitespace.

    Returns:
        tuple: ``(reason, symbols)``, where ``reason`` is None for a valid formula and a
        short explanation otherwise, and ``symbols`` is the set of element symbols found.
    """
    if not formula:
        return "empty formula", set()
    valid = _element_symbols()
    symbols: set[str] = set()
    stack: list[tuple[str, int]] = []
    previous = None  # kind of the previous token
    pos = 0
    while pos < len(formula):
        match = _TOKEN_RE.match(formula, pos)
        if match is None:
            char = formula[pos]
            if char == "-":
                return (
                    f"'-' at position {pos}: negative amounts and charges are not allowed",
                    symbols,
                )
            if char == "e" and pos > 0 and formula[pos - 1].isdigit():
                return f"'e' at position {pos}: exponent notation is not supported", symbols
            if char.islower():
                return (
                    f"unexpected lowercase {char!r} at position {pos}: element symbols start "
                    "with a capital letter (and symbols are case-sensitive: 'Co' is cobalt, "
                    "'CO' is carbon + oxygen)"
                ), symbols
            return f"unexpected character {char!r} at position {pos}", symbols
        kind, text = match.lastgroup, match.group()
        if kind == "symbol":
            if text not in valid:
                if text in ("D", "T"):
                    return (
                        f"{text!r} is an isotope label, not an element symbol: write 'H'",
                        symbols,
                    )
                return f"unknown element symbol {text!r}", symbols
            symbols.add(text)
        elif kind == "number":
            if previous not in ("symbol", "close"):
                where = {
                    None: "the start",
                    "number": "another amount",
                    "open": "an opening bracket",
                    "space": "a space",
                }
                return (
                    f"amount {text!r} at position {pos} follows {where[previous]}, not an element or ')'",
                    symbols,
                )
            if float(text) <= 0:
                return f"zero amount {text!r} at position {pos}", symbols
        elif kind == "open":
            stack.append((text, pos))
        elif kind == "close":
            if not stack:
                return f"unmatched {text!r} at position {pos}", symbols
            opening, opened_at = stack.pop()
            if _BRACKETS[opening] != text:
                return f"{opening!r} at position {opened_at} is closed by {text!r}", symbols
            if previous == "open":
                return f"empty brackets at position {opened_at}", symbols
        previous = kind
        pos = match.end()
    if stack:
        opening, opened_at = stack[-1]
        return f"unclosed {opening!r} at position {opened_at}", symbols
    if not symbols:
        return "no element symbol", symbols
    return None, symbols


def _check_row(value: Any) -> tuple[Composition | None, str | None, str]:
    """Validate one row; return ``(composition, reason, cache_key)``."""
    from pymatgen.core import Composition

    if isinstance(value, Composition):
        if not value.valid:
            return None, f"Composition contains dummy (non-element) species: {value}", ""
        comp = value.element_composition  # drops oxidation states
        amounts = dict(comp.get_el_amt_dict())
        if not amounts:
            return None, "empty Composition", ""
        if any(not (math.isfinite(a) and a > 0) for a in amounts.values()):
            return None, f"Composition has zero, negative or non-finite amounts: {amounts}", ""
        key = "Composition:" + json.dumps(sorted(amounts.items()))
        return comp, None, key
    if not isinstance(value, str):
        if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            return None, f"missing value ({value!r})", ""
        return None, f"expected a formula string, got {type(value).__name__} {value!r}", ""
    formula = value.strip()
    reason, symbols = _formula_syntax_error(formula)
    if reason is not None:
        return None, reason, ""
    try:
        comp = Composition(formula)
    except Exception as exc:  # pymatgen raises ValueError, but be defensive
        return None, f"pymatgen cannot parse it ({exc})", ""
    if not comp.valid:
        return None, f"pymatgen read non-element species: {comp}", ""
    parsed = {el.symbol for el in comp.elements}
    if parsed != symbols:
        lost = ", ".join(sorted(symbols - parsed)) or "-"
        return None, f"amount of {lost} is zero or below pymatgen's tolerance (1e-8)", ""
    return comp, None, formula


def _as_series(formulas: Any, *, name: str = "formulas") -> pd.Series:
    """Turn the accepted container types into an object Series, keeping a Series' index."""
    if isinstance(formulas, bytes | bytearray):
        raise TypeError(
            f"{name} must be a sequence of formula strings, got {type(formulas).__name__}"
        )
    if isinstance(formulas, str):
        raise TypeError(
            f"{name} must be a sequence of formula strings, got a single str {formulas!r}; "
            f"wrap it in a list: [{formulas!r}]"
        )
    if isinstance(formulas, pd.DataFrame):
        raise TypeError(
            f"{name} must be one column of formulas, got a DataFrame; pass e.g. df['formula']"
        )
    if isinstance(formulas, pd.Series):
        return formulas.astype(object)
    if isinstance(formulas, pd.Index):
        return pd.Series(np.asarray(formulas, dtype=object), dtype=object)
    if isinstance(formulas, np.ndarray):
        if formulas.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got an array of shape {formulas.shape}")
        return pd.Series(formulas, dtype=object)
    if isinstance(formulas, Sequence):
        return pd.Series(list(formulas), dtype=object)
    raise TypeError(
        f"{name} must be a list, tuple, numpy array or pandas Series of formula strings, "
        f"got {type(formulas).__name__}"
    )


def _describe_rows(bad: list[tuple[Any, Any, str]]) -> str:
    """One line per offending row ``(index label, value, reason)``, at most ``_MAX_LISTED``."""
    lines = [
        f"  index {_plain(label)!r}: {_plain(value)!r} - {reason}"
        for label, value, reason in bad[:_MAX_LISTED]
    ]
    if len(bad) > _MAX_LISTED:
        lines.append(f"  ... and {len(bad) - _MAX_LISTED} more")
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """numpy scalars as Python scalars, so messages read ``11``, not ``np.int64(11)``."""
    return value.item() if isinstance(value, np.generic) else value


def _check_errors(errors: str) -> None:
    if errors not in _ERRORS:
        raise ValueError(f"errors must be 'raise' or 'drop', got {errors!r}")


def _parse(
    formulas: Any,
    errors: str,
    stacklevel: int,
    extra_check: Callable[[Composition], str | None] | None = None,
) -> tuple[pd.Series, list[str]]:
    """Validate and parse; return the surviving Compositions and their cache keys.

    ``extra_check`` may reject valid compositions (e.g. elements outside a vocabulary);
    its rows are reported together with the invalid formulas. ``stacklevel`` is that of
    the public caller, so the warning points at the user's line.
    """
    _check_errors(errors)
    series = _as_series(formulas)
    values = series.to_numpy()
    comps: list[Composition | None] = []
    keys: list[str] = []
    bad_pos: list[int] = []
    reasons: list[str] = []
    seen: dict[str, tuple[Composition | None, str | None, str]] = {}  # parse each string once
    for pos, value in enumerate(values):
        if isinstance(value, str):
            result = seen.get(value)
            if result is None:
                result = seen[value] = _check_row(value)
        else:
            result = _check_row(value)
        comp, reason, key = result
        if reason is None and extra_check is not None:
            reason = extra_check(comp)
        if reason is not None:
            bad_pos.append(pos)
            reasons.append(reason)
        comps.append(comp)
        keys.append(key)
    keep = np.ones(len(series), dtype=bool)
    if bad_pos:
        keep[bad_pos] = False
        bad = [(series.index[p], values[p], r) for p, r in zip(bad_pos, reasons, strict=True)]
        detail = _describe_rows(bad)
        if errors == "raise":
            raise ValueError(
                f"{len(bad)} of {len(series)} rows are invalid:\n{detail}\n"
                "Fix these rows, or pass errors='drop' to drop them (with a warning)."
            )
        warnings.warn(
            f"Dropped {len(bad)} of {len(series)} rows that are invalid:\n{detail}\n"
            "The result keeps the input index of the remaining rows.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    out = pd.Series(
        [c for c, k in zip(comps, keep, strict=True) if k],
        index=series.index[keep],
        dtype=object,
        name=series.name,
    )
    return out, [k for k, kept in zip(keys, keep, strict=True) if kept]


def parse_formulas(formulas: Any, *, errors: Literal["raise", "drop"] = "raise") -> pd.Series:
    """Parse chemical formulas into pymatgen Compositions, strictly.

    A formula is a sequence of element symbols (case-sensitive, e.g. "Co" is cobalt and
    "CO" is carbon + oxygen) with optional positive decimal amounts, and groups in
    round, square or curly brackets with an optional multiplier: "Fe2O3",
    "Ag0.1Cd0.8In2.1Te4", "Ca3(PO4)2". Spaces between units are allowed ("Fe2 O3"),
    surrounding whitespace is ignored and a dot is a decimal point ("Fe2O3.5H2O" is
    Fe2 H2 O4.5, not a hydrate). pymatgen does the parsing; before that, this function
    rejects what pymatgen would silently accept or misread: unknown symbols (which
    pymatgen turns into dummy species, e.g. "Xx2O3", or "FE2O3" read as F + dummy "E"),
    zero amounts (which pymatgen drops: "Fe0O" would become O), isotope labels D and T
    (mapped to H), exponents ("Fe1e-3O"), mismatched brackets and stray characters.

    Rows that are pymatgen ``Composition`` objects are accepted as they are (oxidation
    states are removed with ``element_composition``), so the output of this function
    can be passed again to :func:`magpie_features` or :func:`element_fractions`.

    Args:
        formulas (list, tuple, numpy.ndarray or pandas.Series): [N] formula strings
            (or Compositions). A Series keeps its index; other inputs get a RangeIndex.
        errors (str): "raise" (default) raises on any invalid row; "drop" drops the
            invalid rows and emits a ``UserWarning`` listing them.

    Returns:
        pandas.Series: [N_valid] ``pymatgen.core.Composition`` objects (dtype object)
        with the input index and name; with ``errors="drop"`` only the valid rows
        remain, so ``result.index`` tells which rows survived.

    Raises:
        ValueError: if a row is empty or whitespace, missing (None, NaN), not a string,
            malformed, names an unknown element, or has a zero or negative amount; the
            message names the offending rows (index and string, the first 10).
            Also if ``errors`` is neither "raise" nor "drop".
        TypeError: if ``formulas`` is a single string, a DataFrame, or not a sequence.

    Example::

        >>> comps = parse_formulas(["Fe2O3", "NaCl"])
        >>> comps.iloc[0].reduced_formula
        'Fe2O3'
        >>> parse_formulas(pd.Series(["GaAs", "Qz"], index=[10, 11]), errors="drop").index
        Index([10], dtype='int64')
    """
    comps, _ = _parse(formulas, errors, stacklevel=2)
    return comps


# --------------------------------------------------------------------------- Magpie


@functools.lru_cache(maxsize=1)
def _magpie_featurizer() -> Any:
    """The matminer Magpie featurizer (built once per process, serial)."""
    from matminer.featurizers.composition import ElementProperty

    featurizer = ElementProperty.from_preset("magpie", impute_nan=_MAGPIE_IMPUTE_NAN)
    featurizer.set_n_jobs(1)
    return featurizer


@functools.lru_cache(maxsize=1)
def _magpie_missing_elements() -> frozenset[str]:
    """Elements for which the Magpie tables lack at least one property used by the preset."""
    from matminer.utils.data import MagpieData

    raw = MagpieData(impute_nan=False).all_elemental_props
    missing = set()
    for prop in _magpie_featurizer().features:
        for symbol, value in raw[prop].items():
            if value is None or (isinstance(value, float) and math.isnan(value)):
                missing.add(symbol)
    return frozenset(missing)


def _featurize_chunk(chunk: list[Composition]) -> list[list[float]]:
    """Featurize a list of Compositions in this process (also the worker function)."""
    return _magpie_featurizer().featurize_many(chunk, ignore_errors=False, pbar=False)


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _resolve_n_jobs(n_jobs: int | None, n_items: int) -> int:
    if n_jobs is None:
        if n_items < _PARALLEL_MIN_ITEMS or not sys.platform.startswith("linux"):
            return 1
        return max(1, min(_available_cpus(), _PARALLEL_MAX_AUTO_JOBS))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer):
        raise TypeError(f"n_jobs must be an int or None, got {type(n_jobs).__name__} {n_jobs!r}")
    if n_jobs == -1:
        return _available_cpus()
    if n_jobs < 1:
        raise ValueError(
            f"n_jobs must be a positive int, -1 (all CPUs) or None (auto), got {n_jobs}"
        )
    return int(n_jobs)


def _compute_magpie(comps: list[Composition], n_jobs: int, progress: bool) -> np.ndarray:
    """[n, 132] Magpie features of ``comps`` with matminer, serially or in a process pool."""
    from tqdm.auto import tqdm

    n = len(comps)
    if n == 0:
        return np.empty((0, _MAGPIE_N_FEATURES), dtype=np.float64)
    _magpie_featurizer()  # build it before forking, so workers inherit it
    if n_jobs > 1:
        size = max(32, min(_CHUNK_SIZE, math.ceil(n / (4 * n_jobs))))
    else:
        size = _CHUNK_SIZE
    chunks = [comps[i : i + size] for i in range(0, n, size)]
    rows: list[list[float]] = []
    with tqdm(total=n, desc="Magpie features", unit="formula", disable=not progress) as bar:
        pool = None
        if n_jobs > 1:
            # fork (Linux) shares the already-imported matminer with the workers; other
            # platforms use their default start method, which needs an importable
            # worker function (it is) and, in scripts, an ``if __name__ == "__main__"`` guard.
            method = "fork" if sys.platform.startswith("linux") else None
            try:
                pool = multiprocessing.get_context(method).Pool(min(n_jobs, len(chunks)))
            except (OSError, ValueError) as exc:  # e.g. no /dev/shm in some sandboxes
                warnings.warn(
                    f"Could not start {n_jobs} worker processes ({exc}); featurizing in "
                    "this process instead.",
                    UserWarning,
                    stacklevel=3,
                )
        if pool is None:
            for chunk in chunks:
                rows.extend(_featurize_chunk(chunk))
                bar.update(len(chunk))
        else:
            with pool:
                for chunk, result in zip(chunks, pool.imap(_featurize_chunk, chunks), strict=True):
                    rows.extend(result)
                    bar.update(len(chunk))
    return np.asarray(rows, dtype=np.float64)


def magpie_features(
    formulas: Any,
    *,
    errors: Literal["raise", "drop"] = "raise",
    cache: bool = True,
    n_jobs: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Magpie composition descriptors (Ward et al., 2016) computed with matminer.

    Each formula is parsed strictly by :func:`parse_formulas` and featurized with
    ``matminer.featurizers.composition.ElementProperty.from_preset("magpie",
    impute_nan=True)``: 22 elemental properties (atomic number, Mendeleev number,
    electronegativity, valence-shell occupations, ground-state volume, band gap, ...)
    each summarised by 6 statistics over the composition (minimum, maximum, range,
    fraction-weighted mean, average deviation, mode). With ``impute_nan=True`` the
    elemental values that the Magpie tables lack are replaced by their mean over all
    elements, so real compounds get no NaN; a ``UserWarning`` names the rows whose
    elements needed this (e.g. He, Ne, Ar, Rn, At, Fr).

    Duplicate compositions are featurized once. Results are cached on disk (see
    :func:`cache_dir`), keyed by a SHA-256 of the featurizer settings, the matminer
    and pymatgen versions and the list of formulas, so featurizing the same dataset
    again takes milliseconds. Cite the descriptors with :func:`magpie_citations`.

    Args:
        formulas (list, tuple, numpy.ndarray or pandas.Series): [N] formula strings
            (or pymatgen Compositions, e.g. the output of :func:`parse_formulas`).
        errors (str): "raise" (default) or "drop"; see :func:`parse_formulas`.
        cache (bool): read and write the on-disk cache (default True).
        n_jobs (int or None): worker processes. None (default) picks automatically:
            one process for fewer than 2000 distinct compositions or off Linux,
            otherwise up to 4 forked processes (1.5-1.9x faster on an idle 2-core machine for 6000
            formulas). -1 uses all CPUs. Off Linux, n_jobs > 1 uses the platform's
            default start method, which in a script needs an
            ``if __name__ == "__main__":`` guard.
        progress (bool or None): show a tqdm progress bar; None (default) shows one
            only when at least 1000 distinct compositions must be computed.

    Returns:
        pandas.DataFrame: [N_valid, 132] float64 features with matminer's column
        names (e.g. "MagpieData mean Electronegativity") and the input's index (only
        the valid rows with ``errors="drop"``).

    Raises:
        ValueError: for invalid formulas (see :func:`parse_formulas`) or a bad ``n_jobs``.
        TypeError: if ``formulas`` is not a sequence of formulas.

    Example::

        >>> X = magpie_features(["NaCl", "Fe2O3"])
        >>> X.shape
        (2, 132)
        >>> float(X.loc[0, "MagpieData mean Number"])
        14.0
    """
    comps, keys = _parse(formulas, errors, stacklevel=2)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")

    # A cache hit needs neither matminer (slow to import) nor the featurizer: the file
    # holds the column names and the elements with imputed Magpie data as well.
    path = _magpie_cache_path(keys) if cache else None
    cached = _read_cache(path, n_rows=len(keys)) if path is not None else None
    if cached is not None:
        features, labels, imputed = cached
    else:
        labels = list(_magpie_featurizer().feature_labels())
        imputed = _magpie_missing_elements()
        unique: dict[str, int] = {}
        inverse = np.fromiter(
            (unique.setdefault(k, len(unique)) for k in keys), dtype=np.int64, count=len(keys)
        )  # [N_valid] row of each formula in the table of distinct compositions
        first: dict[str, int] = {}
        for pos, k in enumerate(keys):
            first.setdefault(k, pos)
        todo = [comps.iloc[first[k]] for k in unique]
        jobs = _resolve_n_jobs(n_jobs, len(todo))
        show = len(todo) >= _PROGRESS_MIN_ITEMS if progress is None else progress
        table = _compute_magpie(todo, jobs, show)  # [n_unique, 132]
        features = table[inverse]  # [N_valid, 132]
        if not np.isfinite(features).all():  # pragma: no cover - impute_nan prevents it
            rows = list(comps.index[~np.isfinite(features).all(axis=1)][:_MAX_LISTED])
            raise RuntimeError(f"matminer returned non-finite Magpie features for rows {rows}")
        if path is not None:
            _write_cache(path, features, labels, imputed)

    affected = [
        pos for pos, comp in enumerate(comps) if any(el.symbol in imputed for el in comp.elements)
    ]
    if affected:
        symbols = sorted(
            {el.symbol for pos in affected for el in comps.iloc[pos].elements} & imputed
        )
        more = len(affected) - _MAX_LISTED
        warnings.warn(
            f"{len(affected)} of {len(comps)} rows contain elements with missing Magpie data "
            f"({', '.join(symbols)}); matminer replaced the missing elemental properties by "
            "their mean over all elements (impute_nan=True). Index labels: "
            f"{[_plain(label) for label in comps.index[affected[:_MAX_LISTED]]]}"
            + (f" and {more} more" if more > 0 else ""),
            UserWarning,
            stacklevel=2,
        )
    return pd.DataFrame(features, index=comps.index.copy(), columns=labels)


def magpie_citations() -> list[str]:
    """BibTeX entries to cite for the Magpie descriptors.

    Returns:
        list[str]: the BibTeX strings of matminer's ``ElementProperty`` Magpie preset
        (Ward et al., npj Computational Materials 2, 16028, 2016).
    """
    return list(_magpie_featurizer().citations())


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Directory of matae's on-disk cache (created only when something is written).

    Returns:
        pathlib.Path: ``$MATAE_CACHE`` if set, else ``$XDG_CACHE_HOME/matae`` if
        ``XDG_CACHE_HOME`` is set, else ``~/.cache/matae``. Everything in it can be
        deleted safely; it is recomputed when needed.
    """
    env = os.environ.get("MATAE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "matae"
    return Path.home() / ".cache" / "matae"


def clear_cache() -> int:
    """Delete the cached featurizations (files named ``features-*`` in :func:`cache_dir`).

    Other files in the directory are left alone, so pointing ``MATAE_CACHE`` at a shared
    directory is safe.

    Returns:
        int: number of files removed.
    """
    directory = cache_dir()
    if not directory.is_dir():
        return 0
    removed = 0
    for path in directory.glob(f"{_CACHE_PREFIX}*"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _magpie_cache_path(keys: list[str]) -> Path:
    from importlib.metadata import version

    header = {
        "format": _CACHE_FORMAT,
        "featurizer": _MAGPIE_NAME,
        "matminer": version("matminer"),
        "pymatgen": version("pymatgen"),
    }
    digest = hashlib.sha256()
    digest.update(json.dumps(header, sort_keys=True).encode())
    digest.update(json.dumps(keys).encode())
    return cache_dir() / f"{_CACHE_PREFIX}magpie-{digest.hexdigest()}.npz"


def _read_cache(path: Path, *, n_rows: int) -> tuple[np.ndarray, list[str], frozenset[str]] | None:
    """``(features [n_rows, 132], column names, imputed elements)`` from a cache file.

    Returns None when the file is missing, or unusable (with a warning): the caller then
    recomputes and overwrites it. Nothing is unpickled (``allow_pickle=False``).
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            features = data["features"]
            labels = [str(c) for c in data["columns"].tolist()]
            imputed = frozenset(str(e) for e in data["imputed_elements"].tolist())
        expected = (n_rows, _MAGPIE_N_FEATURES)
        if features.shape != expected or features.dtype != np.float64:
            raise ValueError(
                f"expected a float64 array of shape {expected}, "
                f"got {features.dtype} {features.shape}"
            )
        if len(labels) != _MAGPIE_N_FEATURES or not np.isfinite(features).all():
            raise ValueError("column names or values are inconsistent")
    except Exception as exc:
        warnings.warn(
            f"Ignoring unreadable cache file {path} ({type(exc).__name__}: {exc}); "
            "recomputing and overwriting it.",
            UserWarning,
            stacklevel=3,
        )
        return None
    return features, labels, imputed


def _write_cache(
    path: Path, features: np.ndarray, labels: list[str], imputed: frozenset[str]
) -> None:
    """Write atomically (temporary file + rename); a failure only warns."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            np.savez_compressed(
                fh,
                features=features,
                columns=np.array(labels, dtype=str),
                imputed_elements=np.array(sorted(imputed), dtype=str),
            )
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        warnings.warn(
            f"Could not write the feature cache {path} ({exc}); results are not cached. "
            "Set MATAE_CACHE to a writable directory, or pass cache=False.",
            UserWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- fractions


def _check_vocabulary(elements: Any) -> tuple[str, ...]:
    if isinstance(elements, str) or not isinstance(elements, Sequence | np.ndarray | pd.Index):
        raise TypeError(
            f"elements must be a sequence of element symbols, got {type(elements).__name__}"
        )
    vocab = tuple(elements)
    if not vocab:
        raise ValueError("elements must not be empty")
    not_str = [e for e in vocab if not isinstance(e, str)]
    if not_str:
        raise TypeError(f"elements must be element symbols (str), got {not_str[:5]}")
    unknown = [e for e in vocab if e not in _element_symbols()]
    if unknown:
        raise ValueError(f"elements contains unknown element symbols: {unknown[:10]}")
    if len(set(vocab)) != len(vocab):
        dupes = sorted({e for e in vocab if vocab.count(e) > 1})
        raise ValueError(f"elements contains duplicates: {dupes}")
    return vocab


def element_fractions(
    formulas: Any,
    *,
    elements: Sequence[str] = ELEMENTS,
    errors: Literal["raise", "drop"] = "raise",
    return_index: bool = False,
) -> np.ndarray | tuple[np.ndarray, pd.Index]:
    """Atomic fractions of each formula over a fixed element vocabulary.

    Args:
        formulas (list, tuple, numpy.ndarray or pandas.Series): [N] formula strings
            (or pymatgen Compositions), parsed strictly by :func:`parse_formulas`.
        elements (sequence of str): the vocabulary, one column per element
            (default :data:`ELEMENTS`, H to Pu).
        errors (str): "raise" (default) or "drop". Rows with an invalid formula or an
            element outside ``elements`` raise ``ValueError``, or are dropped with a
            ``UserWarning`` when ``errors="drop"``.
        return_index (bool): also return the index of the rows kept (useful with
            ``errors="drop"`` to align targets: ``y = df.loc[index, "gap"]``).

    Returns:
        numpy.ndarray: [N_valid, len(elements)] float32, each row the atomic fractions
        (non-negative, summing to 1). With ``return_index=True``, a tuple
        ``(fractions, index)`` where ``index`` (pandas.Index) holds the input index
        labels of the rows kept.

    Raises:
        ValueError: for invalid formulas, elements outside the vocabulary (the message
            names the rows and the elements), or an invalid ``elements``.
        TypeError: if ``formulas`` or ``elements`` has the wrong type.

    Example::

        >>> X = element_fractions(["Fe2O3", "NaCl"])
        >>> X.shape
        (2, 94)
        >>> float(X[0, ELEMENTS.index("O")])
        0.6000000238418579
    """
    vocab = _check_vocabulary(elements)
    column = {symbol: j for j, symbol in enumerate(vocab)}

    def outside_vocabulary(comp: Composition) -> str | None:
        outside = [el.symbol for el in comp.elements if el.symbol not in column]
        if outside:
            noun = "element" if len(outside) == 1 else "elements"
            return (
                f"{noun} {', '.join(outside)} not in the {len(vocab)}-element "
                f"vocabulary ({vocab[0]}..{vocab[-1]})"
            )
        return None

    comps, _ = _parse(formulas, errors, stacklevel=2, extra_check=outside_vocabulary)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, comp in enumerate(comps.to_numpy()):
        amounts = comp.get_el_amt_dict()
        total = math.fsum(amounts.values())
        for el, amount in amounts.items():
            rows.append(i)
            cols.append(column[el])
            vals.append(amount / total)
    fractions = np.zeros((len(comps), len(vocab)), dtype=np.float64)
    fractions[rows, cols] = vals
    out = fractions.astype(np.float32)  # [N_valid, len(elements)]
    if return_index:
        return out, comps.index
    return out


def fractions_to_formula(
    fractions: Any,
    *,
    elements: Sequence[str] = ELEMENTS,
    threshold: float = 0.01,
    max_denominator: int = 10,
) -> str | list[str]:
    """Turn a vector of atomic fractions (e.g. a decoder output) into a readable formula.

    Negative entries are clipped to 0, the vector is normalised to sum to 1, entries
    below ``threshold`` are dropped and the rest renormalised. The amounts are then
    expressed relative to the smallest one and pymatgen's
    ``Composition.get_integer_formula_and_factor(max_denominator)`` writes the integer
    formula: [Fe 0.4, O 0.6] -> "Fe2O3", [Fe 0.41, O 0.59] -> "Fe2O3". Element order
    and special cases follow pymatgen (e.g. [O 1.0] -> "O2", [Li 0.5, O 0.5] -> "Li2O2").

    Args:
        fractions (array-like or torch.Tensor): [len(elements)] one vector, or
            [N, len(elements)] a batch. Tensors are detached and moved to the CPU.
        elements (sequence of str): the vocabulary of the columns (default
            :data:`ELEMENTS`).
        threshold (float): atomic fractions below this (after normalisation) are
            dropped; in [0, 1).
        max_denominator (int): largest denominator used to rationalise the amounts
            relative to the smallest one; larger values give more faithful but longer
            formulas (with 10, Ba0.21Ti0.19O0.6 becomes "Ba11Ti10O30").

    Returns:
        str or list[str]: the formula, or [N] formulas for a 2-D input.

    Raises:
        ValueError: if the last dimension is not ``len(elements)``, the input is not 1-D
            or 2-D, contains NaN or infinity, or a row has no entry left (all zero or
            negative, or all below ``threshold``); also for an invalid ``threshold`` or
            ``max_denominator``.

    Example::

        >>> x = np.zeros(len(ELEMENTS))
        >>> x[[ELEMENTS.index("Fe"), ELEMENTS.index("O")]] = [0.4, 0.6]
        >>> fractions_to_formula(x)
        'Fe2O3'
    """
    from pymatgen.core import Composition

    vocab = _check_vocabulary(elements)
    if not (isinstance(threshold, int | float | np.floating) and 0 <= threshold < 1):
        raise ValueError(f"threshold must be a number in [0, 1), got {threshold!r}")
    if (
        isinstance(max_denominator, bool)
        or not isinstance(max_denominator, int | np.integer)
        or max_denominator < 1
    ):
        raise ValueError(f"max_denominator must be a positive int, got {max_denominator!r}")
    if hasattr(fractions, "detach"):  # torch.Tensor, without importing torch
        fractions = fractions.detach().cpu().numpy()
    try:
        x = np.asarray(fractions, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"fractions must be a numeric array, got {type(fractions).__name__}"
        ) from exc
    if x.ndim not in (1, 2):
        raise ValueError(
            f"fractions must be 1-D [{len(vocab)}] or 2-D [N, {len(vocab)}], got shape {x.shape}"
        )
    if x.shape[-1] != len(vocab):
        raise ValueError(
            f"fractions must have length {len(vocab)} along the last axis (one entry per "
            f"element of `elements`), got shape {x.shape}"
        )
    batch = np.atleast_2d(x)  # [N, n_elements]
    finite = np.isfinite(batch).all(axis=1)
    if not finite.all():
        raise ValueError(
            f"fractions contain NaN or infinity in rows {np.flatnonzero(~finite)[:10].tolist()}"
        )
    batch = np.clip(batch, 0.0, None)
    totals = batch.sum(axis=1, keepdims=True)  # [N, 1]
    empty = totals[:, 0] <= 0
    if empty.any():
        raise ValueError(
            f"rows {np.flatnonzero(empty)[:10].tolist()} have no positive entry "
            "(all zero or negative), so they describe no composition"
        )
    batch = batch / totals
    batch[batch < threshold] = 0.0
    empty = ~(batch > 0).any(axis=1)
    if empty.any():
        raise ValueError(
            f"rows {np.flatnonzero(empty)[:10].tolist()} have no fraction >= threshold={threshold}"
        )
    batch = batch / batch.sum(axis=1, keepdims=True)
    formulas = []
    for row in batch:
        nonzero = np.flatnonzero(row)
        smallest = row[nonzero].min()
        comp = Composition({vocab[j]: row[j] / smallest for j in nonzero})
        formula, _ = comp.get_integer_formula_and_factor(max_denominator=int(max_denominator))
        formulas.append(formula)
    return formulas[0] if x.ndim == 1 else formulas
