"""PCA from first principles (SPEC section 1), checked against scikit-learn.

`covariance_spectrum` is the one eigendecomposition of a sample covariance in
the project: the population study, the pixel baseline and the latent-space
analyses all use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA

# Rows per chunk when accumulating a covariance: bounds the float64 copy of the
# data to a few tens of MB for any number of samples.
_CHUNK = 8192


@dataclass(frozen=True)
class Spectrum:
    mean: np.ndarray  # (d,)
    eigenvalues: np.ndarray  # (d,) descending, >= 0
    vectors: np.ndarray  # (d, d), column j is the direction of eigenvalue j


def covariance_spectrum(x) -> Spectrum:
    """Eigen-decomposition of the sample covariance (ddof=1) of x (n, d), in float64.

    Eigenvalues come sorted descending with their eigenvectors; tiny negatives,
    round-off of a positive semi-definite matrix, are clipped to 0. One sample
    has zero covariance (no division by n - 1 = 0).
    """
    x = np.asarray(x)
    n, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64)
    cov = np.zeros((d, d))
    for start in range(0, n, _CHUNK):
        block = x[start : start + _CHUNK].astype(np.float64) - mean  # (<= _CHUNK, d)
        cov += block.T @ block
    cov /= max(n - 1, 1)
    eigenvalues, vectors = np.linalg.eigh(cov)  # ascending, for a symmetric matrix
    order = np.argsort(eigenvalues)[::-1]
    return Spectrum(mean, np.clip(eigenvalues[order], 0.0, None), vectors[:, order])


@dataclass(frozen=True)
class PCAResult:
    eigenvalues: np.ndarray  # (n_features,) descending
    components: np.ndarray  # (n_features, n_features), column j is eigenvector j
    projected: np.ndarray  # (n_samples, k)
    explained_ratio: np.ndarray  # (n_features,)

    @property
    def cumulative_ratio(self) -> np.ndarray:
        return np.cumsum(self.explained_ratio)


def standardize(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit sample standard deviation (ddof=1) per column."""
    std = x.std(axis=0, ddof=1)
    if np.any(std == 0):
        raise ValueError(f"columns {np.flatnonzero(std == 0).tolist()} are constant; PCA needs variance")
    return (x - x.mean(axis=0)) / std


def pca_by_hand(x: np.ndarray, k: int) -> PCAResult:
    """Eigen-decompose X^T X / (n-1) of centred data and project onto the top k."""
    d = x.shape[1]
    if not 1 <= k <= d:
        raise ValueError(f"k={k} is not allowed; use 1..{d} for {d} features")
    s = covariance_spectrum(x)
    return PCAResult(
        eigenvalues=s.eigenvalues,
        components=s.vectors,
        projected=(x - s.mean) @ s.vectors[:, :k],
        explained_ratio=s.eigenvalues / s.eigenvalues.sum(),
    )


def check_against_sklearn(x: np.ndarray, result: PCAResult, atol: float = 1e-8) -> None:
    """Raise if scikit-learn disagrees (eigenvalues equal, components up to sign)."""
    reference = PCA().fit(x)
    if not np.allclose(reference.explained_variance_, result.eigenvalues, atol=atol, rtol=1e-8):
        raise AssertionError(
            f"eigenvalues differ from scikit-learn: {result.eigenvalues} vs {reference.explained_variance_}"
        )
    ours = result.components.T  # rows = components, as scikit-learn stores them
    signs = np.sign(np.sum(ours * reference.components_, axis=1))
    if np.any(signs == 0) or not np.allclose(ours * signs[:, None], reference.components_, atol=1e-6):
        raise AssertionError("components differ from scikit-learn beyond a sign flip")




def pca_directions(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, top-k principal directions (d, k) and all eigenvalues (descending) of the codes."""
    s = covariance_spectrum(z)
    return s.mean, s.vectors[:, :k], s.eigenvalues


def population_reading(raw: np.ndarray, columns: tuple[str, ...] | list[str]) -> dict:
    """What study 000 reads from its population's PCA, on the standardized and on the raw columns.

    Standardized: eigenvalues above 1 (the study's cut), the share kept by 3
    components, largest over smallest eigenvalue (1 for variance spread
    evenly), the largest |loading| on PC1 (1/sqrt(6) = 0.41 when even). Raw:
    each column's variance and PC1's share of the variance with the column it
    loads most, which with unscaled columns is the widest (Salary).
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim != 2 or raw.shape[1] != len(columns) or raw.shape[0] < 2:
        raise ValueError(f"raw must be (n >= 2, {len(columns)}) for columns {list(columns)}; got {raw.shape}")
    std = covariance_spectrum(standardize(raw))
    plain = covariance_spectrum(raw)
    widest = int(np.argmax(np.abs(plain.vectors[:, 0])))
    out = {
        "eigenvalues": std.eigenvalues.tolist(),
        "n_eigen_above_1": int(np.sum(std.eigenvalues > 1)),
        "top3_share": float(std.eigenvalues[:3].sum() / std.eigenvalues.sum()),
        "std_pc1_max_loading": float(np.max(np.abs(std.vectors[:, 0]))),
        "raw_variance": {name: float(v) for name, v in zip(columns, raw.var(axis=0, ddof=1), strict=True)},
        "raw_pc1_share": float(plain.eigenvalues[0] / plain.eigenvalues.sum()),
        "raw_pc1_column": str(columns[widest]),
        "raw_pc1_top_loading": float(abs(plain.vectors[widest, 0])),
    }
    if std.eigenvalues[-1] > 0:  # collinear columns have no finite ratio
        out["eigen_max_min_ratio"] = float(std.eigenvalues[0] / std.eigenvalues[-1])
    return out
