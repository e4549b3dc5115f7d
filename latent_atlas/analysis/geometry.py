"""Per-digit geometry of the test codes: how tight each digit's cluster is, how far apart two digits lie.

The codes are standardized (each dim to unit variance over the test set)
first, so distances do not depend on a code's scale or on one wide dim.
Also: the 2-class separability of every digit pair in the plane of code dims
1-2 (the study's scatter), and same-digit precision of nearest neighbours
(the "similar images, similar codes" reading; pixel space gets the same
number in the baseline stage).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from latent_atlas.analysis.parts import Part
from latent_atlas.arch import N_CLASSES
from latent_atlas.arrays import as_labels, as_matrix, check_positive_int, subsample

# Neighbours of the same-digit precision (the catalogue's precision@10).
PRECISION_K = 10


def standardized(z: np.ndarray) -> np.ndarray:
    """Each dim centred and scaled to unit sd; constant dims stay 0."""
    z = as_matrix("z", z, min_rows=2)
    sd = z.std(axis=0)
    return (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def class_geometry(z: np.ndarray, labels: np.ndarray, n_classes: int = N_CLASSES) -> dict[str, np.ndarray]:
    """Per class: spread = mean distance of its codes to their centroid; centroid distances between classes.

    On the codes as given (standardize first for scale-free numbers). A class
    without codes has spread and distances NaN.
    """
    z = as_matrix("z", z)
    y = as_labels("labels", labels, z.shape[0])
    centroids = np.full((n_classes, z.shape[1]), np.nan)
    spread = np.full(n_classes, np.nan)
    for c in range(n_classes):
        members = z[y == c]
        if len(members):
            centroids[c] = members.mean(axis=0)
            spread[c] = float(np.linalg.norm(members - centroids[c], axis=1).mean())
    distance = np.linalg.norm(centroids[:, None, :] - centroids[None, :, :], axis=2)  # (classes, classes)
    return {"class_spread": spread, "centroid_distance": distance}


def pair_separability(points: np.ndarray, labels: np.ndarray, *, k: int, seed: int,
                      n_classes: int = N_CLASSES) -> np.ndarray:
    """For every digit pair (a, b): accuracy of a kNN vote between a and b only, a seeded half voting for the
    other half (1: the two never mix; 0.5: they overlap entirely). NaN on the diagonal and for absent pairs."""
    x = as_matrix("points", points)
    y = as_labels("labels", labels, x.shape[0])
    out = np.full((n_classes, n_classes), np.nan)
    order = np.random.default_rng(seed).permutation(len(y))
    fit, score = order[: len(y) // 2], order[len(y) // 2 :]
    for a in range(n_classes):
        for b in range(a + 1, n_classes):
            f, s = fit[np.isin(y[fit], (a, b))], score[np.isin(y[score], (a, b))]
            if len(f) < 2 or not len(s) or np.unique(y[f]).size < 2:
                continue
            model = KNeighborsClassifier(n_neighbors=min(k, len(f))).fit(x[f], y[f])
            out[a, b] = out[b, a] = float(np.mean(model.predict(x[s]) == y[s]))
    return out


def precision_at_k(x: np.ndarray, labels: np.ndarray, *, k: int, max_queries: int | None, seed: int) -> float:
    """Mean share of same-label points among each query's k nearest neighbours (itself left out).

    Queries are a seeded subset of the points; neighbours come from all of them.
    """
    x = as_matrix("x", x, min_rows=2)
    y = as_labels("labels", labels, x.shape[0])
    k = check_positive_int("k", k, upper=x.shape[0] - 1)
    queries = subsample(len(y), max_queries, seed)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x[queries])
    # Drop each query's own row (the nearest at distance 0; with duplicates, whichever row is itself).
    neighbours = np.array([[j for j in row if j != q][:k] for q, row in zip(queries, idx, strict=True)])
    return float(np.mean(y[neighbours] == y[queries, None]))


def geometry_part(z: np.ndarray, labels: np.ndarray, *, k: int, max_queries: int | None, seed: int) -> Part:
    """Per-digit spread and centroid distances of the standardized codes, pair separability in dims 1-2,
    and same-digit precision of code-space neighbours."""
    geometry = class_geometry(standardized(z), labels)
    details = {key: np.where(np.isnan(v), None, v).tolist() for key, v in geometry.items()}
    if z.shape[1] >= 2:
        pairs = pair_separability(z[:, :2], labels, k=k, seed=seed)
        details["pair_knn_latent12"] = np.where(np.isnan(pairs), None, pairs).tolist()
    numbers = {"precision_at_10": precision_at_k(z, labels, k=PRECISION_K, max_queries=max_queries, seed=seed)}
    return Part(numbers, details)
