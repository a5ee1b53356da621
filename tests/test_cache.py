"""Tests of the package's one cache module (matae_utils._cache)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import matae_utils as mu
from matae_utils import _cache


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_cache, "_MEMORY", {})
    return tmp_path / "cache"


def test_round_trip_is_atomic_and_keyed(_tmp_cache):
    path = _cache.cache_path("features", {"formulas": ["NaCl"], "format": 1})
    assert path.parent == _tmp_cache and path.name.startswith("features-")
    assert path != _cache.cache_path("features", {"formulas": ["KCl"], "format": 1})
    assert path == _cache.cache_path("features", {"format": 1, "formulas": ["NaCl"]})
    assert _cache.write_npz(path, a=np.arange(3), b=np.array(["x"]))
    assert [p.name for p in _tmp_cache.iterdir()] == [path.name]  # no temporary file left
    arrays = _cache.read_npz(path)
    assert arrays["a"].tolist() == [0, 1, 2] and arrays["b"].tolist() == ["x"]


def test_missing_file_is_a_silent_miss(_tmp_cache):
    assert _cache.read_npz(_tmp_cache / "features-none.npz") is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[: len(raw) // 2],  # truncated
        lambda raw: b"not a zip file",
        lambda raw: raw[:-40] + bytes(40),  # corrupt central directory
    ],
)
def test_damaged_file_is_a_miss_with_a_warning(_tmp_cache, damage):
    path = _cache.cache_path("xrd-peaks", {"k": 1})
    _cache.write_npz(path, a=np.random.default_rng(0).normal(size=1000))
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(UserWarning, match="unreadable cache file"):
        assert _cache.read_npz(path) is None


def test_check_rejecting_the_arrays_is_a_miss_with_a_warning(_tmp_cache):
    path = _cache.cache_path("features", {"k": 2})
    _cache.write_npz(path, a=np.zeros(3))

    def wrong_shape(arrays):
        if arrays["a"].shape != (4,):
            raise ValueError("expected 4 values")

    with pytest.warns(UserWarning, match="expected 4 values"):
        assert _cache.read_npz(path, wrong_shape) is None
    with pytest.warns(UserWarning, match="KeyError"):
        assert _cache.read_npz(path, lambda arrays: arrays["missing"]) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_warns_and_returns_false(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.setenv("MATAE_CACHE", str(locked))
    with pytest.warns(UserWarning, match="not cached"):
        assert not _cache.write_npz(_cache.cache_path("features", {}), a=np.zeros(1))


def test_write_failure_warns_and_leaves_no_file(_tmp_cache):
    _tmp_cache.parent.joinpath("cache").write_text("a file where the directory should be")
    path = _cache.cache_path("features", {"k": 3})
    with pytest.warns(UserWarning, match="not cached"):
        assert not _cache.write_npz(path, a=np.zeros(1))
    assert _cache.read_npz(path) is None


def test_clear_cache_clears_every_kind_on_disk_and_in_memory(_tmp_cache):
    assert mu.clear_cache() == 0  # no directory yet
    for kind in _cache.KINDS:
        _cache.write_npz(_cache.cache_path(kind, {"k": 4}), a=np.zeros(1))
        _cache.memory(kind)["key"] = "value"
    (_tmp_cache / "notes.txt").write_text("not ours")
    assert mu.clear_cache() == len(_cache.KINDS)
    assert [p.name for p in _tmp_cache.iterdir()] == ["notes.txt"]
    assert all(_cache.memory(kind) == {} for kind in _cache.KINDS)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown cache kind"):
        _cache.cache_path("weights", {})
    with pytest.raises(ValueError, match="unknown cache kind"):
        _cache.memory("weights")
