"""Robustness to input noise: latent shift and reconstruction error under Gaussian pixel noise."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.analysis.pca import pca_directions
from latent_atlas.arrays import check_seed, subsample
from latent_atlas.config import NoiseParams


def noise_robustness(
    encode: Callable[[np.ndarray], np.ndarray],
    reconstruct: Callable[[np.ndarray], np.ndarray],
    images01,
    stds: Sequence[float],
    *,
    seed: int = 0,
) -> list[dict]:
    """Latent shift and reconstruction error under additive Gaussian pixel noise.

    For each std, noise N(0, std^2) is added to every pixel and the result
    clamped to [0, 1] (the valid pixel range, as a real corrupted image would
    be). One generator, seeded once, draws the noise for all stds in order.
    Returns per std: latent_shift_mean = mean_i ||z(x_i) - z(x_i + noise)||_2
    and recon_mse_noisy = mean squared error of reconstruct(noisy) against the
    clean image, in [0, 1] pixel units; input_mse is the MSE the noise itself
    adds after clamping, for scale.
    """
    x = np.asarray(images01, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] < 1:
        raise ValueError(f"images01 must have shape (n, H, W); got {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"images01 must be finite and in [0, 1]; got range [{np.nanmin(x)}, {np.nanmax(x)}]"
        )
    std_list = [float(s) for s in stds]
    if not std_list or any(not np.isfinite(s) or s < 0 for s in std_list):
        raise ValueError(f"stds must be a non-empty list of finite values >= 0; got {stds!r}")
    if not callable(encode) or not callable(reconstruct):
        raise ValueError("encode and reconstruct must both be callables on numpy arrays")
    rng = np.random.default_rng(check_seed(seed))

    n = x.shape[0]
    z_clean = np.asarray(encode(x), dtype=np.float64).reshape(n, -1)
    results = []
    for std in std_list:
        noisy = np.clip(x + rng.normal(0.0, std, size=x.shape), 0.0, 1.0)
        z_noisy = np.asarray(encode(noisy), dtype=np.float64).reshape(n, -1)
        recon = np.asarray(reconstruct(noisy), dtype=np.float64).reshape(x.shape)
        results.append(
            {
                "std": std,
                "latent_shift_mean": float(np.mean(np.linalg.norm(z_clean - z_noisy, axis=1))),
                "recon_mse_noisy": float(np.mean((recon - x) ** 2)),
                "input_mse": float(np.mean((noisy - x) ** 2)),
            }
        )
    return results




def robustness_part(encode: Callable, decode: Callable, images01: np.ndarray, labels: np.ndarray, cfg: NoiseParams,
               *, seed: int, n_show: int = 10) -> Part:
    """Latent shift and reconstruction error under Gaussian pixel noise, and what it looks like.

    Scalars are at `cfg.view_std`; latent_shift_rel divides the shift by the
    mean distance of the clean codes to their centre, so variants whose
    codes live on different scales compare.
    """
    idx = subsample(len(images01), cfg.max_images, seed)
    x, y = images01[idx], labels[idx]
    rows = noise_robustness(encode, lambda a: decode(encode(a)), x, cfg.stds, seed=seed)
    at_view = next(r for r in rows if np.isclose(r["std"], cfg.view_std))
    z_clean = np.asarray(encode(x), dtype=np.float64).reshape(len(x), -1)
    spread = float(np.mean(np.linalg.norm(z_clean - z_clean.mean(axis=0), axis=1)))
    numbers = {
        "noise_latent_shift": at_view["latent_shift_mean"],
        "noise_latent_shift_rel": at_view["latent_shift_mean"] / spread if spread > 0 else 0.0,
        "noise_recon_mse": at_view["recon_mse_noisy"],
        "noise_images": len(idx),
    }
    details = {
        "noise_std": [r["std"] for r in rows],
        "noise_latent_shift": [r["latent_shift_mean"] for r in rows],
        "noise_recon_mse": [r["recon_mse_noisy"] for r in rows],
        "noise_input_mse": [r["input_mse"] for r in rows],
        "noise_view_std": float(cfg.view_std),
        "noise_latent_spread": spread,
    }
    drawings = {"noise_robustness.png": Drawing(
        plots.noise_curves, f"Gaussian pixel noise, {len(idx):,} test images",
        {"stds": details["noise_std"], "latent_shift": details["noise_latent_shift"],
         "recon_mse": details["noise_recon_mse"], "input_mse": details["noise_input_mse"]})}

    # The same images once more at view_std, for the pictures (own generator:
    # the curves above stay the same whatever is drawn here).
    rng = np.random.default_rng(seed + 1)
    noisy = np.clip(x + rng.normal(0.0, cfg.view_std, size=x.shape), 0.0, 1.0)
    z_noisy = np.asarray(encode(noisy), dtype=np.float64).reshape(len(x), -1)
    if z_clean.shape[1] >= 2:
        mean, directions, _ = pca_directions(z_clean, 2)  # fitted on the clean codes only
        drawings["noise_view.png"] = Drawing(
            plots.scatter_pair, "codes before and after noise (PCA fitted on the clean codes)",
            {"left": (z_clean - mean) @ directions, "right": (z_noisy - mean) @ directions, "labels": y,
             "titles": ["clean", f"noise std {cfg.view_std:g}"]})
    shown = slice(0, min(n_show, len(x)))
    drawings["noise_reconstructions.png"] = Drawing(
        plots.image_rows, f"noise std {cfg.view_std:g}",
        {"rows": [x[shown], noisy[shown], decode(z_clean[shown]), decode(z_noisy[shown])],
         "row_names": ["clean", "noisy", "recon clean", "recon noisy"]})
    return Part(numbers, details, drawings)
