"""Metrics on learned latent codes: clustering, probes, spectrum, DCI, traversals.

Arrays are (n_samples, n_features); functions take numpy arrays and return
floats, lists or dicts of them, so results go straight into JSON / MLflow.

References
----------
- Purity, NMI and ARI of k-means clusters: Manning, Raghavan & Schuetze (2008),
  "Introduction to Information Retrieval", ch. 16.3; Vinh, Epps & Bailey (2010),
  "Information Theoretic Measures for Clusterings Comparison"; Hubert & Arabie
  (1985), "Comparing partitions".
- Linear probes: Alain & Bengio (2016), "Understanding intermediate layers using
  linear classifier probes".
- Participation ratio as an effective dimension: Gao et al. (2017), "A theory of
  multineuronal dimensionality, dynamics and measurement"; Recanatesi et al.
  (2019).
- DCI (disentanglement, completeness, informativeness): Eastwood & Williams
  (2018), "A framework for the quantitative evaluation of disentangled
  representations", ICLR. The paper fits LASSO and random forests to obtain
  the importance matrix; Locatello et al. (2019), "Challenging common
  assumptions in the unsupervised learning of disentangled representations",
  use gradient-boosted trees instead. The fast importance estimator here is
  extremely randomized trees: Geurts, Ernst & Wehenkel (2006), "Extremely
  randomized trees", Machine Learning 63(1).
- t-SNE and its KL divergence: van der Maaten & Hinton (2008), "Visualizing
  data using t-SNE", JMLR 9.
- Latent traversals as a qualitative probe: Higgins et al. (2017), "beta-VAE:
  Learning basic visual concepts with a constrained variational framework".
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from latent_atlas.analysis.pca import covariance_spectrum

# Extra-trees size for DCI importances. Checked against gradient boosting
# (sklearn defaults, 100 stages): on 10k x 16 synthetic codes with 7 factors
# D and C agreed within 0.01 (~2 s vs ~57 s); on 16 PCA codes of 5,000 real
# digits with digit + 6 morphometrics, D 0.220 vs 0.239, C 0.337 vs 0.366,
# I 0.820 vs 0.819, the same top code for all 7 factors and per-factor
# Spearman rank correlation 0.91-0.99 (1.8 s vs 29 s). Extra-trees spread a
# little more importance onto weak codes, so D and C read ~0.02-0.03 lower;
# deeper trees spread more and lower them further.
FOREST_TREES = 30
FOREST_DEPTH = 10


# --------------------------------------------------------------------------- #
# argument checks
# --------------------------------------------------------------------------- #


def _as_matrix(name: str, x, min_rows: int = 1) -> np.ndarray:
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


def _as_labels(name: str, y, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the data; got {arr.shape}")
    return arr


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    return int(seed)


def _check_positive_int(name: str, value, upper: int | None = None) -> int:
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


# --------------------------------------------------------------------------- #
# clustering
# --------------------------------------------------------------------------- #


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


def kmeans_purity(latents, labels, n_clusters: int = 10, n_seeds: int = 10, seed: int = 0) -> dict:
    """k-means on the codes, repeated over seeds; purity spread plus NMI/ARI of the best run.

    Each seed runs one k-means++ initialisation (n_init=1) so the spread over
    seeds shows how much the answer depends on the initialisation rather than
    hiding it inside sklearn's best-of-n_init.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    z = _as_matrix("latents", latents)
    y = _as_labels("labels", labels, z.shape[0])
    n_clusters = _check_positive_int("n_clusters", n_clusters, upper=z.shape[0])
    n_seeds = _check_positive_int("n_seeds", n_seeds)
    seed = _check_seed(seed)

    purities, best_pred = [], None
    for i in range(n_seeds):
        pred = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed + i).fit_predict(z)
        purity = cluster_purity(y, pred)
        # Strict '>' keeps the earliest seed on ties, so the result is deterministic.
        if best_pred is None or purity > max(purities):
            best_pred = pred
        purities.append(purity)
    purities = np.asarray(purities)
    return {
        "purity_best": float(purities.max()),
        "purity_mean": float(purities.mean()),
        "purity_std": float(purities.std()),
        "nmi": float(normalized_mutual_info_score(y, best_pred)),
        "ari": float(adjusted_rand_score(y, best_pred)),
    }


