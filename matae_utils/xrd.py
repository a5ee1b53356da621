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
