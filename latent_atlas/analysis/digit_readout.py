"""How the digit is read from the codes: trees against a linear model, and how far to trust the trees.

Three numbers beside DCI, on the rows its digit ensemble is fitted on:
- a logistic regression on the same rows, scored on the test codes (do the
  non-linear trees read more than a linear model? study 004's claim);
- the ensemble's accuracy on the rows it was fitted on: the study's I, which
  it scored in-sample (CLAIMS.md Note E), beside the held-out one DCI gives;
- the rank agreement of the digit importances fitted on two disjoint halves
  of the rows (stable importances "show which dims carry the digit").
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from latent_atlas.analysis.ranks import spearman


def linear_accuracy(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, *,
                    seed: int) -> float:
    """Held-out accuracy of a standardized logistic regression (200 L-BFGS steps, as the probes)."""
    scaler = StandardScaler().fit(z_train)
    model = LogisticRegression(max_iter=200, random_state=seed)
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # the step cap is deliberate
        model.fit(scaler.transform(z_train), y_train)
    return float(np.mean(model.predict(scaler.transform(z_test)) == y_test))


def digit_readout(z_rows: np.ndarray, y_rows: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, *, seed: int,
                  forest: Callable[[int], object]) -> dict[str, float]:
    """dci_linear_informativeness_digit, dci_single_informativeness_in_sample, dci_importance_stability.

    forest(seed) returns an unfitted classifier (DCI's digit ensemble). Rows
    with a single digit leave nothing to read: an empty dict.
    """
    if np.unique(y_rows).size < 2:
        return {}
    model = forest(seed).fit(z_rows, y_rows)
    # Threaded prediction sums the trees in finish order (see dci.importance_matrix): one thread, same bits.
    model.set_params(n_jobs=1)
    out = {"dci_linear_informativeness_digit": linear_accuracy(z_rows, y_rows, z_test, y_test, seed=seed),
           "dci_single_informativeness_in_sample": float(np.mean(model.predict(z_rows) == y_rows))}
    order = np.random.default_rng(seed).permutation(len(y_rows))
    halves = order[: len(order) // 2], order[len(order) // 2 :]
    if z_rows.shape[1] >= 2 and all(np.unique(y_rows[h]).size >= 2 for h in halves):
        importances = [forest(seed).fit(z_rows[h], y_rows[h]).feature_importances_ for h in halves]
        out["dci_importance_stability"] = spearman(*importances)
    return out
