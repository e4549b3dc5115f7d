"""A VAE's test likelihood and its active units, from the per-image bounds the model gives.

Active units follow Burda, Grosse & Salakhutdinov (2015), "Importance weighted
autoencoders", section 5.2: unit u is active when Cov_x(E_{q(u|x)}[u]), the
variance over the test set of its posterior mean, exceeds 0.01. A VAE with no
active unit has collapsed to its prior: its decoder ignores the code.

The bounds themselves (ELBO, IWAE) are model maths: latent_atlas.models.likelihood.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.arrays import as_matrix
from latent_atlas.config import LikelihoodParams


def active_units(posterior_means, threshold: float = 0.01) -> np.ndarray:
    """Boolean (z,): which units' posterior means vary over the data by more than `threshold` (Burda et al.)."""
    mu = as_matrix("posterior_means", posterior_means, min_rows=2)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0; got {threshold!r}")
    return mu.var(axis=0) > threshold


def likelihood_metrics(bounds: dict[str, np.ndarray], posterior_means: np.ndarray, *, k: int,
                       threshold: float) -> tuple[dict[str, float | int], dict[str, list]]:
    """Test means of the per-image bounds, in nats, and the active units (0 of them: posterior collapse).

    `bounds` holds per-image arrays "neg_elbo", "recon", "kl", "kl_units" (n, z)
    and "nll_iwae" (latent_atlas.models.likelihood).
    """
    active = active_units(posterior_means, threshold)
    n_active = int(active.sum())
    metrics = {
        "test_neg_elbo": float(np.mean(bounds["neg_elbo"])),
        "test_recon_bce": float(np.mean(bounds["recon"])),
        "test_kl": float(np.mean(bounds["kl"])),
        "test_nll_iwae": float(np.mean(bounds["nll_iwae"])),
        "iwae_k": int(k),
        "active_units": n_active,
        "posterior_collapse": int(n_active == 0),
    }
    details = {"kl_per_unit": np.mean(bounds["kl_units"], axis=0).tolist(),
               "posterior_mean_variance": np.var(np.asarray(posterior_means, dtype=np.float64), axis=0).tolist(),
               "active_threshold": float(threshold)}
    return metrics, details


def likelihood_part(bounds: Callable[[int], dict[str, np.ndarray]], posterior_means: np.ndarray,
                    cfg: LikelihoodParams) -> Part:
    """The ELBO and IWAE bound (k = cfg.iwae_k) on the test set, the KL and activity of each unit.

    `bounds(k)` evaluates the model on the test images: the same images, in
    the same order, as `posterior_means`.
    """
    metrics, details = likelihood_metrics(bounds(cfg.iwae_k), posterior_means, k=cfg.iwae_k,
                                          threshold=cfg.active_threshold)
    title = (f"posterior per unit: {metrics['active_units']} of {len(details['kl_per_unit'])} active, "
             f"-ELBO {metrics['test_neg_elbo']:.1f}, IWAE NLL (k={cfg.iwae_k}) {metrics['test_nll_iwae']:.1f} nats")
    return Part(metrics, details, {"posterior_units.png": Drawing(plots.unit_bars, title, {
        "values": {"mean KL to the prior (nats)": details["kl_per_unit"],
                   "variance of the posterior mean": details["posterior_mean_variance"]},
        "threshold": cfg.active_threshold})})
