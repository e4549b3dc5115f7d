"""Tests for the synthetic population and the hand-made PCA (SPEC section 1)."""

# The SPEC defines the reference draws by numpy's legacy global generator, so these
# tests call it on purpose (and restore its state afterwards).
# ruff: noqa: NPY002

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.decomposition import PCA

from latent_atlas.analysis.pca import PCAResult, check_against_sklearn, pca_by_hand, standardize
from latent_atlas.data.population import COLUMNS, make_population

SPEC_COLUMNS = ["Age", "Gender", "Religion", "Occupation", "Salary", "Housing_Status"]


@pytest.fixture(scope="module")
def population():
    return make_population(500, 42)


@pytest.fixture(scope="module")
def standardized(population) -> np.ndarray:
    return standardize(population.to_numpy(dtype=float))


# --------------------------------------------------------------------------- #
# population
# --------------------------------------------------------------------------- #


def test_population_columns_in_spec_order(population):
    assert list(population.columns) == SPEC_COLUMNS
    assert list(COLUMNS) == SPEC_COLUMNS
    assert len(population) == 500


def test_population_value_ranges(population):
    age, occupation = population["Age"], population["Occupation"]
    assert age.min() >= 18 and age.max() <= 64
    assert occupation.min() >= 1 and occupation.max() <= 9
    # 500 uniform draws cover the whole range (the upper bound is inclusive).
    assert set(age) == set(range(18, 65))
    assert set(occupation) == set(range(1, 10))
    assert set(population["Gender"]) == {0, 1}
    assert set(population["Housing_Status"]) == {0, 1}
    assert set(population["Religion"]) == {0, 1, 2}
    for name in ("Age", "Gender", "Religion", "Occupation", "Housing_Status"):
        assert np.issubdtype(population[name].dtype, np.integer), name
    salary = population["Salary"]
    assert salary.dtype == np.float64
    # mean 5000, sd 1500: with n=500 the sample moments are within a few standard errors.
    assert abs(salary.mean() - 5000) < 4 * 1500 / np.sqrt(500)
    assert 1300 < salary.std(ddof=1) < 1700


def test_population_is_reproducible_and_seeded(population):
    again = make_population(500, 42)
    assert again.equals(population)
    other = make_population(500, 43)
    assert not other.equals(population)
    assert not np.allclose(other["Salary"], population["Salary"])


def test_population_equals_the_legacy_global_generator_draws(population):
    state = np.random.get_state()
    try:
        np.random.seed(42)
        expected = {
            "Age": np.random.randint(18, 65, 500),
            "Gender": np.random.choice([0, 1], 500),
            "Religion": np.random.choice([0, 1, 2], 500),
            "Occupation": np.random.randint(1, 10, 500),
            "Salary": np.random.normal(5000, 1500, 500),
            "Housing_Status": np.random.choice([0, 1], 500),
        }
    finally:
        np.random.set_state(state)
    for name, values in expected.items():
        np.testing.assert_array_equal(population[name].to_numpy(), values, err_msg=name)


def test_make_population_leaves_global_state_alone():
    state = np.random.get_state()
    try:
        np.random.seed(7)
        before = np.random.random()
        np.random.seed(7)
        make_population(20, 42)
        assert np.random.random() == before
    finally:
        np.random.set_state(state)


def test_make_population_rejects_non_positive_count():
    with pytest.raises(ValueError, match="n_people=0"):
        make_population(0, 42)


# --------------------------------------------------------------------------- #
# standardize
# --------------------------------------------------------------------------- #


def test_standardize_gives_zero_mean_and_unit_sample_std(standardized):
    np.testing.assert_allclose(standardized.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(standardized.std(axis=0, ddof=1), 1.0, rtol=1e-12)
    # ddof=1, not ddof=0: the population std is sqrt((n-1)/n) of it.
    np.testing.assert_allclose(standardized.std(axis=0, ddof=0), np.sqrt(499 / 500), rtol=1e-12)


def test_standardize_known_answer():
    x = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 40.0]])
    # column 0: mean 2, sample sd 1; column 1: mean 20, sample sd sqrt(300).
    expected = np.array([[-1.0, -10 / np.sqrt(300)], [0.0, -10 / np.sqrt(300)], [1.0, 20 / np.sqrt(300)]])
    np.testing.assert_allclose(standardize(x), expected)


def test_standardize_rejects_a_constant_column():
    x = np.array([[1.0, 5.0, 0.0], [2.0, 5.0, 1.0], [3.0, 5.0, 0.0]])
    with pytest.raises(ValueError, match=r"columns \[1\] are constant"):
        standardize(x)


# --------------------------------------------------------------------------- #
# pca_by_hand
# --------------------------------------------------------------------------- #


def test_pca_known_answer_2x2():
    # Centred data whose sample covariance is exactly [[2, 1], [1, 2]]:
    # eigenvalues 3 (along (1,1)/sqrt2) and 1 (along (1,-1)/sqrt2). With rows +-a*u and
    # +-b*v, X^T X = 2a^2 uu^T + 2b^2 vv^T, so 2a^2 = 3*3 and 2b^2 = 1*3 for n - 1 = 3.
    h = np.sqrt(3.0) / 2
    x = np.array([[1.5, 1.5], [-1.5, -1.5], [h, -h], [-h, h]])
    np.testing.assert_allclose(x.T @ x / (len(x) - 1), [[2.0, 1.0], [1.0, 2.0]])
    result = pca_by_hand(x, 1)
    np.testing.assert_allclose(result.eigenvalues, [3.0, 1.0])
    s = 1 / np.sqrt(2.0)
    np.testing.assert_allclose(np.abs(result.components[:, 0]), [s, s])
    np.testing.assert_allclose(abs(result.components[:, 0] @ [s, s]), 1.0)
    np.testing.assert_allclose(abs(result.components[:, 1] @ [s, -s]), 1.0)
    np.testing.assert_allclose(result.explained_ratio, [0.75, 0.25])
    np.testing.assert_allclose(result.cumulative_ratio, [0.75, 1.0])
    # Projection onto (1,1)/sqrt2, up to the eigenvector's sign.
    expected = x @ np.array([s, s])
    np.testing.assert_allclose(np.abs(result.projected[:, 0]), np.abs(expected))
    assert result.projected.shape == (4, 1)


