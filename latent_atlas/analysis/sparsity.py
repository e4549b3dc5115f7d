"""How sparse and how selective a code is: the numbers behind "sparse autoencoders are interpretable".

- active_units_per_input: how many code units are on for a typical input;
  a unit is on when |z| exceeds `threshold` times the root-mean-square of the
  whole code, so rescaling a code changes nothing.
- unit_selectivity: the class selectivity index of Morcos et al. (2018), "On
  the importance of single directions for generalization", ICLR, per unit:
  (mu_max - mu_rest) / (mu_max + mu_rest), where mu_max is the largest mean
  |activation| over the ten digits and mu_rest the mean over the other nine;
  1 for a unit that fires for one digit only, 0 for one that fires alike for
  all (and for a unit that never fires). Its mean over units is reported.
"""

from __future__ import annotations

import numpy as np

from latent_atlas.analysis.parts import Part
from latent_atlas.arrays import as_labels, as_matrix
from latent_atlas.config import SparsityParams


def active_per_input(z, threshold: float) -> np.ndarray:
    """(n,) count of units with |z| above threshold x the code's RMS, per input (0 for an all-zero code)."""
    codes = as_matrix("z", z)
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0; got {threshold!r}")
    rms = float(np.sqrt(np.mean(codes**2)))
    if rms == 0:
        return np.zeros(len(codes), dtype=np.int64)
    return np.sum(np.abs(codes) > threshold * rms, axis=1)


def class_selectivity(z, labels) -> np.ndarray:
    """(d,) Morcos et al.'s class selectivity index of each unit, from mean |activation| per class."""
    codes = np.abs(as_matrix("z", z))
    y = as_labels("labels", labels, len(codes))
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"class selectivity needs at least 2 classes; got {classes.tolist()}")
    means = np.stack([codes[y == c].mean(axis=0) for c in classes])  # (classes, d)
    top = means.argmax(axis=0)
    mu_max = means[top, np.arange(means.shape[1])]
    mu_rest = (means.sum(axis=0) - mu_max) / (len(classes) - 1)
    total = mu_max + mu_rest
    return np.divide(mu_max - mu_rest, total, out=np.zeros_like(total), where=total > 0)


def sparsity_part(z_test: np.ndarray, y_test: np.ndarray, cfg: SparsityParams) -> Part:
    active = active_per_input(z_test, cfg.threshold)
    selectivity = class_selectivity(z_test, y_test)
    metrics = {"active_units_per_input": float(active.mean()), "unit_selectivity": float(selectivity.mean()),
               "sparsity_threshold": cfg.threshold}
    return Part(metrics, {"unit_selectivity": selectivity.tolist()})
