"""Tests for latent_atlas.analysis.denoise: PSNR's closed form, non-local means, the table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import norm

from latent_atlas.analysis.denoise import (
    INPUT,
    NLM,
    denoise_part,
    denoising_run,
    denoising_table,
    image_mse,
    nlm_denoise,
    psnr,
    tune_nlm,
)
from latent_atlas.config import DenoiseParams, NLMParams


def mean_brightness(images, labels) -> float:
    """A stand-in judge: a number that moves with the images."""
    return float(np.mean(images))


def test_psnr_closed_form():
    clean = np.zeros((3, 28, 28))
    # A constant error of 0.1 is an MSE of 0.01: 10 log10(1 / 0.01) = 20 dB.
    np.testing.assert_allclose(psnr(clean, clean + 0.1), [20.0, 20.0, 20.0])
    np.testing.assert_allclose(psnr(clean, clean + 0.01), [40.0] * 3)
    # Per image: the second image's error of 0.5 is an MSE of 0.25, 10 log10(4) dB.
    estimate = np.stack([clean[0] + 0.1, clean[1] + 0.5, clean[2]])
    np.testing.assert_allclose(psnr(clean, estimate), [20.0, 10 * np.log10(4), np.inf])
    # The peak scales it: 8-bit images with an error of 25.5 are at 20 dB.
    np.testing.assert_allclose(psnr(clean, clean + 25.5, peak=255.0), [20.0] * 3)


def test_image_mse_per_image_and_shape_check():
    clean = np.zeros((2, 2, 2))
    estimate = np.array([[[1.0, 0], [0, 0]], [[1, 1], [1, 1]]])
    np.testing.assert_allclose(image_mse(clean, estimate), [0.25, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        image_mse(clean, estimate[:1])


def blocks(n: int = 6) -> np.ndarray:
    """Piecewise-constant images: what non-local means restores well."""
    images = np.zeros((n, 28, 28))
    for i in range(n):
        images[i, 4 + i : 20 + i, 6:22] = 0.8
    return images


def test_nlm_removes_much_of_the_noise_and_the_tuning_picks_a_listed_factor():
    clean, rng = blocks(), np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1)
    cfg = NLMParams(h_factors=[0.4, 0.8, 1.3], tune_images=6)
    out = nlm_denoise(noisy, 0.1, 0.8, cfg)
    assert out.shape == clean.shape
    assert np.mean(psnr(clean, out)) > np.mean(psnr(clean, noisy)) + 3
    assert tune_nlm(clean, 0.1, cfg, np.random.default_rng(1)) in cfg.h_factors


def clamped_noise_mse(sigma: float) -> float:
    """E[clip(e, 0, 1)^2] for e ~ N(0, sigma^2): what noise does to a black pixel.
    With a = 1/sigma: sigma^2 [(Phi(a) - 1/2) - a phi(a)] + (1 - Phi(a)); about sigma^2 / 2 for small sigma."""
    a = 1 / sigma
    return sigma**2 * ((norm.cdf(a) - 0.5) - a * norm.pdf(a)) + norm.sf(a)


def test_the_table_rows_follow_the_noise_each_method_saw():
    clean = np.zeros((40, 28, 28))
    labels = np.zeros(40, dtype=int)
    denoisers = {"oracle": lambda noisy, sigma: clean, "identity": lambda noisy, sigma: noisy}
    rows, examples = denoising_table(clean, labels, denoisers, [0.1, 0.5], mean_brightness, seed=0, shown=3)
    by = {(r.sigma, r.method): r for r in rows}
    assert [(r.sigma, r.method) for r in rows] == [(s, m) for s in (0.0, 0.1, 0.5)
                                                   for m in (INPUT, "oracle", "identity")]
    for sigma in (0.1, 0.5):
        assert by[(sigma, INPUT)].mse == pytest.approx(clamped_noise_mse(sigma), rel=0.02)
        assert by[(sigma, "identity")] == dataclasses.replace(by[(sigma, INPUT)], method="identity")
        assert by[(sigma, "oracle")].mse == 0 and by[(sigma, "oracle")].psnr == np.inf
    assert by[(0.0, INPUT)].mse == 0  # the clean images, unchanged
    assert len(examples[0.5]) == 4 and examples[0.5][0].shape == (3, 28, 28)  # clean, then each method


def test_the_run_tunes_nlm_per_level_and_keys_metrics_by_level_and_method():
    rng = np.random.default_rng(0)
    test01, train01 = blocks(6), blocks(6)[::-1]
    cfg = DenoiseParams(stds=[0.1, 0.3], max_images=4, nlm=NLMParams(h_factors=[0.5, 1.0], tune_images=3))
    part = denoising_run(test01, rng.integers(0, 10, 6), train01, {"denoising_ae": lambda x: x * 0},
                         mean_brightness, cfg, seed=0, view_stds=[0.3])
    m = part.metrics
    assert m["n_images"] == 4
    assert set(m) == {"n_images", "sigma_0", "sigma_0.1", "sigma_0.3"}
    assert {f"{k}_{method}" for k in ("psnr", "mse", "judge_accuracy") for method in (INPUT, "denoising_ae", NLM)} \
        | {"nlm_h_factor"} == set(m["sigma_0.3"])
    assert m["sigma_0.3"]["nlm_h_factor"] in (0.5, 1.0)
    assert "psnr_input" not in m["sigma_0"] and "psnr_nlm" not in m["sigma_0"]  # infinite / not run on clean images
    # The all-black output's MSE is the images' mean square, whatever the noise.
    expected = float(np.mean(test01[:4] ** 2))
    assert m["sigma_0.1"]["mse_denoising_ae"] == pytest.approx(expected)
    assert {row["method"] for row in part.details["rows"]} == {INPUT, "denoising_ae", NLM}
    assert set(part.drawings) == {"psnr.png", "judge_accuracy.png", "examples_sigma_0.3.png"}


def test_denoise_part_keeps_infinite_psnr_out_of_the_rows_file():
    rows, examples = denoising_table(np.zeros((2, 28, 28)), np.zeros(2), {}, [0.2], mean_brightness, seed=1)
    part = denoise_part(rows, examples, {0.2: 1.0}, 2, [])
    clean_input = next(r for r in part.details["rows"] if r["sigma"] == 0.0)
    assert clean_input["psnr"] is None and clean_input["mse"] == 0.0
