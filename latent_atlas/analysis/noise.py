"""Robustness to input noise: latent shift and reconstruction error under Gaussian pixel noise.

At every noise level, beside the shift and the error: whether the digit is
still there. The fixed judge reads the reconstructions of the noisy inputs,
the classifier head (where the variant has one) the noisy codes, a kNN fitted
on clean training codes labels the noisy codes, and in the 2-D view of the
clean codes (PCA fitted on them) a kNN vote and k-means say whether the
noisy codes still form digit clusters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import KNeighborsClassifier

from latent_atlas.analysis import plots
from latent_atlas.analysis.clustering import cluster_purity
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.analysis.pca import pca_directions
from latent_atlas.analysis.probes import view_knn_accuracy
from latent_atlas.arrays import check_seed, subsample
from latent_atlas.config import NoiseParams


def add_noise(images01: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian pixel noise N(0, std^2), clamped back to [0, 1]: the valid pixel range, as a real
    corrupted image would be."""
    return np.clip(images01 + rng.normal(0.0, std, size=np.shape(images01)), 0.0, 1.0)


def noise_robustness(
    encode: Callable[[np.ndarray], np.ndarray],
    reconstruct: Callable[[np.ndarray], np.ndarray],
    images01,
    stds: Sequence[float],
    *,
    seed: int = 0,
    on_level: Callable[[np.ndarray, np.ndarray, np.ndarray], dict] | None = None,
) -> list[dict]:
    """Latent shift and reconstruction error under additive Gaussian pixel noise.

    For each std, noise N(0, std^2) is added to every pixel and the result
    clamped to [0, 1] (the valid pixel range, as a real corrupted image would
    be). One generator, seeded once, draws the noise for all stds in order.
    Returns per std: latent_shift_mean = mean_i ||z(x_i) - z(x_i + noise)||_2
    and recon_mse_noisy = mean squared error of reconstruct(noisy) against the
    clean image, in [0, 1] pixel units; input_mse is the MSE the noise itself
    adds after clamping, for scale. on_level(noisy, z_noisy, recon), given,
    returns more numbers for the level's row.
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
        noisy = add_noise(x, std, rng)
        z_noisy = np.asarray(encode(noisy), dtype=np.float64).reshape(n, -1)
        recon = np.asarray(reconstruct(noisy), dtype=np.float64).reshape(x.shape)
        results.append(
            {
                "std": std,
                "latent_shift_mean": float(np.mean(np.linalg.norm(z_clean - z_noisy, axis=1))),
                "recon_mse_noisy": float(np.mean((recon - x) ** 2)),
                "input_mse": float(np.mean((noisy - x) ** 2)),
                **(on_level(noisy, z_noisy, recon) if on_level is not None else {}),
            }
        )
    return results


def view_purity(points: np.ndarray, labels: np.ndarray, *, seed: int) -> float:
    """k-means (10 clusters, one seeded start) purity of 2-D points: do they still form digit clusters?"""
    n_clusters = min(10, len(np.unique(points, axis=0)))
    if n_clusters < 2:
        return float(np.max(np.bincount(labels)) / len(labels))
    pred = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit_predict(points)
    return cluster_purity(labels, pred)


class DigitReaders:
    """What says whether a digit is still there: the judge on images, the head and a clean kNN on codes,
    and the clean codes' PCA-2 view. Each reader is skipped when its part is missing (no judge, no head)."""

    def __init__(self, labels: np.ndarray, z_clean: np.ndarray, z_train: np.ndarray, y_train: np.ndarray, *,
                 judge=None, classify: Callable | None = None, k: int = 5, seed: int = 0):
        self.labels, self.judge, self.classify, self.seed = labels, judge, classify, seed
        self.knn = KNeighborsClassifier(n_neighbors=min(k, len(y_train))).fit(z_train, y_train)
        self.mean, self.directions, _ = pca_directions(z_clean, min(2, z_clean.shape[1]))  # fitted on clean codes

    def read(self, z: np.ndarray, recon: np.ndarray) -> dict[str, float]:
        y = self.labels
        out = {"knn_accuracy": float(np.mean(self.knn.predict(z) == y))}
        if self.directions.shape[1] == 2:
            view = (z - self.mean) @ self.directions  # (n, 2)
            out.update(view_knn=view_knn_accuracy(view, y, seed=self.seed), view_purity=view_purity(view, y, seed=self.seed))
        if self.judge is not None:
            out["judge_accuracy"] = float(np.mean(self.judge.probabilities(recon).argmax(axis=1) == y))
        if self.classify is not None:
            out["head_accuracy"] = float(np.mean(self.classify(z).argmax(axis=1) == y))
        return out