# --------------------------------------------------------------------------- #
# probes
# --------------------------------------------------------------------------- #


def _probe_data(z_train, y_train, z_test, y_test):
    ztr = _as_matrix("z_train", z_train)
    zte = _as_matrix("z_test", z_test)
    if ztr.shape[1] != zte.shape[1]:
        raise ValueError(
            f"z_train has {ztr.shape[1]} features but z_test has {zte.shape[1]}; they must match"
        )
    ytr = _as_labels("y_train", y_train, ztr.shape[0])
    yte = _as_labels("y_test", y_test, zte.shape[0])
    return ztr, ytr, zte, yte


def linear_probe_accuracy(
    z_train, y_train, z_test, y_test, seed: int = 0, max_train: int | None = 10000
) -> float:
    """Held-out accuracy of a standardised multinomial logistic regression.

    Training is capped at `max_train` seeded samples and 200 L-BFGS steps: the
    probe measures linear decodability, and more data or iterations change
    the accuracy by well under a point while costing seconds per call.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    ztr, ytr, zte, yte = _probe_data(z_train, y_train, z_test, y_test)
    seed = _check_seed(seed)
    if max_train is not None:
        max_train = _check_positive_int("max_train", max_train)
    idx = subsample(ztr.shape[0], max_train, seed)
    ztr, ytr = ztr[idx], ytr[idx]
    if np.unique(ytr).size < 2:
        raise ValueError("y_train has a single class after subsampling; a probe needs at least 2")
    scaler = StandardScaler().fit(ztr)
    model = LogisticRegression(max_iter=200, random_state=seed)
    with warnings.catch_warnings():
        # The iteration cap is deliberate (see docstring); its warning is noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(ztr), ytr)
    return float(np.mean(model.predict(scaler.transform(zte)) == yte))


def knn_accuracy(
    z_train, y_train, z_test, y_test, k: int = 5, max_train: int | None = 10000, seed: int = 0
) -> float:
    """Held-out accuracy of a Euclidean k-nearest-neighbour vote on the raw codes."""
    from sklearn.neighbors import KNeighborsClassifier

    ztr, ytr, zte, yte = _probe_data(z_train, y_train, z_test, y_test)
    seed = _check_seed(seed)
    if max_train is not None:
        max_train = _check_positive_int("max_train", max_train)
    idx = subsample(ztr.shape[0], max_train, seed)
    k = _check_positive_int("k", k, upper=idx.size)
    model = KNeighborsClassifier(n_neighbors=k).fit(ztr[idx], ytr[idx])
    return float(np.mean(model.predict(zte) == yte))


# --------------------------------------------------------------------------- #
# spectrum
# --------------------------------------------------------------------------- #


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
    z = _as_matrix("latents", latents, min_rows=2)
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


# --------------------------------------------------------------------------- #
# DCI (Eastwood & Williams 2018)
# --------------------------------------------------------------------------- #


def _as_importance(name: str, r, ndim: int) -> np.ndarray:
    arr = np.asarray(r, dtype=np.float64)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative; got min {np.nanmin(arr)}")
    return arr


def dci_single_factor(importances, accuracy: float) -> dict:
    """The study's one-factor DCI shortcut (digit identity only).

    With p = importances / sum(importances): disentanglement = sum p^2 (a
    Herfindahl index: 1 if one code carries the factor, 1/d if all d codes
    share it), completeness = max p, informativeness = accuracy. All-zero
    importances mean no code was used; they are scored as the uniform spread
    (1/d each) rather than NaN.
    """
    imp = _as_importance("importances", importances, ndim=1)
    acc = float(accuracy)
    if not 0.0 <= acc <= 1.0:
        raise ValueError(f"accuracy must be in [0, 1]; got {accuracy!r}")
    total = imp.sum()
    p = imp / total if total > 0 else np.full(imp.size, 1.0 / imp.size)
    return {
        "dci_single_disentanglement": float(np.sum(p**2)),
        "dci_single_completeness": float(p.max()),
        "dci_single_informativeness": acc,
    }


def _normalised_entropy_score(r: np.ndarray) -> np.ndarray:
    """1 - H_K(row / row sum) for every row, K = number of columns.

    A row with no mass scores 0 (it says nothing about any column). With a
    single column the entropy base is degenerate; a row with mass then puts
    all of it on that one column and scores 1.
    """
    n_rows, k = r.shape
    sums = r.sum(axis=1)
    scores = np.zeros(n_rows)
    has_mass = sums > 0
    if k == 1:
        scores[has_mass] = 1.0
        return scores
    p = r[has_mass] / sums[has_mass, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(p > 0, p * np.log(p), 0.0)
    entropy = -plogp.sum(axis=1) / np.log(k)
    scores[has_mass] = np.clip(1.0 - entropy, 0.0, 1.0)
    return scores


def disentanglement_per_code(importance) -> np.ndarray:
    """D_i = 1 - H_K(P_i.) for each code i of an (n_codes, n_factors) importance matrix."""
    return _normalised_entropy_score(_as_importance("importance", importance, ndim=2))


def completeness_per_factor(importance) -> np.ndarray:
    """C_j = 1 - H_D(P_.j) for each factor j of an (n_codes, n_factors) importance matrix."""
    return _normalised_entropy_score(_as_importance("importance", importance, ndim=2).T)


def disentanglement(importance) -> float:
    """Overall D = sum_i rho_i D_i with rho_i = (row i sum) / (matrix sum).

    Codes no predictor used carry rho_i = 0 so dead units do not dilute the
    score. An all-zero matrix scores 0. With one factor (K = 1) every used
    code trivially captures only that factor, so D = 1.
    """
    r = _as_importance("importance", importance, ndim=2)
    total = r.sum()
    if total <= 0:
        return 0.0
    rho = r.sum(axis=1) / total
    # rho sums to 1 only up to round-off; keep the score inside [0, 1].
    return float(np.clip(np.sum(rho * _normalised_entropy_score(r)), 0.0, 1.0))


def completeness(importance) -> float:
    """Overall C = unweighted mean of C_j over factors (Eastwood & Williams 2018).

    A factor no code predicts pulls C down instead of vanishing: it scores
    C_j = 0 (zero importance everywhere). With one code (D = 1) a used factor
    scores C_j = 1. See `completeness_weighted` for disentanglement_lib's form.
    """
    return float(np.mean(completeness_per_factor(importance)))


def completeness_weighted(importance) -> float:
    """C weighted by factor importance, as disentanglement_lib computes it.

    C_w = sum_j w_j C_j with w_j = (column j sum) / (matrix sum). When every
    factor's importances sum to the same total (tree importances are
    normalised per factor, so each column sums to 1 unless a factor was never
    split on) it equals the unweighted mean; it differs when factors carry
    unequal importance mass, where weak factors count less. An all-zero
    matrix scores 0.
    """
    r = _as_importance("importance", importance, ndim=2)
    total = r.sum()
    if total <= 0:
        return 0.0
    weights = r.sum(axis=0) / total
    return float(np.clip(weights @ completeness_per_factor(r), 0.0, 1.0))


def _check_factor_data(z_train, factors_train, z_test, factors_test, discrete_mask):
    ztr = _as_matrix("z_train", z_train, min_rows=2)
    zte = _as_matrix("z_test", z_test)
    if ztr.shape[1] != zte.shape[1]:
        raise ValueError(
            f"z_train has {ztr.shape[1]} codes but z_test has {zte.shape[1]}; they must match"
        )
    ftr = _as_matrix("factors_train", factors_train)
    fte = _as_matrix("factors_test", factors_test)
    if ftr.shape[0] != ztr.shape[0] or fte.shape[0] != zte.shape[0]:
        raise ValueError(
            f"factor rows ({ftr.shape[0]}, {fte.shape[0]}) must match code rows "
            f"({ztr.shape[0]}, {zte.shape[0]})"
        )
    if ftr.shape[1] != fte.shape[1]:
        raise ValueError(
            f"factors_train has {ftr.shape[1]} factors but factors_test has {fte.shape[1]}"
        )
    mask = np.asarray(discrete_mask)
    if mask.shape != (ftr.shape[1],) or mask.dtype != bool:
        raise ValueError(
            f"discrete_mask must be a bool array of shape ({ftr.shape[1]},); "
            f"got dtype {mask.dtype} shape {mask.shape}"
        )
    return ztr, ftr, zte, fte, mask


def _forest(discrete: bool, seed: int, n_estimators: int, max_depth: int | None):
    from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

    n_estimators = _check_positive_int("n_estimators", n_estimators)
    if max_depth is not None:
        max_depth = _check_positive_int("max_depth", max_depth)
    # Extra-trees draw one random threshold per code instead of sorting every
    # code at every node, which made them 4-7x faster than a random forest of
    # the same size on 10k x 16 codes; their impurity importances rank codes
    # like gradient boosting (see FOREST_TREES above and the tests).
    cls = ExtraTreesClassifier if discrete else ExtraTreesRegressor
    # max_features=None lets every split consider every code, as gradient
    # boosting does; sqrt-subsampling would hand importance to useless codes
    # whenever the useful one is not drawn, flattening R and biasing D and C down.
    return cls(
        n_estimators=n_estimators,
        max_depth=max_depth,
        max_features=None,
        n_jobs=-1,
        random_state=seed,
    )


def forest_importances(
    z,
    y,
    seed: int = 0,
    discrete: bool = True,
    n_estimators: int = FOREST_TREES,
    max_depth: int | None = FOREST_DEPTH,
) -> np.ndarray:
    """Impurity importances (sum to 1) of the fast DCI estimator: shallow extra-trees."""
    zz = _as_matrix("z", z, min_rows=2)
    yy = _as_labels("y", y, zz.shape[0])
    model = _forest(discrete, _check_seed(seed), n_estimators, max_depth).fit(zz, yy)
    return np.asarray(model.feature_importances_, dtype=np.float64)


def gbt_importances(z, y, seed: int = 0, n_estimators: int = 100) -> np.ndarray:
    """Importances from sklearn's GradientBoostingClassifier (Locatello et al. 2019).

    Study-faithful but slow (~40 s per fit on 10k x 16); used only to check
    that the fast extra-trees rank codes the same way.
    """
    from sklearn.ensemble import GradientBoostingClassifier

    zz = _as_matrix("z", z, min_rows=2)
    yy = _as_labels("y", y, zz.shape[0])
    n_estimators = _check_positive_int("n_estimators", n_estimators)
    model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=_check_seed(seed))
    return np.asarray(model.fit(zz, yy).feature_importances_, dtype=np.float64)


def importance_matrix(
    z_train,
    factors_train,
    z_test,
    factors_test,
    discrete_mask,
    seed: int = 0,
    n_estimators: int = FOREST_TREES,
    max_depth: int | None = FOREST_DEPTH,
) -> tuple[np.ndarray, np.ndarray]:
    """Importance matrix R (n_codes, n_factors) and per-factor informativeness.

    One tree ensemble per factor (Eastwood & Williams 2018 used random
    forests; we use extra-trees, a faster randomised variant): a classifier for
    discrete factors, scored by held-out accuracy, and a regressor for
    continuous ones, scored by held-out R^2 clipped to [0, 1] so a predictor
    worse than the mean counts as uninformative, not negative. 30 trees of
    depth 10 on all cores cost well under a second per factor on 10k x 16
    codes, against ~40 s for one GradientBoostingClassifier.
    """
    ztr, ftr, zte, fte, mask = _check_factor_data(
        z_train, factors_train, z_test, factors_test, discrete_mask
    )
    seed = _check_seed(seed)
    n_factors = ftr.shape[1]
    r = np.zeros((ztr.shape[1], n_factors))
    info = np.zeros(n_factors)
    for j in range(n_factors):
        model = _forest(bool(mask[j]), seed + j, n_estimators, max_depth)
        model.fit(ztr, ftr[:, j])
        r[:, j] = model.feature_importances_
        # Threaded prediction sums the trees in finish order, which changes the
        # last bits run to run; one thread keeps the score reproducible.
        model.set_params(n_jobs=1)
        if mask[j]:
            info[j] = np.mean(model.predict(zte) == fte[:, j])
        else:
            info[j] = np.clip(model.score(zte, fte[:, j]), 0.0, 1.0)
    return r, info


def dci(
    z_train,
    factors_train,
    z_test,
    factors_test,
    factor_names: Sequence[str],
    discrete_mask,
    seed: int = 0,
    n_estimators: int = FOREST_TREES,
    max_depth: int | None = FOREST_DEPTH,
) -> dict:
    """Full DCI: D, C (unweighted and weighted), mean I, per-factor I and the importance matrix as nested lists."""
    names = [str(name) for name in factor_names]
    n_factors = _as_matrix("factors_train", factors_train).shape[1]
    if len(names) != n_factors:
        raise ValueError(f"factor_names has {len(names)} names for {n_factors} factors")
    if len(set(names)) != len(names):
        raise ValueError(f"factor_names must be unique; got {names}")
    r, info = importance_matrix(
        z_train, factors_train, z_test, factors_test, discrete_mask, seed, n_estimators, max_depth
    )
    out = {
        "dci_disentanglement": disentanglement(r),
        "dci_completeness": completeness(r),
        "dci_completeness_weighted": completeness_weighted(r),
        "dci_informativeness": float(info.mean()),
    }
    for name, value in zip(names, info, strict=True):
        out[f"dci_informativeness_{name}"] = float(value)
    out["importance_matrix"] = r.tolist()
    return out


# --------------------------------------------------------------------------- #
# t-SNE
# --------------------------------------------------------------------------- #


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
    from scipy import sparse

    y = _as_matrix("embedding", embedding, min_rows=2)
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


# --------------------------------------------------------------------------- #
# traversals
# --------------------------------------------------------------------------- #


def _decode_flat(decode: Callable, z: np.ndarray, batch_size: int) -> np.ndarray:
    chunks = []
    for start in range(0, z.shape[0], batch_size):
        part = np.asarray(decode(z[start : start + batch_size]), dtype=np.float64)
        n = min(batch_size, z.shape[0] - start)
        if part.shape[0] != n:
            raise ValueError(f"decode returned {part.shape[0]} images for {n} latents")
        chunks.append(part.reshape(n, -1))
    return np.concatenate(chunks, axis=0)


def _mean_pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine similarity over all pairs i != j; zero vectors count as 0."""
    n = vectors.shape[0]
    norms = np.linalg.norm(vectors, axis=1)
    used = norms > 0
    units = np.zeros_like(vectors)
    units[used] = vectors[used] / norms[used, None]
    # sum_{i != j} u_i . u_j = |sum u|^2 - sum |u_i|^2, O(n) instead of O(n^2).
    total = units.sum(axis=0)
    off_diagonal = float(total @ total) - float(np.count_nonzero(used))
    return float(np.clip(off_diagonal / (n * (n - 1)), -1.0, 1.0))


