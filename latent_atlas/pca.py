"""PCA from first principles (SPEC section 1), checked against scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    n, d = x.shape
    if not 1 <= k <= d:
        raise ValueError(f"k={k} is not allowed; use 1..{d} for {d} features")
    centred = x - x.mean(axis=0)
    covariance = centred.T @ centred / (n - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending, symmetric input
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    return PCAResult(
        eigenvalues=eigenvalues,
        components=eigenvectors,
        projected=centred @ eigenvectors[:, :k],
        explained_ratio=eigenvalues / eigenvalues.sum(),
    )


def check_against_sklearn(x: np.ndarray, result: PCAResult, atol: float = 1e-8) -> None:
    """Raise if scikit-learn disagrees (eigenvalues equal, components up to sign)."""
    from sklearn.decomposition import PCA

    reference = PCA().fit(x)
    if not np.allclose(reference.explained_variance_, result.eigenvalues, atol=atol, rtol=1e-8):
        raise AssertionError(
            f"eigenvalues differ from scikit-learn: {result.eigenvalues} vs {reference.explained_variance_}"
        )
    ours = result.components.T  # rows = components, as scikit-learn stores them
    signs = np.sign(np.sum(ours * reference.components_, axis=1))
    if np.any(signs == 0) or not np.allclose(ours * signs[:, None], reference.components_, atol=1e-6):
        raise AssertionError("components differ from scikit-learn beyond a sign flip")
