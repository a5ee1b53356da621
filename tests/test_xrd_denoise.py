"""Noisy XRD patterns and the Savitzky-Golay baseline (xrd.add_xrd_noise, savgol_denoise, tune_savgol)."""

from __future__ import annotations

import numpy as np
import pytest

import matae_utils as mu

NACL = "NaCl (AB_cF8_225_a_b)"


@pytest.fixture(scope="module")
def clean():
    X, _ = mu.xrd_dataset(prototypes=[NACL], n_per_prototype=6, noise=0, background=0, seed=0)
    return X


def test_add_xrd_noise_matches_the_simulator_statistics(clean):
    grid = mu.two_theta_grid()
    noisy, levels = mu.add_xrd_noise(clean, noise=0.05, background=0.2, seed=1)
    assert noisy.shape == clean.shape and noisy.dtype == np.float32
    assert np.allclose(noisy.max(axis=1), 1.0)
    assert np.allclose(levels["noise"], 0.05) and np.allclose(levels["background"], 0.2)
    # background: away from peaks the level follows b * 2theta_0 / 2theta (same factor everywhere)
    quiet = clean[0] < 1e-6
    level = noisy[0, quiet] * grid[quiet]  # constant if the background decays as 1 / 2theta
    low, high = np.median(level[: quiet.sum() // 2]), np.median(level[quiet.sum() // 2:])
    assert abs(low / high - 1) < 0.1
    assert 0.1 < np.median(noisy[0, quiet][:50]) < 0.25  # about b / (1 + b + ...) at 10 deg
    # counting noise: var(counts) = mean(counts) with 1/noise^2 counts at the maximum
    again, _ = mu.add_xrd_noise(clean, noise=0.05, background=0.2, seed=2)
    assert not np.array_equal(noisy, again)
    same, _ = mu.add_xrd_noise(clean, noise=0.05, background=0.2, seed=1)
    np.testing.assert_array_equal(noisy, same)


def test_add_xrd_noise_rejects_bad_input(clean):
    with pytest.raises(ValueError, match="non-negative"):
        mu.add_xrd_noise(-clean)
    with pytest.raises(ValueError, match=r"\[N, 1401\]"):
        mu.add_xrd_noise(clean[:, :100])
    with pytest.raises(ValueError):
        mu.add_xrd_noise(clean, noise=0.0)


def test_savgol_reduces_noise_and_removes_background(clean):
    noisy, _ = mu.add_xrd_noise(clean, noise=0.05, background=0.2, seed=1)
    smooth = mu.savgol_denoise(noisy, window=9, polyorder=3, background_window=101)
    assert np.mean((smooth - clean) ** 2) < 0.5 * np.mean((noisy - clean) ** 2)
    kept = mu.savgol_denoise(noisy, window=9, polyorder=3)
    assert kept[:, :50].mean() > 0.1 and smooth[:, :50].mean() < 0.5 * kept[:, :50].mean()
    with pytest.raises(ValueError, match="odd"):
        mu.savgol_denoise(noisy, window=8, polyorder=3)


def test_tune_savgol_picks_the_lowest_validation_mse(clean):
    noisy, _ = mu.add_xrd_noise(clean, noise=0.05, background=0.2, seed=1)
    best, table = mu.tune_savgol(noisy, clean, windows=(5, 9, 15), polyorders=(2, 3),
                                 background_windows=(None, 101))
    assert len(table) == 12 and table["mse"].is_monotonic_increasing
    out = mu.savgol_denoise(noisy, **best)
    assert np.mean((out - clean) ** 2) == pytest.approx(table["mse"].iloc[0], rel=1e-5)
    assert best["background_window"] == 101
