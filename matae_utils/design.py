"""Generative design: decode compositions, judge generated sets, random baseline, latent search.

A generative model of compositions (e.g. a VAE with a softmax decoder over element
fractions) outputs *vectors*; chemists need *formulas*. This module turns vectors into
formulas with one stated rule (:func:`decode_compositions`) and measures generated sets
with the metrics used in the generative-materials literature:

* **validity** with SMACT (:func:`smact_valid`): charge neutrality for some combination
  of common oxidation states plus the Pauling electronegativity order, with and without
  SMACT's shortcut that calls every all-metal composition valid (an alloy);
* **uniqueness** (:func:`uniqueness`) and **novelty** against a training set
  (:func:`novelty`), both on pymatgen reduced formulas;
* **distribution distances** (:func:`distribution_distances`): Wasserstein distances of
  the number of elements and of the mean Pauling electronegativity to the data;
* :func:`evaluate_generated` collects them all for one set, so every method is scored
  by the same code on the same number of samples.

:func:`random_compositions` is the baseline every generator must beat: random element
sets drawn with the data's element-count distribution and element frequencies, with random
integer amounts. :func:`search_latent` looks for latent codes whose predicted property lies
in a target window (gradient descent with a prior penalty), and :func:`nearest_known`
finds the closest known compounds of a candidate.

pymatgen and smact are imported inside the functions that need them.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._checks import as_array, check_number, check_range

__all__ = [
    "decode_compositions",
    "distribution_distances",
    "evaluate_generated",
    "mean_electronegativity",
    "n_elements",
    "nearest_known",
    "novelty",
    "random_compositions",
    "search_latent",
    "smact_valid",
    "uniqueness",
]

#: Tolerance below which a negative entry counts as float round-off (set to 0), not an error.
_NEG_TOL = 1e-6

#: Largest denominator used to turn non-integer amounts into an integer formula for SMACT.
_SMACT_MAX_DENOMINATOR = 100


# --------------------------------------------------------------------------- helpers
def _vocabulary(elements: Sequence[str] | None) -> tuple[str, ...]:
    from .featurize import ELEMENTS, _check_vocabulary

    return _check_vocabulary(ELEMENTS if elements is None else elements)


def _check_fractions(fractions: Any, n_elements: int, name: str = "fractions") -> np.ndarray:
    """[N, n_elements] float64 non-negative rows with a positive sum (1-D input -> one row)."""
    x = as_array(fractions, name, dtype=np.float64, allow_nan=True)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValueError(
            f"{name} must be 1-D [{n_elements}] or 2-D [N, {n_elements}], got shape {x.shape}"
        )
    if x.shape[1] != n_elements:
        raise ValueError(
            f"{name} must have {n_elements} columns (one per element of `elements`), "
            f"got shape {x.shape}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{name} contains NaN or infinite values in rows {np.flatnonzero(bad)[:10].tolist()}; "
            "a decoder that outputs NaN has diverged"
        )
    neg = (x < -_NEG_TOL).any(axis=1)
    if neg.any():
        rows = np.flatnonzero(neg)
        raise ValueError(
            f"{name} must be non-negative (atomic fractions), got negative entries in rows "
            f"{rows[:10].tolist()} (smallest {x[rows].min():.3g}); use a decoder with "
            "output_activation='softmax'"
        )
    x = np.clip(x, 0.0, None)
    empty = x.sum(axis=1) <= 0
    if empty.any():
        raise ValueError(
            f"rows {np.flatnonzero(empty)[:10].tolist()} of {name} are all zero, so they "
            "describe no composition"
        )
    return x


def _formula_list(formulas: Any, name: str = "formulas") -> list[str | None]:
    if isinstance(formulas, str):
        raise TypeError(f"{name} must be a sequence of formulas, got a single str {formulas!r}")
    if hasattr(formulas, "tolist"):
        formulas = formulas.tolist()
    try:
        out = list(formulas)
    except TypeError:
        raise TypeError(
            f"{name} must be a sequence of formula strings, got {type(formulas).__name__}"
        ) from None
    for i, f in enumerate(out):
        if f is not None and not isinstance(f, str):
            raise TypeError(f"{name}[{i}] must be a formula string or None, got {f!r}")
    return out


@functools.lru_cache(maxsize=65536)
def _reduced(formula: str) -> str:
    from pymatgen.core import Composition

    try:
        comp = Composition(formula)
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"could not parse formula {formula!r}: {err}") from None
    if not comp.valid or comp.num_atoms <= 0:
        raise ValueError(f"formula {formula!r} is not a valid composition (unknown element?)")
    with warnings.catch_warnings():  # noble gases have no Pauling value (used for ordering)
        warnings.filterwarnings("ignore", message="No Pauling electronegativity")
        return comp.reduced_formula


@functools.lru_cache(maxsize=65536)
def _element_set(formula: str) -> frozenset[str]:
    from pymatgen.core import Composition

    return frozenset(el.symbol for el in Composition(formula).elements)


@functools.lru_cache(maxsize=65536)
def _atoms(formula: str) -> float:
    from pymatgen.core import Composition

    return float(Composition(formula).num_atoms)


# --------------------------------------------------------------------------- decoding
def decode_compositions(
    fractions: Any,
    *,
    elements: Sequence[str] | None = None,
    threshold: float = 0.05,
    max_denominator: int = 6,
    max_atoms: int = 20,
) -> list[str | None]:
    """Turn element-fraction vectors (e.g. decoder outputs) into integer formulas.

    The rule, in order:

    1. normalise each row to sum 1 and drop the elements below ``threshold`` (a softmax
       decoder leaks a little probability onto every element); renormalise; a row with
       no element at or above ``threshold`` is rejected (``None``);
    2. express the amounts relative to the smallest one and rationalise them with
       denominators up to ``max_denominator``, with pymatgen's
       ``Composition.get_integer_formula_and_factor`` (via
       :func:`matae_utils.featurize.fractions_to_formula`): [Fe 0.41, O 0.59] -> Fe2O3;
    3. if the reduced formula has more than ``max_atoms`` atoms per formula unit, retry
       with smaller denominators (``max_denominator - 1`` down to 1); the row is rejected
       (``None``) if no denominator gives at most ``max_atoms`` atoms while keeping every
       element of step 1 (coarse rounding can round a minor element away);
    4. return pymatgen's reduced formula.

    Args:
        fractions (array-like or Tensor): [len(elements)] or [N, len(elements)] atomic
            fractions, non-negative (entries above -1e-6 are treated as round-off zeros).
        elements (sequence of str | None): the element of each column; None means
            :data:`matae_utils.featurize.ELEMENTS` (H to Pu).
        threshold (float): smallest atomic fraction kept, in [0, 1).
        max_denominator (int): largest denominator of the amounts relative to the
            smallest one, >= 1.
        max_atoms (int): largest number of atoms per formula unit, >= 1.

    Returns:
        list[str | None]: [N] reduced formulas, None where the rule rejects the row.

    Raises:
        ValueError: for NaN or infinite entries, negative fractions, a wrong number of
            columns, an all-zero row, or invalid settings; the message names the
            offending rows.
        TypeError: for non-numeric input.

    Example::

        >>> x = np.zeros(94); x[[25, 7]] = [0.41, 0.59]      # Fe, O
        >>> decode_compositions(x)
        ['Fe2O3']
    """
    from .featurize import fractions_to_formula

    vocab = _vocabulary(elements)
    check_number(threshold, "threshold", low=0.0, high=1.0, high_inclusive=False)
    max_denominator = check_number(max_denominator, "max_denominator", integer=True, low=1)
    max_atoms = check_number(max_atoms, "max_atoms", integer=True, low=1)
    x = _check_fractions(fractions, len(vocab))
    share = x / x.sum(axis=1, keepdims=True)
    out: list[str | None] = []
    for i in range(len(x)):
        kept = {vocab[j] for j in np.flatnonzero(share[i] >= threshold)}
        decoded: str | None = None
        if not kept:  # a diffuse vector: no element reaches the threshold
            out.append(None)
            continue
        for denominator in range(max_denominator, 0, -1):
            formula = fractions_to_formula(
                x[i], elements=vocab, threshold=float(threshold), max_denominator=denominator
            )
            reduced = _reduced(formula)
            if _element_set(reduced) != kept:  # rounding dropped an element: stop
                break
            if _atoms(reduced) <= max_atoms:
                decoded = reduced
                break
        out.append(decoded)
    return out


# --------------------------------------------------------------------------- validity
@functools.lru_cache(maxsize=65536)
def _smact_one(formula: str, alloys: bool, max_elements: int) -> bool:
    from pymatgen.core import Composition
    from smact import metals
    from smact.screening import smact_validity

    comp = Composition(formula)
    symbols = [el.symbol for el in comp.elements]
    if len(symbols) > max_elements:  # SMACT's own fast paths, without its search
        return len(symbols) == 1 or (alloys and all(s in metals for s in symbols))
    # smact_validity casts every amount with int() (0.5 -> 0), and divides by zero when all
    # amounts are below 1: give it the smallest integer formula instead.
    integer, _ = comp.get_integer_formula_and_factor(max_denominator=_SMACT_MAX_DENOMINATOR)
    return bool(smact_validity(integer, use_pauling_test=True, include_alloys=alloys))


def smact_valid(formulas: Any, *, alloys: bool = True, max_elements: int = 6) -> np.ndarray:
    """SMACT chemical validity of each formula: charge neutrality + electronegativity order.

    Calls ``smact.screening.smact_validity(formula, use_pauling_test=True,
    include_alloys=alloys)`` with SMACT's default oxidation states (the ICSD-2024 set,
    states reported at least 3 times). A composition passes if some combination of those
    oxidation states is charge-neutral and orders the ions by Pauling electronegativity
    (cations less electronegative than anions). Single-element compositions always pass;
    with ``alloys=True`` every composition made only of metals passes too (SMACT's alloy
    shortcut), which is the number papers usually report.

    Formulas with non-integer amounts (Cd0.3Hg0.7Te) are first written as the smallest
    integer formula (denominators up to 100, Cd3Hg7Te10), because ``smact_validity``
    truncates each amount with ``int()`` and fails with ``ZeroDivisionError`` when every
    amount is below 1.

    SMACT tries every combination of oxidation states, a number that grows exponentially
    with the number of elements (8 states for each of 9 elements is 1.3 x 10^8
    combinations, minutes for one formula). Compositions with more than ``max_elements``
    elements are therefore not screened and count as invalid (unless single-element or,
    with ``alloys=True``, all-metal, which SMACT decides without the search).

    Args:
        formulas (sequence of str | None): [N] formulas; None (a row the decoding rule
            rejected) counts as invalid.
        alloys (bool): apply the all-metal-alloy shortcut.
        max_elements (int): largest number of elements screened, >= 1.

    Returns:
        numpy.ndarray: [N] bool.

    Raises:
        ValueError: if a formula cannot be parsed.
        TypeError: if ``formulas`` is a single string or holds non-strings.
    """
    if not isinstance(alloys, bool):
        raise TypeError(f"alloys must be True or False, got {alloys!r}")
    max_elements = check_number(max_elements, "max_elements", integer=True, low=1)
    items = _formula_list(formulas)
    return np.array(
        [False if f is None else _smact_one(_reduced(f), alloys, max_elements) for f in items],
        dtype=bool,
    )


def uniqueness(formulas: Any) -> float:
    """Share of the samples that are distinct compositions.

    Number of distinct reduced formulas divided by the number of samples; rejected
    samples (None) count in the denominator but are never distinct formulas.

    Args:
        formulas (sequence of str | None): [N] generated formulas, N >= 1.

    Returns:
        float: in [0, 1].
    """
    items = _formula_list(formulas)
    if not items:
        raise ValueError("formulas is empty")
    distinct = {_reduced(f) for f in items if f is not None}
    return len(distinct) / len(items)


def novelty(formulas: Any, reference: Any) -> float:
    """Share of the distinct generated compositions that are not in ``reference``.

    Both sides are compared as pymatgen reduced formulas, so Fe4O6 and Fe2O3 are the same
    compound.

    Args:
        formulas (sequence of str | None): [N] generated formulas (None ignored).
        reference (sequence of str): [M] known formulas (e.g. the training set).

    Returns:
        float: in [0, 1]; NaN if no sample decoded to a formula.
    """
    items = _formula_list(formulas)
    known = {_reduced(f) for f in _formula_list(reference, "reference") if f is not None}
    distinct = {_reduced(f) for f in items if f is not None}
    if not distinct:
        return float("nan")
    return len(distinct - known) / len(distinct)


# --------------------------------------------------------------------------- distributions
@functools.lru_cache(maxsize=65536)
def _n_el_and_en(formula: str) -> tuple[int, float]:
    from pymatgen.core import Composition

    comp = Composition(formula)
    total = 0.0
    weighted = 0.0
    for el, amount in comp.get_el_amt_dict().items():
        x = _pauling(el)
        if math.isfinite(x):
            weighted += amount * x
            total += amount
    return len(comp.elements), (weighted / total if total > 0 else float("nan"))


@functools.lru_cache(maxsize=256)
def _pauling(symbol: str) -> float:
    from pymatgen.core import Element

    with warnings.catch_warnings():  # noble gases: pymatgen warns and returns NaN
        warnings.filterwarnings("ignore", message="No Pauling electronegativity")
        value = Element(symbol).X
    return float(value)


def n_elements(formulas: Any) -> np.ndarray:
    """Number of distinct elements of each formula (None -> -1).

    Args:
        formulas (sequence of str | None): [N] formulas.

    Returns:
        numpy.ndarray: [N] int.
    """
    return np.array(
        [-1 if f is None else _n_el_and_en(_reduced(f))[0] for f in _formula_list(formulas)],
        dtype=np.int64,
    )


def mean_electronegativity(formulas: Any) -> np.ndarray:
    """Composition-weighted mean Pauling electronegativity of each formula.

    Elements without a Pauling value (He, Ne, Ar) are left out of the mean; None and
    compositions of such elements only give NaN.

    Args:
        formulas (sequence of str | None): [N] formulas.

    Returns:
        numpy.ndarray: [N] float64.
    """
    return np.array(
        [np.nan if f is None else _n_el_and_en(_reduced(f))[1] for f in _formula_list(formulas)],
        dtype=np.float64,
    )


def distribution_distances(formulas: Any, reference: Any) -> dict[str, float]:
    """Wasserstein-1 distances between generated and reference composition statistics.

    Args:
        formulas (sequence of str | None): [N] generated formulas (None ignored).
        reference (sequence of str): [M] formulas of the data.

    Returns:
        dict[str, float]: ``"n_elements"`` (in elements) and ``"electronegativity"``
        (Pauling units) from ``scipy.stats.wasserstein_distance``.

    Raises:
        ValueError: if either side has no formula.
    """
    from scipy.stats import wasserstein_distance

    gen = [f for f in _formula_list(formulas) if f is not None]
    ref = [f for f in _formula_list(reference, "reference") if f is not None]
    if not gen or not ref:
        raise ValueError("need at least one generated and one reference formula")
    en_gen, en_ref = mean_electronegativity(gen), mean_electronegativity(ref)
    return {
        "n_elements": float(wasserstein_distance(n_elements(gen), n_elements(ref))),
        "electronegativity": float(
            wasserstein_distance(en_gen[np.isfinite(en_gen)], en_ref[np.isfinite(en_ref)])
        ),
    }


def evaluate_generated(formulas: Any, training: Any) -> dict[str, float]:
    """All metrics of a generated set, computed the same way for every method.

    Args:
        formulas (sequence of str | None): [N] generated (or baseline, or data) formulas.
        training (sequence of str): the training formulas: the reference for novelty and
            for the distribution distances.

    Returns:
        dict[str, float]: ``n`` (samples), ``decoded`` (share not rejected by the decoding
        rule), ``validity`` (SMACT with the alloy shortcut), ``validity_no_alloys``,
        ``uniqueness``, ``novelty``, ``w_n_elements`` and ``w_electronegativity``.
    """
    items = _formula_list(formulas)
    if not items:
        raise ValueError("formulas is empty")
    dist = distribution_distances(items, training)
    return {
        "n": float(len(items)),
        "decoded": float(np.mean([f is not None for f in items])),
        "validity": float(smact_valid(items, alloys=True).mean()),
        "validity_no_alloys": float(smact_valid(items, alloys=False).mean()),
        "uniqueness": uniqueness(items),
        "novelty": novelty(items, training),
        "w_n_elements": dist["n_elements"],
        "w_electronegativity": dist["electronegativity"],
    }


# --------------------------------------------------------------------------- baseline
def random_compositions(
    n: int,
    fractions: Any,
    *,
    elements: Sequence[str] | None = None,
    max_amount: int = 8,
    seed: int = 0,
) -> list[str]:
    """Random baseline: compositions with the data's element counts and element frequencies.

    For each sample, the number of elements is drawn from its distribution in
    ``fractions``; that many distinct elements are drawn without replacement with
    probabilities proportional to how many compounds of the data contain each element;
    each gets an integer amount drawn uniformly from 1 to ``max_amount``.

    Args:
        n (int): number of compositions.
        fractions (array-like): [M, len(elements)] element fractions of the data.
        elements (sequence of str | None): the column elements (default ``ELEMENTS``).
        max_amount (int): largest integer amount, >= 1.
        seed (int): seed of ``numpy.random.default_rng``.

    Returns:
        list[str]: [n] reduced formulas.
    """
    from pymatgen.core import Composition

    vocab = _vocabulary(elements)
    n = check_number(n, "n", integer=True, low=1)
    max_amount = check_number(max_amount, "max_amount", integer=True, low=1)
    seed = check_number(seed, "seed", integer=True, low=0)
    present = _check_fractions(fractions, len(vocab)) > 0  # [M, n_el]
    counts = present.sum(axis=1)
    freq = present.sum(axis=0) / present.sum()
    values, tally = np.unique(counts, return_counts=True)
    rng = np.random.default_rng(seed)
    ks = rng.choice(values, size=n, p=tally / tally.sum())
    out = []
    for k in ks:
        chosen = rng.choice(len(vocab), size=int(k), replace=False, p=freq)
        amounts = rng.integers(1, max_amount + 1, size=int(k))
        comp = Composition({vocab[j]: int(a) for j, a in zip(chosen, amounts, strict=True)})
        out.append(comp.reduced_formula)
    return out


# --------------------------------------------------------------------------- search
def search_latent(
    property_fn: Callable[[Any], Any],
    latent_dim: int,
    *,
    target: tuple[float, float],
    n_starts: int = 256,
    steps: int = 200,
    lr: float = 0.05,
    prior_weight: float = 0.1,
    seed: int = 0,
    device: Any = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient search of the latent space for codes whose predicted property is in a window.

    Starting from ``n_starts`` codes drawn from the prior N(0, I), Adam minimises, for each
    code independently,

    ``((p(z) - c) / h)**2 + prior_weight * ||z||**2 / 2``

    where ``p`` is ``property_fn`` (e.g. a property head on the latent space), ``c`` and
    ``h`` the centre and half-width of the target window (so the first term is 1 at its
    edges), and the second term the negative log density of the prior N(0, I) times
    ``prior_weight``, which keeps the codes where the decoder was trained. Codes whose
    prediction ends outside the window are returned too: filter them.

    Args:
        property_fn (callable): differentiable map of codes [B, latent_dim] (Tensor) to
            predictions [B] or [B, 1].
        latent_dim (int): size of the latent space.
        target (tuple[float, float]): the window (lo, hi), lo < hi.
        n_starts (int): number of independent starting codes.
        steps (int): Adam steps.
        lr (float): Adam learning rate.
        prior_weight (float): weight of the prior penalty, >= 0.
        seed (int): seed of the starting codes (a local ``torch.Generator``).
        device (str | torch.device): where to compute; the parameters of ``property_fn``
            must live there.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: codes [n_starts, latent_dim] and their
        predicted property [n_starts], after the last step.
    """
    import torch

    if not callable(property_fn):
        raise TypeError(f"property_fn must be callable, got {type(property_fn).__name__}")
    latent_dim = check_number(latent_dim, "latent_dim", integer=True, low=1)
    lo, hi = check_range(target, "target")
    n_starts = check_number(n_starts, "n_starts", integer=True, low=1)
    steps = check_number(steps, "steps", integer=True, low=1)
    lr = check_number(lr, "lr", low=0.0, low_inclusive=False)
    prior_weight = check_number(prior_weight, "prior_weight", low=0.0)
    seed = check_number(seed, "seed", integer=True, low=0)

    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n_starts, latent_dim, generator=gen).to(device).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)

    def predict(codes: Any) -> Any:
        p = property_fn(codes)
        if p.dim() == 2 and p.shape[1] == 1:
            p = p[:, 0]
        if p.shape != (codes.shape[0],):
            raise ValueError(
                f"property_fn must return [B] or [B, 1] predictions, got {list(p.shape)}"
            )
        return p

    for _ in range(steps):
        p = predict(z)
        miss = (p - centre) / half  # [B], +-1 at the edges of the window
        loss = (miss**2 + 0.5 * prior_weight * (z**2).sum(dim=1)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = predict(z).detach().cpu().numpy()
    return z.detach().cpu().numpy(), final


def nearest_known(
    query: Any, reference: Any, reference_formulas: Any, *, n_neighbors: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Closest known compounds in element-fraction space (Euclidean distance).

    Args:
        query (array-like): [N, n_elements] fractions of the candidates.
        reference (array-like): [M, n_elements] fractions of the known compounds.
        reference_formulas (sequence of str): [M] their formulas.
        n_neighbors (int): neighbours per candidate, 1 <= n_neighbors <= M.

    Returns:
        tuple[numpy.ndarray, numpy.ndarray]: formulas [N, n_neighbors] (object) and
        distances [N, n_neighbors], nearest first.
    """
    from sklearn.neighbors import NearestNeighbors

    ref_names = _formula_list(reference_formulas, "reference_formulas")
    ref = as_array(reference, "reference", ndim=2, dtype=np.float64)
    q = as_array(query, "query", dtype=np.float64)
    q = q[None] if q.ndim == 1 else q
    if q.ndim != 2 or q.shape[1] != ref.shape[1]:
        raise ValueError(
            f"query must have shape [N, {ref.shape[1]}] like reference, got {list(q.shape)}"
        )
    if len(ref_names) != ref.shape[0]:
        raise ValueError(
            f"reference_formulas has {len(ref_names)} entries but reference has {ref.shape[0]} rows"
        )
    n_neighbors = check_number(n_neighbors, "n_neighbors", integer=True, low=1, high=ref.shape[0])
    nn = NearestNeighbors(n_neighbors=n_neighbors).fit(ref)
    dist, idx = nn.kneighbors(q)
    names = np.array(ref_names, dtype=object)[idx]
    return names, dist


# --------------------------------------------------------------------------- perovskites
def abo3_site_balance(
    formulas: Any,
    a_site: Sequence[str],
    b_site: Sequence[str],
    *,
    anion: str = "O",
    tol: float = 0.0125,
) -> np.ndarray:
    """Whether each composition can be written as an ABO3 perovskite, (A)(B)O3.

    True when the anion makes up 3/5 of the atoms and the other elements, all of them
    allowed on the A or B site, can be assigned to the two sites (an element allowed on
    both may go to either, whole) so that each site holds 1/5 of the atoms, all within
    ``tol`` (default: half an atom in a 40-atom A8B8O24 cell).

    Args:
        formulas (sequence of str | None): [N] formulas (None -> False).
        a_site (sequence of str): elements allowed on the A site.
        b_site (sequence of str): elements allowed on the B site.
        anion (str): the X-site element.
        tol (float): tolerance on each atomic fraction, >= 0.

    Returns:
        numpy.ndarray: [N] bool.
    """
    import itertools

    from pymatgen.core import Composition

    a_set, b_set = set(a_site), set(b_site)
    tol = check_number(tol, "tol", low=0.0)
    out = []
    for f in _formula_list(formulas):
        if f is None:
            out.append(False)
            continue
        frac = Composition(_reduced(f)).fractional_composition.get_el_amt_dict()
        cations = {el: v for el, v in frac.items() if el != anion}
        ok = abs(frac.get(anion, 0.0) - 0.6) <= tol and all(
            el in a_set or el in b_set for el in cations
        )
        if ok:
            both = [el for el in cations if el in a_set and el in b_set]
            fixed_a = sum(v for el, v in cations.items() if el in a_set and el not in b_set)
            ok = any(
                abs(
                    fixed_a + sum(cations[el] for el, s in zip(both, sides, strict=True) if s) - 0.2
                )
                <= tol
                for sides in itertools.product((True, False), repeat=len(both))
            )
        out.append(bool(ok))
    return np.array(out, dtype=bool)


__all__ += ["abo3_site_balance"]
