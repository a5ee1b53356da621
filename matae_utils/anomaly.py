r"""Realistic data errors to inject into held-out materials data, and anomaly scoring.

An anomaly detector is only as credible as the anomalies it is tested on. Instead of
random noise, this module produces the mistakes that real materials tables contain, each
one changing exactly what its name says and nothing else:

* **Compositions** (:func:`corrupt_formulas`): an element replaced by its neighbour in
  the periodic table (``kind="swap"``: atomic number :math:`Z \pm 1`, a mis-click in a
  periodic-table picker); an element symbol typed with a capital second letter
  (``kind="mistype"``: "Co" becomes "CO", which every parser reads as carbon + oxygen);
  the amount of one element multiplied by ten (``kind="stoichiometry"``: "Fe2O3" becomes
  "Fe20O3", a slipped key).
* **Processing tables** (:func:`wrong_unit`): a temperature entered in kelvin in a
  column in degrees Celsius (+273.15), or a time entered in hours in a column in
  minutes (divided by 60).
* **Powder XRD patterns**: a pattern measured with another X-ray tube than the one the
  analysis assumes (:func:`wrong_wavelength`, recomputed with pymatgen from the crystal
  structure with the same strain, crystallite size, noise level and background), a
  zero-point error that shifts every peak by the same angle (:func:`shift_peaks`), and a
  second crystalline phase mixed into the sample (:func:`mix_phase`).

Every generator is seeded and never modifies its input. The scoring helpers build one
contaminated held-out set that every detector scores (:func:`contaminate`), compute AUROC
and average precision for several detectors and corruption kinds at once
(:func:`anomaly_table`, built on :func:`matae_utils.metrics.anomaly_metrics`), and say
which feature of a flagged sample is the least well reconstructed
(:func:`largest_residuals`).

Example::

    import matae_utils as mu
    bad = mu.anomaly.corrupt_formulas(["Fe2O3", "NaCl"], kind="stoichiometry", seed=0)
    bad[["original", "corrupted", "change"]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._checks import as_array, check_choice, check_number

__all__ = [
    "FORMULA_CORRUPTIONS",
    "UNIT_ERRORS",
    "corrupt_formulas",
    "wrong_unit",
    "wrong_wavelength",
    "shift_peaks",
    "mix_phase",
    "contaminate",
    "anomaly_table",
    "largest_residuals",
]

#: Kinds accepted by :func:`corrupt_formulas`.
FORMULA_CORRUPTIONS = ("swap", "mistype", "stoichiometry")
#: Kinds accepted by :func:`wrong_unit`: what the corrupted entry holds.
UNIT_ERRORS = ("kelvin", "hours")
#: Elements that replace a swapped element lie in this range of Z (H to Pu) and are not
#: noble gases, At or Fr (their Magpie data are incomplete; they are never swapped *to*).
_SWAP_Z = (1, 94)
_NOT_SWAPPED_TO = frozenset({"He", "Ne", "Ar", "Kr", "Xe", "Rn", "At", "Fr"})


# ------------------------------------------------------------------------- compositions
def _fmt_amount(amount: float) -> str:
    return "" if amount == 1 else f"{amount:.6g}"


def _to_text(amounts: Mapping[str, float]) -> str:
    """A formula string with one token per element, e.g. {"Fe": 2, "O": 3} -> "Fe2O3"."""
    return "".join(f"{el}{_fmt_amount(a)}" for el, a in amounts.items())


def _typo_splits() -> dict[str, tuple[str, str]]:
    """Two-letter symbols whose letters, both capitalised, are two element symbols."""
    from pymatgen.core import Element

    symbols = {Element.from_Z(z).symbol for z in range(1, 119)}
    return {
        s: (s[0], s[1].upper())
        for s in symbols
        if len(s) == 2 and s[0] in symbols and s[1].upper() in symbols
    }


def _swap_targets(symbol: str, present: set[str]) -> list[str]:
    from pymatgen.core import Element

    z = Element(symbol).Z
    out = []
    for z_new in (z - 1, z + 1):
        if _SWAP_Z[0] <= z_new <= _SWAP_Z[1]:
            new = Element.from_Z(z_new).symbol
            if new not in present and new not in _NOT_SWAPPED_TO:
                out.append(new)
    return out


def corrupt_formulas(formulas: Sequence[str], *, kind: str, seed: int = 0) -> pd.DataFrame:
    r"""Corrupt chemical formulas the way data entry does, one change per formula.

    * ``"swap"``: one element (drawn at random) is replaced by an element next to it in
      the periodic table (:math:`Z \pm 1`, drawn at random; not one already in the
      formula, not a noble gas, At or Fr, H to Pu); its amount and all other amounts are kept.
      Every formula can be swapped.
    * ``"mistype"``: one two-letter element symbol is typed with a capital second letter
      and the text is read again, as a database import would: "Co2O3" becomes "CO2O3",
      i.e. one carbon, and the amount of cobalt moves to oxygen. Only formulas that
      contain such a symbol (Co, Nb, Sn, Hf, Bi, Pb, Cs, Os, Ni, Si, Sc, ... : both
      letters must be element symbols) can be mistyped.
    * ``"stoichiometry"``: the amount of one element (drawn at random) is multiplied by
      10 ("Fe2O3" -> "Fe20O3" or "Fe2O30"). Only formulas with at least two elements can
      be corrupted (a pure element keeps its composition).

    Formulas that cannot be corrupted in the requested way are left out of the result,
    so its index says which inputs were corrupted.

    Args:
        formulas (sequence of str): [N] formulas, parsed strictly by
            :func:`matae_utils.parse_formulas`.
        kind (str): one of :data:`FORMULA_CORRUPTIONS`.
        seed (int): seed of the ``numpy.random.default_rng`` choosing what to change.

    Returns:
        pandas.DataFrame: one row per corrupted formula, indexed by its position in
        ``formulas``, with columns ``original`` (the input), ``corrupted`` (a formula
        string pymatgen parses) and ``change`` (e.g. ``"O -> N"``, ``"Co -> CO"``,
        ``"Fe x10"``).

    Raises:
        TypeError: if ``formulas`` is a single string or not a sequence.
        ValueError: for an unknown ``kind`` or an invalid formula.

    Example::

        >>> corrupt_formulas(["Fe2O3"], kind="stoichiometry", seed=0)["corrupted"].tolist()
        ['Fe2O30']
    """
    from .featurize import parse_formulas

    kind = check_choice(kind, "kind", FORMULA_CORRUPTIONS)
    seed = check_number(seed, "seed", integer=True, low=0)
    comps = parse_formulas(formulas)
    rng = np.random.default_rng(seed)
    splits = _typo_splits() if kind == "mistype" else {}
    rows: list[tuple[int, str, str, str]] = []
    for pos, (original, comp) in enumerate(zip(formulas, comps, strict=True)):
        amounts = {str(el): float(a) for el, a in comp.get_el_amt_dict().items()}
        elements = list(amounts)
        if kind == "swap":
            old = elements[rng.integers(len(elements))]
            targets = _swap_targets(old, set(elements))
            if not targets:  # both neighbours present or out of range: try another element
                options = [e for e in elements if _swap_targets(e, set(elements))]
                if not options:
                    continue
                old = options[rng.integers(len(options))]
                targets = _swap_targets(old, set(elements))
            new = targets[rng.integers(len(targets))]
            text = _to_text({(new if e == old else e): a for e, a in amounts.items()})
            change = f"{old} -> {new}"
        elif kind == "mistype":
            options = [e for e in elements if e in splits]
            if not options:
                continue
            old = options[rng.integers(len(options))]
            first, second = splits[old]
            # the typo is in the text: "Co2" -> "CO2", the amount now belongs to "O"
            text = "".join(
                f"{first}{second}{_fmt_amount(a)}" if e == old else f"{e}{_fmt_amount(a)}"
                for e, a in amounts.items()
            )
            change = f"{old} -> {first}{second}"
        else:  # stoichiometry
            if len(elements) < 2:
                continue
            old = elements[rng.integers(len(elements))]
            text = _to_text({e: (10 * a if e == old else a) for e, a in amounts.items()})
            change = f"{old} x10"
        rows.append((pos, str(original), text, change))
    frame = pd.DataFrame(rows, columns=["position", "original", "corrupted", "change"])
    return frame.set_index("position").rename_axis(None)


# ---------------------------------------------------------------------- processing units
def wrong_unit(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    kind: str,
    skip_values: Sequence[float] = (),
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Put one value of each row in the wrong unit.

    For every row, one of ``columns`` is drawn at random among those whose value is not
    in ``skip_values`` (e.g. the 30 degC or 0 min that mark a processing step that was not
    applied), and its value is replaced by the number the same quantity has in the wrong
    unit:

    * ``"kelvin"``: a temperature column in degrees Celsius receives the temperature in
      kelvin, ``T + 273.15``;
    * ``"hours"``: a time column in minutes receives the time in hours, ``t / 60``.

    Rows where no column is eligible are left out of the result.

    Args:
        frame (pandas.DataFrame): [N, ...] table (not modified).
        columns (sequence of str): columns in the unit the error replaces (degC for
            ``"kelvin"``, minutes for ``"hours"``).
        kind (str): one of :data:`UNIT_ERRORS`.
        skip_values (sequence of float): values that are never changed.
        seed (int): seed of the ``numpy.random.default_rng`` choosing the columns.

    Returns:
        tuple: ``(corrupted, changed)``. ``corrupted`` holds the corrupted rows (a copy,
        same columns and index labels as ``frame``, numeric columns as float64);
        ``changed`` is a Series with the same index naming the changed column of each
        row.

    Raises:
        TypeError: if ``frame`` is not a DataFrame.
        ValueError: for an unknown ``kind``, a column that is missing or not numeric,
            or missing values in ``columns``.

    Example::

        bad, where = wrong_unit(steel, ["NT", "THT", "TT"], kind="kelvin", skip_values=[30])
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}")
    kind = check_choice(kind, "kind", UNIT_ERRORS)
    seed = check_number(seed, "seed", integer=True, low=0)
    if isinstance(columns, str):
        raise TypeError(f"columns must be a sequence of column names; got the string {columns!r}")
    columns = list(columns)
    if not columns:
        raise ValueError("columns must name at least one column")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} not in frame; available: {list(frame.columns)}")
    values = as_array(frame[columns].to_numpy(), "frame[columns]", dtype=np.float64)
    skip = np.asarray([check_number(v, "skip_values") for v in skip_values], dtype=np.float64)
    eligible = ~np.isin(values, skip)  # [N, C]
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(eligible.any(axis=1))
    corrupted = frame.iloc[keep].copy()
    numeric = corrupted.select_dtypes("number").columns
    corrupted[numeric] = corrupted[numeric].astype(np.float64)
    changed = []
    for row, pos in enumerate(keep):
        options = np.flatnonzero(eligible[pos])
        col = columns[int(options[rng.integers(len(options))])]
        value = values[pos, columns.index(col)]
        corrupted.iloc[row, corrupted.columns.get_loc(col)] = (
            value + 273.15 if kind == "kelvin" else value / 60.0
        )
        changed.append(col)
    return corrupted, pd.Series(changed, index=corrupted.index, name="column", dtype=object)


# ------------------------------------------------------------------------------------ XRD
def _grid_of(X: np.ndarray, two_theta: Any) -> np.ndarray:
    grid = as_array(two_theta, "two_theta", ndim=1, dtype=np.float64)
    if grid.size != X.shape[1]:
        raise ValueError(
            f"two_theta has {grid.size} angles but the patterns have {X.shape[1]} points"
        )
    if not np.all(np.diff(grid) > 0):
        raise ValueError("two_theta must be strictly increasing")
    return grid


def shift_peaks(X: Any, two_theta: Any, shift: float | Any) -> np.ndarray:
    r"""Move whole patterns along :math:`2\theta` (a zero-point or sample-height error).

    ``out(2θ) = X(2θ - shift)``, by linear interpolation on the grid; points that come
    from outside the measured range take the value at the nearest end (the background
    there). A positive shift moves the peaks to higher angles.

    Args:
        X (ndarray): [N, L] patterns on the grid ``two_theta``.
        two_theta (ndarray): [L] strictly increasing angles in degrees.
        shift (float or ndarray): shift in degrees of :math:`2\theta`, one value or [N].

    Returns:
        ndarray: [N, L] shifted patterns, float64 (renormalised to a maximum of 1 if the
        input rows were).

    Raises:
        ValueError: for a wrong shape, non-finite values, or a shift larger than a
            quarter of the angular range.
    """
    X = as_array(X, "X", ndim=2, dtype=np.float64)
    grid = _grid_of(X, two_theta)
    shifts = as_array(shift, "shift", dtype=np.float64)
    shifts = np.broadcast_to(shifts, (len(X),)) if shifts.ndim == 0 else shifts
    if shifts.shape != (len(X),):
        raise ValueError(f"shift must be a number or have shape [{len(X)}]; got {shifts.shape}")
    span = grid[-1] - grid[0]
    if np.any(np.abs(shifts) > span / 4):
        raise ValueError(f"|shift| must be at most a quarter of the range ({span / 4:g} deg)")
    out = np.stack([np.interp(grid - s, grid, row) for row, s in zip(X, shifts, strict=True)])
    normalised = np.allclose(X.max(axis=1), 1.0)
    return out / out.max(axis=1, keepdims=True) if normalised else out


def mix_phase(X: Any, other: Any, fraction: float | Any) -> np.ndarray:
    """Add a second crystalline phase to each pattern.

    ``out = (1 - f) X + f other``, then each row is normalised to a maximum of 1 (as the
    patterns of :func:`matae_utils.xrd_dataset` are). ``f`` is the share of the
    strongest-peak-normalised intensity that comes from the second phase.

    Args:
        X (ndarray): [N, L] patterns of the main phase.
        other (ndarray): [N, L] patterns of the second phase, same grid.
        fraction (float or ndarray): ``f`` in [0, 1), one value or [N].

    Returns:
        ndarray: [N, L] float64 patterns, maximum 1.

    Raises:
        ValueError: on a shape mismatch, non-finite values or ``f`` outside [0, 1).
    """
    X = as_array(X, "X", ndim=2, dtype=np.float64)
    other = as_array(other, "other", ndim=2, dtype=np.float64)
    if other.shape != X.shape:
        raise ValueError(f"other must have the shape of X {X.shape}; got {other.shape}")
    f = as_array(fraction, "fraction", dtype=np.float64)
    f = np.broadcast_to(f, (len(X),)) if f.ndim == 0 else f
    if f.shape != (len(X),):
        raise ValueError(f"fraction must be a number or have shape [{len(X)}]; got {f.shape}")
    if np.any((f < 0) | (f >= 1)):
        raise ValueError("fraction must lie in [0, 1)")
    out = (1.0 - f[:, None]) * X + f[:, None] * other
    return out / out.max(axis=1, keepdims=True)


def wrong_wavelength(
    labels: pd.DataFrame,
    *,
    wavelength: str | float,
    two_theta: Any = None,
    profile: str = "gaussian",
    seed: int = 0,
) -> np.ndarray:
    r"""The patterns of :func:`matae_utils.xrd_dataset` as another X-ray tube records them.

    Each row of ``labels`` (the table returned with the patterns) names a prototype and
    its augmentation. The pattern is computed again with pymatgen's peak list of the same
    structure, the same lattice strain, crystallite size (the Scherrer width scales with
    the wavelength, :math:`\beta \propto \lambda / L`), noise level and background, but
    at ``wavelength``; a reader who assumes Cu K\ :math:`\alpha` then sees every peak at
    the wrong angle. With the data set's own wavelength and no noise this reproduces the
    data set's patterns exactly; the Poisson noise is a new draw (seeded by ``seed``).

    Args:
        labels (pandas.DataFrame): rows of the ``labels`` table of
            :func:`matae_utils.xrd_dataset` (columns ``name``, ``strain``,
            ``crystallite_size_nm``, ``noise``, ``background``).
        wavelength (str or float): the wrong radiation, a pymatgen name (``"CoKa"``,
            ``"MoKa"``, ...) or a wavelength in angstrom.
        two_theta (ndarray, optional): the grid of the data set [L] (default
            :func:`matae_utils.two_theta_grid`).
        profile (str): peak profile used for the data set.
        seed (int): seed of the Poisson noise.

    Returns:
        ndarray: float32 [N, L], rows normalised to a maximum of 1.

    Raises:
        ValueError: for missing columns, an unknown prototype or wavelength, or a
            structure without reflections in the grid at this wavelength.
    """
    from . import xrd

    needed = ("name", "strain", "crystallite_size_nm", "noise", "background")
    if not isinstance(labels, pd.DataFrame):
        raise TypeError(f"labels must be a pandas DataFrame; got {type(labels).__name__}")
    missing = [c for c in needed if c not in labels.columns]
    if missing:
        raise ValueError(
            f"labels lacks the columns {missing}; pass the labels table of xrd_dataset"
        )
    seed = check_number(seed, "seed", integer=True, low=0)
    grid = xrd._check_grid(None if two_theta is None else np.asarray(two_theta))
    lam = xrd._wavelength(wavelength)
    profile = check_choice(profile, "profile", xrd.PROFILES)
    strain = labels["strain"].to_numpy(np.float64)
    # Scherrer: crystallite_size_nm = K lambda / radians(fwhm) / 10 (xrd_dataset's label)
    fwhm = np.degrees(xrd.SCHERRER_K * lam / (10.0 * labels["crystallite_size_nm"].to_numpy()))
    noise = labels["noise"].to_numpy(np.float64)
    background = labels["background"].to_numpy(np.float64)
    d_min = xrd._level(
        xrd._d_min_needed(grid, lam, max(float(strain.max()), 0.0), float(fwhm.max()), profile)
    )
    names = labels["name"].tolist()
    known = set(xrd.load_prototypes()["name"])
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"unknown prototype name(s) {unknown[:5]}")
    # private helpers of xrd: the same peak lists and rendering as xrd_dataset
    peaks_of, failed = xrd._prototype_peaks(d_min, list(dict.fromkeys(names)), cache=True)
    rng = np.random.default_rng(seed)
    out = np.empty((len(names), grid.size), dtype=np.float32)
    for i, name in enumerate(names):
        if name in failed:
            raise ValueError(f"no peak list for {name}: {failed[name]}")
        d, f2m = peaks_of[name]
        sl = slice(i, i + 1)
        peaks = xrd._render(d, f2m, grid, lam, strain[sl], fwhm[sl], profile)
        if not peaks.max() > 0:
            raise ValueError(f"{name} has no reflection in the grid at {lam:g} angstrom")
        out[i] = xrd._finish(peaks, grid, background[sl], noise[sl], rng)[0]
    return out


# -------------------------------------------------------------------------------- scoring
def contaminate(
    clean: Any,
    corrupted: Any,
    *,
    fraction: float = 0.1,
    eligible: Any = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Replace a random share of a held-out set by corrupted copies of the same rows.

    Row ``i`` of ``corrupted`` must be the corrupted version of row ``i`` of ``clean``.
    ``round(fraction * N)`` rows (at least one) are drawn without replacement among the
    ``eligible`` ones and replaced; the others stay clean. Every detector then scores the
    same array.

    Args:
        clean (ndarray): [N, ...] held-out samples.
        corrupted (ndarray): [N, ...] their corrupted versions, same shape (rows that
            are not eligible are ignored; a copy of the clean row is fine there).
        fraction (float): share of all N rows that is replaced, in (0, 1).
        eligible (array of bool, optional): [N] rows that have a corrupted version
            (default: all), e.g. the formulas :func:`corrupt_formulas` could change.
        seed (int): seed of the draw.

    Returns:
        tuple: ``(X, is_anomaly)``: [N, ...] float64 samples and [N] int labels (1 =
        corrupted).

    Raises:
        ValueError: on a shape mismatch, non-finite values or a bad ``fraction``.
    """
    clean = as_array(clean, "clean", dtype=np.float64)
    corrupted = as_array(corrupted, "corrupted", dtype=np.float64)
    if clean.shape != corrupted.shape or clean.ndim < 2:
        raise ValueError(
            f"clean and corrupted must have the same shape [N, ...]; got {clean.shape} "
            f"and {corrupted.shape}"
        )
    fraction = check_number(
        fraction, "fraction", low=0, high=1, low_inclusive=False, high_inclusive=False
    )
    seed = check_number(seed, "seed", integer=True, low=0)
    n_bad = max(1, round(fraction * len(clean)))
    if n_bad >= len(clean):
        raise ValueError(f"fraction={fraction} leaves no clean row out of {len(clean)}")
    if eligible is None:
        pool = np.arange(len(clean))
    else:
        mask = np.asarray(eligible)
        if mask.dtype != bool or mask.shape != (len(clean),):
            raise ValueError(f"eligible must be a boolean array of shape [{len(clean)}]")
        pool = np.flatnonzero(mask)
    if n_bad > len(pool):
        raise ValueError(
            f"fraction={fraction} needs {n_bad} corrupted rows but only {len(pool)} are eligible"
        )
    rng = np.random.default_rng(seed)
    bad = rng.choice(pool, size=n_bad, replace=False)
    X = clean.copy()
    X[bad] = corrupted[bad]
    labels = np.zeros(len(clean), dtype=np.int64)
    labels[bad] = 1
    return X, labels


