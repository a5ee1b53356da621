r"""Simulated powder X-ray diffraction (XRD) patterns of real crystal structures.

Peak positions and intensities come from pymatgen's ``XRDCalculator`` (kinematic
diffraction: atomic scattering factors, structure factors, multiplicities and the
Lorentz-polarisation factor of an unpolarised beam). This module turns the peak list into
a pattern sampled on a fixed :math:`2\theta` grid, the way a diffractometer does, and
adds physically meaningful variations for data augmentation:

* **Lattice strain** :math:`\varepsilon` (isotropic): every interplanar spacing becomes
  :math:`d' = d (1 + \varepsilon)`, and Bragg's law :math:`\lambda = 2 d' \sin\theta`
  moves the peaks (tensile strain, :math:`\varepsilon > 0`, shifts them to lower
  :math:`2\theta`). The Lorentz-polarisation factor is re-evaluated at the new angle; the
  structure factors are kept (their change with :math:`d` is of order
  :math:`\varepsilon`).
* **Crystallite size** (Scherrer): a crystallite of size :math:`L` broadens a peak to a
  full width at half maximum :math:`\beta = K \lambda / (L \cos\theta)` (radians of
  :math:`2\theta`, :math:`K = 0.9`). The ``fwhm`` arguments below are
  :math:`K\lambda/L` in degrees, the width extrapolated to :math:`2\theta = 0`; a peak
  at :math:`2\theta` is :math:`1/\cos\theta` times broader.
* **Peak shape**: Gaussian, or pseudo-Voigt (an equal mix of a Gaussian and a Lorentzian
  of the same width). Profiles are integrated over each grid bin, so peak areas are
  right even on a coarse grid.
* **Background**: a smooth curve decaying as :math:`1/2\theta` (air scattering,
  sample holder), ``background`` times the strongest peak at the first grid point.
* **Counting noise**: Poisson statistics, with ``noise`` the relative standard deviation
  at the strongest peak (``noise = 0.05`` means 400 counts at the maximum).

Patterns are normalised to a maximum of 1. Instrumental effects not modelled: the
Cu K\ :math:`\alpha_2` line, preferred orientation, absorption, zero shift, thermal
(Debye-Waller) damping and anisotropic strain.

The crystal structures are the AFLOW library of crystallographic prototypes shipped
with pymatgen (288 entries; Mehl et al. 2017). Their peak lists are cached in memory and,
as ``.npz`` files, under ``$MATAE_CACHE`` (default ``~/.cache/matae``), because computing
all of them takes tens of seconds.

References:
    Mehl, M. J., Hicks, D., Toher, C., Levy, O., Hanson, R. M., Hart, G. and Curtarolo,
    S. (2017). The AFLOW library of crystallographic prototypes: part 1. Comput. Mater.
    Sci. 136, S1-S828.

    Ong, S. P. et al. (2013). Python Materials Genomics (pymatgen): a robust, open-source
    python library for materials analysis. Comput. Mater. Sci. 68, 314-319.
"""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _cache
from ._checks import check_choice, check_number, check_range, close_matches_hint

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

__all__ = [
    "PROFILES",
    "load_prototypes",
    "simulate_xrd",
    "two_theta_grid",
    "xrd_dataset",
]

#: Accepted values of the ``profile`` argument.
PROFILES = ("gaussian", "pseudo-voigt")
#: Scherrer shape factor K (spherical crystallites).
SCHERRER_K = 0.9
#: Mixing of the pseudo-Voigt profile (fraction of Lorentzian).
PSEUDO_VOIGT_ETA = 0.5

#: Profiles are evaluated within this many FWHM of each peak centre (the Gaussian is
#: 1e-11 of its height there; the Lorentzian tails beyond hold 2.6 % of its area).
_WINDOW = {"gaussian": 3.0, "pseudo-voigt": 12.0}
#: Largest strain accepted (elastic strains of crystals are a few percent).
_MAX_STRAIN = 0.1
#: The peak lists are computed down to one of these d-spacings (angstrom), the largest
#: one that covers the requested grid, so that one cached list serves many grids.
_D_MIN_LEVELS = (1.0, 0.7, 0.5, 0.35, 0.25)
#: Bump when the cached peak-list format or its computation changes.
_CACHE_VERSION = 2

_PROTOTYPES: pd.DataFrame | None = None


# --------------------------------------------------------------------------- utilities
def _wavelength(wavelength: str | float) -> float:
    """A pymatgen radiation name (e.g. ``"CuKa"``) or a wavelength in angstrom -> float."""
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS

    if isinstance(wavelength, str):
        if wavelength not in WAVELENGTHS:
            raise ValueError(
                f"unknown wavelength {wavelength!r}; use a wavelength in angstrom or one of "
                f"{sorted(WAVELENGTHS)}"
            )
        return float(WAVELENGTHS[wavelength])
    return check_number(wavelength, "wavelength (angstrom)", low=0.05, high=5.0)


def _check_grid(two_theta: np.ndarray | None) -> np.ndarray:
    if two_theta is None:
        return two_theta_grid()
    grid = np.asarray(two_theta)
    if grid.dtype.kind not in "fiu":
        raise TypeError(f"two_theta must be a real-valued array, got dtype {grid.dtype}")
    grid = grid.astype(np.float64)
    if grid.ndim != 1 or grid.size < 2:
        raise ValueError(
            f"two_theta must be a 1-D array of at least 2 angles, got shape {grid.shape}"
        )
    if not np.all(np.isfinite(grid)) or not np.all(np.diff(grid) > 0):
        raise ValueError("two_theta must be finite and strictly increasing")
    if grid[0] <= 0 or grid[-1] >= 180:
        raise ValueError(
            f"two_theta must lie inside (0, 180) degrees, got [{grid[0]:g}, {grid[-1]:g}]"
        )
    return grid


