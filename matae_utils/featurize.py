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
import json
import math
import multiprocessing
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._cache import cache_path, read_npz, write_npz
from ._checks import as_array, check_choice, check_number

if TYPE_CHECKING:  # pragma: no cover - for static analysers only
    from pymatgen.core import Composition

__all__ = [
    "ELEMENTS",
    "parse_formulas",
    "magpie_features",
    "magpie_citations",
    "element_fractions",
    "fractions_to_formula",
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

_CHUNK_SIZE = 256
_CACHE_FORMAT = 2

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
    except ValueError as exc:  # what pymatgen's formula parser raises (also unknown symbols)
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
    check_choice(errors, "errors", _ERRORS)
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


def _compute_magpie(comps: list[Composition], n_jobs: int, progress: bool) -> np.ndarray:
    """[n, 132] Magpie features of ``comps`` with matminer, serially or in a process pool.

    The pool uses the ``spawn`` start method on every platform: forking a process that
    already runs threads (PyTorch, BLAS) can deadlock, notably on Python >= 3.12.
    Workers import this module and build their own featurizer.
    """
    from tqdm.auto import tqdm

    n = len(comps)
    if n == 0:
        return np.empty((0, _MAGPIE_N_FEATURES), dtype=np.float64)
    size = _CHUNK_SIZE if n_jobs == 1 else max(32, min(_CHUNK_SIZE, math.ceil(n / (4 * n_jobs))))
    chunks = [comps[i : i + size] for i in range(0, n, size)]
    rows: list[list[float]] = []
    with tqdm(total=n, desc="Magpie features", unit="formula", disable=not progress) as bar:
        pool = None
        if n_jobs > 1:
            try:
                pool = multiprocessing.get_context("spawn").Pool(min(n_jobs, len(chunks)))
            except OSError as exc:  # e.g. no /dev/shm in some sandboxes
                warnings.warn(
                    f"Could not start {n_jobs} worker processes ({exc}); featurizing in "
                    "this process instead.",
                    UserWarning,
                    stacklevel=3,
                )
        results = map(_featurize_chunk, chunks) if pool is None else pool.imap(_featurize_chunk, chunks)
        try:
            for chunk, result in zip(chunks, results, strict=True):
                rows.extend(result)
                bar.update(len(chunk))
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    return np.asarray(rows, dtype=np.float64)


def magpie_features(
    formulas: Any,
    *,
    errors: Literal["raise", "drop"] = "raise",
    cache: bool = True,
    n_jobs: int = 1,
    progress: bool = True,
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
        n_jobs (int): worker processes (default 1: featurize in this process; the
            disk cache makes repeated calls instant anyway). ``n_jobs > 1`` starts a
            pool with the ``spawn`` start method, safe in notebooks and threaded
            processes (no fork); each worker pays a few seconds of start-up, so it only
            pays off for several thousand new compositions. In a script, put the call
            under ``if __name__ == "__main__":``.
        progress (bool): show a tqdm progress bar while features are computed
            (default True; nothing is shown on a cache hit).

    Returns:
        pandas.DataFrame: [N_valid, 132] float64 features with matminer's column
        names (e.g. "MagpieData mean Electronegativity") and the input's index (only
        the valid rows with ``errors="drop"``).

    Raises:
        ValueError: for invalid formulas (see :func:`parse_formulas`) or ``n_jobs`` < 1.
        TypeError: if ``formulas`` is not a sequence of formulas.

    Example::

        >>> X = magpie_features(["NaCl", "Fe2O3"])
        >>> X.shape
        (2, 132)
        >>> float(X.loc[0, "MagpieData mean Number"])
        14.0
    """
    comps, keys = _parse(formulas, errors, stacklevel=2)
    n_jobs = check_number(n_jobs, "n_jobs", integer=True, low=1)

    # A cache hit needs neither matminer (slow to import) nor the featurizer: the file
    # holds the column names and the elements with imputed Magpie data as well.
    path = _magpie_cache_path(keys) if cache else None
    cached = read_npz(path, _magpie_cache_check(len(keys))) if path is not None else None
    if cached is not None:
        features = cached["features"]
        labels = [str(c) for c in cached["columns"].tolist()]
        imputed = frozenset(str(e) for e in cached["imputed_elements"].tolist())
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
        table = _compute_magpie(todo, n_jobs, progress)  # [n_unique, 132]
        features = table[inverse]  # [N_valid, 132]
        if not np.isfinite(features).all():  # pragma: no cover - impute_nan prevents it
            rows = list(comps.index[~np.isfinite(features).all(axis=1)][:_MAX_LISTED])
            raise RuntimeError(f"matminer returned non-finite Magpie features for rows {rows}")
        if path is not None:
            write_npz(
                path,
                features=features,
                columns=np.array(labels, dtype=str),
                imputed_elements=np.array(sorted(imputed), dtype=str),
            )

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


def magpie_citations() -> str:
    """BibTeX to cite for the Magpie descriptors.

    Same shape as :func:`matae_utils.get_citation`: one string, ready to print or paste
    into a ``.bib`` file.

    Returns:
        str: the BibTeX entries of matminer's ``ElementProperty`` Magpie preset (Ward et
        al., npj Computational Materials 2, 16028, 2016), separated by a blank line.
    """
    return "\n\n".join(entry.strip() for entry in _magpie_featurizer().citations())


# --------------------------------------------------------------------------- cache


def _magpie_cache_path(keys: list[str]) -> Path:
    from importlib.metadata import version

    key = {
        "format": _CACHE_FORMAT,
        "featurizer": _MAGPIE_NAME,
        "matminer": version("matminer"),
        "pymatgen": version("pymatgen"),
        "formulas": keys,
    }
    return cache_path("features", key)


def _magpie_cache_check(n_rows: int) -> Callable[[dict[str, np.ndarray]], None]:
    """Validation of a cached feature table (raises ValueError/KeyError if unusable)."""

    def check(arrays: dict[str, np.ndarray]) -> None:
        features, columns = arrays["features"], arrays["columns"]
        arrays["imputed_elements"]  # noqa: B018 - must exist
        expected = (n_rows, _MAGPIE_N_FEATURES)
        if features.shape != expected or features.dtype != np.float64:
            raise ValueError(
                f"expected a float64 array of shape {expected}, "
                f"got {features.dtype} {features.shape}"
            )
        if columns.shape != (_MAGPIE_N_FEATURES,) or not np.isfinite(features).all():
            raise ValueError("column names or values are inconsistent")

    return check


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
        TypeError: if ``fractions`` is not numeric.

    Example::

        >>> x = np.zeros(len(ELEMENTS))
        >>> x[[ELEMENTS.index("Fe"), ELEMENTS.index("O")]] = [0.4, 0.6]
        >>> fractions_to_formula(x)
        'Fe2O3'
    """
    from pymatgen.core import Composition

    vocab = _check_vocabulary(elements)
    threshold = check_number(threshold, "threshold", low=0, high=1, high_inclusive=False)
    max_denominator = check_number(max_denominator, "max_denominator", integer=True, low=1)
    x = as_array(fractions, "fractions", ndim=(1, 2), dtype=np.float64)
    if x.shape[-1] != len(vocab):
        raise ValueError(
            f"fractions must have length {len(vocab)} along the last axis (one entry per "
            f"element of `elements`), got shape {x.shape}"
        )
    batch = np.clip(np.atleast_2d(x), 0.0, None)  # [N, n_elements]
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
        formula, _ = comp.get_integer_formula_and_factor(max_denominator=max_denominator)
        formulas.append(formula)
    return formulas[0] if x.ndim == 1 else formulas


