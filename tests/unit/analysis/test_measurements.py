"""The measurements the ledger's claims need: known answers on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from latent_atlas.analysis import (
    ablation,
    clustering,
    generalization,
    geometry,
    noise,
    pca,
    probes,
    translation,
    traversal,
    traversal_reading,
    untrained,
    views,
)
from latent_atlas.analysis.recognizability import gradient_energy, recognizability_part, sharpness
from latent_atlas.config import NoiseParams


class InkJudge:
    """A judge that calls an image a 1 when it holds more ink than `threshold`, else a 0, with confidence 0.9
    (0.6 below `unsure`): a deterministic stand-in for the trained CNN."""

    def __init__(self, threshold: float = 20.0, unsure: float = 10.0):
        self.threshold, self.unsure = threshold, unsure

    def probabilities(self, images01: np.ndarray) -> np.ndarray:
        ink = np.asarray(images01).reshape(len(images01), -1).sum(axis=1)
        top = np.where(ink < self.unsure, 0.6, 0.9)
        probs = np.zeros((len(ink), 10))
        label = (ink > self.threshold).astype(int)
        probs[np.arange(len(ink)), label] = top
        probs[np.arange(len(ink)), 1 - label] = 1 - top
        return probs


def bars(n: int, width: int = 2, seed: int = 0) -> np.ndarray:
    """(n, 28, 28) images in [0,1] with a vertical bar at a seeded column."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28))
    for i, col in enumerate(rng.integers(4, 20, size=n)):
        images[i, 6:22, col : col + width] = 1.0
    return images


def test_generalization_gap_and_compression():
    found = generalization.generalization_gap(np.array([0.01, 0.03]), np.array([0.03, 0.05]))
    assert found == pytest.approx({"train_mse": 0.02, "generalization_gap": 0.02, "generalization_gap_rel": 0.5})
    assert generalization.compression_ratio(3) == pytest.approx(1 - 3 / 784)  # 99.6%
    assert generalization.compression_ratio(256) == pytest.approx(0.673, abs=5e-4)
    log_probs = np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))
    part = generalization.generalization_part(None, np.array([0.1, 0.1]), np.array([[-1.0, 2.0], [1.0, 0.0]]),
                                              log_probs, np.array([0, 1]), log_probs, np.array([0, 0]))
    assert part.metrics["train_accuracy"] == 1.0 and part.metrics["accuracy_gap"] == 0.5
    assert part.metrics["code_min"] == -1.0 and part.metrics["code_std_mean"] == pytest.approx(1.0)
    assert "generalization_gap" not in part.metrics  # no training errors given


def test_sharpness_is_one_for_the_original_and_falls_with_blur():
    images = bars(5)
    assert sharpness(images, images) == pytest.approx(1.0)
    blurred = (images + np.roll(images, 1, axis=2) + np.roll(images, -1, axis=2)) / 3
    assert 0 < sharpness(blurred, images) < 1
    assert sharpness(np.zeros_like(images), images) == 0.0
    # One bright pixel: four unit jumps around it.
    dot = np.zeros((1, 5, 5))
    dot[0, 2, 2] = 1.0
    assert gradient_energy(dot).tolist() == [4.0]


def test_recognizability_reads_the_judge_on_the_reconstructions():
    images = bars(6, width=2)  # 32 pixels of ink: the ink judge calls them 1
    labels = np.array([1, 1, 1, 0, 0, 0])
    part = recognizability_part(InkJudge(), images, images, labels)
    assert part.metrics["recon_judge_accuracy"] == 0.5 and part.metrics["recon_judge_confidence"] == pytest.approx(0.9)
    assert recognizability_part(None, images, images, labels).metrics == {"recon_sharpness": pytest.approx(1.0)}


def test_class_geometry_closed_form():
    # Class 0 at (0, +-1), class 1 at (3, 4 +- 2): spreads 1 and 2, centroid distance 5.
    z = np.array([[0.0, 1], [0, -1], [3, 6], [3, 2]])
    found = geometry.class_geometry(z, np.array([0, 0, 1, 1]), n_classes=3)
    assert found["class_spread"][:2].tolist() == [1.0, 2.0] and np.isnan(found["class_spread"][2])
    assert found["centroid_distance"][0, 1] == pytest.approx(5.0)
    assert geometry.standardized(z).std(axis=0) == pytest.approx([1.0, 1.0])


def test_pairs_that_never_mix_separate_perfectly():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    points = labels[:, None] * 10.0 + rng.normal(scale=0.1, size=(120, 2))
    pairs = geometry.pair_separability(points, labels, k=3, seed=0, n_classes=3)
    assert pairs[0, 1] == pairs[1, 2] == 1.0 and np.isnan(pairs[0, 0])
    # Two classes drawn from one cloud: the vote is near a coin toss.
    mixed = geometry.pair_separability(rng.normal(size=(400, 2)), np.repeat([0, 1], 200), k=5, seed=0,
                                       n_classes=2)
    assert 0.35 < mixed[0, 1] < 0.65