def traversal_effects(
    decode: Callable[[np.ndarray], np.ndarray],
    latents,
    values,
    dims: Sequence[int] | None = None,
    batch_size: int = 4096,
) -> dict:
    """How much, and how consistently, each latent dimension changes the image.

    For dimension j every latent has coordinate j set to each of `values` in
    turn (other coordinates kept) and decoded in float64 batches of at most
    `batch_size` rows (the caller bounds the work via `dims`). Per image we take the
    signed pixel change between consecutive traversal steps.

    - effect[j]: mean absolute pixel change per consecutive step, averaged
      over pixels, steps and images. For a linear decoder x = W z + b this is
      mean|W[:, j]| * mean|values[s+1] - values[s]|.
    - consistency[j]: mean pairwise cosine similarity across images of the
      concatenated signed step-change maps, in [-1, 1]. 1 means the dimension
      draws the same edit on every image (always 1 for a linear decoder);
      near 0 means its effect depends on the rest of the code (entangled).
      Images that do not change at all count as similarity 0, so a dead
      dimension has consistency 0.

    Consecutive steps rather than the offset from the unmodified
    reconstruction make the effect independent of where each image's own
    code sits on the traversed axis.
    """
    z = _as_matrix("latents", latents, min_rows=2)
    steps = np.asarray(values, dtype=np.float64)
    if steps.ndim != 1 or steps.size < 2 or not np.all(np.isfinite(steps)):
        raise ValueError(f"values must be a 1-D finite sequence of >= 2 numbers; got {values!r}")
    n, d = z.shape
    if dims is None:
        dims = list(range(d))
    dims = [int(j) for j in dims]
    bad = [j for j in dims if not 0 <= j < d]
    if bad:
        raise ValueError(f"dims {bad} are out of range; latents have dims 0..{d - 1}")
    batch_size = _check_positive_int("batch_size", batch_size)
    if not callable(decode):
        raise ValueError(f"decode must be callable; got {type(decode).__name__}")

    m = steps.size
    effects, consistencies = [], []
    for j in dims:
        # (n, m, d): image-major so one image's traversal is contiguous.
        grid = np.repeat(z[:, None, :], m, axis=1)
        grid[:, :, j] = steps[None, :]
        images = _decode_flat(decode, grid.reshape(n * m, d), batch_size).reshape(n, m, -1)
        change = np.diff(images, axis=1)  # (n, m-1, pixels), signed
        effects.append(float(np.mean(np.abs(change))))
        consistencies.append(_mean_pairwise_cosine(change.reshape(n, -1)))
    return {"dims": dims, "effect": effects, "consistency": consistencies}


