"""Integrated gradients and latent traversals (matae_utils.interpret)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import matae_utils as mu


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1)).double()


def test_linear_model_gets_weight_times_difference_exactly():
    w = np.array([1.0, -2.0, 0.5, 0.0])
    x = np.array([[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 0.0, 2.0]])
    base = np.array([0.5, 0.5, 0.5, 0.5])
    attr, delta = mu.integrated_gradients(
        lambda t: t @ torch.as_tensor(w), x, baseline=base, n_steps=3, dtype=torch.float64
    )
    np.testing.assert_allclose(attr, w * (x - base), atol=1e-12)
    np.testing.assert_allclose(delta, 0.0, atol=1e-12)


def test_completeness_for_a_nonlinear_network():
    net = _net()
    x = np.random.default_rng(0).normal(size=(6, 5))
    attr, delta = mu.integrated_gradients(lambda t: net(t)[:, 0], x, n_steps=200,
                                          dtype=torch.float64)
    with torch.no_grad():
        change = net(torch.as_tensor(x))[:, 0] - net(torch.zeros(1, 5, dtype=torch.float64))[0, 0]
    np.testing.assert_allclose(attr.sum(axis=1), change.numpy(), atol=1e-4)
    assert np.all(np.abs(delta) < 1e-4)
    # the quadrature error shrinks with more steps
    _, coarse = mu.integrated_gradients(lambda t: net(t)[:, 0], x, n_steps=4, dtype=torch.float64)
    assert np.abs(coarse).max() > np.abs(delta).max()


def test_small_step_matches_finite_differences():
    """From a baseline h e_j below x, IG_j -> h dF/dx_j: compare with central differences."""
    net = _net(1)
    x = np.random.default_rng(2).normal(size=(1, 5))
    grad = mu.input_gradients(lambda t: net(t)[:, 0], x, dtype=torch.float64)[0]
    h = 1e-5
    f = lambda v: float(net(torch.as_tensor(v[None])).detach()[0, 0])  # noqa: E731
    fd = np.array([(f(x[0] + h * e) - f(x[0] - h * e)) / (2 * h) for e in np.eye(5)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)
    for j in range(5):
        base = x[0] - 1e-3 * np.eye(5)[j]
        attr, _ = mu.integrated_gradients(lambda t: net(t)[:, 0], x, baseline=base,
                                          n_steps=8, dtype=torch.float64)
        # a one-dimensional path: IG_j is the backward difference, ~ h dF/dx_j
        assert attr[0, j] == pytest.approx(f(x[0]) - f(base), rel=1e-6, abs=1e-12)
        assert attr[0, j] == pytest.approx(1e-3 * fd[j], rel=1e-2, abs=1e-9)
        assert np.abs(np.delete(attr[0], j)).max() == 0.0


def test_bad_inputs_raise_clear_errors():
    net = _net()
    with pytest.raises(ValueError, match="one scalar per input row"):
        mu.integrated_gradients(lambda t: torch.cat([t, t], 1), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="baseline"):
        mu.integrated_gradients(lambda t: net(t.double())[:, 0], np.zeros((2, 5)),
                                baseline=np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        mu.integrated_gradients(lambda t: net(t.double())[:, 0], np.full((2, 5), np.nan))


def test_latent_traversal_changes_one_dimension_only():
    torch.manual_seed(0)
    model = mu.AutoEncoder(6, latent_dim=3, hidden=(8,))
    vals = np.linspace(-2, 2, 5)
    out = mu.latent_traversal(model, np.zeros(3), 1, vals)
    assert out.shape == (5, 6)
    codes = np.zeros((5, 3))
    codes[:, 1] = vals
    np.testing.assert_allclose(out, mu.decode(model, codes.astype(np.float32)), atol=1e-6)
    with pytest.raises(ValueError):
        mu.latent_traversal(model, np.zeros(3), 3, vals)
    with pytest.raises(ValueError, match="latent_dim=3"):
        mu.latent_traversal(model, np.zeros(4), 0, vals)
