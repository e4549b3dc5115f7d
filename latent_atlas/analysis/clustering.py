"""k-means clusters of the codes against the digit labels: purity, NMI, ARI.

Purity, NMI and ARI: Manning, Raghavan & Schuetze (2008), "Introduction to
Information Retrieval", ch. 16.3; Vinh, Epps & Bailey (2010), "Information
Theoretic Measures for Clusterings Comparison"; Hubert & Arabie (1985),
"Comparing partitions".
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from latent_atlas.analysis.parts import Part
from latent_atlas.arch import N_CLASSES
from latent_atlas.arrays import as_labels, as_matrix, check_positive_int, check_seed


def cluster_purity(labels_true, labels_pred) -> float:
    """Fraction of samples that carry their cluster's majority true label.

    purity = (1/n) * sum_k max_c |cluster_k intersect class_c|.
    """
    y_true = np.asarray(labels_true)
    y_pred = np.asarray(labels_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"labels_true and labels_pred must be 1-D of equal length; got {y_true.shape} and {y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError("labels are empty; purity needs at least one sample")
    _, t = np.unique(y_true, return_inverse=True)
    _, p = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(counts, (p, t), 1)
    return float(counts.max(axis=1).sum() / y_true.size)


def kmeans_purity(latents, labels, *, n_clusters: int = 10, n_seeds: int = 10, seed: int = 0) -> dict:
    """k-means on the codes, repeated over seeds; purity spread plus NMI/ARI of the best run.

    Each seed runs one k-means++ initialisation (n_init=1) so the spread over
    seeds shows how much the answer depends on the initialisation rather than
    hiding it inside sklearn's best-of-n_init.
    """

    z = as_matrix("latents", latents)
    y = as_labels("labels", labels, z.shape[0])
    n_clusters = check_positive_int("n_clusters", n_clusters, upper=z.shape[0])
    n_seeds = check_positive_int("n_seeds", n_seeds)
    seed = check_seed(seed)

    purities, best_pred = [], None
    for i in range(n_seeds):
        pred = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed + i).fit_predict(z)
        purity = cluster_purity(y, pred)
        # Strict '>' keeps the earliest seed on ties, so the result is deterministic.
        if best_pred is None or purity > max(purities):
            best_pred = pred
        purities.append(purity)
    purities = np.asarray(purities)
    shuffled = np.random.default_rng(seed).permutation(y)
    return {
        "purity_best": float(purities.max()),
        "purity_mean": float(purities.mean()),
        "purity_std": float(purities.std()),
        "nmi": float(normalized_mutual_info_score(y, best_pred)),
        "ari": float(adjusted_rand_score(y, best_pred)),
        # The same clusters against labels shuffled (seeded): what purity is when codes know nothing of digits.
        "purity_shuffled": cluster_purity(shuffled, best_pred),
        "class_purity": class_purity(y, best_pred),
    }


def class_purity(labels_true, labels_pred) -> list[float | None]:
    """Per true class: the share of its samples in clusters whose majority is that class (None if absent)."""
    y, pred = np.asarray(labels_true), np.asarray(labels_pred)
    majority = {}
    for c in np.unique(pred):
        values, counts = np.unique(y[pred == c], return_counts=True)
        majority[c] = values[np.argmax(counts)]
    in_own = np.array([majority[p] == t for t, p in zip(y, pred, strict=True)])
    return [float(in_own[y == c].mean()) if np.any(y == c) else None for c in range(N_CLASSES)]




def clustering_part(z: np.ndarray, y: np.ndarray, n_seeds: int, seed: int) -> Part:
    """k-means (10 clusters) purity over seeds, NMI and ARI of the best run, per-digit purity in details."""
    found = kmeans_purity(z, y, n_clusters=10, n_seeds=n_seeds, seed=seed)
    return Part({k: v for k, v in found.items() if k != "class_purity"}, {"class_purity": found["class_purity"]})