def test_precision_at_k_is_one_for_separate_clusters_and_chance_when_shuffled():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(4), 50)
    points = labels[:, None] * 20.0 + rng.normal(size=(200, 3))
    assert geometry.precision_at_k(points, labels, k=10, max_queries=None, seed=0) == 1.0
    shuffled = rng.permutation(labels)
    assert geometry.precision_at_k(points, shuffled, k=10, max_queries=None, seed=0) < 0.45


def test_class_purity_and_the_shuffled_baseline():
    y = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    pred = np.array([5, 5, 6, 6, 6, 6, 7, 7])  # cluster 6 is mostly 1: one 0 strays into it
    purity = clustering.class_purity(y, pred)
    assert purity[:3] == [pytest.approx(2 / 3), 1.0, 1.0] and purity[3] is None
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 30)
    z = labels[:, None] * 10.0 + rng.normal(scale=0.1, size=(300, 2))
    found = clustering.kmeans_purity(z, labels, n_clusters=10, n_seeds=2, seed=0)
    assert found["purity_best"] == 1.0 and found["purity_shuffled"] < 0.3


def test_head_part_counts_confusions_per_digit():
    labels = np.array([3, 3, 8, 8, 8])
    predicted = np.array([3, 8, 8, 3, 8])
    log_probs = np.log(np.eye(10)[predicted] * 0.9 + 0.01)
    part = views.head_part(log_probs, labels)
    confusion = np.array(part.details["confusion"])
    assert confusion[3, 8] == 1 and confusion[8, 3] == 1 and confusion.sum() == 5
    assert part.details["class_head_accuracy"][3] == 0.5 and part.details["class_head_accuracy"][8] == pytest.approx(2 / 3)
    assert part.metrics["accuracy"] == pytest.approx(0.6)


def test_probe_train_accuracy_and_per_class_knn():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    z = y[:, None] * 5.0 + rng.normal(size=(90, 2))
    found = probes.linear_probe(z, y, z, y, seed=0, max_train=None)
    assert found["train"] == found["test"] == 1.0
    assert probes.per_class_accuracy(np.array([0, 0, 1]), np.array([0, 1, 1]), n_classes=3) == [0.5, 1.0, None]


def test_a_shift_moves_the_image_and_an_identity_code_moves_with_it():
    images = bars(4)
    shifted = translation.shift_right(images, 2)
    assert np.array_equal(shifted[:, :, 2:], images[:, :, :-2]) and not shifted[:, :, :2].any()

    def flat(x):
        return np.asarray(x).reshape(len(x), -1)

    def unflat(z):
        return np.asarray(z).reshape(len(z), 28, 28)

    from sklearn.neighbors import KNeighborsClassifier

    labels = np.array([0, 1, 0, 1])
    knn = KNeighborsClassifier(n_neighbors=1).fit(flat(images), labels)
    found = translation.translation_response(flat, unflat, images, labels, [0, 2], knn)
    assert found["shift_code_distance_rel"][0] == 0.0 and found["shift_code_distance_rel"][1] > 0
    assert found["shift_knn_accuracy"][0] == 1.0
    assert found["shift_recon_mse"] == [0.0, 0.0]  # the identity reconstructs any shifted image exactly


def test_ablating_a_dim_the_decoder_ignores_costs_nothing():
    rng = np.random.default_rng(0)
    weights = np.array([[1.0, 0.0], [0.5, 0.0], [2.0, 0.0]]).T  # (2 dims, 3 pixels): dim 1 is ignored
    z = rng.normal(size=(50, 2))

    def decode(codes):
        return np.asarray(codes) @ weights

    def classify(codes):
        return np.column_stack([np.asarray(codes)[:, 0], -np.asarray(codes)[:, 0]])

    images = decode(z) + 0.1  # the decoder misses every pixel by 0.1: intact MSE 0.01
    labels = (z[:, 0] < 0).astype(int)
    rows = ablation.ablation(decode, classify, z, images, labels, [[0], [1], []], fill=z.mean(axis=0))
    assert rows[1] == {"mse_increase": pytest.approx(0.0), "accuracy_drop": 0.0}
    assert rows[2] == {"mse_increase": 0.0, "accuracy_drop": 0.0}  # no dims: nothing changes
    assert rows[0]["accuracy_drop"] > 0.3 and rows[0]["mse_increase"] > 1
    assert np.array_equal(ablation.mean_filled(z, [1], np.array([9.0, 7.0]))[:, 1], np.full(50, 7.0))


