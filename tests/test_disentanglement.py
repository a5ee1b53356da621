"""Disentanglement metrics: mutual information gap and factor correlation."""

from __future__ import annotations

import numpy as np
import pytest

import matae_utils as mu


def _factors(n: int = 2000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 2))


def test_mig_is_high_for_an_axis_aligned_code_and_low_for_a_rotated_one():
    v = _factors()
    # equal-width bins: an affine map of a factor keeps its bins, so MI = H exactly
    aligned = np.c_[2 * v[:, 0] + 1, -3 * v[:, 1], np.random.default_rng(1).normal(size=len(v))]
    c, s = np.cos(np.pi / 4), np.sin(np.pi / 4)
    rotated = np.c_[c * v[:, 0] - s * v[:, 1], s * v[:, 0] + c * v[:, 1]]
    good = mu.mutual_information_gap(aligned, v)
    bad = mu.mutual_information_gap(rotated, v)
    assert good["mig"] > 0.8 and bad["mig"] < 0.2
    assert good["best"].tolist() == [0, 1]
    assert good["mi"].shape == (3, 2) and np.all(good["mi"] <= 1 + 1e-9)


def test_mig_matches_a_hand_computed_discrete_case():
    # z0 = v exactly (MI = H(v)), z1 constant (MI = 0): gap = 1
    v = np.repeat([0.0, 1.0], 50)
    z = np.c_[v, np.zeros_like(v)]
    out = mu.mutual_information_gap(z, v, n_bins=2)
    assert out["mig"] == pytest.approx(1.0)
    assert out["mi"][:, 0] == pytest.approx([1.0, 0.0])


def test_factor_correlation_is_spearman_and_handles_dead_units():
    from scipy.stats import spearmanr

    v = _factors(300)
    z = np.c_[v[:, 0] ** 5, np.zeros(300), -v[:, 1]]
    C = mu.factor_correlation(z, v)
    assert C.shape == (3, 2)
    assert C[0, 0] == pytest.approx(1.0) and C[2, 1] == pytest.approx(1.0)
    assert np.all(C[1] == 0)
    assert C[0, 1] == pytest.approx(abs(spearmanr(z[:, 0], v[:, 1]).statistic))


def test_errors():
    v = _factors(50)
    with pytest.raises(ValueError, match="constant"):
        mu.mutual_information_gap(v, np.c_[v[:, 0], np.ones(50)])
    with pytest.raises(ValueError, match="at least 2"):
        mu.mutual_information_gap(v[:, :1], v)
    with pytest.raises(ValueError, match="rows"):
        mu.factor_correlation(v, v[:10])
