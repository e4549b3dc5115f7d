"""Tests for latent_atlas.analysis.oneclass and .anomaly: preprocessing, kNN scores, AUROC and ROC rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests_support import tiny_params

from latent_atlas.analysis.anomaly import DEEP_SVDD_PUBLISHED, anomaly_part, roc_rows
from latent_atlas.analysis.oneclass import (
    SCORES,
    auroc,
    global_contrast_normalise,
    knn_distance,
    one_class_run,
    preprocess,
)
from latent_atlas.config import parse_params
from latent_atlas.errors import ConfigError


def test_global_contrast_normalisation_closed_form():
    # [1, 0, 0, 0]: mean 1/4, centred [3/4, -1/4, -1/4, -1/4], mean |.| 3/8.
    out = global_contrast_normalise(np.array([[1.0, 0, 0, 0], [2.0, 2.0, 2.0, 2.0]]))
    np.testing.assert_allclose(out, [[2.0, -2 / 3, -2 / 3, -2 / 3], [0, 0, 0, 0]])  # a flat image stays 0
    # Invariant to brightness and contrast: a x + b gives the same rows.
    x = np.random.default_rng(0).random((3, 784))
    np.testing.assert_allclose(global_contrast_normalise(3 * x + 0.2), global_contrast_normalise(x))


def test_gcn_preprocessing_scales_the_normal_class_to_the_unit_interval():
    rng = np.random.default_rng(0)
    train, test = rng.random((20, 28, 28)), rng.random((5, 28, 28)) * 3
    a, b = preprocess(train, test, "gcn")
    assert a.shape == (20, 784) and b.shape == (5, 784)
    assert (a.min(), a.max()) == (0.0, 1.0)
    unit_train, unit_test = preprocess(train, test, "unit")
    np.testing.assert_array_equal(unit_test, test.reshape(5, -1))
    with pytest.raises(ValueError, match="preprocessing='zca'"):
        preprocess(train, test, "zca")


def test_knn_distance_is_the_mean_of_the_k_nearest():
    reference = np.array([[0.0], [1.0], [3.0]])
    queries = np.array([[0.0], [2.0], [10.0]])
    np.testing.assert_allclose(knn_distance(reference, queries, 1), [0.0, 1.0, 7.0])
    np.testing.assert_allclose(knn_distance(reference, queries, 2), [0.5, 1.0, 8.0])
    with pytest.raises(ValueError, match="k=4 is too large"):
        knn_distance(reference, queries, 4)


def test_auroc_known_answers():
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert auroc(labels, [1, 2, 3, 4]) == 1.0
    assert auroc(labels, [4, 3, 2, 1]) == 0.0
    assert auroc(labels, [1, 1, 1, 1]) == 0.5  # all tied: half credit
    # Mann-Whitney by hand: normals {1, 2}, anomalies {1.5, 3}: 3 of 4 pairs ranked right.
    assert auroc(labels, [1, 2, 1.5, 3]) == 0.75
    assert auroc(labels, [1, 2, 2, 3]) == 0.875  # one tied pair counts a half
    with pytest.raises(ValueError, match="needs normal images and anomalies"):
        auroc([True, True], [1, 2])


def test_roc_rows_on_a_grid():
    labels = np.array([0, 0, 1, 1], dtype=bool)
    fpr, tpr = roc_rows(labels, [1, 2, 3, 4], 5)
    np.testing.assert_allclose(fpr, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(tpr, [1, 1, 1, 1, 1])  # perfectly separated: every anomaly before any normal
    _, tpr = roc_rows(labels, [4, 3, 2, 1], 3)
    np.testing.assert_allclose(tpr, [0, 0, 1])
    _, tpr = roc_rows(labels, [1, 1, 1, 1], 3)
    np.testing.assert_allclose(tpr, [0, 0.5, 1])  # the chance diagonal


def test_anomaly_part_table_means_and_roc_rows():
    labels = np.array([0, 0, 1, 1], dtype=bool)
    results = {3: (labels, {"recon": np.array([1, 2, 3, 4.0]), "code_knn": np.array([1, 2, 1.5, 3.0]),
                            "pixel_knn": np.array([4, 3, 2, 1.0])}),
               7: (labels, {"recon": np.array([1, 1, 1, 1.0]), "code_knn": np.array([1, 2, 3, 4.0]),
                            "pixel_knn": np.array([1, 2, 3, 4.0])})}
    part = anomaly_part(results, roc_points=3)
    m = part.metrics
    assert (m["mean_auroc_recon"], m["mean_auroc_code_knn"], m["mean_auroc_pixel_knn"]) == (0.75, 0.875, 0.5)
    assert m["digit_3"] == {"auroc_recon": 1.0, "auroc_code_knn": 0.75, "auroc_pixel_knn": 0.0}
    assert [row["digit"] for row in part.details["table"]] == [3, 7]
    assert part.details["table"][1]["deep_svdd_published"] == DEEP_SVDD_PUBLISHED[7] / 100
    rows = part.details["roc"]["recon"]
    assert len(rows) == 2 * 3 and set(rows[0]) == {"digit", "fpr", "tpr"}
    assert [r["tpr"] for r in rows if r["digit"] == 7] == [0.0, 0.5, 1.0]
    assert set(part.drawings) == {f"roc_{name}.png" for name in SCORES}
    assert np.mean(list(DEEP_SVDD_PUBLISHED.values())) == pytest.approx(94.8, abs=0.05)  # the paper's mean


def templates(n: int, digit: int, rng) -> np.ndarray:
    """uint8 digits drawn as one bar per class (its row decides where) plus a little noise."""
    images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
    images[:, 2 + 2 * digit : 5 + 2 * digit, 4:24] = 255
    return images


def test_one_class_run_on_two_shapes():
    rng = np.random.default_rng(0)
    raw = tiny_params(("small_conv",))
    raw["anomaly"]["model"].update(epochs=2, batch_size=8, latent_dim=4)
    params = parse_params(raw)
    train = np.concatenate([templates(24, 3, rng), templates(24, 8, rng)])
    train_labels = np.repeat([3, 8], 24)
    test = np.concatenate([templates(10, 3, rng), templates(6, 8, rng)])
    test_labels = np.repeat([3, 8], [10, 6])
    result = one_class_run(train, train_labels, test, test_labels, 3, params, torch.device("cpu"))
    assert result.n_train == 24 and list(result.scores) == list(SCORES)
    np.testing.assert_array_equal(result.is_anomaly, test_labels != 3)
    metrics = result.metrics()
    assert metrics["auroc_pixel_knn"] == 1.0  # the other bar is far from every training image
    assert {"digit", "n_train", "n_test", "auroc_recon", "auroc_code_knn"} <= set(metrics)
    raw["anomaly"]["model"]["batch_size"] = 32
    with pytest.raises(ConfigError, match=r"anomaly\.model\.batch_size=32 is larger than the 24 training images "
                                          r"of digit 3"):
        one_class_run(train, train_labels, test, test_labels, 3, parse_params(raw), torch.device("cpu"))

