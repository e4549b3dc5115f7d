"""Denoising: how close each denoiser brings a noisy image back to the clean one.

At each noise level, test images get Gaussian pixel noise (clamped to [0,1],
as in the robustness analysis) and each method's output is compared with the
clean image: MSE, PSNR (peak 1, averaged over images), and the fixed judge's
accuracy on the output. Methods: the noisy input itself, every autoencoder
role given (the plain small conv AE and the denoising one; Vincent et al.
2008), and non-local means from scikit-image (Buades et al. 2005), whose
filter strength h is tuned once per noise level on training images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from skimage.restoration import denoise_nl_means

from latent_atlas.analysis import plots
from latent_atlas.analysis.noise import add_noise
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.arrays import check_seed, subsample
from latent_atlas.config import DenoiseParams, NLMParams

INPUT, NLM = "input", "nlm"
# A plot file's rows: series (the method, one line each) and the measures at each noise level;
# psnr is empty for the clean input, an exact copy.
ROW_COLUMNS = ("series", "sigma", "method", "mse", "psnr", "judge_accuracy")
# The autoencoders the denoise stage compares, by role (params.yaml roles).
AUTOENCODER_ROLES = ("small_conv_ae", "denoising_ae")

# (noisy images (n, 28, 28) in [0,1], their noise std) -> denoised images, same shape and range.
Denoiser = Callable[[np.ndarray, float], np.ndarray]


def image_mse(clean: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """(n, ...) pairs -> (n,) mean squared error per image."""
    clean, estimate = np.asarray(clean, dtype=np.float64), np.asarray(estimate, dtype=np.float64)
    if clean.shape != estimate.shape:
        raise ValueError(f"clean {clean.shape} and estimate {estimate.shape} must have the same shape")
    return ((clean - estimate) ** 2).reshape(len(clean), -1).mean(axis=1)


def psnr(clean: np.ndarray, estimate: np.ndarray, peak: float = 1.0) -> np.ndarray:
    """(n,) peak signal-to-noise ratio per image in dB: 10 log10(peak^2 / MSE); inf for an exact copy."""
    mse = image_mse(clean, estimate)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak**2 / mse)


def nlm_denoise(noisy01: np.ndarray, sigma: float, h_factor: float, cfg: NLMParams) -> np.ndarray:
    """Non-local means of each image, h = h_factor x sigma (scikit-image's fast mode)."""
    return np.stack([denoise_nl_means(image, h=h_factor * sigma, sigma=sigma, patch_size=cfg.patch_size,
                                      patch_distance=cfg.patch_distance, fast_mode=True)
                     for image in np.asarray(noisy01, dtype=np.float64)])


def tune_nlm(clean01: np.ndarray, sigma: float, cfg: NLMParams, rng: np.random.Generator) -> float:
    """The h factor of cfg.h_factors with the best mean PSNR on these (training) images at `sigma`."""
    noisy = add_noise(clean01, sigma, rng)
    score = {f: float(np.mean(psnr(clean01, nlm_denoise(noisy, sigma, f, cfg)))) for f in cfg.h_factors}
    return max(score, key=score.get)


@dataclass(frozen=True)
class DenoiseRow:
    sigma: float  # 0: the clean images
    method: str
    mse: float
    psnr: float
    judge_accuracy: float


def denoising_table(clean01: np.ndarray, labels: np.ndarray, denoisers: Mapping[str, Denoiser],
                    stds: Sequence[float], judge_accuracy: Callable[[np.ndarray, np.ndarray], float], *,
                    seed: int, shown: int = 8) -> tuple[list[DenoiseRow], dict[float, list[np.ndarray]]]:
    """One row per noise level and method (the input first), and the first `shown` images of each output.

    Level 0 is the clean images themselves: the input is exact and an
    autoencoder's row is the ceiling its bottleneck sets on any denoising.
    One generator, seeded once, draws the noise for every level in order, so
    every method sees the same noisy images.
    """
    rng = np.random.default_rng(check_seed(seed))
    rows, examples = [], {}
    for sigma in [0.0, *stds]:
        noisy = add_noise(clean01, sigma, rng) if sigma > 0 else clean01
        outputs = {INPUT: noisy, **{name: np.clip(fn(noisy, sigma), 0.0, 1.0) for name, fn in denoisers.items()
                                    if sigma > 0 or name != NLM}}
        for name, out in outputs.items():
            rows.append(DenoiseRow(float(sigma), name, float(np.mean(image_mse(clean01, out))),
                                   float(np.mean(psnr(clean01, out))), judge_accuracy(out, labels)))
        examples[float(sigma)] = [clean01[:shown], *[out[:shown] for out in outputs.values()]]
    return rows, examples


def denoising_run(test01: np.ndarray, labels: np.ndarray, train01: np.ndarray,
                  autoencoders: Mapping[str, Callable[[np.ndarray], np.ndarray]],
                  judge_accuracy: Callable[[np.ndarray, np.ndarray], float], cfg: DenoiseParams, *, seed: int,
                  view_stds: Sequence[float] = (0.1, 0.3, 0.5)) -> Part:
    """Every method at every level of cfg.stds on a seeded subset of the test images.

    autoencoders: role -> reconstruct ((n, 28, 28) [0,1] -> same). Non-local
    means' h is tuned per level on cfg.nlm.tune_images training images, with
    noise of their own.
    """
    idx = subsample(len(test01), cfg.max_images, seed)
    clean, y = test01[idx], np.asarray(labels)[idx]
    tune = train01[subsample(len(train01), cfg.nlm.tune_images, seed)]
    tune_rng = np.random.default_rng(check_seed(seed) + 1)
    h_factors = {float(s): tune_nlm(tune, s, cfg.nlm, tune_rng) for s in cfg.stds}
    denoisers: dict[str, Denoiser] = {name: (lambda noisy, _sigma, fn=fn: fn(noisy)) for name, fn in autoencoders.items()}
    denoisers[NLM] = lambda noisy, sigma: nlm_denoise(noisy, sigma, h_factors[float(sigma)], cfg.nlm)
    rows, examples = denoising_table(clean, y, denoisers, cfg.stds, judge_accuracy, seed=seed)
    return denoise_part(rows, examples, h_factors, len(idx), view_stds)


def denoise_part(rows: Sequence[DenoiseRow], examples: Mapping[float, list[np.ndarray]],
                 h_factors: Mapping[float, float], n_images: int, view_stds: Sequence[float]) -> Part:
    """Metrics keyed sigma_<s>.<measure>_<method> (sigma_0: the clean images), the rows, and the figures."""
    metrics: dict = {"n_images": n_images}
    for row in rows:
        entry = metrics.setdefault(f"sigma_{row.sigma:g}", {})
        entry[f"mse_{row.method}"] = row.mse
        entry[f"judge_accuracy_{row.method}"] = row.judge_accuracy
        if np.isfinite(row.psnr):  # the clean input's own PSNR is infinite
            entry[f"psnr_{row.method}"] = row.psnr
    for sigma, factor in h_factors.items():
        metrics[f"sigma_{sigma:g}"]["nlm_h_factor"] = factor
    noisy = [row for row in rows if row.sigma > 0]
    methods = list(dict.fromkeys(row.method for row in noisy))

    def series(measure: str) -> dict[str, tuple[list[float], list[float]]]:
        return {m: ([r.sigma for r in noisy if r.method == m], [getattr(r, measure) for r in noisy if r.method == m])
                for m in methods}

    drawings = {
        "psnr.png": Drawing(plots.curves, "PSNR against the clean image",
                            {"series": series("psnr"), "xlabel": "noise std", "ylabel": "PSNR (dB)", "logx": True}),
        "judge_accuracy.png": Drawing(plots.curves, "the fixed judge's accuracy on each output",
                                      {"series": series("judge_accuracy"), "xlabel": "noise std",
                                       "ylabel": "accuracy", "logx": True}),
    }
    for sigma in view_stds:
        if float(sigma) in examples:
            drawings[f"examples_sigma_{sigma:g}.png"] = Drawing(
                plots.image_rows, f"noise std {sigma:g}", {"rows": examples[float(sigma)],
                                                          "row_names": ["clean", *methods]})
    # The rows as a DVC plot file: one record per noise level and method.
    details = {"rows": [{**row.__dict__, "series": row.method, "psnr": row.psnr if np.isfinite(row.psnr) else None}
                        for row in rows]}
    return Part(metrics, details, drawings)