def _bin_edges(grid: np.ndarray) -> np.ndarray:
    """Edges of the bins centred on the grid points: [n + 1]."""
    mid = 0.5 * (grid[1:] + grid[:-1])
    return np.concatenate(([grid[0] - (mid[0] - grid[0])], mid, [grid[-1] + (grid[-1] - mid[-1])]))


def _lorentz_polarisation(theta: np.ndarray) -> np.ndarray:
    """(1 + cos^2 2theta) / (sin^2 theta cos theta), as in pymatgen's XRDCalculator."""
    return (1.0 + np.cos(2.0 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))


def _d_min_needed(
    grid: np.ndarray, wavelength: float, max_strain: float, max_fwhm: float, profile: str
) -> float:
    """Smallest unstrained d-spacing whose (strained, broadened) peak can reach the grid."""
    margin = _WINDOW[profile] * max_fwhm / np.cos(np.radians(min(grid[-1], 170.0) / 2.0))
    top = min(grid[-1] + margin, 179.0)
    return wavelength / (2.0 * np.sin(np.radians(top / 2.0))) / (1.0 + max_strain)


def _level(d_min: float) -> float:
    for level in _D_MIN_LEVELS:
        if level <= d_min:
            return level
    raise ValueError(
        f"the grid and wavelength need reflections down to d = {d_min:.3g} angstrom; "
        f"at most 2*theta = 179 deg with d >= {_D_MIN_LEVELS[-1]} angstrom is supported"
    )


def _peak_table(structure: Structure, d_min: float) -> tuple[np.ndarray, np.ndarray]:
    """pymatgen reflections with d >= d_min -> (d [P], |F|^2 * multiplicity [P]).

    Both are independent of the wavelength: the scattering factors depend on
    sin(theta) / lambda = 1 / (2 d) only. The Lorentz-polarisation factor, which does
    depend on the angle, is divided out and re-applied when a pattern is rendered.
    """
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    # A wavelength for which d_min sits at 2*theta = 120 deg keeps the LP factor finite.
    calc_wavelength = 2.0 * d_min * np.sin(np.radians(60.0))
    pattern = XRDCalculator(wavelength=calc_wavelength).get_pattern(
        structure, scaled=False, two_theta_range=(0.0, 120.0)
    )
    two_theta = np.asarray(pattern.x, dtype=np.float64)
    intensity = np.asarray(pattern.y, dtype=np.float64)
    d = np.asarray(pattern.d_hkls, dtype=np.float64)
    f2m = intensity / _lorentz_polarisation(np.radians(two_theta / 2.0))
    return d, f2m


def _render(
    d: np.ndarray,
    f2m: np.ndarray,
    grid: np.ndarray,
    wavelength: float,
    strain: np.ndarray,
    fwhm: np.ndarray,
    profile: str,
) -> np.ndarray:
    """Peak lists -> patterns on the grid, one per (strain, fwhm) pair: [A, n_points]."""
    from scipy.special import erf

    n_aug, n_pts = len(strain), len(grid)
    edges = _bin_edges(grid)
    # [A, P]: strained spacings, Bragg angles and LP-weighted intensities
    sin_theta = wavelength / (2.0 * d[None, :] * (1.0 + strain[:, None]))
    row, peak = np.nonzero(sin_theta < np.sin(np.radians(89.5)))
    theta = np.arcsin(sin_theta[row, peak])
    centre = np.degrees(2.0 * theta)
    width = fwhm[row] / np.cos(theta)  # Scherrer: beta = K lambda / (L cos theta)
    height = f2m[peak] * _lorentz_polarisation(theta)
    reach = _WINDOW[profile] * width
    near = (centre + reach > edges[0]) & (centre - reach < edges[-1])
    row, centre, width, height, reach = (
        row[near],
        centre[near],
        width[near],
        height[near],
        reach[near],
    )

    patterns = np.zeros(n_aug * n_pts)
    if not len(row):
        return patterns.reshape(n_aug, n_pts)
    first = np.clip(np.searchsorted(edges, centre - reach, side="right") - 1, 0, n_pts - 1)
    last = np.clip(np.searchsorted(edges, centre + reach, side="left"), 1, n_pts)
    # Peaks are processed in groups of similar window length, so narrow peaks do not pay
    # for the widest one; each group is a dense [K, span] block.
    order = np.argsort(last - first, kind="stable")
    for group in np.array_split(order, min(4, len(order))):
        span = int((last[group] - first[group]).max())
        edge_idx = np.minimum(
            first[group, None] + np.arange(span + 1)[None, :], n_pts
        )  # [K, span + 1]
        x = (edges[edge_idx] - centre[group, None]) / width[group, None]  # in units of FWHM
        cdf = 0.5 * erf((2.0 * np.sqrt(np.log(2.0))) * x)  # Gaussian of FWHM 1 (up to + 1/2)
        if profile == "pseudo-voigt":  # Lorentzian of FWHM 1: arctan(2x) / pi (up to + 1/2)
            cdf = (1.0 - PSEUDO_VOIGT_ETA) * cdf + (PSEUDO_VOIGT_ETA / np.pi) * np.arctan(2.0 * x)
        area = np.diff(cdf, axis=1)  # [K, span]: profile area in each bin
        idx = edge_idx[:, :-1]
        area *= idx < last[group, None]  # same window whatever the grouping
        idx = np.minimum(idx, n_pts - 1)
        density = area * (height[group, None] / (edges[idx + 1] - edges[idx]))
        patterns += np.bincount(
            (row[group, None] * n_pts + idx).ravel(),
            weights=density.ravel(),
            minlength=n_aug * n_pts,
        )
    return patterns.reshape(n_aug, n_pts)


