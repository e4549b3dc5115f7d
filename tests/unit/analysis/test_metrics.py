"""Known-answer and property tests for latent_atlas.analysis.metrics (tiny synthetic data)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from latent_atlas.analysis import clustering, dci, noise, probes, spectrum, traversal, tsne

# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def blobs(n_per: int, centres: np.ndarray, spread: float, seed: int):
    rng = np.random.default_rng(seed)
    z = np.concatenate([c + spread * rng.normal(size=(n_per, centres.shape[1])) for c in centres])
    y = np.repeat(np.arange(len(centres)), n_per)
    return z, y


def whitened(n: int, k: int, seed: int) -> np.ndarray:
    """n x k data whose sample covariance is exactly the identity."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    x -= x.mean(axis=0)
    chol = np.linalg.cholesky(x.T @ x / (n - 1))
    return x @ np.linalg.inv(chol).T


# --------------------------------------------------------------------------- #
# purity and clustering
# --------------------------------------------------------------------------- #


def test_cluster_purity_hand_case():
    # cluster 0 = {0, 0} -> majority 2; cluster 1 = {0, 1, 1, 1} -> majority 3.
    assert clustering.cluster_purity([0, 0, 0, 1, 1, 1], [5, 5, 7, 7, 7, 7]) == pytest.approx(5 / 6)


def test_cluster_purity_is_one_for_relabelled_truth_and_low_for_one_cluster():
    y = np.array([3, 3, 1, 1, 2, 2, 2])
    assert clustering.cluster_purity(y, (y * 7) % 5) == 1.0
    assert clustering.cluster_purity(y, np.zeros_like(y)) == pytest.approx(3 / 7)


def test_cluster_purity_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="equal length"):
        clustering.cluster_purity([0, 1, 1], [0, 1])


def test_kmeans_purity_on_separated_blobs():
    z, y = blobs(30, np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]), 0.3, seed=1)
    out = clustering.kmeans_purity(z, y, n_clusters=3, n_seeds=3, seed=0)
    assert set(out) == {"purity_best", "purity_mean", "purity_std", "nmi", "ari", "purity_shuffled", "class_purity"}
    assert out["purity_best"] == 1.0 and out["class_purity"][:3] == [1.0, 1.0, 1.0]
    assert out["nmi"] == pytest.approx(1.0)
    assert out["ari"] == pytest.approx(1.0)
    assert out["purity_mean"] <= out["purity_best"]


def test_kmeans_purity_spread_over_seeds_and_best_seed_metrics():
    # Overlapping blobs with more clusters than classes: seeds disagree.
    z, y = blobs(40, np.array([[0.0, 0.0], [1.5, 0.0]]), 1.0, seed=2)
    out = clustering.kmeans_purity(z, y, n_clusters=5, n_seeds=6, seed=3)
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score

    runs = [KMeans(5, n_init=1, random_state=3 + i).fit_predict(z) for i in range(6)]
    purities = [clustering.cluster_purity(y, p) for p in runs]
    assert out["purity_best"] == pytest.approx(max(purities))
    assert out["purity_mean"] == pytest.approx(np.mean(purities))
    best = runs[int(np.argmax(purities))]
    assert out["nmi"] == pytest.approx(normalized_mutual_info_score(y, best))


def test_kmeans_purity_rejects_too_many_clusters():
    z, y = blobs(3, np.zeros((2, 2)), 1.0, seed=0)
    with pytest.raises(ValueError, match="n_clusters=7 is too large"):
        clustering.kmeans_purity(z, y, n_clusters=7)


def test_kmeans_purity_rejects_label_length():
    with pytest.raises(ValueError, match="labels must have shape"):
        clustering.kmeans_purity(np.zeros((4, 2)), [0, 1, 1])


# --------------------------------------------------------------------------- #
# probes
# --------------------------------------------------------------------------- #