def anomaly_table(scores: Mapping[tuple[str, str], tuple[Any, Any]]) -> pd.DataFrame:
    """AUROC and average precision of several detectors on several corruption kinds.

    Args:
        scores (mapping): ``{(kind, method): (scores [N], is_anomaly [N])}``; higher
            scores mean more anomalous (see :func:`matae_utils.metrics.anomaly_metrics`).

    Returns:
        pandas.DataFrame: one row per (kind, method), in the mapping's order, with
        columns ``kind``, ``method``, ``auroc``, ``average_precision``, ``prevalence``
        (share of anomalies: the average precision of a random score) and
        ``n_anomalies``.

    Raises:
        ValueError: if ``scores`` is empty or an entry is invalid (see
            :func:`~matae_utils.metrics.anomaly_metrics`).
    """
    from .metrics import anomaly_metrics

    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("scores must be a non-empty mapping {(kind, method): (scores, labels)}")
    rows = []
    for key, value in scores.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"keys must be (kind, method) pairs; got {key!r}")
        s, y = value
        m = anomaly_metrics(s, y)
        n = m["n_anomalies"] + m["n_normal"]
        rows.append(
            {
                "kind": key[0],
                "method": key[1],
                "auroc": m["auroc"],
                "average_precision": m["average_precision"],
                "prevalence": m["n_anomalies"] / n,
                "n_anomalies": m["n_anomalies"],
            }
        )
    return pd.DataFrame(rows)