def _finish(
    patterns: np.ndarray,
    grid: np.ndarray,
    background: np.ndarray,
    noise: np.ndarray,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """Normalise, add background and Poisson noise, normalise again: [A, n_points]."""
    peak_max = patterns.max(axis=1, keepdims=True)
    out = patterns / peak_max + background[:, None] * (grid[0] / grid)[None, :]
    noisy = noise > 0
    if np.any(noisy):
        counts = 1.0 / noise[noisy, None] ** 2  # counts at the strongest peak
        out[noisy] = rng.poisson(out[noisy] * counts) / counts
    return out / out.max(axis=1, keepdims=True)


# ------------------------------------------------------------------------------ public API
def two_theta_grid(start: float = 10.0, stop: float = 80.0, n_points: int = 1401) -> np.ndarray:
    r"""Evenly spaced diffraction angles :math:`2\theta` in degrees, both ends included.

    The default (10 to 80 deg in steps of 0.05 deg) covers the strong reflections of most
    inorganic crystals with Cu K\ :math:`\alpha` radiation.

    Args:
        start (float): first angle (degrees), > 0.
        stop (float): last angle (degrees), > ``start`` and < 180.
        n_points (int): number of angles, >= 2.

    Returns:
        ndarray: float64 [n_points].

    Raises:
        TypeError: if an argument is not a number.
        ValueError: if the range is empty or outside (0, 180), or ``n_points`` < 2.
    """
    start, stop = check_range((start, stop), "(start, stop)", low=0, high=180)
    n_points = check_number(n_points, "n_points", integer=True, low=2)
    return np.linspace(start, stop, n_points)


def _prototype_file() -> Path:
    """The AFLOW prototype library inside the installed pymatgen (its location moved)."""
    import importlib.util

    spec = importlib.util.find_spec("pymatgen")
    roots = [Path(p) for p in (spec.submodule_search_locations or [])] if spec else []
    for root in roots:
        for rel in (
            "analysis/prototypes/aflow_prototypes.json.gz",
            "analysis/aflow_prototypes.json.gz",
            "analysis/aflow_prototypes.json",
        ):
            if (root / rel).is_file():
                return root / rel
    raise FileNotFoundError(
        "could not find aflow_prototypes.json(.gz) in the installed pymatgen; "
        "pymatgen >= 2024.1.1 ships it (pip install -U pymatgen)"
    )


def load_prototypes() -> pd.DataFrame:
    """The AFLOW crystal-structure prototypes shipped with pymatgen, with their labels.

    Symmetry is analysed with pymatgen's ``SpacegroupAnalyzer`` (default tolerances);
    the space group encoded in the AFLOW label is kept beside it (they differ for 3 of
    the 288 entries). The table is cached in memory after the first call (which takes a
    few seconds); each call returns a copy of the table, but the ``Structure`` objects
    are shared: copy one before modifying it.

    Returns:
        DataFrame: one row per prototype, in the order of the library, with columns
        ``name`` (unique: reduced formula and AFLOW label, e.g. ``"NaCl (AB_cF8_225_a_b)"``),
        ``aflow_label``, ``formula``, ``mineral`` and ``strukturbericht`` (None when the
        library has none), ``pearson``, ``space_group_number``, ``space_group_symbol``,
        ``crystal_system``, ``aflow_space_group_number``, ``n_sites``, ``n_elements`` and
        ``structure`` (a pymatgen ``Structure``).

    Raises:
        FileNotFoundError: if the installed pymatgen does not ship the library.

    Example::

        protos = load_prototypes()
        protos.crystal_system.value_counts()
        pattern = simulate_xrd(protos.structure.iloc[0])
    """
    global _PROTOTYPES
    if _PROTOTYPES is not None:
        return _PROTOTYPES.copy()
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    path = _prototype_file()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        entries = json.load(handle)
    rows = []
    for entry in entries:
        tags = entry["tags"]
        structure = Structure.from_dict(entry["snl"])
        with warnings.catch_warnings():
            # spglib warns about pymatgen's use of its error handling, 288 times; nothing
            # a reader can act on
            warnings.simplefilter("ignore", DeprecationWarning)
            sga = SpacegroupAnalyzer(structure)
            sg_number, sg_symbol = sga.get_space_group_number(), sga.get_space_group_symbol()
            crystal_system = str(sga.get_crystal_system())
        label = tags["aflow"]
        formula = structure.composition.reduced_formula
        rows.append(
            {
                "name": f"{formula} ({label})",
                "aflow_label": label,
                "formula": formula,
                "mineral": tags.get("mineral") or None,
                "strukturbericht": tags.get("strukturbericht")
                if tags.get("strukturbericht") not in ("", "None")
                else None,
                "pearson": tags.get("pearson"),
                "space_group_number": int(sg_number),
                "space_group_symbol": sg_symbol,
                "crystal_system": crystal_system,
                "aflow_space_group_number": int(label.split("_")[2]),
                "n_sites": len(structure),
                "n_elements": len(structure.composition.elements),
                "structure": structure,
            }
        )
    table = pd.DataFrame(rows)
    duplicated = table["name"].duplicated(keep=False)
    if duplicated.any():  # not the case in pymatgen's copy; keep names unique regardless
        table.loc[duplicated, "name"] += " #" + table.index[duplicated].astype(str)
    _PROTOTYPES = table
    return table.copy()


def _prototype_peaks(
    d_min: float, names: Sequence[str], *, cache: bool
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, str]]:
    """Peak lists of the named prototypes down to d_min (a level): ``(peaks, failed)``.

    Peak lists come from memory, the disk cache or pymatgen, in that order. Only peak
    lists are cached (an empty one is a valid result); a prototype that pymatgen cannot
    handle is reported in ``failed`` (name -> reason) and retried on the next call.
    """
    import pymatgen.core

    peaks = _cache.memory("xrd-peaks").setdefault(d_min, {})
    path = _cache.cache_path(
        "xrd-peaks",
        {"library": "aflow", "d_min": d_min, "pymatgen": pymatgen.core.__version__,
         "format": _CACHE_VERSION},
    )  # fmt: skip
    if cache and any(n not in peaks for n in names):
        stored = _cache.read_npz(path, _check_peak_file)
        if stored is not None:
            offsets = stored["offsets"]
            for i, name in enumerate(stored["names"].tolist()):
                sl = slice(offsets[i], offsets[i + 1])
                peaks.setdefault(name, (stored["d"][sl], stored["f2m"][sl]))
    missing = [n for n in names if n not in peaks]
    failed: dict[str, str] = {}
    if missing:
        table = load_prototypes().set_index("name")
        for name in missing:
            try:
                peaks[name] = _peak_table(table.at[name, "structure"], d_min)
            except ValueError as exc:  # what XRDCalculator raises for a structure it cannot handle
                failed[name] = f"pymatgen XRDCalculator failed: {exc}"
        if cache and len(failed) < len(missing):
            names_all = list(peaks)
            lengths = [len(peaks[n][0]) for n in names_all]
            _cache.write_npz(
                path,
                names=np.array(names_all, dtype=str),
                offsets=np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
                d=np.concatenate([peaks[n][0] for n in names_all]),
                f2m=np.concatenate([peaks[n][1] for n in names_all]),
            )
    return peaks, failed