# --------------------------------------------------------------------------- #
# noise robustness
# --------------------------------------------------------------------------- #


def noise_robustness(
    encode: Callable[[np.ndarray], np.ndarray],
    reconstruct: Callable[[np.ndarray], np.ndarray],
    images01,
    stds: Sequence[float],
    seed: int = 0,
) -> list[dict]:
    """Latent shift and reconstruction error under additive Gaussian pixel noise.

    For each std, noise N(0, std^2) is added to every pixel and the result
    clamped to [0, 1] (the valid pixel range, as a real corrupted image would
    be). One generator, seeded once, draws the noise for all stds in order.
    Returns per std: latent_shift_mean = mean_i ||z(x_i) - z(x_i + noise)||_2
    and recon_mse_noisy = mean squared error of reconstruct(noisy) against the
    clean image, in [0, 1] pixel units; input_mse is the MSE the noise itself
    adds after clamping, for scale.
    """
    x = np.asarray(images01, dtype=np.float64)
    if x.ndim != 3 or x.shape[0] < 1:
        raise ValueError(f"images01 must have shape (n, H, W); got {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"images01 must be finite and in [0, 1]; got range [{np.nanmin(x)}, {np.nanmax(x)}]"
        )
    std_list = [float(s) for s in stds]
    if not std_list or any(not np.isfinite(s) or s < 0 for s in std_list):
        raise ValueError(f"stds must be a non-empty list of finite values >= 0; got {stds!r}")
    if not callable(encode) or not callable(reconstruct):
        raise ValueError("encode and reconstruct must both be callables on numpy arrays")
    rng = np.random.default_rng(_check_seed(seed))

    n = x.shape[0]
    z_clean = np.asarray(encode(x), dtype=np.float64).reshape(n, -1)
    results = []
    for std in std_list:
        noisy = np.clip(x + rng.normal(0.0, std, size=x.shape), 0.0, 1.0)
        z_noisy = np.asarray(encode(noisy), dtype=np.float64).reshape(n, -1)
        recon = np.asarray(reconstruct(noisy), dtype=np.float64).reshape(x.shape)
        results.append(
            {
                "std": std,
                "latent_shift_mean": float(np.mean(np.linalg.norm(z_clean - z_noisy, axis=1))),
                "recon_mse_noisy": float(np.mean((recon - x) ** 2)),
                "input_mse": float(np.mean((noisy - x) ** 2)),
            }
        )
    return results
