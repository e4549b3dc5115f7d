"""Rank statistics: Spearman's correlation and ranks, without importing scipy.stats (about 1 s of start-up)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (scipy.stats.rankdata's default)."""
    x = np.asarray(x, dtype=float)
    ranks = np.empty(x.size)
    ranks[np.argsort(x, kind="stable")] = np.arange(1, x.size + 1)
    for value in np.unique(x):
        tied = x == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson of the average ranks (0 when either side is constant)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"spearman needs two equal-length 1-D lists of at least 2; got {x.shape} and {y.shape}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(np.corrcoef(average_ranks(x), average_ranks(y))[0, 1])


def rank_descending(v: np.ndarray) -> np.ndarray:
    """Rank of each value, 1 for the largest (ties share the better rank)."""
    v = np.asarray(v, dtype=float)
    return np.array([1 + int(np.sum(v > x)) for x in v])