def largest_residuals(
    X: Any, X_hat: Any, *, feature_names: Sequence[str], top: int = 1
) -> pd.DataFrame:
    """For each sample, the features that the model reconstructs worst.

    With standardised inputs the residual ``X - X_hat`` is in standard deviations of the
    training set, so the feature with the largest absolute residual is a first answer to
    "what is unusual about this sample?". It is a pointer for a human, not a diagnosis.

    Args:
        X (ndarray): [N, d] samples (standardised).
        X_hat (ndarray): [N, d] their reconstructions.
        feature_names (sequence of str): [d] names.
        top (int): features listed per sample, 1 <= top <= d.

    Returns:
        pandas.DataFrame: [N * top] rows with ``sample`` (row of ``X``), ``rank`` (1 =
        worst), ``feature``, ``value``, ``reconstruction`` and ``residual``.

    Raises:
        ValueError: on shape mismatches, non-finite values or a bad ``top``.
    """
    X = as_array(X, "X", ndim=2, dtype=np.float64)
    X_hat = as_array(X_hat, "X_hat", ndim=2, dtype=np.float64)
    if X.shape != X_hat.shape:
        raise ValueError(f"X and X_hat must have the same shape; got {X.shape} and {X_hat.shape}")
    names = [str(n) for n in feature_names]
    if len(names) != X.shape[1]:
        raise ValueError(f"feature_names has {len(names)} names for {X.shape[1]} features")
    top = check_number(top, "top", integer=True, low=1, high=X.shape[1])
    residual = X - X_hat
    order = np.argsort(-np.abs(residual), axis=1, kind="stable")[:, :top]  # [N, top]
    rows = np.repeat(np.arange(len(X)), top)
    cols = order.ravel()
    return pd.DataFrame(
        {
            "sample": rows,
            "rank": np.tile(np.arange(1, top + 1), len(X)),
            "feature": [names[c] for c in cols],
            "value": X[rows, cols],
            "reconstruction": X_hat[rows, cols],
            "residual": residual[rows, cols],
        }
    )
