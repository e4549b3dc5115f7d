"""The covariance spectrum of the codes: eigenvalues and effective dimension.

Participation ratio as an effective dimension: Gao et al. (2017), "A theory
of multineuronal dimensionality, dynamics and measurement"; Recanatesi et al.
(2019).
"""

from __future__ import annotations

import numpy as np

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.analysis.pca import covariance_spectrum
from latent_atlas.arrays import as_matrix


def _dims_for(cumulative: np.ndarray, level: float) -> int:
    # The tolerance keeps k equal variances at exactly k*0.1 -> k dims despite
    # cumsum rounding (0.8999999999 must count as 0.90).
    return int(np.argmax(cumulative >= level - 1e-9) + 1)


def spectrum(latents) -> dict:
    """Covariance eigen-spectrum and effective dimensionality of the codes.

    participation_ratio = (sum l)^2 / sum l^2 equals k for k equal variances
    and 1 when one direction holds all variance. Constant codes (zero total
    variance) give explained ratios of 0, participation ratio 0 and 0 dims.
    """
    z = as_matrix("latents", latents, min_rows=2)
    eig = covariance_spectrum(z).eigenvalues
    total = eig.sum()
    if total <= 0:
        zeros = [0.0] * eig.size
        return {
            "eigenvalues": zeros,
            "explained_ratio": zeros,
            "participation_ratio": 0.0,
            "dims_90": 0,
            "dims_95": 0,
        }
    ratio = eig / total
    cumulative = np.cumsum(ratio)
    return {
        "eigenvalues": eig.tolist(),
        "explained_ratio": ratio.tolist(),
        "participation_ratio": float(total**2 / np.sum(eig**2)),
        "dims_90": _dims_for(cumulative, 0.90),
        "dims_95": _dims_for(cumulative, 0.95),
    }




def spectrum_part(z: np.ndarray, threshold: float) -> Part:
    """Eigenvalues of the code covariance (scree), effective dimension, the study's count."""
    s = spectrum(z)
    eig = np.asarray(s["eigenvalues"])
    numbers = {
        "participation_ratio": s["participation_ratio"],
        "dims_90": s["dims_90"],
        "dims_95": s["dims_95"],
        "eigenvalues_above_threshold": int(np.sum(eig > threshold)),
        "eigenvalue_max": float(eig[0]),
    }
    details = {"eigenvalues": s["eigenvalues"], "explained_ratio": s["explained_ratio"],
               "eigen_threshold": float(threshold)}
    drawings = {"scree.png": Drawing(
        plots.scree, f"latent covariance spectrum (PR {s['participation_ratio']:.1f})",
        {"eigenvalues": eig, "threshold": threshold})}
    return Part(numbers, details, drawings)
