"""Translation: shift test digits by a few pixels and measure what moves in the code.

"Translation invariance" (study 002) as numbers: for each shift, the
distance of a shifted digit's code from its unshifted code (relative to the
codes' spread, so codes on different scales compare), the accuracy of a kNN
fitted on clean training codes at labelling the shifted codes, and the
reconstruction error against the shifted image. Digits are shifted right;
the pixels that enter are blank.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from latent_atlas.analysis.parts import Part
from latent_atlas.arrays import subsample


def shift_right(images: np.ndarray, pixels: int) -> np.ndarray:
    """(n, H, W) images moved `pixels` columns right, blank (0) columns entering on the left."""
    x = np.asarray(images)
    if x.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W); got {x.shape}")
    if not 0 <= pixels < x.shape[2]:
        raise ValueError(f"pixels={pixels} is not allowed; use 0..{x.shape[2] - 1}")
    out = np.zeros_like(x)
    out[:, :, pixels:] = x[:, :, : x.shape[2] - pixels]
    return out


def translation_response(encode: Callable, decode: Callable, images01: np.ndarray, labels: np.ndarray,
                         shifts: Sequence[int], knn: KNeighborsClassifier) -> dict[str, list[float]]:
    """Per shift: code distance / spread, kNN accuracy of the shifted codes, reconstruction MSE of the shifted image."""
    z = np.asarray(encode(images01), dtype=np.float64)
    spread = float(np.mean(np.linalg.norm(z - z.mean(axis=0), axis=1)))
    out: dict[str, list[float]] = {"shift_pixels": [], "shift_code_distance_rel": [], "shift_knn_accuracy": [],
                                   "shift_recon_mse": []}
    for s in shifts:
        shifted = shift_right(images01, int(s))
        zs = np.asarray(encode(shifted), dtype=np.float64)
        distance = float(np.mean(np.linalg.norm(zs - z, axis=1)))
        out["shift_pixels"].append(int(s))
        out["shift_code_distance_rel"].append(distance / spread if spread > 0 else 0.0)
        out["shift_knn_accuracy"].append(float(np.mean(knn.predict(zs) == labels)))
        out["shift_recon_mse"].append(float(np.mean((np.asarray(decode(zs)) - shifted) ** 2)))
    return out


def translation_part(encode: Callable, decode: Callable, images01: np.ndarray, labels: np.ndarray,
                     z_train: np.ndarray, y_train: np.ndarray, *, shifts: Sequence[int], max_images: int | None,
                     k: int, seed: int) -> Part:
    """translation_response on a seeded subset of test images, shift 0 first (the unshifted reference);
    the kNN fits on as many seeded training codes as there are test images."""
    idx = subsample(len(images01), max_images, seed)
    fit = subsample(len(y_train), len(idx), seed)
    knn = KNeighborsClassifier(n_neighbors=min(k, len(fit))).fit(z_train[fit], y_train[fit])
    details = translation_response(encode, decode, images01[idx], labels[idx], [0, *shifts], knn)
    return Part(details=details)
