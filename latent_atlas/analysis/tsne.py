"""t-SNE of the codes to 2-D, seeded, and its exact KL divergence.

t-SNE: van der Maaten & Hinton (2008), "Visualizing data using t-SNE", JMLR 9;
openTSNE: Policar, Strazar & Zupan (2024).
"""

from __future__ import annotations

import numpy as np
from openTSNE import TSNE
from openTSNE.affinity import PerplexityBasedNN
from openTSNE.initialization import pca
from scipy import sparse
from sklearn.metrics import silhouette_score

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.analysis.pca import pca_directions
from latent_atlas.analysis.probes import view_knn_accuracy
from latent_atlas.arrays import as_matrix, subsample
from latent_atlas.config import TSNEParams

# t-SNE's neighbour search and gradient scale with the input width; wider
# codes are first reduced to this many principal components (the usual
# practice, e.g. van der Maaten & Hinton 2008 reduced to 30-50 dims first).
TSNE_MAX_DIMS = 50

# Points the t-SNE silhouette is computed on (its cost is quadratic).
SILHOUETTE_POINTS = 2000

# t-SNE's first iterations pull clusters apart with exaggerated attraction
# (van der Maaten & Hinton 2008); 250 is both libraries' default.
EARLY_EXAGGERATION_ITER = 250




def tsne_kl_divergence(affinities, embedding, chunk: int = 256) -> float:
    """KL(P || Q) of a 2-D t-SNE embedding, computed exactly (van der Maaten & Hinton 2008).

    P is the sparse, symmetric joint affinity matrix (sums to 1) the
    embedding was fitted to; Q is the Student-t similarity of the embedded
    points, q_ij = (1 + |y_i - y_j|^2)^-1 / Z with Z summed over all pairs
    i != j. Libraries report their own approximations (Barnes-Hut or FFT),
    which differ between libraries and, summed by threads, between runs;
    this one is the same number for any embedding of the same P, in O(n^2)
    time and O(chunk * n) memory.
    """

    y = as_matrix("embedding", embedding, min_rows=2)
    n = y.shape[0]
    if not sparse.issparse(affinities) or affinities.shape != (n, n):
        raise ValueError(f"affinities must be a sparse ({n}, {n}) matrix; got {type(affinities).__name__} "
                         f"of shape {getattr(affinities, 'shape', None)}")
    p = sparse.coo_matrix(affinities)
    keep = (p.data > 0) & (p.row != p.col)
    rows, cols, values = p.row[keep], p.col[keep], p.data[keep]
    if values.size == 0 or not np.isclose(values.sum(), 1.0, atol=1e-6):
        raise ValueError(f"affinities must hold positive off-diagonal values summing to 1; got sum {values.sum()}")
    z = 0.0
    for start in range(0, n, chunk):
        block = y[start : start + chunk]
        d2 = np.sum((block[:, None, :] - y[None, :, :]) ** 2, axis=2)  # (chunk, n)
        z += float(np.sum(1.0 / (1.0 + d2))) - len(block)  # the diagonal adds 1 per row
    w = 1.0 / (1.0 + np.sum((y[rows] - y[cols]) ** 2, axis=1))
    return float(np.sum(values * np.log(values * z / w)))




def tsne_embedding(x: np.ndarray, cfg: TSNEParams, seed: int, n_jobs: int) -> tuple[np.ndarray, float]:
    """Seeded 2-D t-SNE of (n, d) points and the exact KL divergence of the result.

    openTSNE (Policar, Strazar & Zupan 2024) with Barnes-Hut gradients at
    every size: at MNIST's 10,000 test points, where the library would switch
    to FFT-interpolated gradients (Linderman et al. 2019), Barnes-Hut was
    faster and reached a lower KL (bench/README.md, "t-SNE"). Neighbours are
    exact (the approximate index builds its trees in threads, in no fixed
    order) and the PCA start is seeded, so the embedding is byte-identical
    across runs and thread counts. The KL is recomputed exactly
    (tsne_kl_divergence) because the library sums its own estimate across
    threads in finish order.
    """

    # The neighbour graph holds 3 * perplexity points; keep it below n on tiny runs.
    perplexity = float(min(cfg.perplexity, max(1.0, (len(x) - 1) / 3)))
    affinities = PerplexityBasedNN(x, perplexity=perplexity, method="exact", n_jobs=n_jobs, random_state=seed)
    tsne = TSNE(early_exaggeration_iter=EARLY_EXAGGERATION_ITER, n_iter=cfg.max_iter - EARLY_EXAGGERATION_ITER,
                negative_gradient_method="bh", n_jobs=n_jobs, random_state=seed)
    embedded = np.asarray(tsne.fit(affinities=affinities, initialization=pca(x, random_state=seed)))  # (n, 2)
    return embedded, tsne_kl_divergence(affinities.P, embedded)


def tsne_part(z: np.ndarray, y: np.ndarray, cfg: TSNEParams, seed: int, n_jobs: int = 1) -> Part:
    """t-SNE of (a seeded subset of) the codes to 2-D, coloured by digit."""
    idx = subsample(len(z), cfg.max_points, seed)
    x = z[idx].astype(np.float64)
    if x.shape[1] > TSNE_MAX_DIMS:
        mean, directions, _ = pca_directions(x, TSNE_MAX_DIMS)
        x = (x - mean) @ directions  # (n, 50)
    embedded, kl = tsne_embedding(x, cfg, seed, n_jobs)
    numbers = {
        "tsne_points": len(idx),
        "tsne_kl_divergence": kl,
        "view_knn_tsne": view_knn_accuracy(embedded, y[idx], seed=seed),
    }
    if 2 <= len(np.unique(y[idx])) < len(idx):
        # Silhouette by digit inside the picture (1: tight, separate islands), on a seeded sample of points.
        numbers["tsne_silhouette"] = float(silhouette_score(embedded, y[idx], sample_size=min(len(idx), SILHOUETTE_POINTS),
                                                            random_state=seed))
    return Part(numbers, drawings={"latent_tsne.png": Drawing(
        plots.scatter_2d, f"t-SNE of {len(idx):,} test codes",
        {"points": embedded, "labels": y[idx], "axis_names": ("t-SNE 1", "t-SNE 2")})})
