"""Tests for latent_atlas.analysis.mislabel: the seeded flip and the neighbours' disagreement score."""

from __future__ import annotations

import numpy as np
import pytest

from latent_atlas.analysis.mislabel import (
    disagreement,
    flip_labels,
    majority,
    mislabel_metrics,
    mislabel_part,
    neighbour_labels,
    precision_at_top,
)


def test_flip_labels_flips_exactly_the_share_to_other_digits():
    labels = np.arange(1000) % 10
    given, flipped = flip_labels(labels, 0.05, seed=0)
    assert flipped.sum() == 50
    assert np.all(given[flipped] != labels[flipped]) and np.array_equal(given[~flipped], labels[~flipped])
    assert np.array_equal(labels, np.arange(1000) % 10)  # the truth is kept
    again, flipped_again = flip_labels(labels, 0.05, seed=0)
    assert np.array_equal(again, given) and np.array_equal(flipped_again, flipped)
    assert not np.array_equal(flip_labels(labels, 0.05, seed=1)[1], flipped)
    # Every other digit is reachable: the offsets 1..9 are all drawn over many flips.
    many, mask = flip_labels(labels, 0.45, seed=2)
    assert set(((many[mask] - labels[mask]) % 10).tolist()) == set(range(1, 10))
    assert flip_labels(labels, 0.0, seed=0)[1].sum() == 0
    with pytest.raises(ValueError, match="fraction=0.5 is not allowed"):
        flip_labels(labels, 0.5, seed=0)


def test_disagreement_known_answer_on_a_line():
    # Two groups on a line; the point at 2 carries group B's label among group A.
    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    given = np.array([0, 0, 1, 1, 1, 1])
    neighbours = neighbour_labels(x, given, k=2)  # each point's two nearest others, itself left out
    np.testing.assert_array_equal(np.sort(neighbours, axis=1), [[0, 1], [0, 1], [0, 0], [1, 1], [1, 1], [1, 1]])
    np.testing.assert_allclose(disagreement(given, neighbours), [0.5, 0.5, 1.0, 0, 0, 0])
    np.testing.assert_array_equal(majority(neighbours), [0, 0, 0, 1, 1, 1])  # the 0/1 tie goes to 0


def test_precision_at_top_breaks_ties_by_a_seeded_shuffle():
    is_target = np.array([1, 0, 1, 0], dtype=bool)
    assert precision_at_top(is_target, [0.9, 0.1, 0.8, 0.2], 2, seed=0) == 1.0
    assert precision_at_top(is_target, [0.1, 0.9, 0.2, 0.8], 2, seed=0) == 0.0
    tied = [precision_at_top(is_target, [1, 1, 1, 1], 2, seed=s) for s in range(20)]
    assert set(tied) == {0.0, 0.5, 1.0} and np.mean(tied) == pytest.approx(0.5, abs=0.15)


def test_separated_clusters_find_every_flip():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 40)
    x = labels[:, None] * 100.0 + rng.normal(0, 1, (400, 2))  # ten tight, far-apart clusters
    given, flipped = flip_labels(labels, 0.05, seed=3)
    found = mislabel_metrics(x, labels, given, flipped, k=5, seed=0)
    assert found == {"auroc": 1.0, "precision_top": 1.0, "flag_precision": 1.0, "flag_recall": 1.0, "flagged": 20,
                     "retrieval_precision": 1.0}
    # Random features know nothing of the labels: AUROC near chance, a tenth of the neighbours the same digit.
    noise = mislabel_metrics(rng.normal(size=(400, 2)), labels, given, flipped, k=5, seed=0)
    assert 0.3 < noise["auroc"] < 0.7 and 0.04 < noise["retrieval_precision"] < 0.2


def test_retrieval_precision_counts_true_labels_among_the_neighbours():
    x = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])
    labels = np.array([0, 0, 1, 1, 1, 1])
    given, flipped = labels.copy(), np.array([0, 0, 0, 1, 0, 0], dtype=bool)
    given[3] = 0
    # k=2 neighbours' true digits: [0,1], [0,1], [0,0], [1,1], [1,1], [1,1]: 1/2, 1/2, 0, 1, 1, 1 are the same digit.
    assert mislabel_metrics(x, labels, given, flipped, k=2, seed=0)["retrieval_precision"] == pytest.approx(4 / 6)


def test_mislabel_part_scores_pixels_and_codes_on_one_flip():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    codes = {"good": labels[:, None] * 50.0 + rng.normal(0, 1, (200, 3)), "bad": rng.normal(size=(200, 3))}
    part = mislabel_part(rng.normal(size=(200, 5)), codes, labels, flip_fraction=0.05, k=5, seed=1)
    m = part.metrics
    assert (m["n_images"], m["n_flipped"], m["k"]) == (200, 10, 5)
    assert m["codes"]["good"]["auroc"] == 1.0 and m["codes"]["bad"]["auroc"] < 0.8
    assert set(m["pixels"]) == {"auroc", "precision_top", "flag_precision", "flag_recall", "flagged",
                                "retrieval_precision"}
    assert mislabel_part(codes["good"], codes, labels, flip_fraction=0.0, k=5, seed=1).metrics == {
        "n_images": 200, "n_flipped": 0, "k": 5}
