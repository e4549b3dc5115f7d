"""Ablation: set latent dims to their mean and measure what the model loses.

Study 004 reads seven dims as "no major impact" and says they could be
removed. Mean-filling a dim (every code gets the test set's mean value
there) removes what it says about each image while keeping the code where
the decoder expects it; the loss in head accuracy and the rise in
reconstruction error say what the dim carried. Each of the highest-variance
dims alone, and the dims the traversal found dead, together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from latent_atlas.analysis.parts import Part
from latent_atlas.analysis.traversal import top_variance_dims
from latent_atlas.arrays import subsample


def mean_filled(z: np.ndarray, dims: Sequence[int], fill: np.ndarray) -> np.ndarray:
    """A copy of the codes with `dims` set to `fill`'s values there."""
    out = np.array(z, dtype=np.float64, copy=True)
    dims = list(dims)
    out[:, dims] = np.asarray(fill, dtype=np.float64)[dims]
    return out


def _scores(decode: Callable, classify: Callable | None, z: np.ndarray, images01: np.ndarray,
            labels: np.ndarray) -> tuple[float, float | None]:
    mse = float(np.mean((np.asarray(decode(z)) - images01) ** 2))
    accuracy = float(np.mean(classify(z).argmax(axis=1) == labels)) if classify is not None else None
    return mse, accuracy


def ablation(decode: Callable, classify: Callable | None, z: np.ndarray, images01: np.ndarray, labels: np.ndarray,
             groups: Sequence[Sequence[int]], fill: np.ndarray) -> list[dict[str, float]]:
    """Per group of dims mean-filled together: relative MSE rise and accuracy drop against the intact codes."""
    base_mse, base_acc = _scores(decode, classify, z, images01, labels)
    rows = []
    for dims in groups:
        mse, acc = _scores(decode, classify, mean_filled(z, dims, fill), images01, labels) if dims else (base_mse,
                                                                                                          base_acc)
        row = {"mse_increase": mse / base_mse - 1 if base_mse > 0 else 0.0}
        if acc is not None:
            row["accuracy_drop"] = base_acc - acc
        rows.append(row)
    return rows


def ablation_part(decode: Callable, classify: Callable | None, z: np.ndarray, images01: np.ndarray,
                  labels: np.ndarray, dead_dims: Sequence[int], *, max_dims: int, max_images: int | None,
                  seed: int) -> Part:
    """Each of the max_dims highest-variance dims alone, then the dead dims together, on a seeded subset."""
    idx = subsample(len(labels), max_images, seed)
    dims = top_variance_dims(z, max_dims)
    rows = ablation(decode, classify, z[idx], images01[idx], labels[idx], [[d] for d in dims] + [list(dead_dims)],
                    fill=z.mean(axis=0))
    *single, dead = rows
    numbers = {f"ablation_dead_{key}": value for key, value in dead.items()}
    details = {"ablation_dims": dims, **{f"ablation_{key}": [r[key] for r in single] for key in dead}}
    return Part(numbers, details)