def _check_peak_file(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError/KeyError unless ``arrays`` is a consistent peak-list file."""
    names, offsets, d, f2m = arrays["names"], arrays["offsets"], arrays["d"], arrays["f2m"]
    if (
        offsets.shape != (len(names) + 1,)
        or offsets[0] != 0
        or np.any(np.diff(offsets) < 0)
        or d.shape != f2m.shape
        or offsets[-1] != len(d)
        or not (np.isfinite(d).all() and np.isfinite(f2m).all())
    ):
        raise ValueError("inconsistent peak-list arrays")


def simulate_xrd(
    structure: Structure,
    *,
    two_theta: np.ndarray | None = None,
    wavelength: str | float = "CuKa",
    fwhm: float = 0.2,
    profile: str = "gaussian",
    strain: float = 0.0,
    noise: float = 0.0,
    background: float = 0.0,
    seed: int | None = None,
) -> np.ndarray:
    r"""Powder XRD pattern of a crystal structure on a fixed :math:`2\theta` grid.

    Peak positions and intensities from pymatgen's ``XRDCalculator``, broadened and
    augmented as described in the module docstring.

    Args:
        structure (Structure): a pymatgen ``Structure``.
        two_theta (ndarray, optional): strictly increasing angles in degrees [n_points];
            default :func:`two_theta_grid` (10 to 80 deg, 1401 points).
        wavelength (str or float): radiation name known to pymatgen (``"CuKa"``,
            ``"MoKa"``, ...) or a wavelength in angstrom.
        fwhm (float): Scherrer width :math:`K\lambda/L` in degrees (> 0); the peak at
            :math:`2\theta` has a full width at half maximum ``fwhm / cos(theta)``.
        profile (str): ``"gaussian"`` or ``"pseudo-voigt"``.
        strain (float): isotropic lattice strain, between -0.1 and 0.1; positive
            (tensile) strain moves peaks to lower angles.
        noise (float): relative Poisson noise at the strongest peak (>= 0; 0 = none).
        background (float): height of the smooth background relative to the strongest
            peak, at the first grid angle (>= 0).
        seed (int, optional): seed of the noise generator (``None``: not reproducible).

    Returns:
        ndarray: intensities normalised to a maximum of 1, float64 [n_points].

    Raises:
        TypeError: if ``structure`` is not a pymatgen ``Structure`` or an argument has
            the wrong type.
        ValueError: for a bad grid, a non-positive width, an unknown wavelength or
            profile, a strain beyond 10 %, negative noise or background, or a structure
            with no reflection in the grid.

    Example::

        from pymatgen.core import Lattice, Structure
        nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                         [[0, 0, 0], [0.5, 0.5, 0.5]])
        y = simulate_xrd(nacl, strain=0.01, noise=0.02, seed=0)   # [1401]
    """
    from pymatgen.core import Structure

    if not isinstance(structure, Structure):
        raise TypeError(f"structure must be a pymatgen Structure, got {type(structure).__name__}")
    grid = _check_grid(two_theta)
    lam = _wavelength(wavelength)
    fwhm = check_number(fwhm, "fwhm", low=0, low_inclusive=False)
    profile = check_choice(profile, "profile", PROFILES)
    strain = check_number(strain, "strain", low=-_MAX_STRAIN, high=_MAX_STRAIN,
                          low_inclusive=False, high_inclusive=False)  # fmt: skip
    noise = check_number(noise, "noise", low=0)
    background = check_number(background, "background", low=0)
    if seed is not None:
        seed = check_number(seed, "seed", integer=True)

    d_min = _d_min_needed(grid, lam, max(strain, 0.0), fwhm, profile)
    d, f2m = _peak_table(structure, d_min)
    peaks = _render(d, f2m, grid, lam, np.array([strain]), np.array([fwhm]), profile)
    if not peaks.max() > 0:
        raise ValueError(
            f"{structure.composition.reduced_formula} has no reflection between "
            f"{grid[0]:g} and {grid[-1]:g} deg at wavelength {lam:g} angstrom"
        )
    rng = np.random.default_rng(seed)
    return _finish(peaks, grid, np.array([background]), np.array([noise]), rng)[0]


def xrd_dataset(
    *,
    n_per_prototype: int = 10,
    two_theta: np.ndarray | None = None,
    wavelength: str | float = "CuKa",
    profile: str = "gaussian",
    strain: float | tuple[float, float] = (-0.02, 0.02),
    fwhm: float | tuple[float, float] = (0.1, 0.4),
    noise: float | tuple[float, float] = (0.0, 0.03),
    background: float | tuple[float, float] = (0.0, 0.1),
    prototypes: Sequence[str] | None = None,
    max_sites: int | None = None,
    cache: bool = True,
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    r"""Augmented powder XRD patterns of the AFLOW prototype structures.

    pymatgen's peak list is computed once per prototype (and cached); each augmented
    pattern then only transforms the d-spacings and widths (see the module docstring),
    so thousands of patterns take seconds. Every augmentation parameter is drawn
    uniformly from its range (a single number fixes it).

    Args:
        n_per_prototype (int): patterns per prototype, >= 1.
        two_theta (ndarray, optional): angles in degrees [n_points]; default
            :func:`two_theta_grid`.
        wavelength (str or float): radiation name or wavelength in angstrom.
        profile (str): ``"gaussian"`` or ``"pseudo-voigt"``.
        strain (float or tuple): isotropic lattice strain range, within (-0.1, 0.1).
        fwhm (float or tuple): Scherrer width :math:`K\lambda/L` range in degrees, > 0
            (0.1 to 0.4 deg is crystallites of about 20 to 80 nm with Cu radiation).
        noise (float or tuple): relative Poisson noise at the strongest peak, >= 0.
        background (float or tuple): background height relative to the strongest peak.
        prototypes (sequence of str, optional): ``name`` values of
            :func:`load_prototypes` to use (default: all).
        max_sites (int, optional): skip prototypes with more sites in their cell.
        cache (bool): read and write the peak lists under ``$MATAE_CACHE`` (default
            ``~/.cache/matae``).
        seed (int): seed of the ``numpy.random.default_rng`` drawing the augmentations
            and the noise.

    Returns:
        tuple: ``(X, labels)``. ``X`` is float32 [N, n_points], each row normalised to a
        maximum of 1, grouped by prototype. ``labels`` is a DataFrame with one row per
        pattern: ``name``, ``aflow_label``, ``formula``, ``mineral``, ``pearson``,
        ``space_group_number``, ``space_group_symbol``, ``crystal_system``, then the
        augmentation ``strain``, ``fwhm``, ``crystallite_size_nm`` (Scherrer size for
        ``fwhm``), ``noise`` and ``background``. Prototypes that cannot be used are
        skipped with a warning and listed, with the reason, in
        ``labels.attrs["skipped"]`` (a dict name -> reason).

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: for a bad grid, width, range, wavelength or profile, an unknown
            prototype name, or when no prototype is left.

    Example::

        X, labels = xrd_dataset(n_per_prototype=10, seed=0)   # about 2880 x 1401
        labels.crystal_system.value_counts()
    """
    n_per_prototype = check_number(n_per_prototype, "n_per_prototype", integer=True, low=1)
    seed = check_number(seed, "seed", integer=True)
    if max_sites is not None:
        max_sites = check_number(max_sites, "max_sites", integer=True, low=1)
    grid = _check_grid(two_theta)
    lam = _wavelength(wavelength)
    profile = check_choice(profile, "profile", PROFILES)
    pair = {"allow_scalar": True, "allow_equal": True}
    strain_r = check_range(strain, "strain", low=-_MAX_STRAIN, high=_MAX_STRAIN, **pair)
    fwhm_r = check_range(fwhm, "fwhm", low=0, **pair)
    noise_r = check_range(noise, "noise", low=0, inclusive=True, **pair)
    background_r = check_range(background, "background", low=0, inclusive=True, **pair)

    table = load_prototypes()
    if prototypes is not None:
        if isinstance(prototypes, str):
            raise TypeError(
                "prototypes must be a sequence of names, e.g. ['NaCl (AB_cF8_225_a_b)']"
            )
        unknown = [p for p in prototypes if p not in set(table["name"])]
        if unknown:
            raise ValueError(
                f"unknown prototype name {unknown[0]!r}."
                + close_matches_hint(unknown[0], table["name"])
                + (f" ({len(unknown)} unknown names in all.)" if len(unknown) > 1 else "")
            )
        table = table[table["name"].isin(list(prototypes))]
        table = table.set_index("name").loc[list(dict.fromkeys(prototypes))].reset_index()
    skipped: dict[str, str] = {}
    if max_sites is not None:
        for name, n_sites in zip(table["name"], table["n_sites"], strict=True):
            if n_sites > max_sites:
                skipped[name] = f"{n_sites} sites > max_sites={max_sites}"

    d_min = _level(_d_min_needed(grid, lam, max(strain_r[1], 0.0), fwhm_r[1], profile))
    usable = [n for n in table["name"] if n not in skipped]
    peak_lists, failed = _prototype_peaks(d_min, usable, cache=cache)

    rng = np.random.default_rng(seed)
    blocks: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    augment: list[np.ndarray] = []  # [n_per_prototype, 4] per prototype
    label_cols = [
        "name",
        "aflow_label",
        "formula",
        "mineral",
        "pearson",
        "space_group_number",
        "space_group_symbol",
        "crystal_system",
    ]
    for record in table[label_cols].to_dict("records"):
        name = record["name"]
        if name in skipped:
            continue
        if name in failed:
            skipped[name] = failed[name]
            continue
        d, f2m = peak_lists[name]
        eps = rng.uniform(*strain_r, size=n_per_prototype)
        width = rng.uniform(*fwhm_r, size=n_per_prototype)
        sigma = rng.uniform(*noise_r, size=n_per_prototype)
        bg = rng.uniform(*background_r, size=n_per_prototype)
        peaks = _render(d, f2m, grid, lam, eps, width, profile)
        if not np.all(peaks.max(axis=1) > 0):
            skipped[name] = f"no reflection between {grid[0]:g} and {grid[-1]:g} deg"
            continue
        blocks.append(_finish(peaks, grid, bg, sigma, rng).astype(np.float32))
        records.extend([record] * n_per_prototype)
        augment.append(np.stack([eps, width, sigma, bg], axis=1))
    if skipped:
        warnings.warn(
            f"xrd_dataset skipped {len(skipped)} prototype(s) (see labels.attrs['skipped']): "
            + "; ".join(f"{k}: {v}" for k, v in list(skipped.items())[:5])
            + (" ..." if len(skipped) > 5 else ""),
            stacklevel=2,
        )
    if not blocks:
        raise ValueError(
            "no prototype left to simulate: " + "; ".join(f"{k}: {v}" for k, v in skipped.items())
        )
    labels = pd.DataFrame.from_records(records, columns=label_cols)
    augment_all = np.concatenate(augment)
    labels["strain"] = augment_all[:, 0]
    labels["fwhm"] = augment_all[:, 1]
    labels["crystallite_size_nm"] = SCHERRER_K * lam / np.radians(augment_all[:, 1]) / 10.0
    labels["noise"] = augment_all[:, 2]
    labels["background"] = augment_all[:, 3]
    labels.attrs["skipped"] = skipped
    return np.concatenate(blocks), labels


# ------------------------------------------------------------- peak matching (issue 17)
def find_xrd_peaks(
    two_theta: np.ndarray,
    pattern: np.ndarray,
    *,
    min_height: float = 0.05,
    prominence: float = 0.03,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Peak positions and heights of one powder pattern, with sub-grid positions.

    Local maxima are found with :func:`scipy.signal.find_peaks` (height at least
    ``min_height`` times the strongest point, prominence at least ``prominence`` times
    it, so counting-noise wiggles are not peaks); each position is refined by the vertex
    of the parabola through the maximum and its two neighbours, which locates a
    symmetric peak to a fraction of the grid step.

    Args:
        two_theta (ndarray): strictly increasing angles in degrees [L].
        pattern (ndarray): intensities [L] (any scale; only relative heights matter).
        min_height (float): smallest peak kept, as a fraction of the maximum, in (0, 1).
        prominence (float): smallest prominence kept, as a fraction of the maximum, >= 0.

    Returns:
        tuple: ``(positions, intensities)``, float64 arrays [n_peaks]: positions in
        degrees :math:`2\theta`, intensities relative to the strongest peak (0-100).

    Raises:
        ValueError: on mismatched or non-finite arrays, a non-increasing grid, an
            all-zero pattern or thresholds out of range.
    """
    from scipy.signal import find_peaks

    grid = np.asarray(two_theta, dtype=np.float64)
    y = np.asarray(pattern, dtype=np.float64)
    if grid.ndim != 1 or y.shape != grid.shape:
        raise ValueError(
            f"two_theta and pattern must be 1-D of the same length, got {grid.shape} and {y.shape}"
        )
    if len(grid) < 3 or not np.all(np.isfinite(grid)) or not np.all(np.diff(grid) > 0):
        raise ValueError("two_theta must be a finite, strictly increasing grid of >= 3 angles")
    if not np.all(np.isfinite(y)):
        raise ValueError("pattern contains NaN or infinite values")
    if not 0.0 < min_height < 1.0 or not 0.0 <= prominence < 1.0:
        raise ValueError(
            f"min_height must be in (0, 1) and prominence in [0, 1), got {min_height}, {prominence}"
        )
    top = y.max()
    if not top > 0:
        raise ValueError("pattern has no positive intensity: nothing to find")
    idx, _ = find_peaks(y, height=min_height * top, prominence=prominence * top)
    pos = grid[idx].copy()
    inner = (idx > 0) & (idx < len(y) - 1)
    i = idx[inner]
    left, mid, right = y[i - 1], y[i], y[i + 1]
    denom = left - 2.0 * mid + right
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = np.where(denom < 0, 0.5 * (left - right) / denom, 0.0)  # in grid steps
    step = np.where(shift >= 0, grid[i + 1] - grid[i], grid[i] - grid[i - 1])
    pos[inner] = grid[i] + np.clip(shift, -0.5, 0.5) * step
    heights = y[idx]
    return pos, 100.0 * heights / heights.max() if len(idx) else heights


