"""Tests of matae_utils.anomaly: each corruption changes what it claims and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Composition, Element

import matae_utils as mu
from matae_utils import anomaly

FORMULAS = ["Fe2O3", "NaCl", "Co2O3", "SnO2", "Cd0.3Hg0.7Te", "Cu", "LiFePO4", "GaAs"]


def _amounts(formula: str) -> dict[str, float]:
    return {str(k): float(v) for k, v in Composition(formula).get_el_amt_dict().items()}


# ---------------------------------------------------------------------------- formulas
def test_swap_replaces_one_element_by_a_periodic_table_neighbour():
    out = anomaly.corrupt_formulas(FORMULAS, kind="swap", seed=0)
    assert list(out.index) == list(range(len(FORMULAS)))  # every formula can be swapped
    for pos, row in out.iterrows():
        before, after = _amounts(FORMULAS[pos]), _amounts(row.corrupted)
        assert row.original == FORMULAS[pos]
        (gone,) = set(before) - set(after)
        (new,) = set(after) - set(before)
        assert abs(Element(gone).Z - Element(new).Z) == 1
        assert row.change == f"{gone} -> {new}"
        assert after[new] == pytest.approx(before[gone])
        for el in set(before) - {gone}:  # all other amounts untouched
            assert after[el] == pytest.approx(before[el])


def test_mistype_reads_the_capitalised_symbol_as_two_elements():
    out = anomaly.corrupt_formulas(FORMULAS, kind="mistype", seed=0)
    # Co -> C + O, Sn -> S + N, Cu -> C + U; Cd, Hg, Te, Fe, Li, Ga, As, Na, Cl cannot be
    # split into two element symbols (D, G, T, E, L, A and L are no symbols)
    assert set(out.index) == {2, 3, 5}
    for pos, row in out.iterrows():
        before, after = _amounts(FORMULAS[pos]), _amounts(row.corrupted)
        old = row.change.split(" -> ")[0]
        first, second = old[0], old[1].upper()
        expected = dict(before)
        amount = expected.pop(old)
        expected[first] = expected.get(first, 0.0) + 1.0  # the typed symbol lost its amount
        expected[second] = expected.get(second, 0.0) + amount
        assert after == pytest.approx(expected)
    assert out.loc[2, "corrupted"] == "CO2O3"  # Co2O3 -> C + O5


def test_stoichiometry_multiplies_one_amount_by_ten():
    out = anomaly.corrupt_formulas(FORMULAS, kind="stoichiometry", seed=1)
    assert 5 not in out.index  # a pure element cannot be corrupted this way
    for pos, row in out.iterrows():
        before, after = _amounts(FORMULAS[pos]), _amounts(row.corrupted)
        el = row.change.split(" ")[0]
        assert set(after) == set(before)
        assert after[el] == pytest.approx(10 * before[el])
        assert all(after[e] == pytest.approx(before[e]) for e in before if e != el)


def test_formula_corruptions_are_seeded_and_parse():
    a = anomaly.corrupt_formulas(FORMULAS, kind="swap", seed=3)
    b = anomaly.corrupt_formulas(FORMULAS, kind="swap", seed=3)
    pd.testing.assert_frame_equal(a, b)
    mu.parse_formulas(a["corrupted"])  # every corrupted formula is valid
    assert mu.magpie_features(a["corrupted"], progress=False).shape == (len(a), 132)


def test_formula_corruption_bad_input():
    with pytest.raises(ValueError, match="kind"):
        anomaly.corrupt_formulas(FORMULAS, kind="swapp")
    with pytest.raises(ValueError, match="Xx"):
        anomaly.corrupt_formulas(["Xx2O3"], kind="swap")
    with pytest.raises(TypeError):
        anomaly.corrupt_formulas("Fe2O3", kind="swap")


# ------------------------------------------------------------------------------- units
@pytest.fixture
def steel() -> pd.DataFrame:
    return pd.DataFrame(
        {"NT": [870, 900, 885], "TT": [30, 550, 30], "Tt": [0, 60, 0], "C": [0.4, 0.2, 0.3]}
    )


def test_kelvin_adds_273_to_one_applied_temperature(steel):
    bad, where = anomaly.wrong_unit(steel, ["NT", "TT"], kind="kelvin", skip_values=[30], seed=0)
    assert list(bad.index) == [0, 1, 2] and list(where.index) == [0, 1, 2]
    diff = bad - steel
    for i in bad.index:
        col = where[i]
        assert steel.at[i, col] != 30
        assert diff.at[i, col] == pytest.approx(273.15)
        assert (diff.loc[i].drop(col) == 0).all()  # nothing else changed
    assert steel.at[1, "TT"] == 550  # the input is not modified


def test_hours_divides_one_time_by_60_and_skips_rows_without_one(steel):
    bad, where = anomaly.wrong_unit(steel, ["Tt"], kind="hours", skip_values=[0], seed=0)
    assert list(bad.index) == [1]  # rows 0 and 2 were not tempered
    assert bad.at[1, "Tt"] == pytest.approx(1.0)
    assert where[1] == "Tt"
    assert (bad.drop(columns="Tt").loc[1] == steel.drop(columns="Tt").loc[1]).all()


def test_wrong_unit_bad_input(steel):
    with pytest.raises(ValueError, match="not in frame"):
        anomaly.wrong_unit(steel, ["XX"], kind="kelvin")
    with pytest.raises(ValueError, match="kind"):
        anomaly.wrong_unit(steel, ["NT"], kind="fahrenheit")
    with pytest.raises(TypeError):
        anomaly.wrong_unit(steel.to_numpy(), ["NT"], kind="kelvin")
    with pytest.raises(TypeError):
        anomaly.wrong_unit(steel, "NT", kind="kelvin")
    nan = steel.astype(float)
    nan.loc[0, "NT"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        anomaly.wrong_unit(nan, ["NT"], kind="kelvin")


# --------------------------------------------------------------------------------- XRD
GRID = np.linspace(10.0, 80.0, 701)


def _peak(centre: float) -> np.ndarray:
    return np.exp(-0.5 * ((GRID - centre) / 0.2) ** 2)


def test_shift_peaks_moves_every_peak_by_the_shift():
    X = np.stack([_peak(30.0), _peak(50.0)])
    out = anomaly.shift_peaks(X, GRID, np.array([0.5, -1.0]))
    assert GRID[out.argmax(axis=1)] == pytest.approx([30.5, 49.0])
    assert np.allclose(anomaly.shift_peaks(X, GRID, 0.0), X)
    assert out.max(axis=1) == pytest.approx(1.0)


def test_mix_phase_adds_the_second_pattern():
    X, other = _peak(30.0)[None], _peak(60.0)[None]
    out = anomaly.mix_phase(X, other, 0.25)
    assert out[0, np.abs(GRID - 30).argmin()] == pytest.approx(1.0)
    assert out[0, np.abs(GRID - 60).argmin()] == pytest.approx(1 / 3)  # 0.25 / 0.75
    assert np.allclose(anomaly.mix_phase(X, other, 0.0), X)


def test_xrd_corruptions_bad_input():
    X = _peak(30.0)[None]
    with pytest.raises(ValueError, match="angles"):
        anomaly.shift_peaks(X, GRID[:-1], 0.1)
    with pytest.raises(ValueError, match="quarter"):
        anomaly.shift_peaks(X, GRID, 30.0)
    with pytest.raises(ValueError, match="shape"):
        anomaly.mix_phase(X, np.stack([X[0], X[0]]), 0.2)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        anomaly.mix_phase(X, X, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        anomaly.shift_peaks(np.full_like(X, np.nan), GRID, 0.1)


@pytest.fixture(scope="module")
def nacl_patterns():
    names = [n for n in mu.load_prototypes()["name"] if n.startswith(("NaCl", "CsCl"))][:2]
    return mu.xrd_dataset(n_per_prototype=2, prototypes=names, noise=0.0, two_theta=GRID, seed=0)


def test_wrong_wavelength_with_the_right_wavelength_reproduces_the_data_set(nacl_patterns):
    X, labels = nacl_patterns
    same = anomaly.wrong_wavelength(labels, wavelength="CuKa", two_theta=GRID)
    assert np.allclose(same, X, atol=1e-6)  # same strain, crystallite size, background


def test_wrong_wavelength_moves_peaks_by_bragg_law(nacl_patterns):
    from pymatgen.analysis.diffraction.xrd import WAVELENGTHS

    X, labels = nacl_patterns
    co = anomaly.wrong_wavelength(labels, wavelength="CoKa", two_theta=GRID)
    ratio = WAVELENGTHS["CoKa"] / WAVELENGTHS["CuKa"]
    theta_cu = np.radians(GRID[X.argmax(axis=1)] / 2)
    expected = 2 * np.degrees(np.arcsin(ratio * np.sin(theta_cu)))
    assert GRID[co.argmax(axis=1)] == pytest.approx(expected, abs=0.15)  # grid step 0.1


def test_wrong_wavelength_bad_input(nacl_patterns):
    _, labels = nacl_patterns
    with pytest.raises(ValueError, match="columns"):
        anomaly.wrong_wavelength(labels.drop(columns="strain"), wavelength="CoKa")
    with pytest.raises(ValueError, match="wavelength"):
        anomaly.wrong_wavelength(labels, wavelength="XyKa", two_theta=GRID)
    bad = labels.copy()
    bad.loc[0, "name"] = "no such prototype"
    with pytest.raises(ValueError, match="unknown prototype"):
        anomaly.wrong_wavelength(bad, wavelength="CoKa", two_theta=GRID)


# ------------------------------------------------------------------------------ scoring
def test_contaminate_replaces_the_requested_share_of_eligible_rows():
    clean = np.zeros((50, 3))
    corrupted = np.ones((50, 3))
    eligible = np.arange(50) < 20
    X, y = anomaly.contaminate(clean, corrupted, fraction=0.2, eligible=eligible, seed=0)
    assert y.sum() == 10 and (y[~eligible] == 0).all()
    assert (X[y == 1] == 1).all() and (X[y == 0] == 0).all()
    X2, y2 = anomaly.contaminate(clean, corrupted, fraction=0.2, eligible=eligible, seed=0)
    assert (y == y2).all()
    with pytest.raises(ValueError, match="eligible"):
        anomaly.contaminate(clean, corrupted, fraction=0.5, eligible=eligible)
    with pytest.raises(ValueError, match="same shape"):
        anomaly.contaminate(clean, corrupted[:10])
    with pytest.raises(ValueError, match="fraction"):
        anomaly.contaminate(clean, corrupted, fraction=1.0)


def test_anomaly_table_and_largest_residuals():
    y = np.array([0, 0, 0, 1])
    table = anomaly.anomaly_table(
        {("a", "perfect"): ([0, 1, 2, 9], y), ("a", "inverted"): ([9, 8, 7, 0], y)}
    )
    assert table["auroc"].tolist() == [1.0, 0.0]
    assert table["prevalence"].tolist() == [0.25, 0.25]
    with pytest.raises(ValueError, match="non-empty"):
        anomaly.anomaly_table({})

    X = np.array([[0.0, 5.0, 1.0], [2.0, 0.0, 0.0]])
    res = anomaly.largest_residuals(X, np.zeros_like(X), feature_names=["a", "b", "c"], top=2)
    assert res["feature"].tolist() == ["b", "c", "a", "b"]
    assert res["residual"].tolist() == [5.0, 1.0, 2.0, 0.0]
    with pytest.raises(ValueError, match="names"):
        anomaly.largest_residuals(X, X, feature_names=["a"])


def test_anion_classes_rule():
    labels = mu.anion_classes(
        ["Fe2O3", "NaCl", "GaAs", "CdTe", "Ni3Al", "Cu", "SrFO", "LaOS", "As2S3", "SiC"]
    )
    assert labels.tolist() == [
        "oxide",
        "halide",
        "pnictide",
        "chalcogenide",
        "intermetallic/other",
        "intermetallic/other",
        "halide",  # F is more electronegative than O
        "oxide",  # O beats S
        "chalcogenide",  # S beats As
        "intermetallic/other",  # carbide
    ]
    with pytest.raises(ValueError):
        mu.anion_classes(["Fe2O3", "Qq"])
