"""The linear baseline (PCA of the pixels) and the shared morphometric factors."""

from __future__ import annotations

import numpy as np
import pytest

from latent_atlas.analysis import baseline as B
from latent_atlas.config import parse_params
from latent_atlas.data import factors as F
from latent_atlas.data import morpho
from latent_atlas.errors import ConfigError


def low_rank(n: int, p: int, rank: int, seed: int = 0) -> np.ndarray:
    """n samples of p features lying exactly on a rank-`rank` affine subspace."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, rank)) @ rng.normal(size=(rank, p)) + rng.normal(size=p)


def test_fit_pca_matches_sklearn():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(0).normal(size=(300, 12)) * np.linspace(3, 0.5, 12)
    fit = B.fit_pca(x)
    ref = PCA().fit(x)
    np.testing.assert_allclose(fit.eigenvalues, ref.explained_variance_, rtol=1e-8)
    # Components agree up to sign.
    dots = np.abs(np.sum(fit.components.T * ref.components_, axis=1))
    np.testing.assert_allclose(dots, 1.0, atol=1e-8)


def test_chunked_covariance_equals_the_one_shot_covariance(monkeypatch):
    x = np.random.default_rng(1).random((50, 6))
    monkeypatch.setattr("latent_atlas.analysis.pca._CHUNK", 7)  # fit_pca uses pca.covariance_spectrum
    np.testing.assert_allclose(B.fit_pca(x).eigenvalues, np.linalg.eigvalsh(np.cov(x.T))[::-1], atol=1e-12)


@pytest.mark.parametrize("rank", [1, 3, 5])
def test_rank_k_data_reconstructs_exactly_with_k_components(rank):
    x = low_rank(200, 20, rank)
    fit = B.fit_pca(x)
    assert B.reconstruction_mse(fit, x, rank) == pytest.approx(0.0, abs=1e-20)
    if rank > 1:
        assert B.reconstruction_mse(fit, x, rank - 1) > 1e-3


def test_held_out_points_on_the_subspace_reconstruct_exactly():
    rng = np.random.default_rng(0)
    basis, mean = rng.normal(size=(3, 20)), rng.normal(size=20)
    train = rng.normal(size=(200, 3)) @ basis + mean
    test = rng.normal(size=(40, 3)) @ basis + mean
    fit = B.fit_pca(train)
    assert B.reconstruction_mse(fit, test, 3) == pytest.approx(0.0, abs=1e-20)


def test_training_mse_is_the_sum_of_the_discarded_eigenvalues():
    x = np.random.default_rng(2).normal(size=(400, 10)) * np.arange(1, 11)
    fit = B.fit_pca(x)
    n, p = x.shape
    for k in range(1, p + 1):
        closed_form = fit.eigenvalues[k:].sum() * (n - 1) / n / p
        assert B.reconstruction_mse(fit, x, k) == pytest.approx(closed_form, rel=1e-9, abs=1e-15)


def test_pca_baseline_mse_decreases_with_k():
    rng = np.random.default_rng(3)
    train = rng.random((300, 64)).astype(np.float32)
    test = rng.random((100, 64)).astype(np.float32)
    labels = np.arange(100) % 10
    out = B.pca_baseline(B.fit_pca(train), test, labels, [8, 2, 32, 16], kmeans_seeds=2, seed=0)
    assert list(out) == ["k2", "k8", "k16", "k32"]
    mses = [v["test_mse"] for v in out.values()]
    assert all(a > b for a, b in zip(mses, mses[1:], strict=False))
    explained = [v["explained_variance"] for v in out.values()]
    assert all(a < b for a, b in zip(explained, explained[1:], strict=False)) and explained[-1] < 1
    for v in out.values():
        assert 0 < v["purity_mean"] <= v["purity_best"] <= 1
        assert set(v) == {"latent_dim", "test_mse", "explained_variance", "purity_best", "purity_mean", "nmi", "ari"}


def test_pca_baseline_probes_the_codes_as_the_autoencoders_are_probed():
    # Three classes far apart along one pixel direction: the first principal component separates them.
    rng = np.random.default_rng(0)
    centres = np.zeros((3, 64), dtype=np.float32)
    centres[:, 0] = [0.0, 5.0, 10.0]

    def sample(n):
        labels = np.arange(n) % 3
        return (centres[labels] + rng.normal(scale=0.1, size=(n, 64))).astype(np.float32), labels

    (train, train_labels), (test, test_labels) = sample(90), sample(60)
    out = B.pca_baseline(B.fit_pca(train), test, test_labels, [2], kmeans_seeds=1, seed=0, train01=train,
                         train_labels=train_labels, knn_k=3, probe_max_train=None)
    assert out["k2"]["probe_linear_accuracy"] == 1.0 and out["k2"]["probe_knn_accuracy"] == 1.0
    assert out["k2"]["purity_best"] == 1.0  # ten clusters over three classes: each cluster is pure


def test_pca_baseline_rejects_sizes_beyond_the_pixels():
    fit = B.fit_pca(np.random.default_rng(0).random((20, 5)))
    with pytest.raises(ValueError, match=r"ks=\[6\]"):
        B.pca_baseline(fit, np.zeros((3, 5)), np.zeros(3), [6])
    with pytest.raises(ValueError, match="k=0"):
        B.reconstruction_mse(fit, np.zeros((3, 5)), 0)


def test_integer_images_are_refused():
    with pytest.raises(ValueError, match="float"):
        B.fit_pca(np.zeros((10, 28, 28), dtype=np.uint8))


def digits(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for i in range(n):
        top, width = rng.integers(4, 10), rng.integers(2, 5)
        images[i, top : top + 14, 12 : 12 + width] = 255
    return images


def test_measure_factors_shapes_and_subset():
    test, train = digits(12, 0), digits(30, 1)
    factors = morpho.measure_factors(test, train, n_train=10, seed=0, scale=1)
    assert factors.test.shape == (12, 6) and factors.train.shape == (10, 6)
    assert factors.names == ("area", "length", "thickness", "slant", "width", "height")
    idx = factors.train_index
    assert len(set(idx)) == 10 and np.all(np.diff(idx) > 0) and idx.max() < 30
    # The subset's factors are those of the chosen training images.
    np.testing.assert_allclose(factors.train[:, 0], (train[idx] >= 128).sum(axis=(1, 2)))
    again = morpho.measure_factors(test, train, n_train=10, seed=0, scale=1)
    np.testing.assert_array_equal(again.train_index, idx)
    assert len(morpho.measure_factors(test, train, n_train=100, seed=0, scale=1).train_index) == 30


def test_factors_file_round_trips_and_has_the_same_bytes_each_time(tmp_path, monkeypatch):
    # Same bytes for the same factors keep DVC from rerunning every analyze
    # stage when only the baseline's list of k changes.
    import time

    from latent_atlas.io import write_npz

    factors = morpho.measure_factors(digits(5, 0), digits(8, 1), n_train=4, seed=0, scale=1)
    first = write_npz(tmp_path / "a.npz", **factors.as_arrays())
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 3600)  # a zip stamped with the time would differ
    second = write_npz(tmp_path / "b.npz", **factors.as_arrays())
    assert first.read_bytes() == second.read_bytes()
    loaded = F.load_factors(first)
    np.testing.assert_array_equal(loaded.test, factors.test)
    np.testing.assert_array_equal(loaded.train_index, factors.train_index)
    assert loaded.names == factors.names


@pytest.mark.parametrize(("ks", "pattern"), [([2, 2], r"ks=\[2, 2\]"), ([], r"ks=\[\]"), ([785], r"ks=\[785\]")])
def test_bad_baseline_params_are_one_line(ks, pattern):
    import re

    with pytest.raises(ConfigError) as info:
        parse_params({"baseline": {"ks": ks}})
    assert re.search(pattern, str(info.value)), str(info.value)


def test_default_baseline_sizes_follow_the_issue():
    from tests_support import PROJECT

    from latent_atlas.config import load_params

    params = load_params(PROJECT / "params.yaml")
    assert params.baseline.ks == [2, 3, 5, 6, 9, 10, 16, 32, 50]
    assert params.analyze.tsne.max_points is None
    assert params.analyze.traversal.images == [12, 19] and params.analyze.traversal.steps == 10
    assert params.analyze.noise.stds[0] == 0.01 and params.analyze.noise.stds[-1] == 2.0