def match_xrd_peaks(
    two_theta: np.ndarray,
    reference: np.ndarray,
    other: np.ndarray,
    *,
    tolerance: float = 0.3,
    min_height: float = 0.05,
    prominence: float = 0.03,
) -> pd.DataFrame:
    r"""Match the peaks of patterns (e.g. reconstructions) to those of reference patterns.

    For each pair of patterns, the peaks of both are found with :func:`find_xrd_peaks`;
    the reference peaks, strongest first, are each matched to the nearest unmatched peak
    of ``other`` within ``tolerance`` degrees. This is how a phase-identification program
    compares a measured pattern with a database entry: by peak positions and relative
    intensities, not by the squared difference of the curves.

    Args:
        two_theta (ndarray): angles in degrees [L].
        reference (ndarray): reference patterns [N, L] (or one pattern [L]).
        other (ndarray): patterns to compare, same shape (reconstructions, denoised...).
        tolerance (float): largest position difference of a match, degrees 2θ (> 0).
        min_height (float): see :func:`find_xrd_peaks`.
        prominence (float): see :func:`find_xrd_peaks`.

    Returns:
        pandas.DataFrame: one row per pattern: ``n_reference`` and ``n_other`` (peaks
        found), ``n_matched``, ``recall`` (matched fraction of the reference peaks),
        ``n_spurious`` (peaks of ``other`` left unmatched), ``position_error`` (mean
        absolute position difference of the matched peaks, degrees 2θ) and
        ``intensity_error`` (mean absolute difference of their relative intensities,
        in percent of the strongest peak). The errors are NaN when nothing matched.

    Raises:
        ValueError: on mismatched shapes or a non-positive tolerance (and as in
            :func:`find_xrd_peaks`).

    Example::

        X, _ = xrd_dataset(prototypes=["NaCl (AB_cF8_225_a_b)"], n_per_prototype=2, seed=0)
        match_xrd_peaks(two_theta_grid(), X, X)      # zero errors, recall 1
    """
    ref = np.asarray(reference, dtype=np.float64)
    oth = np.asarray(other, dtype=np.float64)
    if ref.ndim == 1:
        ref, oth = ref[None], oth[None] if oth.ndim == 1 else oth
    if ref.ndim != 2 or oth.shape != ref.shape:
        raise ValueError(
            f"reference and other must both be [N, L] (or [L]) of the same shape, got "
            f"{np.shape(reference)} and {np.shape(other)}"
        )
    if isinstance(tolerance, bool) or not np.isfinite(tolerance) or tolerance <= 0:
        raise ValueError(f"tolerance must be a positive number of degrees, got {tolerance!r}")
    rows = []
    for y_ref, y_oth in zip(ref, oth, strict=True):
        p_ref, i_ref = find_xrd_peaks(
            two_theta, y_ref, min_height=min_height, prominence=prominence
        )
        if y_oth.max() > 0:
            p_oth, i_oth = find_xrd_peaks(
                two_theta, y_oth, min_height=min_height, prominence=prominence
            )
        else:  # e.g. a reconstruction that collapsed to zero: no peak at all
            p_oth, i_oth = np.empty(0), np.empty(0)
        free = np.ones(len(p_oth), dtype=bool)
        d_pos, d_int = [], []
        for j in np.argsort(-i_ref, kind="stable"):
            dist = np.where(free, np.abs(p_oth - p_ref[j]), np.inf)
            if len(dist) and dist.min() <= tolerance:
                m = int(np.argmin(dist))
                free[m] = False
                d_pos.append(abs(p_oth[m] - p_ref[j]))
                d_int.append(abs(i_oth[m] - i_ref[j]))
        n_match = len(d_pos)
        rows.append(
            {
                "n_reference": len(p_ref),
                "n_other": len(p_oth),
                "n_matched": n_match,
                "recall": n_match / len(p_ref) if len(p_ref) else np.nan,
                "n_spurious": int(free.sum()),
                "position_error": float(np.mean(d_pos)) if n_match else np.nan,
                "intensity_error": float(np.mean(d_int)) if n_match else np.nan,
            }
        )
    return pd.DataFrame(rows)


