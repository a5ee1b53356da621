"""Tests for matae_utils.featurize (formula parsing, Magpie features, element fractions)."""

from __future__ import annotations

import inspect
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from matae_utils import cache_dir, clear_cache
from matae_utils import featurize as F
from matae_utils.featurize import (
    ELEMENTS,
    element_fractions,
    fractions_to_formula,
    magpie_citations,
    magpie_features,
    parse_formulas,
)

KNOWN = ["NaCl", "Fe2O3", "GaAs", "SiO2"]

# Common elements without missing Magpie data (so no imputation warning).
_COMMON = [
    "Li",
    "Na",
    "K",
    "Mg",
    "Ca",
    "Al",
    "Ga",
    "Si",
    "Ti",
    "Fe",
    "Cu",
    "Zn",
    "O",
    "S",
    "N",
    "Cl",
]


def _distinct_formulas(n: int) -> list[str]:
    """n distinct binary/ternary formulas of common elements."""
    out = []
    for i, a in enumerate(_COMMON):
        for b in _COMMON[i + 1 :]:
            for k in range(1, 6):
                out.append(f"{a}{k}{b}")
    assert len(out) >= n
    return out[:n]


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    """Every test gets its own cache directory; the real cache is never touched."""
    monkeypatch.setenv("MATAE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def featurize_calls(monkeypatch):
    """Count calls of matminer's ElementProperty.featurize (one per composition)."""
    from matminer.featurizers.composition import ElementProperty

    original = ElementProperty.featurize
    calls = []

    def counting(self, comp):
        calls.append("".join(sorted(el.symbol for el in comp)))  # formula strings warn for He
        return original(self, comp)

    monkeypatch.setattr(ElementProperty, "featurize", counting)
    return calls


# ----------------------------------------------------------------------------- ELEMENTS


def test_elements_are_h_to_pu_in_atomic_number_order():
    from pymatgen.core import Element

    assert len(ELEMENTS) == 94
    assert ELEMENTS == tuple(Element.from_Z(z).symbol for z in range(1, 95))


def test_import_does_not_load_pymatgen_or_matminer():
    code = (
        "import sys, matae_utils.featurize as f; "
        "heavy = [m for m in ('pymatgen.core', 'matminer', 'tqdm.auto') if m in sys.modules]; "
        "print(heavy, len(f.ELEMENTS))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[] 94"


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "formula",
    ["Fe2O3", "Ag0.1Cd0.8In2.1Te4", "Ca3(PO4)2", "K4[Fe(CN)6]", " GaAs ", "Fe2 O3", "Fe.5O"],
)
def test_parse_formulas_agrees_with_pymatgen_on_valid_formulas(formula):
    from pymatgen.core import Composition

    comps = parse_formulas([formula])
    assert isinstance(comps.iloc[0], Composition)
    assert comps.iloc[0] == Composition(formula.strip())


def test_parse_formulas_keeps_series_index_and_name():
    s = pd.Series(["NaCl", "GaAs"], index=["a", "b"], name="formula")
    comps = parse_formulas(s)
    assert list(comps.index) == ["a", "b"]
    assert comps.name == "formula"
    assert [c.reduced_formula for c in comps] == ["NaCl", "GaAs"]


def test_parse_formulas_accepts_compositions_and_strips_oxidation_states():
    from pymatgen.core import Composition

    comps = parse_formulas([Composition("Fe2O3"), Composition({"Fe3+": 2, "O2-": 3})])
    assert all(c == Composition("Fe2O3") for c in comps)
    with pytest.raises(ValueError, match="dummy"):
        parse_formulas([Composition({"X": 1, "O": 2})])


BAD = {
    "empty": "",
    "whitespace": "   ",
    "none": None,
    "nan": float("nan"),
    "pd_na": pd.NA,
    "int": 42,
    "bytes": b"NaCl",
    "unbalanced_close": "Fe2O3)",
    "unclosed_open": "Fe(2O3",
    "leading_number": "2Fe",
    "mismatched_brackets": "Fe(O]2",
    "empty_brackets": "Fe()O",
    "unknown_element": "Xx2O3",
    "unknown_element_alone": "Qz",
    "uppercase_misread_as_dummy": "FE2O3",
    "lowercase": "fe2o3",
    "lowercase_tail": "Nacl",
    "negative": "Fe-1O",
    "zero": "Fe0O",
    "zero_group": "Fe(O)0",
    "below_tolerance": "Fe0.000000001O",
    "exponent": "Fe1e-3O",
    "isotope": "D2O",
    "hydrate_dot": "CuSO4·5H2O",
    "trailing_number": "Fe2O3 2",
}


@pytest.mark.parametrize("bad", list(BAD.values()), ids=list(BAD))
def test_bad_formula_raises_value_error_naming_the_row(bad):
    s = pd.Series(["NaCl", bad, "GaAs"], index=[10, 11, 12], dtype=object)
    with pytest.raises(ValueError) as info:
        parse_formulas(s)
    message = str(info.value)
    assert "1 of 3 rows are invalid" in message
    assert f"index 11: {bad!r}" in message
    assert "index 10" not in message and "index 12" not in message


@pytest.mark.parametrize("func", [magpie_features, element_fractions])
def test_public_featurizers_validate_too(func):
    with pytest.raises(ValueError, match=r"index 1: 'Fe2O3\)'"):
        func(["NaCl", "Fe2O3)"])


def test_error_message_lists_first_ten_rows_only():
    bad = [f"Xx{i}" for i in range(1, 16)]
    with pytest.raises(ValueError) as info:
        parse_formulas(["NaCl", *bad])
    message = str(info.value)
    assert "15 of 16 rows are invalid" in message
    assert "index 10: 'Xx10'" in message and "index 11:" not in message
    assert "... and 5 more" in message


def test_drop_warns_with_count_and_keeps_survivor_index():
    s = pd.Series(["NaCl", "Qz", "GaAs", None, "SiO2"], index=list("abcde"))
    with pytest.warns(UserWarning, match="Dropped 2 of 5 rows") as record:
        comps = parse_formulas(s, errors="drop")
    message = str(record[0].message)
    assert "index 'b': 'Qz'" in message and "index 'd': None" in message
    assert list(comps.index) == ["a", "c", "e"]
    assert record[0].filename == __file__  # the warning points at the caller


def test_drop_in_magpie_features_returns_survivors():
    with pytest.warns(UserWarning, match="Dropped 1 of 3 rows"):
        X = magpie_features(pd.Series(["NaCl", "Fe0O", "GaAs"], index=[5, 6, 7]), errors="drop")
    assert list(X.index) == [5, 7]
    assert X.shape == (2, 132)


def test_clean_input_emits_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_formulas(KNOWN)
        element_fractions(KNOWN)


def test_errors_argument_is_validated():
    with pytest.raises(ValueError, match="errors must be one of 'raise', 'drop'"):
        parse_formulas(["NaCl"], errors="ignore")


@pytest.mark.parametrize(
    ("formulas", "exc", "match"),
    [
        ("NaCl", TypeError, "single str"),
        (pd.DataFrame({"f": ["NaCl"]}), TypeError, "DataFrame"),
        (42, TypeError, "got int"),
        ({"NaCl"}, TypeError, "got set"),
        (b"NaCl", TypeError, "got bytes"),
        (np.array([["NaCl"]]), ValueError, "1-D"),
    ],
)
def test_wrong_container_types(formulas, exc, match):
    with pytest.raises(exc, match=match):
        parse_formulas(formulas)


def test_empty_input_gives_empty_results():
    assert len(parse_formulas([])) == 0
    assert element_fractions([]).shape == (0, 94)
    assert magpie_features([]).shape == (0, 132)


# ----------------------------------------------------------------------------- Magpie


def test_magpie_features_equal_matminer_reference():
    from matminer.featurizers.composition import ElementProperty
    from pymatgen.core import Composition

    index = pd.Index(["nacl", "hematite", "gaas", "quartz"], name="id")
    X = magpie_features(pd.Series(KNOWN, index=index))
    for impute_nan in (True, False):  # no imputation is needed for these compounds
        ref = ElementProperty.from_preset("magpie", impute_nan=impute_nan)
        expected = np.array([ref.featurize(Composition(f)) for f in KNOWN])
        np.testing.assert_allclose(X.to_numpy(), expected, rtol=0, atol=1e-8)
    assert list(X.columns) == ref.feature_labels()
    assert X.index.equals(index)
    assert X.dtypes.eq(np.float64).all()
    assert X.loc["nacl", "MagpieData mean Number"] == pytest.approx(14.0)


def test_magpie_duplicates_are_featurized_once(featurize_calls):
    X = magpie_features(["NaCl", "GaAs", "NaCl", "NaCl"], cache=False)
    assert sorted(featurize_calls) == ["AsGa", "ClNa"]
    pd.testing.assert_series_equal(X.iloc[0], X.iloc[2], check_names=False)


def test_magpie_cache_hit_is_identical_and_skips_featurizer(
    featurize_calls, _tmp_cache, monkeypatch
):
    formulas = _distinct_formulas(200)
    cold = magpie_features(formulas)
    assert len(featurize_calls) == 200
    assert len(list(_tmp_cache.glob("features-*.npz"))) == 1

    # structural, not timed: a hit neither computes nor even builds the featurizer
    monkeypatch.setattr(F, "_compute_magpie", lambda *a: pytest.fail("cache not hit"))
    monkeypatch.setattr(F, "_magpie_featurizer", lambda: pytest.fail("cache not hit"))
    warm = magpie_features(pd.Series(formulas, index=range(100, 300)))
    assert len(featurize_calls) == 200  # not called again
    np.testing.assert_array_equal(warm.to_numpy(), cold.to_numpy())
    assert list(warm.columns) == list(cold.columns)
    assert list(warm.index) == list(range(100, 300))  # index comes from the input, not the cache


def test_magpie_cache_key_depends_on_formulas(featurize_calls):
    magpie_features(["NaCl", "GaAs"])
    magpie_features(["GaAs", "NaCl"])  # other order -> other key
    assert len(featurize_calls) == 4


def test_cache_false_neither_reads_nor_writes(featurize_calls, _tmp_cache):
    magpie_features(["NaCl"], cache=False)
    magpie_features(["NaCl"], cache=False)
    assert len(featurize_calls) == 2
    assert not _tmp_cache.exists()


def test_corrupted_cache_file_is_ignored_recomputed_and_overwritten(featurize_calls, _tmp_cache):
    expected = magpie_features(KNOWN)
    (path,) = _tmp_cache.glob("features-*.npz")
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="Ignoring unreadable cache file"):
        again = magpie_features(KNOWN)
    pd.testing.assert_frame_equal(again, expected)
    assert len(featurize_calls) == 8
    with np.load(path, allow_pickle=False) as data:  # a valid file again
        assert data["features"].shape == (4, 132)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        magpie_features(KNOWN)
    assert len(featurize_calls) == 8


