"""The Materials Project loader, offline: the official client ``mp_api`` is replaced by a fake
module, so every path (success and cache, missing key, bad key, refused key, no network, empty
result) runs without the network, and failures must leave nothing in the cache."""

from __future__ import annotations

import sys
import types

import pandas as pd
import pytest

import matae_utils as mu
from matae_utils import _cache

KEY = "k" * 32


class FakeMPRestError(Exception):
    pass


def _install_fake_client(monkeypatch, search):
    """Put a fake ``mp_api.client`` in sys.modules whose summary.search calls ``search``."""
    calls = []

    class FakeRester:
        def __init__(self, api_key, **kwargs):
            calls.append({"api_key": api_key, **kwargs})
            self.materials = types.SimpleNamespace(
                summary=types.SimpleNamespace(search=self._search))

        def _search(self, **query):
            calls[-1]["query"] = query
            return search(**query)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    client = types.ModuleType("mp_api.client")
    client.MPRester = FakeRester
    core = types.ModuleType("mp_api.client.core")
    core.MPRestError = FakeMPRestError
    client.core = core
    package = types.ModuleType("mp_api")
    package.client = client
    monkeypatch.setitem(sys.modules, "mp_api", package)
    monkeypatch.setitem(sys.modules, "mp_api.client", client)
    monkeypatch.setitem(sys.modules, "mp_api.client.core", core)
    return calls


DOCS = [
    {"material_id": "mp-149", "formula_pretty": "Si", "band_gap": 0.61, "is_metal": False,
     "energy_above_hull": 0.0},
    {"material_id": "mp-13", "formula_pretty": "Fe", "band_gap": 0.0, "is_metal": True,
     "energy_above_hull": 0.0},
]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATAE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("MP_API_KEY", raising=False)
    return tmp_path / "cache"


def _cached_files(cache) -> list:
    return sorted(cache.glob("materials-project-*")) if cache.exists() else []


def test_download_then_cache(monkeypatch, private_cache):
    calls = _install_fake_client(monkeypatch, lambda **q: list(DOCS))
    monkeypatch.setenv("MP_API_KEY", KEY)
    df = mu.load_materials_project(progress=False)
    assert list(df.columns) == ["material_id", "formula", "band_gap", "is_metal",
                                "energy_above_hull"]
    assert df["formula"].tolist() == ["Si", "Fe"] and df["band_gap"].tolist() == [0.61, 0.0]
    assert calls[0]["api_key"] == KEY and calls[0]["mute_progress_bars"] is True
    assert calls[0]["query"]["fields"][:2] == ["material_id", "formula_pretty"]
    assert len(_cached_files(private_cache)) == 1
    again = mu.load_materials_project(progress=False)  # from the disk: no new request
    assert len(calls) == 1
    pd.testing.assert_frame_equal(again, df, check_dtype=False)
    mu.load_materials_project(progress=False, refresh=True)
    assert len(calls) == 2
    assert _cache.clear_cache() == 1


def test_missing_key_is_a_clear_error(monkeypatch, private_cache):
    _install_fake_client(monkeypatch, lambda **q: list(DOCS))
    with pytest.raises(ValueError, match="MP_API_KEY"):
        mu.load_materials_project()
    assert _cached_files(private_cache) == []


def test_malformed_key_is_refused_before_any_request(monkeypatch, private_cache):
    calls = _install_fake_client(monkeypatch, lambda **q: list(DOCS))
    with pytest.raises(ValueError, match="32-character"):
        mu.load_materials_project(api_key="short")
    assert calls == [] and _cached_files(private_cache) == []


def test_refused_key(monkeypatch, private_cache):
    def search(**query):
        raise FakeMPRestError("REST query returned with error status code 401 on URL x")

    _install_fake_client(monkeypatch, search)
    with pytest.raises(PermissionError, match="refused the API key"):
        mu.load_materials_project(api_key=KEY)
    assert _cached_files(private_cache) == []


def test_no_network(monkeypatch, private_cache):
    def search(**query):
        raise ConnectionError("Max retries exceeded with url: /materials/summary/")

    _install_fake_client(monkeypatch, search)
    with pytest.raises(ConnectionError, match="could not reach the Materials Project"):
        mu.load_materials_project(api_key=KEY)
    assert _cached_files(private_cache) == []


def test_interrupted_download_writes_nothing(monkeypatch, private_cache):
    def search(**query):
        def chunks():
            yield DOCS[0]
            raise TimeoutError("read timed out")
        return list(chunks())

    _install_fake_client(monkeypatch, search)
    with pytest.raises(ConnectionError):
        mu.load_materials_project(api_key=KEY)
    assert _cached_files(private_cache) == []


def test_empty_result(monkeypatch, private_cache):
    _install_fake_client(monkeypatch, lambda **q: [])
    with pytest.raises(ValueError, match="no material"):
        mu.load_materials_project(api_key=KEY, band_gap=(50, 60))
    assert _cached_files(private_cache) == []


def test_other_api_errors_are_reported(monkeypatch):
    def search(**query):
        raise FakeMPRestError("REST query returned with error status code 500")

    _install_fake_client(monkeypatch, search)
    with pytest.raises(RuntimeError, match="status code 500"):
        mu.load_materials_project(api_key=KEY)


def test_missing_client_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mp_api", None)
    monkeypatch.setitem(sys.modules, "mp_api.client", None)
    with pytest.raises(ImportError, match=r"matae_utils\[mp\]"):
        mu.load_materials_project(api_key=KEY)