# ------------------------------------------------------------------ chemical classes
#: Anion-forming elements and the class each one gives a compound (see :func:`anion_classes`).
ANION_CLASSES: dict[str, str] = {
    **dict.fromkeys(("F", "Cl", "Br", "I"), "halide"),
    "O": "oxide",
    **dict.fromkeys(("S", "Se", "Te"), "chalcogenide"),
    **dict.fromkeys(("N", "P", "As", "Sb"), "pnictide"),
}
#: Label of compounds without an anion-forming element (and of pure elements).
OTHER_CLASS = "intermetallic/other"
__all__.append("anion_classes")


def anion_classes(formulas: Any) -> np.ndarray:
    """Chemical class of each compound from its dominant anion, computed from the formula.

    The rule: among the anion-forming elements present (halogens F, Cl, Br, I; oxygen;
    chalcogens S, Se, Te; pnictogens N, P, As, Sb), the one with the highest Pauling
    electronegativity (pymatgen's ``Element.X``) names the class: ``"halide"``,
    ``"oxide"``, ``"chalcogenide"`` or ``"pnictide"``. A compound without any of them
    (intermetallics, carbides, borides, silicides, hydrides) or made of a single element
    is ``"intermetallic/other"``. So an oxyfluoride is a halide (F is more
    electronegative than O), an oxysulfide an oxide, As2S3 a chalcogenide and GaAs a
    pnictide. The rule ignores oxidation states: in a compound such as CsAu the anion is
    auride, and it is "intermetallic/other".

    Args:
        formulas (list, tuple, numpy.ndarray or pandas.Series): [N] formula strings (or
            Compositions), parsed strictly by :func:`parse_formulas`.

    Returns:
        numpy.ndarray: [N] str labels, one of the values of :data:`ANION_CLASSES` or
        :data:`OTHER_CLASS`.

    Raises:
        ValueError: for invalid formulas (see :func:`parse_formulas`).
        TypeError: if ``formulas`` is not a sequence of formulas.

    Example::

        >>> anion_classes(["Fe2O3", "NaCl", "GaAs", "CdTe", "Ni3Al", "Cu"]).tolist()
        ['oxide', 'halide', 'pnictide', 'chalcogenide', 'intermetallic/other', 'intermetallic/other']
    """
    comps, _ = _parse(formulas, "raise", stacklevel=2)
    labels = []
    for comp in comps:
        anions = [el for el in comp.elements if el.symbol in ANION_CLASSES]
        if len(comp.elements) < 2 or not anions:
            labels.append(OTHER_CLASS)
            continue
        strongest = max(anions, key=lambda el: el.X)
        labels.append(ANION_CLASSES[strongest.symbol])
    return np.array(labels, dtype=object).astype(str)