def test_dead_rows_and_kinds():
    effects = np.array([0.0, 0.05, 1.0, 0.5])
    assert traversal_reading.dead_rows(effects, 0.1).tolist() == [True, True, False, False]
    assert traversal_reading.dead_rows(np.zeros(3), 0.1).all()
    kinds = traversal_reading.dim_kinds(np.array([False, True, False, False]), np.array([0, 0, 2.0, 0.1]),
                                        np.array([0, 0, 1.0, 0.5]), np.array([True, False, False, False]))
    assert kinds == ["dead", "identity", "stroke", "rotation"]
    assert traversal_reading.kind_counts(kinds) == {"traversal_kinds": 3.0, "traversal_label_dims": 1.0}


def test_reading_a_grid_finds_the_identity_stroke_and_dead_rows():
    steps = 4
    grid = np.zeros((3, steps, 28, 28))
    grid[0] = bars(1, width=2)[0]  # row 0: the same bar throughout (dead)
    for s in range(steps):
        grid[1, s, 6:22, 10 : 10 + 1 + s] = 1.0  # row 1: the bar thickens (ink 16..64: the ink judge flips)
        grid[2, s, 6:22, 10 : 12] = 1.0
        grid[2, s, 6 + 2 * s : 8 + 2 * s, 12:14] = 1.0  # row 2: a tick slides down beside a fixed bar
    found = traversal_reading.read_grid(grid, grid[0, 0], InkJudge(threshold=40), dead_fraction=0.1)
    assert found["traversal_dim_kinds"][0] == "dead" and found["traversal_dim_kinds"][1] == "identity"
    assert found["traversal_label_changes"] == [0.0, 1.0, 0.0]
    assert found["traversal_confidence_change"][1] == 0.0  # the label changes: no "confidence only"
    assert found["traversal_min_sharpness"][0] == pytest.approx(1.0)  # row 0 is the source image itself


def test_profile_agreement_of_the_per_dim_effects():
    same = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 9.0], [0.1, 0.2, 0.3]])
    assert traversal.profile_agreement(same) == pytest.approx(1.0)
    assert traversal.profile_agreement(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])) == pytest.approx(-1.0)


def test_noise_readers_keep_the_digit_at_tiny_noise_and_lose_it_at_huge_noise():
    images = bars(60, width=3, seed=1)
    labels = (images.reshape(60, 28, 28).argmax(axis=2).max(axis=1) >= 12).astype(int)  # bar left or right

    def encode(x):
        x = np.asarray(x)
        return np.column_stack([(x * np.arange(28)).sum(axis=(1, 2)) / np.maximum(x.sum(axis=(1, 2)), 1e-9),
                                x.sum(axis=(1, 2)) / 50])  # the ink's mean column, and its mass

    def decode(z):
        return np.zeros((len(z), 28, 28))

    z_train = encode(bars(80, width=3, seed=2))
    y_train = (z_train[:, 0] >= 13).astype(int)
    cfg = NoiseParams(stds=[0.001, 3.0], view_std=3.0, max_images=None)
    part = noise.robustness_part(encode, decode, images, labels, cfg, seed=0, z_train=z_train, y_train=y_train, k=3)
    knn = dict(zip(part.details["noise_std"], part.details["noise_knn_accuracy"], strict=True))
    assert knn[0.001] == pytest.approx(part.metrics["noise_knn_accuracy_clean"])
    assert knn[3.0] < knn[0.001]
    assert part.details["noise_latent_shift_rel"][0] < 0.01


def test_untrained_part_reads_an_identity_network():
    images = bars(40, width=2)
    labels = np.arange(40) % 2

    def flat(x):
        return np.asarray(x).reshape(len(x), -1)

    def unflat(z):
        return np.asarray(z).reshape(len(z), 28, 28)

    net = untrained.ModelFunctions(flat, unflat, lambda z: np.tile([0.0, -1.0], (len(z), 1)))
    part = untrained.untrained_part(net, images, labels, bars(40, width=2, seed=3), labels, eigen_threshold=1e6, k=3,
                                    seed=0)
    assert part.metrics["untrained_test_mse"] == 0.0
    assert part.metrics["untrained_accuracy"] == 0.5  # always class 0, half the labels
    assert part.metrics["untrained_eigenvalues_above_threshold"] == 0
    assert 0 <= part.metrics["untrained_probe_knn_accuracy"] <= 1


def test_population_reading_on_columns_of_known_variance():
    rng = np.random.default_rng(0)
    raw = np.column_stack([rng.normal(scale=s, size=2000) for s in (1.0, 10.0, 1000.0)])
    found = pca.population_reading(raw, ("a", "b", "salary"))
    assert found["raw_pc1_column"] == "salary" and found["raw_pc1_share"] > 0.999
    assert found["raw_variance"]["b"] == pytest.approx(100, rel=0.1)
    # Independent standardized columns: eigenvalues near 1, loadings spread, top-3 of 3 keeps everything.
    assert found["top3_share"] == pytest.approx(1.0) and found["eigen_max_min_ratio"] < 1.2
    assert found["n_eigen_above_1"] in (1, 2)
    with pytest.raises(ValueError, match=r"raw must be \(n >= 2, 2\)"):
        pca.population_reading(raw, ("a", "b"))