__all__ += ["find_xrd_peaks", "match_xrd_peaks"]


# ------------------------------------------------------------- noisy patterns and a baseline (issue 13)
def add_xrd_noise(
    X: np.ndarray,
    *,
    two_theta: np.ndarray | None = None,
    noise: float | tuple[float, float] = (0.02, 0.1),
    background: float | tuple[float, float] = (0.0, 0.3),
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame]:
    r"""Measured-looking copies of clean patterns: a background plus counting noise.

    The same corruption as :func:`simulate_xrd` and :func:`xrd_dataset` apply (module
    docstring), applied to patterns that already exist, so that clean and noisy versions of
    the *same* pattern can be paired (to train or score a denoiser): each pattern is
    normalised to a maximum of 1, a background ``b * two_theta[0] / two_theta`` is added,
    Poisson counts are drawn with ``1 / noise**2`` expected counts at the strongest peak,
    and the result is normalised to a maximum of 1 again. ``noise`` and ``background`` are
    drawn uniformly per pattern from their ranges (a single number fixes them).

    Args:
        X (ndarray): clean patterns [N, n_points] (e.g. ``xrd_dataset(noise=0,
            background=0)``), non-negative, each with a positive maximum.
        two_theta (ndarray, optional): their angles in degrees [n_points]; default
            :func:`two_theta_grid`.
        noise (float or tuple): relative Poisson noise at the strongest peak, > 0.
        background (float or tuple): background height relative to the strongest peak at
            the first angle, >= 0.
        seed (int): seed of the ``numpy.random.default_rng`` drawing levels and counts.

    Returns:
        tuple: ``(X_noisy, levels)``: float32 [N, n_points] and a DataFrame with the
        ``noise`` and ``background`` of each row.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: for a bad grid or range, a grid that does not match ``X``, or
            patterns with negative values, NaN or no positive maximum.

    Example::

        X, _ = xrd_dataset(n_per_prototype=2, noise=0, background=0, seed=0)
        X_noisy, levels = add_xrd_noise(X, noise=0.05, background=0.2, seed=1)
    """
    grid = _check_grid(two_theta)
    patterns = np.asarray(X, dtype=np.float64)
    if patterns.ndim != 2 or patterns.shape[1] != grid.size:
        raise ValueError(
            f"X must be [N, {grid.size}] (one row per pattern on two_theta), got "
            f"{patterns.shape}"
        )
    if not np.all(np.isfinite(patterns)) or patterns.min() < 0:
        raise ValueError("X must be finite and non-negative (intensities)")
    if not np.all(patterns.max(axis=1) > 0):
        raise ValueError("every pattern of X needs a positive maximum")
    seed = check_number(seed, "seed", integer=True)
    pair = {"allow_scalar": True, "allow_equal": True}
    noise_r = check_range(noise, "noise", low=0, **pair)
    background_r = check_range(background, "background", low=0, inclusive=True, **pair)
    rng = np.random.default_rng(seed)
    n = len(patterns)
    sigma = rng.uniform(*noise_r, size=n)
    bg = rng.uniform(*background_r, size=n)
    out = _finish(patterns, grid, bg, sigma, rng).astype(np.float32)
    return out, pd.DataFrame({"noise": sigma, "background": bg})


