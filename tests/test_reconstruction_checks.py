"""Physics checks of reconstructions: phase fraction, two-point correlation, XRD peak matching."""

from __future__ import annotations

import numpy as np
import pytest

from matae_utils.microstructure import (
    characteristic_length,
    microstructure_errors,
    phase_fraction,
    two_point_correlation,
)
from matae_utils.xrd import find_xrd_peaks, match_xrd_peaks, two_theta_grid


# ------------------------------------------------------------------ microstructures
def test_phase_fraction_half_and_threshold():
    c = np.zeros((2, 8, 8))
    c[0, :, :4] = 1.0
    c[1] = 0.4
    np.testing.assert_allclose(phase_fraction(c), [0.5, 0.0])
    np.testing.assert_allclose(phase_fraction(c, threshold=0.3), [0.5, 1.0])
    assert phase_fraction(c[0]).shape == ()


def _brute_force_radial_s2(indicator: np.ndarray) -> np.ndarray:
    h, w = indicator.shape
    n_r = min(h, w) // 2 + 1
    sums, counts = np.zeros(n_r), np.zeros(n_r)
    for dy in range(h):
        for dx in range(w):
            r = int(np.rint(np.hypot(min(dy, h - dy), min(dx, w - dx))))
            if r < n_r:
                shifted = np.roll(np.roll(indicator, -dy, axis=0), -dx, axis=1)
                sums[r] += (indicator * shifted).mean()
                counts[r] += 1
    return sums / counts


def test_two_point_correlation_matches_brute_force():
    rng = np.random.default_rng(0)
    c = rng.random((2, 12, 10))
    r, s2 = two_point_correlation(c)
    assert s2.shape == (2, 6) and np.array_equal(r, np.arange(6))
    for img, row in zip(c, s2, strict=True):
        np.testing.assert_allclose(row, _brute_force_radial_s2((img > 0.5).astype(float)))
    np.testing.assert_allclose(s2[:, 0], phase_fraction(c))  # S2(0) = phase fraction


def test_two_point_correlation_decays_to_phi_squared():
    rng = np.random.default_rng(1)
    c = (rng.random((64, 64)) < 0.3).astype(float)  # uncorrelated pixels
    _, s2 = two_point_correlation(c)
    phi = phase_fraction(c)
    assert abs(s2[10:].mean() - phi**2) < 0.01
    _, raw = two_point_correlation(c, threshold=None)
    np.testing.assert_allclose(raw, s2)  # a 0/1 field is its own indicator


def test_microstructure_errors():
    rng = np.random.default_rng(2)
    yy, xx = np.mgrid[0:32, 0:32]
    c = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * (xx + rng.integers(8)) / 16) for _ in range(3)])
    same = microstructure_errors(c, c)
    assert list(same.columns) == ["phase_fraction_error", "s2_error", "length_error"]
    np.testing.assert_allclose(same.to_numpy(), 0.0, atol=1e-12)
    shifted = microstructure_errors(c, np.clip(c + 0.2, 0, 1))
    assert np.all(shifted["phase_fraction_error"] > 0.05)  # more of phase B
    coarse = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * xx / 32) for _ in range(3)])
    longer = microstructure_errors(c, coarse)["length_error"]
    expected = characteristic_length(coarse) / characteristic_length(c) - 1
    np.testing.assert_allclose(longer, expected)
    assert np.all(longer > 0.5)
    with pytest.raises(ValueError, match="same shape"):
        microstructure_errors(c, c[:2])
    with pytest.raises(ValueError, match="NaN"):
        microstructure_errors(c, np.full_like(c, np.nan))


# ------------------------------------------------------------------------------ XRD
def _pattern(grid, positions, heights, sigma=0.08):
    y = np.zeros_like(grid)
    for p, h in zip(positions, heights, strict=True):
        y += h * np.exp(-0.5 * ((grid - p) / sigma) ** 2)
    return y


def test_find_xrd_peaks_subgrid_positions():
    grid = two_theta_grid()  # 0.05 deg steps
    true_pos, true_h = [25.013, 40.531, 61.2], [0.4, 1.0, 0.2]
    pos, rel = find_xrd_peaks(grid, _pattern(grid, true_pos, true_h))
    np.testing.assert_allclose(pos, true_pos, atol=0.005)  # a tenth of the grid step
    np.testing.assert_allclose(rel, [40.0, 100.0, 20.0], atol=1.0)
    # small peaks below min_height are ignored
    pos2, _ = find_xrd_peaks(grid, _pattern(grid, [30.0, 50.0], [1.0, 0.02]))
    np.testing.assert_allclose(pos2, [30.0], atol=0.005)


def test_match_xrd_peaks_errors():
    grid = two_theta_grid()
    ref = _pattern(grid, [25.0, 40.0, 61.0], [0.4, 1.0, 0.2])
    same = match_xrd_peaks(grid, ref, ref).iloc[0]
    assert same["recall"] == 1.0 and same["position_error"] == 0 and same["n_spurious"] == 0
    moved = match_xrd_peaks(grid, ref, _pattern(grid, [25.1, 40.1, 61.1], [0.4, 1.0, 0.2])).iloc[0]
    assert moved["position_error"] == pytest.approx(0.1, abs=0.005)
    weaker = _pattern(grid, [25.0, 40.0, 61.0], [0.3, 1.0, 0.2])
    assert match_xrd_peaks(grid, ref, weaker).iloc[0]["intensity_error"] == pytest.approx(
        10.0 / 3, abs=0.2
    )  # |30 - 40| % on one peak of three
    lost = match_xrd_peaks(grid, ref, _pattern(grid, [40.0, 70.0], [1.0, 0.5])).iloc[0]
    assert lost["n_matched"] == 1 and lost["recall"] == pytest.approx(1 / 3)
    assert lost["n_spurious"] == 1
    empty = match_xrd_peaks(grid, ref, np.zeros_like(ref)).iloc[0]
    assert empty["n_matched"] == 0 and np.isnan(empty["position_error"])
    two = match_xrd_peaks(grid, np.stack([ref, ref]), np.stack([ref, weaker]))
    assert len(two) == 2


def test_xrd_peak_bad_input():
    grid = two_theta_grid()
    ref = _pattern(grid, [40.0], [1.0])
    with pytest.raises(ValueError, match="same length"):
        find_xrd_peaks(grid, ref[:-1])
    with pytest.raises(ValueError, match="increasing"):
        find_xrd_peaks(grid[::-1], ref)
    with pytest.raises(ValueError, match="NaN"):
        find_xrd_peaks(grid, np.full_like(ref, np.nan))
    with pytest.raises(ValueError, match="no positive intensity"):
        find_xrd_peaks(grid, np.zeros_like(ref))
    with pytest.raises(ValueError, match="tolerance"):
        match_xrd_peaks(grid, ref, ref, tolerance=0)
    with pytest.raises(ValueError, match="same shape"):
        match_xrd_peaks(grid, np.stack([ref, ref]), ref[None])
