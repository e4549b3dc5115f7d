"""Samples judged by a classifier (FID, confidence, class entropy, missing classes) and a VAE's likelihood part."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import sqrtm

from latent_atlas.analysis.likelihood import active_units, likelihood_metrics, likelihood_part
from latent_atlas.analysis.samples import (
    class_histogram_scores,
    frechet_distance,
    gaussian_sampler,
    mixture_sampler,
    reference_split,
    samples_part,
)
from latent_atlas.config import LikelihoodParams, SamplesParams


def test_frechet_distance_of_one_dimensional_gaussians():
    # (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4 + 1)
    assert frechet_distance([0.0, 0.0], np.diag([1.0, 4.0]), [0.0, 1.0], np.diag([4.0, 1.0])) == pytest.approx(
        1 + (1 + 1))


def test_frechet_distance_matches_the_matrix_square_root_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    ca, cb = a @ a.T + np.eye(5), b @ b.T + 0.1 * np.eye(5)  # two covariances that do not commute
    ma, mb = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((ma - mb) ** 2) + np.trace(ca + cb - 2 * np.real(sqrtm(ca @ cb)))
    assert frechet_distance(ma, ca, mb, cb) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(ma, ca, ma, ca) == pytest.approx(0.0, abs=1e-9)


def one_hot(classes) -> np.ndarray:
    return np.eye(10)[np.asarray(classes)]


def test_class_histogram_scores_known_answers():
    assert class_histogram_scores(one_hot(np.arange(200) % 10)) == {
        "confidence": 1.0, "class_entropy": pytest.approx(math.log(10)), "missing_classes": 0}
    collapsed = class_histogram_scores(one_hot([3] * 50))  # mode collapse: one digit
    assert (collapsed["class_entropy"], collapsed["missing_classes"]) == (0.0, 9)
    # Digit 2 drawn once in 200 (under 1%) counts as missing, with the 7 never drawn.
    rare = class_histogram_scores(one_hot([0] * 100 + [1] * 99 + [2]))
    assert rare["missing_classes"] == 7 + 1
    halves = np.full((4, 10), 0.0)
    halves[:, :2] = 0.5
    assert class_histogram_scores(halves)["confidence"] == 0.5


def test_the_ex_post_densities_reproduce_the_codes_moments():
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(4000, 3)) @ np.array([[2.0, 0, 0], [1.0, 1.0, 0], [0, 0, 0.5]]) + [5.0, -1.0, 0.0]
    for sampler in (gaussian_sampler(codes), mixture_sampler(codes, components=3, seed=0)):
        drawn = sampler(20000, np.random.default_rng(2))
        np.testing.assert_allclose(drawn.mean(axis=0), codes.mean(axis=0), atol=0.1)
        np.testing.assert_allclose(np.cov(drawn, rowvar=False), np.cov(codes, rowvar=False), atol=0.15)


def test_reference_split_is_disjoint_and_seeded():
    a, b = reference_split(100, 30, seed=0)
    assert len(a) == len(b) == 30 and not set(a) & set(b)
    assert np.array_equal(reference_split(100, 30, seed=0)[0], a)
    assert [len(x) for x in reference_split(10, 30, seed=0)] == [5, 5]


class IntensityJudge:
    """Calls an image the digit of its mean intensity's decile; its features are three pooled intensities."""

    def probabilities(self, images01):
        return one_hot(np.clip((images01.mean(axis=(1, 2)) * 10).astype(int), 0, 9))

    def features(self, images01):
        return np.column_stack([images01.mean(axis=(1, 2)), images01[:, :14].mean(axis=(1, 2)),
                                images01[:, :, :14].mean(axis=(1, 2))])


def intensity_images(levels) -> np.ndarray:
    return np.repeat(np.asarray(levels, dtype=np.float32)[:, None, None], 28, axis=1).repeat(28, axis=2)