def savgol_denoise(
    X: np.ndarray,
    *,
    window: int,
    polyorder: int,
    background_window: int | None = None,
) -> np.ndarray:
    """Savitzky-Golay smoothing, optionally with a rolling-minimum background removed.

    The classical denoiser of powder patterns: a least-squares polynomial of degree
    ``polyorder`` fitted in a sliding window of ``window`` points
    (:func:`scipy.signal.savgol_filter`, Savitzky and Golay 1964). With
    ``background_window``, a background estimate (the running minimum of the smoothed
    pattern over that many points, then a running mean over the same width) is
    subtracted, the result clipped at 0 and normalised to a maximum of 1, like the clean
    patterns of :func:`xrd_dataset`.

    Args:
        X (ndarray): patterns [N, n_points].
        window (int): odd window length, > ``polyorder``.
        polyorder (int): polynomial degree, >= 0.
        background_window (int, optional): width of the background estimate in points
            (None: keep the background).

    Returns:
        ndarray: float32 [N, n_points].

    Raises:
        ValueError: for an even or too short window, or a bad background width.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    from scipy.signal import savgol_filter

    patterns = np.asarray(X, dtype=np.float64)
    if patterns.ndim != 2:
        raise ValueError(f"X must be [N, n_points], got shape {patterns.shape}")
    window = check_number(window, "window", integer=True, low=1)
    polyorder = check_number(polyorder, "polyorder", integer=True, low=0)
    if window % 2 == 0 or window <= polyorder or window > patterns.shape[1]:
        raise ValueError(
            f"window must be odd, larger than polyorder={polyorder} and at most "
            f"{patterns.shape[1]} points, got {window}"
        )
    out = savgol_filter(patterns, window, polyorder, axis=1)
    if background_window is not None:
        background_window = check_number(background_window, "background_window",
                                         integer=True, low=3)  # fmt: skip
        base = minimum_filter1d(out, background_window, axis=1, mode="nearest")
        base = uniform_filter1d(base, background_window, axis=1, mode="nearest")
        out = np.clip(out - base, 0.0, None)
        top = out.max(axis=1, keepdims=True)
        out = np.divide(out, top, out=np.zeros_like(out), where=top > 0)
    return out.astype(np.float32)


def tune_savgol(
    X_noisy: np.ndarray,
    X_clean: np.ndarray,
    *,
    windows: Sequence[int] = tuple(range(5, 52, 4)),
    polyorders: Sequence[int] = (2, 3, 4),
    background_windows: Sequence[int | None] = (None, 101, 201, 401),
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Choose the Savitzky-Golay settings with the lowest MSE on validation pairs.

    Every combination of ``window``, ``polyorder`` and ``background_window`` (see
    :func:`savgol_denoise`) is applied to ``X_noisy`` and scored by the mean squared error
    per point against ``X_clean``. Use validation patterns, never the test set.

    Args:
        X_noisy (ndarray): noisy validation patterns [N, n_points].
        X_clean (ndarray): their clean versions, same shape.
        windows (Sequence[int]): odd window lengths to try.
        polyorders (Sequence[int]): polynomial degrees to try.
        background_windows (Sequence[int | None]): background widths (None: no removal).

    Returns:
        tuple: ``(best, table)``: the best keyword arguments of :func:`savgol_denoise` and
        a DataFrame of every combination tried (``window``, ``polyorder``,
        ``background_window``, ``mse``), sorted by ``mse``.

    Raises:
        ValueError: if the shapes differ or no combination is valid.
    """
    noisy = np.asarray(X_noisy, dtype=np.float64)
    clean = np.asarray(X_clean, dtype=np.float64)
    if noisy.shape != clean.shape or noisy.ndim != 2:
        raise ValueError(
            f"X_noisy and X_clean must be [N, n_points] of the same shape, got "
            f"{noisy.shape} and {clean.shape}"
        )
    rows = []
    for bw in background_windows:
        for p in polyorders:
            for w in windows:
                if w % 2 == 0 or w <= p:
                    continue
                out = savgol_denoise(noisy, window=w, polyorder=p, background_window=bw)
                rows.append({"window": int(w), "polyorder": int(p), "background_window": bw,
                             "mse": float(np.mean((out - clean) ** 2))})  # fmt: skip
    if not rows:
        raise ValueError("no valid (window, polyorder) combination: windows must be odd > polyorder")
    table = pd.DataFrame(rows).sort_values("mse", kind="stable").reset_index(drop=True)
    best = table.iloc[0]
    bw = best["background_window"]
    return (
        {"window": int(best["window"]), "polyorder": int(best["polyorder"]),
         "background_window": None if bw is None or pd.isna(bw) else int(bw)},
        table,
    )  # fmt: skip


__all__ += ["add_xrd_noise", "savgol_denoise", "tune_savgol"]
