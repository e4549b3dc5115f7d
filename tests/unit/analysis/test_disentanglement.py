"""MIG and SAP (disentanglement_lib's definitions) and the code's sparsity, on codes whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latent_atlas.analysis.mig import histogram_discretize, mig_part, mutual_information_gap
from latent_atlas.analysis.sap import sap_part, score_matrix, squared_correlation, top_two_gap
from latent_atlas.analysis.sparsity import active_per_input, class_selectivity, sparsity_part
from latent_atlas.config import MIGParams, SAPParams, SparsityParams
from latent_atlas.data.factors import Factors, factor_table

FOUR = np.tile(np.arange(4), 50).astype(float)  # a balanced factor with 4 values: entropy ln 4


def test_histogram_discretize_gives_each_of_20_evenly_spaced_values_its_own_bin():
    values = np.arange(20.0)[:, None]
    np.testing.assert_array_equal(histogram_discretize(values, 20)[:, 0], np.arange(1, 21))
    # A constant column falls in one bin.
    assert len(np.unique(histogram_discretize(np.full((5, 1), 3.0), 20))) == 1


@pytest.mark.parametrize(("second_code", "expected"), [
    (np.zeros(200), 1.0),  # one code carries the factor, the other nothing: gap = H
    (FOUR, 0.0),  # the factor duplicated in two codes: no gap
    (FOUR // 2, 0.5),  # the second code knows half: (ln 4 - ln 2) / ln 4
])
def test_mig_known_answers(second_code, expected):
    codes = np.column_stack([FOUR, second_code])
    found = mutual_information_gap(codes, FOUR[:, None], discrete_mask=[True])
    assert found["mig"] == pytest.approx(expected, abs=1e-12)
    assert found["entropy"][0] == pytest.approx(math.log(4))


def test_mig_discretises_continuous_factors_like_the_codes():
    # An affine code of a continuous factor falls into the same 20 bins: all of its information, no gap lost.
    factor = np.random.default_rng(0).uniform(0, 1, 500)
    codes = np.column_stack([3 * factor + 1, np.zeros(500), -factor[::-1]])  # the third is unrelated order
    found = mutual_information_gap(codes, factor[:, None], discrete_mask=[False])
    assert found["mutual_information"][0, 0] == pytest.approx(found["entropy"][0])
    assert found["per_factor"][0] == pytest.approx(1 - found["mutual_information"][2, 0] / found["entropy"][0])


def test_mig_of_two_factors_each_in_its_own_code_is_one_and_a_constant_factor_is_refused():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 5, 300).astype(float), rng.integers(0, 3, 300).astype(float)
    swapped = np.column_stack([b, a])  # which code holds which factor does not matter
    found = mutual_information_gap(swapped, np.column_stack([a, b]), discrete_mask=[True, True])
    # Independent draws share a little information in a finite sample, so the gap is just under 1.
    assert found["mig"] > 0.95
    with pytest.raises(ValueError, match=r"factors \[1\] are constant"):
        mutual_information_gap(swapped, np.column_stack([a, np.ones(300)]), discrete_mask=[True, True])


def test_squared_correlation_known_answers():
    y = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=float)
    u = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=float)  # orthogonal to y and to the constant
    assert squared_correlation(2 * y + 1, y) == pytest.approx(1.0)
    assert squared_correlation(y + u, y) == pytest.approx(0.5)
    assert squared_correlation(np.full(8, 3.0), y) == 0.0  # a constant code predicts nothing


def test_sap_continuous_known_answer():
    y = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=float)
    u = np.array([1, 1, -1, -1, 1, 1, -1, -1], dtype=float)
    codes = np.column_stack([y + u, y, np.zeros(8)])
    scores = score_matrix(codes, y[:, None], codes, y[:, None], discrete_mask=[False])
    np.testing.assert_allclose(scores[:, 0], [0.5, 1.0, 0.0])
    assert top_two_gap(scores)[0] == pytest.approx(0.5)


def test_sap_discrete_known_answer():
    labels = np.tile([0.0, 1.0], 50)
    codes = np.column_stack([10 * (2 * labels - 1), np.zeros(100)])  # separates the classes; knows nothing
    scores = score_matrix(codes, labels[:, None], codes, labels[:, None], discrete_mask=[True])
    np.testing.assert_allclose(scores[:, 0], [1.0, 0.5])  # a constant code gets the balanced classes half right
    assert top_two_gap(scores)[0] == pytest.approx(0.5)


def test_mig_and_sap_parts_read_the_digit_and_the_morphometrics():
    rng = np.random.default_rng(2)
    y_train, y_test = rng.integers(0, 10, 400), rng.integers(0, 10, 1000)
    measured = rng.normal(size=(1000, 6))
    factors = Factors(test=measured, train=rng.normal(size=(50, 6)), train_index=np.sort(rng.choice(400, 50, False)),
                      names=("area", "length", "thickness", "slant", "width", "height"))
    z_test = np.column_stack([y_test, measured[:, 0], rng.normal(size=1000)])
    z_train = rng.normal(size=(400, 3))
    table = factor_table(factors, y_train, y_test, n_train=30, seed=0)
    mig = mig_part(z_test, table, MIGParams())
    assert set(mig.metrics) == {"mig", *(f"mig_{n}" for n in table.names)}
    # Each in a code of its own; the unrelated third code shares a little information by chance.
    assert mig.metrics["mig_digit"] > 0.9 and mig.metrics["mig_area"] > 0.85
    sap = sap_part(z_train, z_test, table, SAPParams(n_train=30))
    assert sap.metrics["sap_n_train"] == 30 and np.asarray(sap.details["sap_scores"]).shape == (3, 7)
    assert 0 <= sap.metrics["sap"] <= 1


def test_active_units_per_input_and_class_selectivity_known_answers():
    labels = np.arange(40) % 4
    one_hot = np.eye(4)[labels]  # unit j fires for digit j only, one unit per input
    assert active_per_input(one_hot, 0.1).tolist() == [1] * 40
    np.testing.assert_allclose(class_selectivity(one_hot, labels), 1.0)
    constant = np.ones((40, 3))
    assert active_per_input(constant, 0.1).tolist() == [3] * 40
    np.testing.assert_allclose(class_selectivity(constant, labels), 0.0)
    # Unit 0 fires at 1 for digit 0 and at 0.5 for the others: (1 - 0.5) / (1 + 0.5).
    half = np.where(labels == 0, 1.0, 0.5)[:, None]
    assert class_selectivity(half, labels)[0] == pytest.approx(1 / 3)


def test_a_silent_code_has_no_active_unit_and_no_selectivity():
    part = sparsity_part(np.zeros((20, 5)), np.arange(20) % 10, SparsityParams())
    assert (part.metrics["active_units_per_input"], part.metrics["unit_selectivity"]) == (0.0, 0.0)


def test_sparsity_is_scale_free():
    rng = np.random.default_rng(3)
    z, y = rng.laplace(size=(100, 8)), np.arange(100) % 10
    assert active_per_input(z, 0.5).tolist() == active_per_input(1000 * z, 0.5).tolist()
    np.testing.assert_allclose(class_selectivity(z, y), class_selectivity(1000 * z, y))


def test_the_joint_histogram_gives_scikit_learns_mutual_information():
    from sklearn.metrics import mutual_info_score

    from latent_atlas.analysis.mig import discrete_mutual_info

    rng = np.random.default_rng(6)
    codes = histogram_discretize(rng.normal(size=(500, 4)) + rng.integers(0, 3, (500, 1)))
    factors = np.column_stack([rng.integers(0, 3, 500), rng.integers(5, 9, 500)])
    expected = [[mutual_info_score(factors[:, j], codes[:, i]) for j in range(2)] for i in range(4)]
    np.testing.assert_allclose(discrete_mutual_info(codes, factors), expected, rtol=1e-10, atol=1e-12)
