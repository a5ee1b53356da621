"""Tests of the shared argument validators (matae_utils._checks)."""

import math

import numpy as np
import pytest
import torch

from matae_utils._checks import (
    as_array,
    as_images,
    check_choice,
    check_number,
    check_range,
    close_matches_hint,
)


def test_check_number_returns_clean_python_numbers():
    assert check_number(np.int64(3), "n", integer=True, low=1) == 3
    assert type(check_number(np.int64(3), "n", integer=True)) is int
    assert check_number(2, "lr") == 2.0 and type(check_number(2, "lr")) is float


@pytest.mark.parametrize("bad", [True, "3", None, [1]])
def test_check_number_rejects_non_numbers(bad):
    with pytest.raises(TypeError, match="n must be"):
        check_number(bad, "n")


def test_check_number_integer_rejects_floats():
    with pytest.raises(TypeError, match="integer"):
        check_number(3.0, "n", integer=True)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -np.inf])
def test_check_number_rejects_nan_and_inf(bad):
    with pytest.raises(ValueError, match="finite"):
        check_number(bad, "x")


def test_check_number_bounds_named_in_message():
    with pytest.raises(ValueError, match=r"n must be >= 1; got 0"):
        check_number(0, "n", integer=True, low=1)
    with pytest.raises(ValueError, match=r"p must be < 1"):
        check_number(1.0, "p", high=1, high_inclusive=False)
    with pytest.raises(ValueError, match=r"dx must be > 0"):
        check_number(0.0, "dx", low=0, low_inclusive=False)
    assert check_number(1.0, "p", low=0, high=1) == 1.0


def test_check_range():
    assert check_range((0, np.float32(2)), "r") == (0.0, 2.0)
    with pytest.raises(ValueError, match="low < high"):
        check_range((1, 1), "r")
    assert check_range((1, 1), "r", allow_equal=True) == (1.0, 1.0)
    assert check_range(0.3, "r", allow_scalar=True) == (0.3, 0.3)
    with pytest.raises(TypeError, match="pair"):
        check_range(0.3, "r")
    with pytest.raises(TypeError, match="pair"):
        check_range((1, 2, 3), "r")
    with pytest.raises(ValueError, match="finite"):
        check_range((0, np.nan), "r")
    with pytest.raises(ValueError, match=r"inside \(0, 1\)"):
        check_range((0, 0.5), "r", low=0, high=1)


def test_check_choice_suggests_close_matches():
    assert check_choice("mean", "reduction", ("none", "mean", "sum")) == "mean"
    with pytest.raises(ValueError, match="Did you mean 'mean'"):
        check_choice("maen", "reduction", ("none", "mean", "sum"))
    assert close_matches_hint("zzzz", ["expt_gap"]) == ""
    assert "'expt_gap'" in close_matches_hint("EXPT_GAP", ["expt_gap", "steel_fatigue"])


def test_as_array_tensors_nan_and_ndim():
    t = torch.ones(2, 3, dtype=torch.bfloat16, requires_grad=True)
    arr = as_array(t, "x", ndim=2)
    assert isinstance(arr, np.ndarray) and arr.shape == (2, 3)
    with pytest.raises(ValueError, match="NaN"):
        as_array([1.0, np.nan], "x")
    assert np.isnan(as_array([1.0, np.nan], "x", allow_nan=True)).any()
    with pytest.raises(ValueError, match="2-D"):
        as_array([1.0, 2.0], "x", ndim=2)
    with pytest.raises(TypeError, match="numeric"):
        as_array(["a", "b"], "x")


def test_as_images_layouts():
    assert as_images(np.zeros((4, 5)), "x").shape == (1, 4, 5)
    assert as_images(np.zeros((2, 4, 5)), "x").shape == (2, 4, 5)
    assert as_images(torch.zeros(2, 1, 4, 5), "x").shape == (2, 4, 5)
    assert as_images(np.zeros((2, 4, 5), dtype=np.float32), "x").dtype == np.float64
    with pytest.raises(ValueError, match=r"\[N, 1, H, W\]"):
        as_images(np.zeros((2, 3, 4, 5)), "x")


def test_check_range_inclusive_bounds():
    assert check_range((0, 0.5), "noise", low=0, inclusive=True) == (0.0, 0.5)
    with pytest.raises(ValueError, match=r"inside \[0, inf\]"):
        check_range((-0.1, 0.5), "noise", low=0, inclusive=True)
