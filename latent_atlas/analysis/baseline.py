"""The linear baseline and the ground-truth factors every variant's DCI shares.

- PCA of the MNIST training images (pixels in [0,1]) at several latent sizes
  k: the test reconstruction MSE of the best rank-k linear code and the
  k-means purity of the k-dim codes. A linear autoencoder trained with MSE
  spans the same subspace (Baldi & Hornik 1989, "Neural networks and
  principal component analysis"), and by Eckart & Young (1936) no rank-k
  linear map reconstructs the training set better, so the curve is the bar a
  non-linear autoencoder of the same size has to clear.
- Morpho-MNIST factors (latent_atlas.data.morpho) of every test image and of a
  seeded subset of training images, measured once per pipeline run instead
  of once per variant (morphometrics are the slowest part of a DCI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_atlas.analysis import metrics as M
from latent_atlas.analysis.pca import covariance_spectrum
from latent_atlas.data.morpho import MORPHO_NAMES, morphometrics_matrix


@dataclass(frozen=True)
class PCAFit:
    mean: np.ndarray  # (p,)
    components: np.ndarray  # (p, p), column j = j-th principal direction
    eigenvalues: np.ndarray  # (p,), descending, sample covariance (ddof=1)

    def encode(self, x: np.ndarray, k: int) -> np.ndarray:
        return (x - self.mean) @ self.components[:, :k]  # (n, k)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        k = codes.shape[1]
        return codes @ self.components[:, :k].T + self.mean  # (n, p)


def _flat(x) -> np.ndarray:
    """(n, ...) samples as (n, features), dtype kept (float32 images stay half the size)."""
    arr = np.asarray(x)
    if arr.ndim < 2 or arr.shape[0] < 2 or not np.issubdtype(arr.dtype, np.floating):
        raise ValueError(f"need at least 2 float samples as (n, ...); got shape {arr.shape}, dtype {arr.dtype}")
    return arr.reshape(arr.shape[0], -1)


def fit_pca(x) -> PCAFit:
    """PCA by eigen-decomposition of the sample covariance (accumulated in float64 chunks)."""
    s = covariance_spectrum(_flat(x))
    return PCAFit(s.mean, s.vectors, s.eigenvalues)


def reconstruction_mse(fit: PCAFit, x, k: int) -> float:
    """Mean squared pixel error of the rank-k reconstruction (no clipping: the plain linear code)."""
    x = _flat(x).astype(np.float64)
    if not 1 <= k <= fit.components.shape[1]:
        raise ValueError(f"k={k} is not allowed; use 1..{fit.components.shape[1]}")
    return float(np.mean((fit.decode(fit.encode(x, k)) - x) ** 2))


def pca_baseline(fit: PCAFit, test01, test_labels, ks: Sequence[int], kmeans_seeds: int = 10,
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """Per k: test MSE, explained training variance, k-means purity of the test codes.

    `fit` is fit_pca of the training images. Keys are "k2", "k3", ... so DVC
    shows them as pca.k2.test_mse and so on.
    """
    if not ks or min(ks) < 1 or max(ks) > fit.components.shape[1]:
        raise ValueError(f"ks={list(ks)} is not allowed; use sizes in 1..{fit.components.shape[1]}")
    test = _flat(test01).astype(np.float64)
    total = fit.eigenvalues.sum()
    out = {}
    for k in sorted(ks):
        codes = fit.encode(test, k)
        purity = M.kmeans_purity(codes, test_labels, n_clusters=10, n_seeds=kmeans_seeds, seed=seed)
        out[f"k{k}"] = {
            "latent_dim": int(k),
            "test_mse": float(np.mean((fit.decode(codes) - test) ** 2)),
            "explained_variance": float(fit.eigenvalues[:k].sum() / total) if total > 0 else 0.0,
            "purity_best": purity["purity_best"],
            "purity_mean": purity["purity_mean"],
        }
    return out


# --------------------------------------------------------------------------- #
# ground-truth factors for DCI
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Factors:
    """Morphometrics of the test set and of a subset of the training set."""

    test: np.ndarray  # (n_test, 6)
    train: np.ndarray  # (m, 6)
    train_index: np.ndarray  # (m,), rows of the training split
    names: tuple[str, ...] = MORPHO_NAMES

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"test": self.test, "train": self.train, "train_index": self.train_index,
                "names": np.asarray(self.names)}


def measure_factors(test_images, train_images, n_train: int, seed: int, scale: int = 4) -> Factors:
    """Morphometrics of every test image and `n_train` seeded training images (sorted)."""
    n_avail = len(train_images)
    if n_avail < 1:
        raise ValueError("no training images to measure factors on")
    index = M.subsample(n_avail, n_train, seed)
    test, names = morphometrics_matrix(test_images, scale=scale)
    train, _ = morphometrics_matrix(train_images[index], scale=scale)
    return Factors(test, train, index.astype(np.int64), tuple(names))


def load_factors(path: str | Path) -> Factors:
    from latent_atlas.io import read_npz

    arrays = read_npz(path, required=("test", "train", "train_index", "names"))
    return Factors(arrays["test"], arrays["train"], arrays["train_index"],
                   tuple(str(n) for n in arrays["names"]))