def test_a_decoder_that_draws_every_digit_scores_near_the_real_images_and_a_collapsed_one_does_not():
    cfg = SamplesParams(n=2000, interpolation_pairs=2, interpolation_steps=3)
    real = intensity_images(np.random.default_rng(3).uniform(0, 1, 5000))
    z_train = np.random.default_rng(4).normal(size=(500, 2))
    from scipy.special import ndtr  # the normal CDF: a standard normal code to a uniform intensity

    spread = samples_part(lambda z: intensity_images(ndtr(z[:, 0])), z_train, z_train[:50], real, IntensityJudge(),
                          cfg, variational=True, seed=0).metrics
    collapsed = samples_part(lambda z: intensity_images(np.full(len(z), 0.55)), z_train, z_train[:50], real,
                             IntensityJudge(), cfg, variational=True, seed=0).metrics
    assert spread["samples_prior_class_entropy"] > 0.99 * math.log(10) and spread["samples_prior_missing_classes"] == 0
    assert (collapsed["samples_prior_class_entropy"], collapsed["samples_prior_missing_classes"]) == (0.0, 9)
    assert spread["samples_prior_fid"] < 0.01 < collapsed["samples_prior_fid"]
    assert spread["samples_test_fid"] < 0.01 and spread["samples_test_class_entropy"] > 0.99 * math.log(10)


def test_plain_autoencoders_sample_a_gaussian_and_a_mixture_and_draw_grids():
    cfg = SamplesParams(n=100, fit_max=200, interpolation_pairs=2, interpolation_steps=3)
    real = intensity_images(np.random.default_rng(3).uniform(0, 1, 300))
    z_train = np.random.default_rng(4).normal(size=(300, 2))
    part = samples_part(lambda z: intensity_images(1 / (1 + np.exp(-z[:, 0]))), z_train, z_train[:20], real,
                        IntensityJudge(), cfg, variational=False, seed=0)
    assert {f"samples_{s}_{m}" for s in ("gauss", "gmm", "test")
            for m in ("fid", "confidence", "class_entropy", "missing_classes")} <= set(part.metrics)
    assert not any(k.startswith("samples_prior") for k in part.metrics)
    assert set(part.drawings) == {"samples_gauss.png", "samples_gmm.png", "interpolations.png"}
    rows = part.drawings["interpolations.png"].data["rows"]
    assert len(rows) == 2 and rows[0].shape == (3, 28, 28)


def test_active_units_follow_burdas_threshold():
    rng = np.random.default_rng(5)
    mu = rng.normal(size=(5000, 3)) * np.sqrt([1.0, 0.001, 0.5])
    assert active_units(mu, 0.01).tolist() == [True, False, True]


def bounds(n: int, d: int, nll: float) -> dict:
    return {"neg_elbo": np.full(n, nll + 2.0), "recon": np.full(n, nll), "kl": np.full(n, 2.0),
            "kl_units": np.full((n, d), 2.0 / d), "nll_iwae": np.full(n, nll + 0.5)}


def test_a_collapsed_posterior_is_reported_as_zero_active_units_without_dividing_by_zero():
    metrics, details = likelihood_metrics(bounds(10, 4, 100.0), np.zeros((10, 4)), k=3, threshold=0.01)
    assert (metrics["active_units"], metrics["posterior_collapse"]) == (0, 1)
    assert metrics["test_neg_elbo"] == 102.0 and metrics["test_nll_iwae"] == 100.5 and metrics["iwae_k"] == 3
    assert details["kl_per_unit"] == [0.5] * 4


def test_the_likelihood_part_asks_for_k_samples():
    asked = []

    def evaluate(k):
        asked.append(k)
        return bounds(6, 2, 90.0)

    part = likelihood_part(evaluate, np.eye(6)[:, :2] * 3, LikelihoodParams(iwae_k=7))
    assert asked == [7]
    assert (part.metrics["active_units"], part.metrics["posterior_collapse"]) == (2, 0)
    assert set(part.drawings) == {"posterior_units.png"}
