"""Tests of matae_utils.microstructure (Cahn-Hilliard phase-field generator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from matae_utils.microstructure import (
    cahn_hilliard,
    characteristic_length,
    free_energy,
    generate_microstructures,
)


def _initial(c_means, size=32, noise=0.02, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    c_means = np.asarray(c_means, dtype=float)
    c0 = c_means[:, None, None] + noise * rng.standard_normal((len(c_means), size, size))
    return c0.astype(dtype)


# ------------------------------------------------------------------------ cahn_hilliard
def test_mean_composition_is_conserved():
    c0 = _initial([0.5, 0.4, 0.3])
    c = cahn_hilliard(c0, mobility=[1.0, 2.0, 0.5], kappa=[0.5, 1.0, 2.0], dt=0.5, steps=300)
    assert c.shape == c0.shape and c.dtype == np.float64
    np.testing.assert_allclose(c.mean(axis=(1, 2)), c0.mean(axis=(1, 2)), rtol=0, atol=1e-6)


def test_phase_separation_happens():
    c0 = _initial([0.5, 0.5])
    c = cahn_hilliard(c0, kappa=1.0, dt=0.5, steps=400)
    assert np.all(c0.std(axis=(1, 2)) < 0.03)
    assert np.all(c.std(axis=(1, 2)) > 0.3)  # two phases near c = 0 and c = 1
    assert c.min() < 0.05 and c.max() > 0.95
    assert c.min() > -0.1 and c.max() < 1.1  # only a small spectral overshoot


def test_free_energy_decreases_along_snapshots():
    c0 = _initial([0.5, 0.35], seed=1)
    kappa = np.array([1.0, 1.5])
    snaps = list(range(0, 401, 20))
    _, history = cahn_hilliard(c0, kappa=kappa, dt=0.5, steps=400, snapshots=snaps)
    assert history.shape == (2, len(snaps), 32, 32)
    energy = np.stack([free_energy(history[:, j], kappa=kappa) for j in range(len(snaps))], axis=1)
    steps_up = np.diff(energy, axis=1)
    assert np.all(steps_up <= 1e-9 * np.abs(energy[:, :-1]))
    assert np.all(energy[:, -1] < 0.8 * energy[:, 0])  # and it really decreased


def test_snapshots_start_from_c0_and_end_at_final_field():
    c0 = _initial([0.5])[0]  # a single [H, W] field
    final, history = cahn_hilliard(c0, steps=50, snapshots=[50, 0, 25])
    assert final.shape == (32, 32) and history.shape == (3, 32, 32)
    np.testing.assert_array_equal(history[1], c0)
    np.testing.assert_allclose(history[0], final, atol=1e-12)
    assert not np.allclose(history[2], c0)


def test_per_image_parameters_equal_separate_solves():
    c0 = _initial([0.5, 0.45, 0.4])
    params = {
        "mobility": [1.0, 2.0, 0.7],
        "kappa": [0.6, 1.0, 1.8],
        "dt": [0.3, 0.5, 0.8],
        "steps": [40, 100, 0],
    }
    batched = cahn_hilliard(c0, **params)
    for i in range(3):
        single = cahn_hilliard(c0[i], **{k: v[i] for k, v in params.items()})
        np.testing.assert_allclose(batched[i], single, atol=1e-12)
    np.testing.assert_allclose(batched[2], c0[2], atol=1e-12)  # zero steps: unchanged


def test_float32_input_is_solved_in_float32():
    c0 = _initial([0.5], dtype=np.float32)
    c = cahn_hilliard(c0, steps=20)
    assert c.dtype == np.float32


def test_unstable_time_step_raises_with_advice():
    c0 = _initial([0.5])
    with pytest.raises(ValueError, match=r"unstable.*Reduce dt"):
        cahn_hilliard(c0, dt=50.0, steps=200, stabilization=0.0)


@pytest.mark.parametrize(
    ("c0", "kwargs", "error", "match"),
    [
        (np.full(32, 0.5), {}, ValueError, "shape"),
        (np.full((1, 1, 32, 32), 0.5), {}, ValueError, "shape"),
        (np.full((2, 32, 32), -1.0), {}, ValueError, r"\[0, 1\]"),
        (np.full((2, 32, 32), np.nan), {}, ValueError, "NaN"),
        (np.array([["a"] * 8] * 8), {}, TypeError, "real-valued"),
        (np.full((2, 32, 32), 0.5), {"dt": 0.0}, ValueError, "dt must be > 0"),
        (np.full((2, 32, 32), 0.5), {"mobility": -1.0}, ValueError, "mobility must be > 0"),
        (np.full((2, 32, 32), 0.5), {"kappa": [1.0, 0.0]}, ValueError, "kappa must be > 0"),
        (np.full((2, 32, 32), 0.5), {"kappa": [1.0, 1.0, 1.0]}, ValueError, "one per image"),
        (np.full((2, 32, 32), 0.5), {"steps": -1}, ValueError, "steps must be >= 0"),
        (np.full((2, 32, 32), 0.5), {"steps": 2.5}, TypeError, "integer"),
        (np.full((2, 32, 32), 0.5), {"snapshots": [500]}, ValueError, "snapshot"),
        (np.full((2, 32, 32), 0.5), {"dx": 0}, ValueError, "dx"),
        (np.full((2, 32, 32), 0.5), {"stabilization": -1.0}, ValueError, "stabilization"),
    ],
)
def test_cahn_hilliard_rejects_bad_input(c0, kwargs, error, match):
    with pytest.raises(error, match=match):
        cahn_hilliard(c0, **{"steps": 10, **kwargs})


# ------------------------------------------------------------- free energy and length scale
@pytest.mark.parametrize("width", [32, 33])  # even and odd sizes (rfft half-spectrum weights)
def test_free_energy_gradient_term_matches_analytic_sinusoid(width):
    h, dx, kappa, amp = 24, 0.5, 1.7, 0.1
    x = np.arange(width) * dx
    k = 2 * np.pi * 3 / (width * dx)  # three periods across the box
    c = np.broadcast_to(0.5 + amp * np.sin(k * x), (h, width))
    bulk = dx * dx * (c**2 * (1 - c) ** 2).sum()
    gradient = 0.5 * kappa * amp**2 * k**2 * 0.5 * (h * width * dx * dx)  # <cos^2> = 1/2
    assert free_energy(c, kappa=kappa, dx=dx) == pytest.approx(bulk + gradient, rel=1e-10)


def test_characteristic_length_of_a_sinusoid_is_its_wavelength():
    size = 64
    x = np.arange(size)
    fields = np.stack(
        [
            np.broadcast_to(0.5 + 0.3 * np.cos(2 * np.pi * m * x / size), (size, size))
            for m in (2, 4, 8)
        ]
    )
    np.testing.assert_allclose(characteristic_length(fields), [32.0, 16.0, 8.0], rtol=1e-10)
    assert np.isnan(characteristic_length(np.full((8, 8), 0.5)))


# ---------------------------------------------------------------- generate_microstructures
def test_generate_shapes_range_and_parameter_table():
    images, params = generate_microstructures(6, size=32, time=(100.0, 300.0), seed=3)
    assert images.shape == (6, 32, 32) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert isinstance(params, pd.DataFrame) and len(params) == 6
    assert list(params.columns) == [
        "c_mean", "mobility", "kappa", "time", "reduced_time", "dt", "dt_late", "steps", "noise", "seed",
    ]  # fmt: skip
    assert params.c_mean.between(0.3, 0.7).all()
    assert params.mobility.between(0.5, 2.0).all() and params.kappa.between(0.5, 2.0).all()
    assert params.reduced_time.between(100.0, 300.0).all()
    np.testing.assert_allclose(params.time, params.reduced_time * params.kappa / params.mobility)
    assert params.steps.dtype.kind == "i" and params.seed.dtype.kind == "i"
    np.testing.assert_allclose(images.mean(axis=(1, 2)), params.c_mean, atol=0.01)  # conserved
    assert np.all(images.std(axis=(1, 2)) > 0.3)  # phase separated


def test_generate_is_deterministic_and_independent_of_batch_size():
    # 70 images: more than one solver chunk (solved in parallel threads) per call
    a, pa = generate_microstructures(70, size=16, time=(100.0, 150.0), seed=7, batch_size=70)
    b, pb = generate_microstructures(70, size=16, time=(100.0, 150.0), seed=7, batch_size=3)
    c, _ = generate_microstructures(70, size=16, time=(100.0, 150.0), seed=8)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(pa, pb)
    assert not np.allclose(a, c)


def test_generate_fixed_parameters_and_unclipped_output():
    images, params = generate_microstructures(
        2, size=32, c_mean=0.5, mobility=1.0, kappa=1.0, time=400.0, clip=False, seed=0
    )
    assert (params.c_mean == 0.5).all() and (params.reduced_time == 400.0).all()
    assert params.steps.tolist() == [200, 200]  # 100 steps of 1, then 100 of 3
    assert images.min() < 0.0 or images.max() > 1.0  # the small spectral overshoot is kept


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0}, ValueError, "n must be >= 1"),
        ({"n": 2.0}, TypeError, "n must be an integer"),
        ({"size": 8}, ValueError, "size"),
        ({"c_mean": (0.7, 0.3)}, ValueError, "low <= high"),
        ({"c_mean": (0.0, 0.5)}, ValueError, r"inside \(0, 1\)"),
        ({"kappa": (-1.0, 1.0)}, ValueError, "kappa"),
        ({"time": "long"}, TypeError, "time"),
        ({"noise": -0.1}, ValueError, "noise"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"seed": None}, TypeError, "seed"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        generate_microstructures(**{"n": 2, "size": 16, **kwargs})
