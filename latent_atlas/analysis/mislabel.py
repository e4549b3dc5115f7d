"""Mislabel detection: study 002's "quality control: identify mislabeled data".

A declared share of the training labels is flipped, each to one of the nine
other digits (a seeded draw; the truth is kept). Every image is then scored
by how much its given label disagrees with its k nearest neighbours (itself
excluded): the share of them whose given label differs from its own. The
flipped images should score high. Reported for a representation (codes or
raw pixels): the AUROC of the score, the precision among the top-scored
images (as many as were flipped), and the precision and recall of flagging
the images whose neighbours' majority label differs from the given one.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from latent_atlas.analysis.parts import Part
from latent_atlas.arch import N_CLASSES
from latent_atlas.arrays import as_labels, as_matrix, check_positive_int, check_seed


def flip_labels(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(given labels, flipped mask): round(fraction x n) labels, drawn without replacement, each
    moved to a uniformly drawn other digit."""
    labels = np.asarray(labels)
    if not 0 <= fraction < 0.5:
        raise ValueError(f"fraction={fraction} is not allowed; use 0 <= fraction < 0.5")
    rng = np.random.default_rng(check_seed(seed))
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), size=int(round(fraction * len(labels))), replace=False)] = True
    given = labels.copy()
    # An offset of 1..9 modulo 10 lands on each other digit with equal chance.
    given[flipped] = (labels[flipped] + rng.integers(1, N_CLASSES, size=int(flipped.sum()))) % N_CLASSES
    return given, flipped


def nearest_others(x: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each row's k nearest other rows (Euclidean; scikit-learn's search, no n x n matrix)."""
    x = as_matrix("x", x)
    k = check_positive_int("k", k, upper=len(x) - 1)
    # kneighbors() without a query leaves each point out of its own neighbours.
    return NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)


def neighbour_labels(x: np.ndarray, given: np.ndarray, k: int) -> np.ndarray:
    """(n, k) given labels of each row's k nearest other rows."""
    return as_labels("given", given, len(x))[nearest_others(x, k)]


def disagreement(given: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """(n,) share of each image's neighbours whose given label differs from its own."""
    return (neighbours != np.asarray(given)[:, None]).mean(axis=1)


def majority(neighbours: np.ndarray) -> np.ndarray:
    """(n,) the most frequent label among each row's neighbours (ties: the smallest label)."""
    counts = np.stack([(neighbours == c).sum(axis=1) for c in range(N_CLASSES)], axis=1)  # (n, 10)
    return counts.argmax(axis=1)


def precision_at_top(is_target: np.ndarray, scores: np.ndarray, m: int, seed: int) -> float:
    """Share of targets among the m highest scores; equal scores are ordered by a seeded shuffle."""
    is_target, scores = np.asarray(is_target, dtype=bool), np.asarray(scores, dtype=np.float64)
    m = check_positive_int("m", m, upper=len(scores))
    tie_break = np.random.default_rng(check_seed(seed)).permutation(len(scores))
    top = np.lexsort((tie_break, -scores))[:m]
    return float(is_target[top].mean())


def mislabel_metrics(x: np.ndarray, labels: np.ndarray, given: np.ndarray, flipped: np.ndarray, k: int,
                     seed: int) -> dict[str, float]:
    """How well neighbours in x find the flipped labels (see the module's docstring).

    Also retrieval_precision: the share of each image's k neighbours with its
    true digit (precision@k of a same-digit search; study 002's "navigate the
    space to find related content").
    """
    idx = nearest_others(x, k)
    labels, given = as_labels("labels", labels, len(x)), as_labels("given", given, len(x))
    neighbours = given[idx]
    scores = disagreement(given, neighbours)
    flagged = majority(neighbours) != given
    n_flipped = int(np.sum(flipped))
    if n_flipped == 0 or n_flipped == len(flipped):
        raise ValueError(f"{n_flipped} of {len(flipped)} labels flipped: detection needs flipped and kept labels")
    return {
        "auroc": float(roc_auc_score(flipped, scores)),
        "precision_top": precision_at_top(flipped, scores, n_flipped, seed),
        "flag_precision": float(flipped[flagged].mean()) if flagged.any() else 0.0,
        "flag_recall": float(flagged[flipped].mean()),
        "flagged": int(flagged.sum()),
        "retrieval_precision": float((labels[idx] == labels[:, None]).mean()),
    }


def mislabel_part(pixels: np.ndarray, codes: dict[str, np.ndarray], labels: np.ndarray, *, flip_fraction: float,
                  k: int, seed: int) -> Part:
    """One flip of the labels, scored on the raw pixels and on each variant's codes (rows: the same images).

    With nothing flipped (flip_fraction 0) there is nothing to find: only the counts are reported.
    """
    given, flipped = flip_labels(labels, flip_fraction, seed)
    metrics: dict = {"n_images": len(labels), "n_flipped": int(flipped.sum()), "k": k}
    if flipped.any():
        metrics["pixels"] = mislabel_metrics(pixels, labels, given, flipped, k, seed)
        metrics["codes"] = {name: mislabel_metrics(x, labels, given, flipped, k, seed) for name, x in codes.items()}
    return Part(metrics)
