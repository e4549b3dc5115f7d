"""DCI: disentanglement, completeness and informativeness (Eastwood & Williams 2018).

Eastwood & Williams (2018), "A framework for the quantitative evaluation of
disentangled representations", ICLR, fit LASSO and random forests to obtain
the importance matrix; Locatello et al. (2019), "Challenging common
assumptions in the unsupervised learning of disentangled representations",
use gradient-boosted trees instead. The fast importance estimator here is
extremely randomized trees: Geurts, Ernst & Wehenkel (2006), "Extremely
randomized trees", Machine Learning 63(1). The study's own single-factor
shortcut (D = sum p^2, C = max p) is `dci_single_factor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
)

from latent_atlas.analysis import plots
from latent_atlas.analysis.digit_readout import digit_readout
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.arrays import as_labels, as_matrix, check_positive_int, check_seed
from latent_atlas.config import DCIParams
from latent_atlas.data.factors import Factors, factor_table

# Extra-trees size for DCI importances: they rank codes as gradient boosting
# does at a fifteenth of its cost (bench/README.md, "DCI importances").
FOREST_TREES = 30

FOREST_DEPTH = 10


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
    ztr = as_matrix("z_train", z_train, min_rows=2)
    zte = as_matrix("z_test", z_test)
    if ztr.shape[1] != zte.shape[1]:
        raise ValueError(
            f"z_train has {ztr.shape[1]} codes but z_test has {zte.shape[1]}; they must match"
        )
    ftr = as_matrix("factors_train", factors_train)
    fte = as_matrix("factors_test", factors_test)
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


def tree_ensemble(*, discrete: bool, seed: int, n_estimators: int = FOREST_TREES, max_depth: int | None = FOREST_DEPTH):

    n_estimators = check_positive_int("n_estimators", n_estimators)
    if max_depth is not None:
        max_depth = check_positive_int("max_depth", max_depth)
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
    *,
    seed: int = 0,
    discrete: bool = True,
    n_estimators: int = FOREST_TREES,
    max_depth: int | None = FOREST_DEPTH,
) -> np.ndarray:
    """Impurity importances (sum to 1) of the fast DCI estimator: shallow extra-trees."""
    zz = as_matrix("z", z, min_rows=2)
    yy = as_labels("y", y, zz.shape[0])
    model = tree_ensemble(discrete=discrete, seed=check_seed(seed), n_estimators=n_estimators,
                    max_depth=max_depth).fit(zz, yy)
    return np.asarray(model.feature_importances_, dtype=np.float64)


def gbt_importances(z, y, *, seed: int = 0, n_estimators: int = 100) -> np.ndarray:
    """Importances from sklearn's GradientBoostingClassifier (Locatello et al. 2019).

    Study-faithful but slow (~40 s per fit on 10k x 16); used only to check
    that the fast extra-trees rank codes the same way.
    """

    zz = as_matrix("z", z, min_rows=2)
    yy = as_labels("y", y, zz.shape[0])
    n_estimators = check_positive_int("n_estimators", n_estimators)
    model = GradientBoostingClassifier(n_estimators=n_estimators, random_state=check_seed(seed))
    return np.asarray(model.fit(zz, yy).feature_importances_, dtype=np.float64)


def importance_matrix(
    z_train,
    factors_train,
    z_test,
    factors_test,
    *,
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
    seed = check_seed(seed)
    n_factors = ftr.shape[1]
    r = np.zeros((ztr.shape[1], n_factors))
    info = np.zeros(n_factors)
    for j in range(n_factors):
        model = tree_ensemble(discrete=bool(mask[j]), seed=seed + j, n_estimators=n_estimators, max_depth=max_depth)
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
    *,
    factor_names: Sequence[str],
    discrete_mask,
    seed: int = 0,
    n_estimators: int = FOREST_TREES,
    max_depth: int | None = FOREST_DEPTH,
) -> dict:
    """Full DCI: D, C (unweighted and weighted), mean I, per-factor I and the importance matrix as nested lists."""
    names = [str(name) for name in factor_names]
    n_factors = as_matrix("factors_train", factors_train).shape[1]
    if len(names) != n_factors:
        raise ValueError(f"factor_names has {len(names)} names for {n_factors} factors")
    if len(set(names)) != len(names):
        raise ValueError(f"factor_names must be unique; got {names}")
    r, info = importance_matrix(
        z_train, factors_train, z_test, factors_test, discrete_mask=discrete_mask, seed=seed,
        n_estimators=n_estimators, max_depth=max_depth,
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



# The DCI heatmap shows at most this many codes (the most important ones).
HEATMAP_MAX_CODES = 32


def dci_part(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray,
        factors: Factors | None, cfg: DCIParams, *, seed: int) -> Part:
    """DCI: Eastwood & Williams' full metric and the study's single-factor shortcut.

    One tree ensemble per factor (digit, and the six morphometrics of
    `factors` when there are any), fitted on `cfg.n_train` training codes
    and scored on the test codes (held-out informativeness). Every variant
    fits on the same seeded training rows, whatever its latent size, so D,
    C and I compare across variants. The study's single-factor numbers
    read the digit column of the same fit: D = sum p^2 and C = max p of its
    normalised importances, I = its held-out accuracy (the study scored on
    the rows it fitted, which a 256-dim code memorises).
    """
    table = factor_table(factors, y_train, y_test, n_train=cfg.n_train, seed=seed)
    train_rows, f_train, f_test, names, discrete = (table.train_rows, table.train, table.test, list(table.names),
                                                     table.discrete)
    full = dci(z_train[train_rows], f_train.astype(np.float64), z_test, f_test.astype(np.float64),
               factor_names=names, discrete_mask=discrete, seed=seed)
    importance = np.asarray(full.pop("importance_matrix"))  # (d, factors)
    numbers: dict[str, Any] = {
        **dci_single_factor(importance[:, 0], full["dci_informativeness_digit"]),
        **digit_readout(z_train[train_rows], y_train[train_rows], z_test, y_test, seed=seed,
                        forest=lambda s: tree_ensemble(discrete=True, seed=s)),
        "dci_n_train": len(train_rows),
    }
    details: dict[str, Any] = {"dci_single_importances": importance[:, 0].tolist()}
    if factors is None:
        return Part(numbers, details)

    numbers.update(full)
    details.update(dci_importance_matrix=importance.tolist(), dci_factors=names)
    d = importance.shape[0]
    codes = np.arange(d)
    if d > HEATMAP_MAX_CODES:
        codes = np.sort(np.argsort(-importance.sum(axis=1), kind="stable")[:HEATMAP_MAX_CODES])
    shown = "" if len(codes) == d else f" (top {len(codes)} of {d} codes)"
    title = (f"DCI importances{shown}, {len(train_rows):,} training rows\nD {full['dci_disentanglement']:.2f}, "
             f"C {full['dci_completeness']:.2f}, I {full['dci_informativeness']:.2f}")
    return Part(numbers, details, {"dci_importance.png": Drawing(
        plots.importance_heatmap, title,
        {"matrix": importance[codes], "row_names": [f"z{j}" for j in codes], "col_names": names})})