def test_linear_probe_separable_vs_random_labels():
    centres = np.array([[4.0, 0.0, 0.0], [-4.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    z, y = blobs(60, centres, 0.5, seed=3)
    assert probes.linear_probe_accuracy(z[::2], y[::2], z[1::2], y[1::2], seed=0) == 1.0
    rng = np.random.default_rng(4)
    noise = rng.normal(size=(400, 3))
    labels = rng.integers(0, 2, size=400)
    acc = probes.linear_probe_accuracy(noise[:200], labels[:200], noise[200:], labels[200:], seed=0)
    assert acc < 0.65


def test_linear_probe_subsamples_and_needs_two_classes():
    z, y = blobs(50, np.array([[3.0, 0.0], [-3.0, 0.0]]), 0.5, seed=5)
    acc = probes.linear_probe_accuracy(z, y, z, y, seed=1, max_train=20)
    assert acc > 0.95
    with pytest.raises(ValueError, match="single class"):
        probes.linear_probe_accuracy(z[:50], y[:50], z, y)


def test_probe_rejects_feature_mismatch():
    with pytest.raises(ValueError, match="z_train has 2 features but z_test has 3"):
        probes.linear_probe_accuracy(np.zeros((4, 2)), [0, 1, 0, 1], np.zeros((2, 3)), [0, 1])


def test_knn_accuracy_known_cases():
    z, y = blobs(30, np.array([[0.0, 0.0], [5.0, 5.0]]), 0.3, seed=6)
    assert probes.knn_accuracy(z[::2], y[::2], z[1::2], y[1::2], k=3) == 1.0
    # k = 1 on the training set itself reproduces every label.
    rng = np.random.default_rng(7)
    zz, yy = rng.normal(size=(40, 2)), rng.integers(0, 3, size=40)
    assert probes.knn_accuracy(zz, yy, zz, yy, k=1) == 1.0


def test_knn_rejects_k_above_train_size():
    with pytest.raises(ValueError, match="k=9 is too large"):
        probes.knn_accuracy(np.zeros((5, 2)), np.arange(5), np.zeros((2, 2)), [0, 1], k=9)
    with pytest.raises(ValueError, match="k must be a positive int"):
        probes.knn_accuracy(np.zeros((5, 2)), np.arange(5), np.zeros((2, 2)), [0, 1], k=0)


# --------------------------------------------------------------------------- #
# spectrum
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("k", [1, 3, 5, 10])
def test_spectrum_k_equal_variances_has_effective_dimension_k(k):
    rng = np.random.default_rng(k)
    z = np.hstack([whitened(300, k, seed=k), np.zeros((300, 12 - k))])
    rotation, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    out = spectrum.spectrum(z @ rotation + 5.0)
    assert out["participation_ratio"] == pytest.approx(k)
    # Cumulative ratio is j/k: first reaching 0.90 at ceil(0.9 k), 0.95 at ceil(0.95 k).
    assert out["dims_90"] == math.ceil(0.9 * k - 1e-9)
    assert out["dims_95"] == math.ceil(0.95 * k - 1e-9)
    assert np.allclose(out["eigenvalues"][:k], 1.0)
    assert np.allclose(out["eigenvalues"][k:], 0.0, atol=1e-10)


def test_spectrum_matches_numpy_and_hand_participation_ratio():
    z = whitened(500, 2, seed=9) * np.array([2.0, 1.0])  # variances 4 and 1
    out = spectrum.spectrum(z)
    assert out["eigenvalues"] == pytest.approx([4.0, 1.0])
    assert out["explained_ratio"] == pytest.approx([0.8, 0.2])
    assert out["participation_ratio"] == pytest.approx(25 / 17)
    assert out["dims_90"] == 2 and out["dims_95"] == 2
    rng = np.random.default_rng(10)
    x = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
    ref = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    assert np.allclose(spectrum.spectrum(x)["eigenvalues"], ref)


def test_spectrum_constant_data_and_bad_input():
    out = spectrum.spectrum(np.ones((10, 3)))
    assert out["participation_ratio"] == 0.0 and out["dims_90"] == 0
    assert out["explained_ratio"] == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="at least 2 rows"):
        spectrum.spectrum(np.ones((1, 3)))
    with pytest.raises(ValueError, match="must be 2-D"):
        spectrum.spectrum(np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        spectrum.spectrum(np.array([[1.0, np.nan], [0.0, 1.0]]))


# --------------------------------------------------------------------------- #
# DCI closed forms
# --------------------------------------------------------------------------- #


def test_dci_identity_and_permuted_diagonal_score_one():
    for r in (np.eye(4), np.diag([3.0, 0.5, 2.0])[[2, 0, 1]]):
        assert dci.disentanglement(r) == pytest.approx(1.0)
        assert dci.completeness(r) == pytest.approx(1.0)


def test_dci_uniform_matrix_scores_zero():
    r = np.full((5, 3), 0.2)
    assert dci.disentanglement(r) == pytest.approx(0.0, abs=1e-12)
    assert dci.completeness(r) == pytest.approx(0.0, abs=1e-12)


def test_code_shared_by_two_of_k_factors_has_closed_form():
    # Code 0 is equally important for factors 0 and 1 out of K = 4:
    # D_0 = 1 - log 2 / log 4 = 0.5; codes 1 and 2 are pure.
    r = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    assert dci.disentanglement_per_code(r) == pytest.approx([1 - math.log(2) / math.log(4), 1, 1])
    # rho = (2, 1, 1) / 4 -> D = 0.5 * 0.5 + 0.25 + 0.25.
    assert dci.disentanglement(r) == pytest.approx(0.75)
    # K = 2: one code for both factors is fully entangled; the other code is dead.
    assert dci.disentanglement([[1.0, 1.0], [0.0, 0.0]]) == pytest.approx(0.0, abs=1e-12)


def test_dci_hand_built_two_by_two():
    # R = [[3, 1], [0, 2]] (codes x factors).
    # Code 0: p = (3/4, 1/4), H_2 = 0.811278; D_0 = 0.188722. Code 1: p = (0, 1), D_1 = 1.
    # rho = (4/6, 2/6): D = 2/3 * 0.188722 + 1/3 = 0.459148.
    # Factor 0: p = (1, 0), C_0 = 1. Factor 1: p = (1/3, 2/3), H_2 = 0.918296, C_1 = 0.081704.
    # C = (1 + 0.081704) / 2 = 0.540852.
    r = np.array([[3.0, 1.0], [0.0, 2.0]])
    assert dci.disentanglement_per_code(r) == pytest.approx([0.188722, 1.0], abs=1e-6)
    assert dci.disentanglement(r) == pytest.approx(0.459148, abs=1e-6)
    assert dci.completeness_per_factor(r) == pytest.approx([1.0, 0.081704], abs=1e-6)
    assert dci.completeness(r) == pytest.approx(0.540852, abs=1e-6)


def test_weighted_completeness_hand_built():
    # R = [[3, 1], [0, 2]]: C_j = (1, 0.081704) as above; column sums (3, 3) are equal,
    # so the weights are (1/2, 1/2) and weighted C equals the unweighted mean.
    r = np.array([[3.0, 1.0], [0.0, 2.0]])
    assert dci.completeness_weighted(r) == pytest.approx(dci.completeness(r), abs=1e-12)
    # R = [[3, 1], [0, 1]]: factor 0 p = (1, 0), C_0 = 1; factor 1 p = (1/2, 1/2), C_1 = 0.
    # Unweighted (Eastwood & Williams): C = 1/2. Column sums (3, 2) of 5: weighted C = 3/5.
    r = np.array([[3.0, 1.0], [0.0, 1.0]])
    assert dci.completeness(r) == pytest.approx(0.5)
    assert dci.completeness_weighted(r) == pytest.approx(0.6)


def test_weighted_completeness_drops_an_unexplained_factor():
    # A factor no code predicts counts as C_j = 0 in the mean but has weight 0 when weighted.
    r = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert dci.completeness(r) == pytest.approx(2 / 3)
    assert dci.completeness_weighted(r) == pytest.approx(1.0)
    assert dci.completeness_weighted(np.zeros((3, 2))) == 0.0


def test_dci_zero_rows_and_columns_give_no_nan():
    r = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert dci.disentanglement(r) == pytest.approx(1.0)  # the dead code has weight 0
    assert dci.completeness(r) == pytest.approx(2 / 3)  # the unexplained factor scores 0
    assert dci.disentanglement(np.zeros((3, 2))) == 0.0
    assert dci.completeness(np.zeros((3, 2))) == 0.0


def test_dci_single_factor_or_single_code_edge_cases():
    # K = 1: every used code captures only that factor.
    assert dci.disentanglement([[2.0], [1.0]]) == pytest.approx(1.0)
    assert dci.completeness([[2.0], [1.0]]) == pytest.approx(1 - 0.918296, abs=1e-6)
    # One code: it is the only code for every factor it predicts.
    assert dci.completeness([[1.0, 2.0]]) == pytest.approx(1.0)
    assert dci.disentanglement([[1.0, 2.0]]) == pytest.approx(1 - 0.918296, abs=1e-6)


def test_dci_rejects_negative_or_wrong_rank():
    with pytest.raises(ValueError, match="non-negative"):
        dci.disentanglement([[1.0, -0.1], [0.0, 1.0]])
    with pytest.raises(ValueError, match="2-D"):
        dci.completeness([1.0, 2.0])


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 6), st.integers(2, 5)),
        elements=st.one_of(st.just(0.0), st.floats(1e-3, 10)),
    ),
    st.floats(0.1, 100),
    st.randoms(use_true_random=False),
)
def test_dci_bounded_and_invariant_to_scale_and_order(r, scale, rnd):
    # Entries are 0 or >= 1e-3 so rescaling cannot underflow a weight to 0.
    d, c = dci.disentanglement(r), dci.completeness(r)
    assert 0.0 <= d <= 1.0 and 0.0 <= c <= 1.0
    rows = list(range(r.shape[0]))
    cols = list(range(r.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    shuffled = r[np.ix_(rows, cols)] * scale
    assert dci.disentanglement(shuffled) == pytest.approx(d, abs=1e-9)
    assert dci.completeness(shuffled) == pytest.approx(c, abs=1e-9)


def test_dci_single_factor_closed_forms():
    one_hot = dci.dci_single_factor([0.0, 5.0, 0.0, 0.0], 0.9)
    assert one_hot == {
        "dci_single_disentanglement": 1.0,
        "dci_single_completeness": 1.0,
        "dci_single_informativeness": 0.9,
    }
    uniform = dci.dci_single_factor(np.ones(4), 0.5)
    assert uniform["dci_single_disentanglement"] == pytest.approx(0.25)
    assert uniform["dci_single_completeness"] == pytest.approx(0.25)
    # p = (3/4, 1/4): sum p^2 = 9/16 + 1/16, max p = 3/4.
    hand = dci.dci_single_factor([3.0, 1.0], 1.0)
    assert hand["dci_single_disentanglement"] == pytest.approx(0.625)
    assert hand["dci_single_completeness"] == pytest.approx(0.75)
    zeros = dci.dci_single_factor(np.zeros(5), 0.1)
    assert zeros["dci_single_disentanglement"] == pytest.approx(0.2)


def test_dci_single_factor_rejects_bad_accuracy():
    with pytest.raises(ValueError, match=r"accuracy must be in \[0, 1\]; got 1.5"):
        dci.dci_single_factor([1.0, 2.0], 1.5)


# --------------------------------------------------------------------------- #
# DCI with fitted estimators
# --------------------------------------------------------------------------- #


def factor_data(n: int, seed: int):
    """Codes z (n, 4); factor 0 discrete from code 0, factor 1 continuous from code 2."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    digit = (z[:, 0] > 0).astype(float) + (z[:, 0] > 1)
    thickness = 2.0 * z[:, 2] + 0.05 * rng.normal(size=n)
    noise = rng.normal(size=n)  # no code predicts this one
    return z, np.column_stack([digit, thickness, noise])


def test_importance_matrix_finds_the_generating_codes():
    z, f = factor_data(700, seed=11)
    mask = np.array([True, False, False])
    r, info = dci.importance_matrix(z[:500], f[:500], z[500:], f[500:], discrete_mask=mask, seed=0)
    assert r.shape == (4, 3) and info.shape == (3,)
    assert np.argmax(r[:, 0]) == 0 and r[0, 0] > 0.8
    assert np.argmax(r[:, 1]) == 2 and r[2, 1] > 0.8
    assert np.allclose(r.sum(axis=0), 1.0)
    assert info[0] > 0.9 and info[1] > 0.9
    assert info[2] == 0.0  # negative held-out R^2 is clipped to 0


def test_dci_dict_keys_and_values():
    z, f = factor_data(600, seed=12)
    out = dci.dci(
        z[:400],
        f[:400, :2],
        z[400:],
        f[400:, :2],
        factor_names=["digit", "thickness"],
        discrete_mask=np.array([True, False]),
        seed=1,
    )
    assert out["dci_disentanglement"] > 0.7
    assert out["dci_completeness"] > 0.7
    assert out["dci_informativeness"] == pytest.approx(
        (out["dci_informativeness_digit"] + out["dci_informativeness_thickness"]) / 2
    )
    assert np.asarray(out["importance_matrix"]).shape == (4, 2)
    r = np.asarray(out["importance_matrix"])
    assert out["dci_disentanglement"] == pytest.approx(dci.disentanglement(r))
    assert out["dci_completeness"] == pytest.approx(dci.completeness(r))
    assert out["dci_completeness_weighted"] == pytest.approx(dci.completeness_weighted(r))


def test_dci_rejects_bad_names_and_mask():
    z, f = factor_data(50, seed=13)
    with pytest.raises(ValueError, match="factor_names has 1 names for 3 factors"):
        dci.dci(z, f, z, f, factor_names=["a"], discrete_mask=np.array([True, False, False]))
    with pytest.raises(ValueError, match="discrete_mask must be a bool array of shape"):
        dci.importance_matrix(z, f, z, f, discrete_mask=np.array([1, 0, 0]))
    with pytest.raises(ValueError, match="z_train has 4 codes but z_test has 3"):
        dci.importance_matrix(z, f, z[:, :3], f, discrete_mask=np.array([True, False, False]))


def test_fast_importances_rank_codes_like_gradient_boosting():
    # Label depends strongly on code 0, less on 1, weakly on 2, not on 3 and 4.
    rng = np.random.default_rng(14)
    z = rng.normal(size=(600, 5))
    y = (3.0 * z[:, 0] + 1.5 * z[:, 1] + 0.7 * z[:, 2] + 0.2 * rng.normal(size=600) > 0).astype(int)
    fast = dci.forest_importances(z, y, seed=0)
    slow = dci.gbt_importances(z, y, seed=0)
    assert np.argsort(-fast)[:3].tolist() == [0, 1, 2]
    assert np.argsort(-slow)[:3].tolist() == [0, 1, 2]
    # The irrelevant codes are the two least important for both estimators.
    assert set(np.argsort(fast)[:2]) == set(np.argsort(slow)[:2]) == {3, 4}


# --------------------------------------------------------------------------- #
# traversals
# --------------------------------------------------------------------------- #


def linear_decoder(d: int, seed: int, shape=(784,)):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(784, d))
    b = rng.normal(size=784)

    def decode(z):
        return (z @ w.T + b).reshape((z.shape[0], *shape))

    return decode, w


@pytest.mark.parametrize("shape", [(784,), (1, 28, 28)])
def test_traversal_linear_decoder_known_answer(shape):
    decode, w = linear_decoder(6, seed=15, shape=shape)
    z = np.random.default_rng(16).normal(size=(12, 6))
    values = np.linspace(-3, 3, 7)  # step 1
    out = traversal.traversal_effects(decode, z, values)
    assert out["dims"] == list(range(6))
    assert np.allclose(out["effect"], np.abs(w).mean(axis=0))
    assert np.allclose(out["consistency"], 1.0)


def test_traversal_uneven_steps_and_dim_subset():
    decode, w = linear_decoder(4, seed=17)
    z = np.random.default_rng(18).normal(size=(5, 4))
    out = traversal.traversal_effects(decode, z, [0.0, 1.0, 3.0], dims=[2, 0])
    # Steps of 1 and 2: mean |dv| = 1.5.
    assert out["dims"] == [2, 0]
    assert np.allclose(out["effect"], 1.5 * np.abs(w[:, [2, 0]]).mean(axis=0))


def test_traversal_entangled_and_dead_dimensions():
    pattern = np.random.default_rng(19).random(784)

    def decode(z):
        # Dim 0 draws +pattern or -pattern depending on the sign of dim 1;
        # dim 2 is ignored entirely.
        return (z[:, 0] * np.sign(z[:, 1]))[:, None] * pattern + 0.5

    z = np.zeros((20, 3))
    z[:, 1] = np.where(np.arange(20) < 10, 1.0, -1.0)
    out = traversal.traversal_effects(decode, z, np.linspace(-1, 1, 5), dims=[0, 2])
    # 10 images with +u, 10 with -u: (|sum u|^2 - n) / (n (n - 1)) = -20 / 380.
    assert out["consistency"][0] == pytest.approx(-20 / 380)
    assert out["effect"][0] == pytest.approx(0.5 * pattern.mean())
    assert out["effect"][1] == 0.0 and out["consistency"][1] == 0.0


def test_traversal_batches_decode_calls():
    decode, _ = linear_decoder(3, seed=20)
    sizes = []

    def counting(z):
        sizes.append(z.shape[0])
        return decode(z)

    z = np.random.default_rng(21).normal(size=(7, 3))
    small = traversal.traversal_effects(counting, z, np.linspace(-2, 2, 4), batch_size=5)
    assert max(sizes) <= 5 and sum(sizes) == 3 * 7 * 4
    large = traversal.traversal_effects(decode, z, np.linspace(-2, 2, 4))
    assert np.allclose(small["effect"], large["effect"])
    assert np.allclose(small["consistency"], large["consistency"])


def test_traversal_rejects_bad_arguments():
    decode, _ = linear_decoder(3, seed=22)
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"dims \[3\] are out of range"):
        traversal.traversal_effects(decode, z, [0.0, 1.0], dims=[0, 3])
    with pytest.raises(ValueError, match="values must be a 1-D finite sequence"):
        traversal.traversal_effects(decode, z, [1.0])
    with pytest.raises(ValueError, match="decode returned 1 images for 8 latents"):
        traversal.traversal_effects(lambda zz: np.zeros((1, 784)), z, [0.0, 1.0])
    with pytest.raises(ValueError, match="at least 2 rows"):
        traversal.traversal_effects(decode, z[:1], [0.0, 1.0])


# --------------------------------------------------------------------------- #
# noise robustness
# --------------------------------------------------------------------------- #


def flatten(x):
    return x.reshape(x.shape[0], -1)


def test_noise_robustness_identity_model_known_answers():
    images = np.full((60, 28, 28), 0.5)
    out = noise.noise_robustness(flatten, lambda x: x, images, [0.0, 0.01], seed=0)
    assert [row["std"] for row in out] == [0.0, 0.01]
    assert out[0]["latent_shift_mean"] == 0.0 and out[0]["recon_mse_noisy"] == 0.0
    # std 0.01 around 0.5 never clips: MSE ~ std^2, ||noise|| ~ std * sqrt(784).
    assert out[1]["recon_mse_noisy"] == pytest.approx(1e-4, rel=0.03)
    assert out[1]["recon_mse_noisy"] == out[1]["input_mse"]
    assert out[1]["latent_shift_mean"] == pytest.approx(0.01 * 28, rel=0.03)


def test_noise_robustness_clamps_to_unit_range():
    # Black images + N(0, 1), clamped: E[min(max(N, 0), 1)^2]
    # = (Phi(1) - 1/2 - phi(1)) + (1 - Phi(1)) = 0.0994 + 0.1587 = 0.2581.
    # 200 * 784 draws put the sample mean within ~0.001 (1 sd) of that.
    images = np.zeros((200, 28, 28))
    (row,) = noise.noise_robustness(flatten, lambda x: x, images, [1.0], seed=1)
    assert row["input_mse"] == pytest.approx(0.2581, abs=0.005)
    assert row["recon_mse_noisy"] == row["input_mse"]


def test_noise_robustness_constant_model_and_seeding():
    images = np.random.default_rng(2).random((10, 28, 28))

    def encode_const(x):
        return np.zeros((x.shape[0], 4))

    out = noise.noise_robustness(encode_const, lambda x: np.zeros_like(x), images, [0.3], seed=3)
    assert out[0]["latent_shift_mean"] == 0.0
    assert out[0]["recon_mse_noisy"] == pytest.approx(np.mean(images**2))
    a = noise.noise_robustness(flatten, lambda x: x, images, [0.2, 0.4], seed=5)
    b = noise.noise_robustness(flatten, lambda x: x, images, [0.2, 0.4], seed=5)
    c = noise.noise_robustness(flatten, lambda x: x, images, [0.2, 0.4], seed=6)
    assert a == b and a != c
    assert a[1]["latent_shift_mean"] > a[0]["latent_shift_mean"]


def test_noise_robustness_rejects_bad_arguments():
    ok = np.zeros((2, 28, 28))
    with pytest.raises(ValueError, match=r"images01 must have shape \(n, H, W\)"):
        noise.noise_robustness(flatten, flatten, np.zeros((2, 784)), [0.1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        noise.noise_robustness(flatten, flatten, ok + 2.0, [0.1])
    with pytest.raises(ValueError, match="stds must be"):
        noise.noise_robustness(flatten, flatten, ok, [-0.1])
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        noise.noise_robustness(flatten, flatten, ok, [0.1], seed=-1)


def test_importance_estimators_reject_bad_sizes():
    z, f = factor_data(50, seed=23)
    with pytest.raises(ValueError, match="n_estimators must be a positive int; got 0"):
        dci.forest_importances(z, f[:, 0], n_estimators=0)
    with pytest.raises(ValueError, match="max_depth must be a positive int; got -2"):
        dci.importance_matrix(z, f, z, f, discrete_mask=np.array([True, False, False]), max_depth=-2)
    with pytest.raises(ValueError, match="y must have shape"):
        dci.gbt_importances(z, f[:10, 0])


# --------------------------------------------------------------------------- #
# t-SNE KL divergence
# --------------------------------------------------------------------------- #


def test_tsne_kl_three_points_on_a_line():
    from scipy import sparse

    # y = 0, 1, 2: w01 = w12 = 1/2, w02 = 1/5; Z = 2 (1/2 + 1/2 + 1/5) = 12/5, q01 = (1/2) / Z = 5/24.
    # P puts 1/2 on (0,1) and on (1,0): KL = 2 * 1/2 * log((1/2) / (5/24)) = log(12/5).
    y = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    p = sparse.csr_matrix(([0.5, 0.5], ([0, 1], [1, 0])), shape=(3, 3))
    assert tsne.tsne_kl_divergence(p, y) == pytest.approx(np.log(12 / 5), rel=1e-12)


def test_tsne_kl_is_zero_when_p_equals_q_and_chunking_does_not_matter():
    from scipy import sparse

    y = np.random.default_rng(0).normal(size=(40, 2))
    w = 1.0 / (1.0 + np.sum((y[:, None] - y[None]) ** 2, axis=2))
    np.fill_diagonal(w, 0.0)
    p = sparse.csr_matrix(w / w.sum())
    assert tsne.tsne_kl_divergence(p, y) == pytest.approx(0.0, abs=1e-12)
    assert tsne.tsne_kl_divergence(p, y, chunk=7) == pytest.approx(tsne.tsne_kl_divergence(p, y), abs=1e-12)


def test_tsne_kl_rejects_bad_affinities():
    from scipy import sparse

    y = np.zeros((3, 2))
    with pytest.raises(ValueError, match="sparse"):
        tsne.tsne_kl_divergence(np.eye(3), y)
    with pytest.raises(ValueError, match="summing to 1"):
        tsne.tsne_kl_divergence(sparse.csr_matrix(([0.2], ([0], [1])), shape=(3, 3)), y)