def test_cache_file_with_wrong_shape_is_ignored(_tmp_cache):
    magpie_features(KNOWN)
    (path,) = _tmp_cache.glob("features-*.npz")
    with path.open("wb") as fh:
        np.savez(
            fh,
            features=np.zeros((3, 132)),
            columns=np.array(["a"] * 132),
            imputed_elements=np.array([], dtype=str),
        )
    with pytest.warns(UserWarning, match="shape"):
        X = magpie_features(KNOWN)
    assert X.shape == (4, 132)


def test_imputed_magpie_data_warns(featurize_calls):
    s = pd.Series(["NaCl", "HeO", "GaAs"], index=["x", "y", "z"])
    for _ in range(2):  # also on a cache hit
        with pytest.warns(
            UserWarning, match=r"1 of 3 rows contain elements with missing Magpie data \(He\)"
        ):
            X = magpie_features(s)
    assert len(featurize_calls) == 3
    assert np.isfinite(X.to_numpy()).all()


def test_n_jobs_is_validated():
    with pytest.raises(ValueError, match="n_jobs"):
        magpie_features(["NaCl"], n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs"):
        magpie_features(["NaCl"], n_jobs="2")


def test_featurization_is_serial_by_default(monkeypatch):
    # forking a threaded process (torch loaded) can deadlock on Python 3.12: no pool unless asked
    assert inspect.signature(magpie_features).parameters["n_jobs"].default == 1
    monkeypatch.setattr(F.multiprocessing, "get_context", lambda *a: pytest.fail("pool started"))
    assert magpie_features(_distinct_formulas(50), cache=False).shape == (50, 132)


def test_process_pool_is_spawned_never_forked(monkeypatch):
    methods = []
    real_get_context = F.multiprocessing.get_context

    def recording(method=None):
        methods.append(method)
        return real_get_context(method)

    monkeypatch.setattr(F.multiprocessing, "get_context", recording)
    formulas = _distinct_formulas(60)
    serial = magpie_features(formulas, cache=False, n_jobs=1)
    parallel = magpie_features(formulas, cache=False, n_jobs=2)
    assert methods == ["spawn"]
    np.testing.assert_array_equal(parallel.to_numpy(), serial.to_numpy())


def test_magpie_citations_have_the_same_shape_as_get_citation():
    from matae_utils import get_citation

    citation = magpie_citations()
    assert isinstance(citation, str) and isinstance(get_citation("expt_gap"), str)
    assert citation.startswith("@article{") and "Ward" in citation


# ----------------------------------------------------------------------------- cache dir


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MATAE_CACHE", str(tmp_path / "m"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "m"
    monkeypatch.delenv("MATAE_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "matae"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "matae"


def test_clear_cache_removes_only_matae_cache_files(_tmp_cache):
    assert clear_cache() == 0  # directory does not exist yet
    magpie_features(["NaCl"])
    magpie_features(["GaAs"])
    other = _tmp_cache / "keep.txt"
    other.write_text("not ours")
    assert clear_cache() == 2
    assert [p.name for p in _tmp_cache.iterdir()] == ["keep.txt"]


# ----------------------------------------------------------------------------- fractions


ROUND_TRIP = ["Fe2O3", "NaCl", "BaTiO3", "Li7La3Zr2O12"]


def test_element_fractions_rows_sum_to_one_and_round_trip():
    from pymatgen.core import Composition

    X = element_fractions(ROUND_TRIP)
    assert X.dtype == np.float32
    assert X.shape == (len(ROUND_TRIP), len(ELEMENTS))
    np.testing.assert_allclose(X.sum(axis=1), 1.0, atol=1e-6)
    assert (X >= 0).all()
    assert X[0, ELEMENTS.index("Fe")] == pytest.approx(0.4)
    assert X[0, ELEMENTS.index("O")] == pytest.approx(0.6)
    formulas = fractions_to_formula(X)
    assert [Composition(f).reduced_formula for f in formulas] == [
        Composition(f).reduced_formula for f in ROUND_TRIP
    ]
    assert fractions_to_formula(X[0]) == "Fe2O3"  # 1-D -> str


@pytest.mark.parametrize("formula", ["Ag0.1Cd0.8In2.1Te4", "Ca3(PO4)2", "Hg0.7Cd0.3Te", "O2"])
def test_round_trip_keeps_fractional_composition(formula):
    from pymatgen.core import Composition

    back = fractions_to_formula(element_fractions([formula])[0])
    assert Composition(back).fractional_composition.almost_equals(
        Composition(formula).fractional_composition, rtol=0, atol=1e-6
    )


def test_element_fractions_custom_vocabulary_and_return_index():
    with pytest.warns(
        UserWarning, match=r"Dropped 1 of 3 rows[\s\S]*index 9: 'NaCl' - elements Na, Cl not in"
    ):
        X, index = element_fractions(
            pd.Series(["FeO", "Fe2O3", "NaCl"], index=[7, 8, 9]),
            elements=("O", "Fe"),
            errors="drop",
            return_index=True,
        )
    np.testing.assert_allclose(X, [[0.5, 0.5], [0.6, 0.4]], atol=1e-7)
    assert list(index) == [7, 8]


def test_element_outside_vocabulary_raises_naming_row_and_element():
    with pytest.raises(ValueError) as info:
        element_fractions(pd.Series(["Fe2O3", "AmO2", "Og"], index=["a", "b", "c"]))
    message = str(info.value)
    assert "index 'b': 'AmO2' - element Am not in the 94-element vocabulary" in message
    assert "index 'c': 'Og'" in message and "index 'a'" not in message


@pytest.mark.parametrize(
    ("elements", "exc", "match"),
    [
        (("Fe", "Xx"), ValueError, "unknown"),
        (("Fe", "Fe"), ValueError, "duplicates"),
        ((), ValueError, "empty"),
        ("FeO", TypeError, "sequence"),
    ],
)
def test_invalid_vocabulary(elements, exc, match):
    with pytest.raises(exc, match=match):
        element_fractions(["FeO"], elements=elements)


def _vector(**fractions: float) -> np.ndarray:
    x = np.zeros(len(ELEMENTS))
    for symbol, value in fractions.items():
        x[ELEMENTS.index(symbol)] = value
    return x


def test_fractions_to_formula_cleans_decoder_output():
    # negative entries clipped, small ones dropped, noise rounded away
    assert fractions_to_formula(_vector(Fe=0.41, O=0.59, Na=-0.3, Cl=0.004)) == "Fe2O3"
    assert fractions_to_formula(_vector(Ba=2.0, Ti=2.0, O=6.0)) == "BaTiO3"  # not normalised
    assert fractions_to_formula(_vector(Fe=0.4, O=0.6, Cl=0.004), threshold=0.0) != "Fe2O3"


def test_fractions_to_formula_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    x = torch.tensor(
        np.stack([_vector(Na=0.5, Cl=0.5), _vector(Ga=0.5, As=0.5)]), requires_grad=True
    )
    assert fractions_to_formula(x * 1.0) == ["NaCl", "GaAs"]


@pytest.mark.parametrize(
    ("fractions", "kwargs", "match"),
    [
        (np.ones(93), {}, "length 94"),
        (np.ones((2, 95)), {}, "length 94"),
        (np.ones((2, 2, 94)), {}, "1-D"),
        (np.zeros(94), {}, "no positive entry"),
        (-np.ones(94), {}, "no positive entry"),
        (_vector(Fe=np.nan, O=0.5), {}, "NaN"),
        (np.full(94, 1 / 94), {"threshold": 0.02}, "no fraction >= threshold"),
        (_vector(Fe=0.5, O=0.5), {"threshold": 1.0}, "threshold must be"),
        (_vector(Fe=0.5, O=0.5), {"max_denominator": 0}, "max_denominator"),
    ],
)
def test_fractions_to_formula_rejects_bad_input(fractions, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fractions_to_formula(fractions, **kwargs)


def test_fractions_to_formula_rejects_text():
    with pytest.raises(TypeError, match="numeric"):
        fractions_to_formula("Fe2O3")


def test_fractions_to_formula_wrong_length_for_custom_vocabulary():
    with pytest.raises(ValueError, match="length 2"):
        fractions_to_formula([0.5, 0.3, 0.2], elements=("Fe", "O"))
    assert fractions_to_formula([0.5, 0.5], elements=("Fe", "O")) == "FeO"


def test_pool_failure_falls_back_to_one_process_with_warning(monkeypatch):
    class NoPool:
        def Pool(self, processes):  # noqa: N802 - mimics multiprocessing's context API
            raise OSError("no /dev/shm")

    monkeypatch.setattr(F.multiprocessing, "get_context", lambda method=None: NoPool())
    with pytest.warns(UserWarning, match="Could not start 2 worker processes"):
        X = magpie_features(KNOWN, n_jobs=2, cache=False)
    expected = magpie_features(KNOWN, n_jobs=1, cache=False)
    pd.testing.assert_frame_equal(X, expected)


def test_a_library_bug_while_parsing_is_not_reported_as_an_invalid_row(monkeypatch):
    import pymatgen.core

    class Broken:  # stands in for a pymatgen Composition with a bug in it
        def __init__(self, *args, **kwargs):
            raise RuntimeError("bug inside the library")

    monkeypatch.setattr(pymatgen.core, "Composition", Broken)
    with pytest.raises(RuntimeError, match="bug inside the library"):
        parse_formulas(["NaCl"])