def robustness_part(encode: Callable, decode: Callable, images01: np.ndarray, labels: np.ndarray, cfg: NoiseParams,
                    *, seed: int, n_show: int = 10, z_train: np.ndarray | None = None,
                    y_train: np.ndarray | None = None, judge=None, classify: Callable | None = None,
                    k: int = 5) -> Part:
    """Latent shift and reconstruction error under Gaussian pixel noise, whether the digit survives it,
    and what it looks like.

    Scalars are at `cfg.view_std`; latent_shift_rel divides the shift by the
    mean distance of the clean codes to their centre, so variants whose
    codes live on different scales compare. The per-level lists (details)
    hold every std; *_clean scalars are the same readers on the clean images.
    The kNN reader fits on as many seeded training codes as there are noisy
    test images (cfg.max_images): 10,000 cost 5x more at 256 dims and move
    its accuracy by under a point.
    """
    idx = subsample(len(images01), cfg.max_images, seed)
    x, y = images01[idx], labels[idx]
    z_clean = np.asarray(encode(x), dtype=np.float64).reshape(len(x), -1)
    readers = None
    if z_train is not None and y_train is not None:
        fit = subsample(len(y_train), len(idx), seed)
        readers = DigitReaders(y, z_clean, z_train[fit], y_train[fit], judge=judge, classify=classify, k=k, seed=seed)

    def on_level(noisy, z_noisy, recon):
        return readers.read(z_noisy, recon) if readers is not None else {}

    rows = noise_robustness(encode, lambda a: decode(encode(a)), x, cfg.stds, seed=seed, on_level=on_level)
    at_view = next(r for r in rows if np.isclose(r["std"], cfg.view_std))
    spread = float(np.mean(np.linalg.norm(z_clean - z_clean.mean(axis=0), axis=1)))
    recon_clean = np.asarray(decode(z_clean)).reshape(x.shape)
    numbers = {
        "noise_latent_shift": at_view["latent_shift_mean"],
        "noise_latent_shift_rel": at_view["latent_shift_mean"] / spread if spread > 0 else 0.0,
        "noise_recon_mse": at_view["recon_mse_noisy"],
        "noise_recon_mse_clean": float(np.mean((recon_clean - x) ** 2)),
        "noise_images": len(idx),
    }
    details = {
        "noise_std": [r["std"] for r in rows],
        "noise_latent_shift": [r["latent_shift_mean"] for r in rows],
        "noise_latent_shift_rel": [r["latent_shift_mean"] / spread if spread > 0 else 0.0 for r in rows],
        "noise_recon_mse": [r["recon_mse_noisy"] for r in rows],
        "noise_input_mse": [r["input_mse"] for r in rows],
        "noise_view_std": float(cfg.view_std),
        "noise_latent_spread": spread,
    }
    if readers is not None:
        numbers.update({f"noise_{key}_clean": value for key, value in readers.read(z_clean, recon_clean).items()})
        details.update({f"noise_{key}": [r[key] for r in rows] for key in rows[0] if key not in (
            "std", "latent_shift_mean", "recon_mse_noisy", "input_mse")})
    drawings = {"noise_robustness.png": Drawing(
        plots.noise_curves, f"Gaussian pixel noise, {len(idx):,} test images",
        {"stds": details["noise_std"], "latent_shift": details["noise_latent_shift"],
         "recon_mse": details["noise_recon_mse"], "input_mse": details["noise_input_mse"]})}

    # The same images once more at view_std, for the pictures (own generator:
    # the curves above stay the same whatever is drawn here).
    rng = np.random.default_rng(seed + 1)
    noisy = add_noise(x, cfg.view_std, rng)
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
        {"rows": [x[shown], noisy[shown], recon_clean[shown], decode(z_noisy[shown])],
         "row_names": ["clean", "noisy", "recon clean", "recon noisy"]})
    return Part(numbers, details, drawings)
