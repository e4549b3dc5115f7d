"""Array arguments checked once: shapes, finiteness, seeds, and seeded subsets.

Every analysis takes numpy arrays shaped (n_samples, n_features), as
scikit-learn does; these helpers reject anything else with a ValueError that
names the argument and says what is allowed.
"""

from __future__ import annotations

import numpy as np


def as_matrix(name: str, x, min_rows: int = 1) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {arr.shape}")
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise ValueError(
            f"{name} has shape {arr.shape}; need at least {min_rows} rows and 1 column"
        )
    if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite numbers; got dtype {arr.dtype} or NaN/inf")
    return arr.astype(np.float64, copy=False)


def as_labels(name: str, y, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the data; got {arr.shape}")
    return arr


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return int(seed)


def check_positive_int(name: str, value, upper: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    if upper is not None and value > upper:
        raise ValueError(f"{name}={value} is too large; at most {upper} is allowed here")
    return int(value)


def subsample(n: int, max_n: int | None, seed: int) -> np.ndarray:
    """Sorted (for locality) indices of a seeded subset of range(n) of size min(n, max_n); all when max_n is None."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_n, replace=False))
