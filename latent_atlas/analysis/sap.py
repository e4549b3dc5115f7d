"""SAP, the separated attribute predictability (Kumar et al. 2018), exactly as disentanglement_lib computes it.

Kumar, Sattigeri & Balakrishnan (2018), "Variational inference of disentangled
latent concepts from unlabeled observations", ICLR; the estimator of
disentanglement_lib (evaluation/metrics/sap_score.py): a score for every
(code, factor) pair from that one code alone, then for each factor the gap
between its two best codes, averaged over factors.

- A discrete factor (the digit): the test accuracy of a linear SVM
  (LinearSVC, C = 0.01, balanced class weights) fitted on the one code.
- A continuous factor (a morphometric): the squared correlation of the code
  and the factor on the training rows, 0 for a constant code.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from latent_atlas.analysis.parts import Part
from latent_atlas.arrays import as_matrix
from latent_atlas.config import SAPParams
from latent_atlas.data.factors import FactorTable

# disentanglement_lib's threshold below which a code counts as constant.
MIN_CODE_VARIANCE = 1e-12


def squared_correlation(code: np.ndarray, factor: np.ndarray) -> float:
    """cov(code, factor)^2 / (var code * var factor), ddof 1; 0 when the code (or the factor) is constant."""
    c = np.cov(code, factor, ddof=1)
    if c[0, 0] <= MIN_CODE_VARIANCE or c[1, 1] <= 0:
        return 0.0
    return float(c[0, 1] ** 2 / (c[0, 0] * c[1, 1]))


def svm_accuracy(code_train: np.ndarray, labels_train: np.ndarray, code_test: np.ndarray,
                 labels_test: np.ndarray) -> float:
    """Test accuracy of disentanglement_lib's LinearSVC(C=0.01, class_weight="balanced") on one code."""
    classifier = LinearSVC(C=0.01, class_weight="balanced")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # disentanglement_lib keeps liblinear's default
        classifier.fit(code_train[:, None], labels_train)
    return float(np.mean(classifier.predict(code_test[:, None]) == labels_test))


def score_matrix(z_train, f_train, z_test, f_test, *, discrete_mask) -> np.ndarray:
    """(n_codes, n_factors): how well each code alone predicts each factor."""
    ztr, zte = as_matrix("z_train", z_train, min_rows=2), as_matrix("z_test", z_test)
    ftr, fte = as_matrix("f_train", f_train, min_rows=2), as_matrix("f_test", f_test)
    if ztr.shape[1] != zte.shape[1] or ftr.shape[1] != fte.shape[1]:
        raise ValueError(f"train and test widths differ: codes {ztr.shape[1]} vs {zte.shape[1]}, "
                         f"factors {ftr.shape[1]} vs {fte.shape[1]}")
    if len(ztr) != len(ftr) or len(zte) != len(fte):
        raise ValueError(f"code rows ({len(ztr)}, {len(zte)}) must match factor rows ({len(ftr)}, {len(fte)})")
    mask = np.asarray(discrete_mask, dtype=bool)
    if mask.shape != (ftr.shape[1],):
        raise ValueError(f"discrete_mask must have shape ({ftr.shape[1]},); got {mask.shape}")
    scores = np.zeros((ztr.shape[1], ftr.shape[1]))
    for i in range(ztr.shape[1]):
        for j in range(ftr.shape[1]):
            if mask[j]:
                scores[i, j] = svm_accuracy(ztr[:, i], ftr[:, j], zte[:, i], fte[:, j])
            else:
                scores[i, j] = squared_correlation(ztr[:, i], ftr[:, j])
    return scores


def top_two_gap(scores: np.ndarray) -> np.ndarray:
    """Per factor (column): best minus second-best score; with one code, the best score."""
    ranked = np.sort(np.asarray(scores, dtype=np.float64), axis=0)
    return ranked[-1] - (ranked[-2] if len(ranked) > 1 else 0.0)


def sap_part(z_train: np.ndarray, z_test: np.ndarray, table: FactorTable, cfg: SAPParams) -> Part:
    """SAP over the digit and the morphometrics: fitted on the table's training rows, scored on the test set."""
    scores = score_matrix(z_train[table.train_rows], table.train, z_test, table.test, discrete_mask=table.discrete)
    gaps = top_two_gap(scores)
    metrics = {"sap": float(np.mean(gaps)),
               **{f"sap_{name}": float(g) for name, g in zip(table.names, gaps, strict=True)},
               "sap_n_train": len(table.train_rows)}
    return Part(metrics, {"sap_scores": scores.tolist(), "sap_factors": list(table.names)})
