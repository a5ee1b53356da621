"""Tests of matae_utils.xrd (simulated powder diffraction from pymatgen)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import matae_utils as mu
import matae_utils.xrd as xrd
from matae_utils import _cache
from matae_utils.xrd import load_prototypes, simulate_xrd, two_theta_grid, xrd_dataset

CU_KA = 1.54184  # pymatgen's "CuKa" (weighted K-alpha average), angstrom
NACL = "NaCl (AB_cF8_225_a_b)"
FEW = [NACL, "C (A_cF8_227_a)", "HgS (AB_hP6_154_a_b)", "FeS2 (AB2_oP6_58_a_g)"]


@pytest.fixture(scope="module")
def nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never touch ~/.cache in tests: a fresh disk cache and memory cache per test."""
    monkeypatch.setenv("MATAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_cache, "_MEMORY", {})


def _local_maxima(y: np.ndarray, threshold: float) -> np.ndarray:
    inner = (y[1:-1] > y[:-2]) & (y[1:-1] >= y[2:]) & (y[1:-1] > threshold)
    return np.flatnonzero(inner) + 1


def _peak_centroid(grid: np.ndarray, y: np.ndarray, near: float, half_width: float = 0.5) -> float:
    window = np.abs(grid - near) < half_width
    return float((grid[window] * y[window]).sum() / y[window].sum())


def _bragg_two_theta(d: float, wavelength: float = CU_KA) -> float:
    return float(2 * np.degrees(np.arcsin(wavelength / (2 * d))))


# ------------------------------------------------------------------------- two_theta_grid
def test_two_theta_grid_default_and_errors():
    grid = two_theta_grid()
    assert grid.shape == (1401,) and grid[0] == 10.0 and grid[-1] == 80.0
    np.testing.assert_allclose(np.diff(grid), 0.05)
    assert two_theta_grid(20, 60, 5).tolist() == [20.0, 30.0, 40.0, 50.0, 60.0]
    with pytest.raises(ValueError, match="low < high"):
        two_theta_grid(80, 10)
    with pytest.raises(ValueError, match="180"):
        two_theta_grid(10, 190)
    with pytest.raises(ValueError, match="n_points"):
        two_theta_grid(n_points=1)
    with pytest.raises(TypeError, match="n_points"):
        two_theta_grid(n_points=100.0)


# --------------------------------------------------------------------------- simulate_xrd
def test_nacl_peaks_sit_where_pymatgen_puts_them(nacl):
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    grid = two_theta_grid()
    step = grid[1] - grid[0]
    y = simulate_xrd(nacl, fwhm=0.1)
    assert y.shape == grid.shape and y.max() == pytest.approx(1.0) and y.min() >= 0.0

    reference = XRDCalculator("CuKa").get_pattern(nacl, two_theta_range=(10, 80))
    strongest_ref = np.asarray(reference.x)[np.argsort(reference.y)[::-1][:4]]
    maxima = _local_maxima(y, threshold=0.05)
    strongest_ours = grid[maxima[np.argsort(y[maxima])[::-1][:4]]]
    for ref_angle in strongest_ref:
        assert np.min(np.abs(strongest_ours - ref_angle)) <= step
    # (200) is the strongest reflection of rock salt, at 2 theta = 31.7 deg
    assert abs(grid[y.argmax()] - 31.7) <= step
    assert abs(grid[y.argmax()] - _bragg_two_theta(5.64 / 2)) <= step


@pytest.mark.parametrize("strain", [0.01, -0.015])
def test_strain_shifts_peaks_as_braggs_law_says(nacl, strain):
    grid = two_theta_grid(28.0, 36.0, 1601)  # 0.005 deg steps around (200)
    unstrained = _peak_centroid(grid, simulate_xrd(nacl, two_theta=grid, fwhm=0.1), near=31.7)
    strained = _peak_centroid(
        grid, simulate_xrd(nacl, two_theta=grid, fwhm=0.1, strain=strain), near=31.7, half_width=1.0
    )
    d200 = 5.64 / 2
    assert unstrained == pytest.approx(_bragg_two_theta(d200), abs=0.01)
    assert strained == pytest.approx(_bragg_two_theta(d200 * (1 + strain)), abs=0.01)
    assert (strained < unstrained) == (strain > 0)  # tensile strain -> lower 2 theta
    assert abs(strained - unstrained) > 0.3


def test_peak_width_follows_scherrer(nacl):
    grid = two_theta_grid(60.0, 90.0, 6001)
    fwhm = 0.3
    y = simulate_xrd(nacl, two_theta=grid, fwhm=fwhm)
    centre = _bragg_two_theta(5.64 / np.sqrt(20))  # (420) near 75.4 deg
    window = np.abs(grid - centre) < 1.0
    peak = y[window] / y[window].max()
    measured = (peak >= 0.5).sum() * (grid[1] - grid[0])
    assert measured == pytest.approx(fwhm / np.cos(np.radians(centre / 2)), rel=0.03)


def test_pseudo_voigt_has_heavier_tails_than_gaussian(nacl):
    grid = two_theta_grid()
    gauss = simulate_xrd(nacl, fwhm=0.2)
    voigt = simulate_xrd(nacl, fwhm=0.2, profile="pseudo-voigt")
    off_peak = np.argmin(np.abs(grid - (31.73 + 1.0)))  # five widths from (200)
    assert voigt[off_peak] > 100 * gauss[off_peak]
    assert grid[voigt.argmax()] == grid[gauss.argmax()]


def test_noise_and_background_are_seeded_and_normalised(nacl):
    clean = simulate_xrd(nacl)
    noisy = simulate_xrd(nacl, noise=0.05, background=0.1, seed=1)
    assert noisy.max() == pytest.approx(1.0)
    np.testing.assert_array_equal(noisy, simulate_xrd(nacl, noise=0.05, background=0.1, seed=1))
    assert not np.array_equal(noisy, simulate_xrd(nacl, noise=0.05, background=0.1, seed=2))
    assert clean[:50].max() < 1e-6  # nothing below the (111) peak
    assert 0.05 < noisy[:50].mean() < 0.15  # the background, ~0.1 of the strongest peak there
    with_bg = simulate_xrd(nacl, background=0.1)
    assert with_bg[0] == pytest.approx(0.1 / (1.0 + 0.1 * 10 / 31.73), rel=0.05)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fwhm": -0.1}, ValueError, "fwhm"),
        ({"fwhm": 0.0}, ValueError, "fwhm"),
        ({"wavelength": "CuKalpha"}, ValueError, "unknown wavelength"),
        ({"wavelength": -1.0}, ValueError, "wavelength"),
        ({"two_theta": np.array([30.0, 20.0, 40.0])}, ValueError, "increasing"),
        ({"two_theta": np.ones((3, 3))}, ValueError, "1-D"),
        ({"two_theta": np.array([10.0, 185.0])}, ValueError, "180"),
        ({"profile": "lorentzian"}, ValueError, "profile"),
        ({"strain": 0.2}, ValueError, "strain"),
        ({"noise": -0.01}, ValueError, "noise"),
        ({"background": -1.0}, ValueError, "background"),
        ({"seed": 1.5}, TypeError, "seed"),
    ],
)
def test_simulate_xrd_rejects_bad_input(nacl, kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate_xrd(nacl, **kwargs)


def test_simulate_xrd_needs_a_structure():
    with pytest.raises(TypeError, match="Structure"):
        simulate_xrd("NaCl")


def test_other_wavelengths_by_name_and_value(nacl):
    grid = two_theta_grid()
    mo = simulate_xrd(nacl, wavelength="MoKa")
    assert abs(grid[mo.argmax()] - _bragg_two_theta(5.64 / 2, 0.71073)) <= 0.05
    np.testing.assert_allclose(simulate_xrd(nacl, wavelength=CU_KA), simulate_xrd(nacl))


# ------------------------------------------------------------------------ load_prototypes
def test_load_prototypes_table():
    table = load_prototypes()
    assert 280 <= len(table) <= 300  # 288 in pymatgen's copy of the AFLOW library
    assert table["name"].is_unique
    assert table.space_group_number.between(1, 230).all()
    assert set(table.crystal_system) == {
        "triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic",
    }  # fmt: skip
    assert (table.space_group_number == table.aflow_space_group_number).mean() > 0.97
    row = table.set_index("name").loc[NACL]
    assert row.space_group_number == 225 and row.space_group_symbol == "Fm-3m"
    assert row.crystal_system == "cubic" and row.pearson == "cF8" and row.n_sites == 2  # primitive
    assert row.strukturbericht == "B1"
    assert load_prototypes() is not load_prototypes()  # callers get copies of the cache


# ---------------------------------------------------------------------------- xrd_dataset
def test_xrd_dataset_shapes_labels_and_determinism():
    grid = two_theta_grid(10, 80, 701)
    X, labels = xrd_dataset(n_per_prototype=3, two_theta=grid, prototypes=FEW, seed=0)
    assert X.shape == (12, 701) and X.dtype == np.float32
    np.testing.assert_allclose(X.max(axis=1), 1.0, rtol=1e-6)
    assert isinstance(labels, pd.DataFrame) and len(labels) == 12
    for column in (
        "name",
        "crystal_system",
        "space_group_number",
        "strain",
        "fwhm",
        "crystallite_size_nm",
        "noise",
    ):
        assert column in labels
    assert labels["name"].tolist() == [p for p in FEW for _ in range(3)]
    assert labels.strain.between(-0.02, 0.02).all() and labels.fwhm.between(0.1, 0.4).all()
    assert labels.crystallite_size_nm.between(19, 80).all()  # Scherrer sizes for 0.1-0.4 deg
    assert labels.attrs["skipped"] == {}

    X_again, labels_again = xrd_dataset(n_per_prototype=3, two_theta=grid, prototypes=FEW, seed=0)
    np.testing.assert_array_equal(X, X_again)
    pd.testing.assert_frame_equal(labels, labels_again)
    X_other, _ = xrd_dataset(n_per_prototype=3, two_theta=grid, prototypes=FEW, seed=1)
    assert not np.allclose(X, X_other)


def test_xrd_dataset_matches_simulate_xrd_for_fixed_augmentation():
    structure = load_prototypes().set_index("name").at[NACL, "structure"]
    X, _ = xrd_dataset(
        n_per_prototype=2, prototypes=[NACL], strain=0.01, fwhm=0.2, noise=0.0, background=0.05
    )
    expected = simulate_xrd(structure, strain=0.01, fwhm=0.2, background=0.05)
    np.testing.assert_allclose(X[0], expected, atol=1e-6)
    np.testing.assert_array_equal(X[0], X[1])


def test_xrd_dataset_peak_cache_is_written_and_reused(tmp_path, monkeypatch):
    X, _ = xrd_dataset(n_per_prototype=2, prototypes=FEW[:2], seed=0)
    files = list((tmp_path / "cache").glob("xrd-peaks-*.npz"))
    assert len(files) == 1

    def fail(*args, **kwargs):
        raise AssertionError("the peak list should come from the disk cache")

    monkeypatch.setattr(_cache, "_MEMORY", {})
    monkeypatch.setattr(xrd, "_peak_table", fail)
    X_cached, _ = xrd_dataset(n_per_prototype=2, prototypes=FEW[:2], seed=0)
    np.testing.assert_array_equal(X, X_cached)


def test_clear_cache_clears_the_xrd_peak_cache_on_disk_and_in_memory(tmp_path, monkeypatch):
    xrd_dataset(n_per_prototype=1, prototypes=FEW[:1], seed=0)
    assert list((tmp_path / "cache").glob("xrd-peaks-*.npz"))
    assert mu.clear_cache() >= 1
    assert not list((tmp_path / "cache").glob("xrd-peaks-*.npz"))
    calls = []
    real_peak_table = xrd._peak_table
    monkeypatch.setattr(xrd, "_peak_table", lambda s, d: calls.append(1) or real_peak_table(s, d))
    xrd_dataset(n_per_prototype=1, prototypes=FEW[:1], seed=0)
    assert calls == [1]  # recomputed: neither the file nor the memory copy survived


def test_corrupt_peak_cache_is_recomputed_with_a_warning(tmp_path, monkeypatch):
    X, _ = xrd_dataset(n_per_prototype=1, prototypes=FEW[:1], seed=0)
    (path,) = (tmp_path / "cache").glob("xrd-peaks-*.npz")
    path.write_bytes(path.read_bytes()[:100])  # truncated
    monkeypatch.setattr(_cache, "_MEMORY", {})
    with pytest.warns(UserWarning, match="unreadable cache file"):
        X_again, _ = xrd_dataset(n_per_prototype=1, prototypes=FEW[:1], seed=0)
    np.testing.assert_array_equal(X, X_again)
    monkeypatch.setattr(_cache, "_MEMORY", {})
    monkeypatch.setattr(xrd, "_peak_table", lambda *a: pytest.fail("should read the new file"))
    xrd_dataset(n_per_prototype=1, prototypes=FEW[:1], seed=0)  # the rewritten file is valid


def test_pymatgen_failures_are_reported_but_never_cached(tmp_path, monkeypatch):
    real_peak_table = xrd._peak_table
    calls = []

    def no_scattering_factor(structure, d_min):
        calls.append(structure.composition.reduced_formula)
        if structure.composition.reduced_formula == "C":
            raise ValueError("no scattering coefficients for C")  # what pymatgen raises
        return real_peak_table(structure, d_min)

    monkeypatch.setattr(xrd, "_peak_table", no_scattering_factor)
    with pytest.warns(UserWarning, match="skipped 1 prototype"):
        xrd_dataset(n_per_prototype=1, prototypes=FEW[:2], seed=0)
    (path,) = (tmp_path / "cache").glob("xrd-peaks-*.npz")
    with np.load(path) as data:
        assert data["names"].tolist() == [NACL]  # only the success is stored
    monkeypatch.setattr(_cache, "_MEMORY", {})
    calls.clear()
    with pytest.warns(UserWarning, match="skipped 1 prototype"):
        xrd_dataset(n_per_prototype=1, prototypes=FEW[:2], seed=0)
    assert calls == ["C"]  # the failure is retried, the success read from disk


def test_a_library_bug_is_not_turned_into_a_skipped_prototype(monkeypatch):
    def bug(structure, d_min):
        raise RuntimeError("a bug, not a bad structure")

    monkeypatch.setattr(xrd, "_peak_table", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        xrd_dataset(n_per_prototype=1, prototypes=FEW[:1], cache=False)


def test_xrd_dataset_skips_failing_and_large_prototypes_with_a_reason(monkeypatch):
    real_peak_table = xrd._peak_table

    def flaky(structure, d_min):
        if structure.composition.reduced_formula == "C":
            raise ValueError("simulated pymatgen failure")
        return real_peak_table(structure, d_min)

    monkeypatch.setattr(xrd, "_peak_table", flaky)
    with pytest.warns(UserWarning, match="skipped 3 prototype"):
        X, labels = xrd_dataset(n_per_prototype=2, prototypes=FEW, max_sites=5, cache=False)
    skipped = labels.attrs["skipped"]
    assert set(skipped) == set(FEW[1:])
    assert "simulated pymatgen failure" in skipped["C (A_cF8_227_a)"]
    assert skipped["HgS (AB_hP6_154_a_b)"] == "6 sites > max_sites=5"
    assert len(X) == len(labels) == 2 and set(labels["name"]) == {NACL}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"prototypes": ["NaCI (AB_cF8_225_a_b)"]}, ValueError, "Did you mean"),
        ({"prototypes": NACL}, TypeError, "sequence"),
        ({"n_per_prototype": 0}, ValueError, "n_per_prototype"),
        ({"fwhm": (0.1, -0.4)}, ValueError, "fwhm"),
        ({"strain": (0.02, -0.02)}, ValueError, "low <= high"),
        ({"noise": "high"}, TypeError, "noise"),
        ({"wavelength": "XKa"}, ValueError, "unknown wavelength"),
    ],
)
def test_xrd_dataset_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        xrd_dataset(**{"prototypes": [NACL], **kwargs})
