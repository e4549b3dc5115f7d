"""MIG, the mutual information gap (Chen et al. 2018), exactly as disentanglement_lib computes it.

Chen, Li, Grosse & Duvenaud (2018), "Isolating sources of disentanglement in
variational autoencoders", NeurIPS; the estimator of Locatello et al. (2019)'s
disentanglement_lib (evaluation/metrics/mig.py): each code is discretised
into 20 equal-width bins over its range, the discrete mutual information
between every code and every factor is taken, and for each factor the gap
between its two most informative codes is divided by the factor's entropy;
MIG is the mean of these gaps over factors. 1: every factor is captured by
one code alone; 0: its best two codes know it equally well.

Continuous factors (the morphometrics) go through the same 20-bin
discretiser as the codes; the digit is a class already.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

from latent_atlas.analysis.parts import Part
from latent_atlas.arrays import as_matrix, check_positive_int
from latent_atlas.config import MIGParams
from latent_atlas.data.factors import FactorTable


def histogram_discretize(values, bins: int = 20) -> np.ndarray:
    """Each column to integer bins: np.digitize against its np.histogram edges (disentanglement_lib's)."""
    v = as_matrix("values", values)
    bins = check_positive_int("bins", bins)
    out = np.zeros(v.shape, dtype=np.int64)
    for j in range(v.shape[1]):
        out[:, j] = np.digitize(v[:, j], np.histogram(v[:, j], bins)[1][:-1])
    return out


def discrete_mutual_info(codes: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """(n_codes, n_factors) mutual information in nats between integer-valued columns.

    The value of scikit-learn's mutual_info_score (disentanglement_lib's
    estimator; the tests compare the two), from one joint histogram of all
    codes per factor instead of one call per pair: a 256-dim code has 1,792 pairs.
    """
    _, c = np.unique(codes, return_inverse=True)
    c = c.reshape(codes.shape)  # values 0..B-1, the same relabelling for every column
    n, d = c.shape
    bins = int(c.max()) + 1
    out = np.zeros((d, factors.shape[1]))
    for j in range(factors.shape[1]):
        _, y = np.unique(factors[:, j], return_inverse=True)
        k = int(y.max()) + 1
        joint = np.bincount((np.arange(d) * bins * k + c * k + y[:, None]).ravel(),
                            minlength=d * bins * k).reshape(d, bins, k) / n  # (codes, code bins, factor values)
        p_code, p_factor = joint.sum(axis=2, keepdims=True), joint.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(joint > 0, joint * np.log(joint / (p_code * p_factor)), 0.0)
        out[:, j] = np.clip(terms.sum(axis=(1, 2)), 0.0, None)
    return out


def discrete_entropy(factors: np.ndarray) -> np.ndarray:
    """(n_factors,) entropy in nats of each integer-valued column (its mutual information with itself)."""
    return np.array([mutual_info_score(factors[:, j], factors[:, j]) for j in range(factors.shape[1])])


def mutual_information_gap(codes, factors, *, discrete_mask, bins: int = 20) -> dict[str, np.ndarray | float]:
    """MIG of (n, d) codes against (n, f) factors, per factor and overall.

    Continuous factors (discrete_mask False) are discretised like the codes;
    discrete ones are taken as they are. With a single code the second-best
    information is 0. A constant factor (entropy 0) has nothing to capture and
    is an error.
    """
    z = as_matrix("codes", codes, min_rows=2)
    y = as_matrix("factors", factors, min_rows=2)
    if len(z) != len(y):
        raise ValueError(f"codes have {len(z)} rows but factors {len(y)}; they must match")
    mask = np.asarray(discrete_mask, dtype=bool)
    if mask.shape != (y.shape[1],):
        raise ValueError(f"discrete_mask must have shape ({y.shape[1]},); got {mask.shape}")
    y_discrete = np.where(mask, y, histogram_discretize(y, bins)).astype(np.int64)
    mi = discrete_mutual_info(histogram_discretize(z, bins), y_discrete)  # (d, f)
    entropy = discrete_entropy(y_discrete)
    if np.any(entropy <= 0):
        raise ValueError(f"factors {np.flatnonzero(entropy <= 0).tolist()} are constant: MIG is undefined for them")
    ranked = np.sort(mi, axis=0)[::-1]
    second = ranked[1] if len(ranked) > 1 else np.zeros(y.shape[1])
    gaps = (ranked[0] - second) / entropy
    return {"mig": float(np.mean(gaps)), "per_factor": gaps, "mutual_information": mi, "entropy": entropy}


def mig_part(z_test: np.ndarray, table: FactorTable, cfg: MIGParams) -> Part:
    """MIG over the digit and the morphometrics of the test images (every one has factors)."""
    found = mutual_information_gap(z_test, table.test, discrete_mask=table.discrete, bins=cfg.bins)
    metrics = {"mig": found["mig"], **{f"mig_{name}": float(g) for name, g in zip(table.names, found["per_factor"],
                                                                                    strict=True)}}
    return Part(metrics, {"mig_mutual_information": found["mutual_information"].tolist(),
                          "mig_factor_entropy": found["entropy"].tolist(), "mig_factors": list(table.names)})