def test_pca_centres_the_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    shifted = pca_by_hand(x + 100.0, 2)
    plain = pca_by_hand(x, 2)
    np.testing.assert_allclose(shifted.eigenvalues, plain.eigenvalues)
    np.testing.assert_allclose(shifted.projected.mean(axis=0), 0.0, atol=1e-10)


def test_pca_on_population_matches_sklearn(standardized):
    result = pca_by_hand(standardized, 3)
    reference = PCA().fit(standardized)
    assert np.all(np.diff(result.eigenvalues) <= 0), "eigenvalues must be descending"
    np.testing.assert_allclose(result.eigenvalues, reference.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(result.explained_ratio, reference.explained_variance_ratio_, rtol=1e-10)
    ours = result.components.T
    for i in range(6):
        sign = np.sign(ours[i] @ reference.components_[i])
        np.testing.assert_allclose(sign * ours[i], reference.components_[i], atol=1e-8)
    # Standardized columns: the eigenvalues sum to the number of columns (the trace).
    assert result.eigenvalues.sum() == pytest.approx(6.0)
    # Projection equals scikit-learn's transform up to the component signs.
    signs = np.sign(np.sum(ours[:3] * reference.components_[:3], axis=1))
    np.testing.assert_allclose(result.projected * signs, reference.transform(standardized)[:, :3],
                               atol=1e-8)
    check_against_sklearn(standardized, result)  # and the module's own check agrees


def test_top_three_components_keep_a_little_over_half(standardized):
    result = pca_by_hand(standardized, 3)
    kept = result.cumulative_ratio[2]
    # Independent features: the spread is near even (3/6 = 0.5), the study reports ~54%.
    assert 0.50 < kept < 0.60
    assert kept == pytest.approx(result.eigenvalues[:3].sum() / result.eigenvalues.sum())
    np.testing.assert_allclose(result.cumulative_ratio[-1], 1.0)
    assert result.projected.shape == (500, 3)


def test_components_are_orthonormal(standardized):
    vectors = pca_by_hand(standardized, 6).components
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(6), atol=1e-12)


@pytest.mark.parametrize("k", [0, -1, 7])
def test_pca_rejects_k_out_of_range(standardized, k):
    with pytest.raises(ValueError, match=rf"k={k} is not allowed; use 1\.\.6"):
        pca_by_hand(standardized, k)


# --------------------------------------------------------------------------- #
# check_against_sklearn
# --------------------------------------------------------------------------- #


def tampered(result: PCAResult, **changes) -> PCAResult:
    return dataclasses.replace(result, **changes)


def test_check_against_sklearn_accepts_sign_flips(standardized):
    result = pca_by_hand(standardized, 3)
    flipped = result.components * np.array([1, -1, 1, -1, -1, 1])
    check_against_sklearn(standardized, tampered(result, components=flipped))


def test_check_against_sklearn_rejects_wrong_eigenvalues(standardized):
    result = pca_by_hand(standardized, 3)
    bad = result.eigenvalues.copy()
    bad[0] *= 1.01
    with pytest.raises(AssertionError, match="eigenvalues differ"):
        check_against_sklearn(standardized, tampered(result, eigenvalues=bad))


def test_check_against_sklearn_rejects_reordered_eigenvalues(standardized):
    result = pca_by_hand(standardized, 3)
    with pytest.raises(AssertionError, match="eigenvalues differ"):
        check_against_sklearn(standardized, tampered(result, eigenvalues=result.eigenvalues[::-1]))


def test_check_against_sklearn_rejects_wrong_components(standardized):
    result = pca_by_hand(standardized, 3)
    swapped = result.components[:, [1, 0, 2, 3, 4, 5]]
    with pytest.raises(AssertionError, match="components differ"):
        check_against_sklearn(standardized, tampered(result, components=swapped))
    nudged = result.components.copy()
    nudged[0, 0] += 1e-3
    with pytest.raises(AssertionError, match="components differ"):
        check_against_sklearn(standardized, tampered(result, components=nudged))


def test_covariance_spectrum_known_answers():
    from latent_atlas.analysis.pca import covariance_spectrum

    # Independent columns with sample variances 9, 4 and 1 (each column is +-s, balanced):
    # a diagonal covariance, so the eigenvalues are the variances, sorted, with axis eigenvectors.
    signs = np.array([1.0, -1.0] * 50)
    x = np.column_stack([signs, 3 * signs[::-1] * np.repeat([1, -1], 50), 2 * np.tile([1.0, 1, -1, -1], 25)])
    s = covariance_spectrum(x)
    n = len(x)
    np.testing.assert_allclose(s.eigenvalues, np.array([9.0, 4.0, 1.0]) * n / (n - 1), atol=1e-12)
    np.testing.assert_allclose(np.abs(s.vectors), np.eye(3)[:, [1, 2, 0]], atol=1e-12)
    assert covariance_spectrum(np.ones((1, 3))).eigenvalues.tolist() == [0.0, 0.0, 0.0]  # one sample
