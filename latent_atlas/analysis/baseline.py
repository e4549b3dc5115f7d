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

import numpy as np

from latent_atlas.analysis import clustering
from latent_atlas.analysis.pca import covariance_spectrum
from latent_atlas.analysis.probes import probes_part
from latent_atlas.arrays import subsample


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


def pca_baseline(fit: PCAFit, test01, test_labels, ks: Sequence[int], *, kmeans_seeds: int = 10,
                 seed: int = 0, train01=None, train_labels=None, knn_k: int = 5,
                 probe_max_train: int | None = 10000) -> dict[str, dict[str, float]]:
    """Per k: test MSE, explained training variance, k-means purity, NMI and ARI of the test codes, and
    (given the training images) linear and kNN probes fitted on their codes, as for the autoencoders.

    `fit` is fit_pca of the training images. Keys are "k2", "k3", ... so DVC
    shows them as pca.k2.test_mse and so on.
    """
    if not ks or min(ks) < 1 or max(ks) > fit.components.shape[1]:
        raise ValueError(f"ks={list(ks)} is not allowed; use sizes in 1..{fit.components.shape[1]}")
    test = _flat(test01).astype(np.float64)
    rows = subsample(len(train_labels), probe_max_train, seed) if train01 is not None else None
    train = _flat(train01)[rows].astype(np.float64) if rows is not None else None
    total = fit.eigenvalues.sum()
    out = {}
    for k in sorted(ks):
        codes = fit.encode(test, k)
        purity = clustering.kmeans_purity(codes, test_labels, n_clusters=10, n_seeds=kmeans_seeds, seed=seed)
        out[f"k{k}"] = {
            "latent_dim": int(k),
            "test_mse": float(np.mean((fit.decode(codes) - test) ** 2)),
            "explained_variance": float(fit.eigenvalues[:k].sum() / total) if total > 0 else 0.0,
            **{key: purity[key] for key in ("purity_best", "purity_mean", "nmi", "ari")},
        }
        if train is not None:
            probes = probes_part(fit.encode(train, k), np.asarray(train_labels)[rows], codes, test_labels, k=knn_k,
                                 max_train=None, seed=seed)
            out[f"k{k}"].update({key: probes.metrics[key] for key in ("probe_linear_accuracy", "probe_knn_accuracy")
                                 if key in probes.metrics})
    return out
