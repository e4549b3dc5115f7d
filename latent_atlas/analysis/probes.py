"""Probes: how well a simple classifier reads the digit from the codes.

Linear probes: Alain & Bengio (2016), "Understanding intermediate layers
using linear classifier probes". A k-NN vote inside a 2-D picture is the
number that goes with a scatter plot.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from latent_atlas.analysis.parts import Part
from latent_atlas.arch import N_CLASSES
from latent_atlas.arrays import as_labels, as_matrix, check_positive_int, check_seed, subsample

log = logging.getLogger(__name__)


def _probe_data(z_train, y_train, z_test, y_test):
    ztr = as_matrix("z_train", z_train)
    zte = as_matrix("z_test", z_test)
    if ztr.shape[1] != zte.shape[1]:
        raise ValueError(
            f"z_train has {ztr.shape[1]} features but z_test has {zte.shape[1]}; they must match"
        )
    ytr = as_labels("y_train", y_train, ztr.shape[0])
    yte = as_labels("y_test", y_test, zte.shape[0])
    return ztr, ytr, zte, yte


def linear_classifier(seed: int) -> Pipeline:
    """The linear probe's classifier: standardised multinomial logistic regression, at most 200 L-BFGS steps."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200, random_state=seed))


def fit_quietly(model: Pipeline, x: np.ndarray, y: np.ndarray) -> Pipeline:
    """Fit without the ConvergenceWarning: the iteration cap is deliberate (see linear_probe)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y)


def linear_probe(
    z_train, y_train, z_test, y_test, *, seed: int = 0, max_train: int | None = 10000
) -> dict[str, float]:
    """Held-out (and training) accuracy of a standardised multinomial logistic regression.

    Training is capped at `max_train` seeded samples and 200 L-BFGS steps: the
    probe measures linear decodability, and more data or iterations change
    the accuracy by well under a point while costing seconds per call. The
    training accuracy is on the rows it was fitted on (test close to it:
    nothing memorised).
    """

    ztr, ytr, zte, yte = _probe_data(z_train, y_train, z_test, y_test)
    seed = check_seed(seed)
    if max_train is not None:
        max_train = check_positive_int("max_train", max_train)
    idx = subsample(ztr.shape[0], max_train, seed)
    ztr, ytr = ztr[idx], ytr[idx]
    if np.unique(ytr).size < 2:
        raise ValueError("y_train has a single class after subsampling; a probe needs at least 2")
    model = fit_quietly(linear_classifier(seed), ztr, ytr)
    return {"test": float(np.mean(model.predict(zte) == yte)), "train": float(np.mean(model.predict(ztr) == ytr))}


def linear_probe_accuracy(
    z_train, y_train, z_test, y_test, *, seed: int = 0, max_train: int | None = 10000
) -> float:
    """Held-out accuracy of linear_probe."""
    return linear_probe(z_train, y_train, z_test, y_test, seed=seed, max_train=max_train)["test"]


def knn_predictions(
    z_train, y_train, z_test, y_test, *, k: int = 5, max_train: int | None = 10000, seed: int = 0
) -> np.ndarray:
    """Labels a Euclidean k-nearest-neighbour vote on the raw codes gives the test codes."""

    ztr, ytr, zte, _ = _probe_data(z_train, y_train, z_test, y_test)
    seed = check_seed(seed)
    if max_train is not None:
        max_train = check_positive_int("max_train", max_train)
    idx = subsample(ztr.shape[0], max_train, seed)
    k = check_positive_int("k", k, upper=idx.size)
    return KNeighborsClassifier(n_neighbors=k).fit(ztr[idx], ytr[idx]).predict(zte)


def knn_accuracy(
    z_train, y_train, z_test, y_test, *, k: int = 5, max_train: int | None = 10000, seed: int = 0
) -> float:
    """Held-out accuracy of a Euclidean k-nearest-neighbour vote on the raw codes."""
    predicted = knn_predictions(z_train, y_train, z_test, y_test, k=k, max_train=max_train, seed=seed)
    return float(np.mean(predicted == np.asarray(y_test)))


def per_class_accuracy(labels: np.ndarray, predicted: np.ndarray, n_classes: int = N_CLASSES) -> list[float | None]:
    """Accuracy on each class's samples (None for a class without samples)."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return [float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else None for c in range(n_classes)]


def view_knn_accuracy(points: np.ndarray, labels: np.ndarray, *, seed: int, k: int = 5,
                      per_class: bool = False) -> float | tuple[float, list[float | None]]:
    """How well a 2-D picture separates the digits: k-NN accuracy inside the view.

    A seeded half of the points votes for the other half. It is the number
    that goes with a scatter plot: 1 when every digit forms its own island.
    per_class: also each digit's accuracy (how consistently it is grouped).
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    half = len(order) // 2
    fit, score = order[:half], order[half:]
    predicted = knn_predictions(points[fit], labels[fit], points[score], labels[score], k=min(k, half),
                                max_train=None, seed=seed)
    accuracy = float(np.mean(predicted == labels[score]))
    return (accuracy, per_class_accuracy(labels[score], predicted)) if per_class else accuracy


def probes_part(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, *, k: int,
           max_train: int | None, seed: int) -> Part:
    """Linear and k-NN probes: fitted on training codes, scored on test codes.

    Training codes of a single digit (tiny runs on a class-sorted subset) leave
    nothing to probe: the part then reports no probe numbers, with a warning.
    """

    if np.unique(y_train).size < 2:
        log.warning("probes skipped: the training codes hold a single digit")
        return Part()
    # The probe's matrices are small (10k x d): spin-waiting BLAS threads slow
    # L-BFGS down on a shared CPU (bench/README.md, "Analyses").
    with threadpool_limits(1, user_api="blas"):
        linear = linear_probe(z_train, y_train, z_test, y_test, seed=seed, max_train=max_train)
    predicted = knn_predictions(z_train, y_train, z_test, y_test, k=k, max_train=max_train, seed=seed)
    return Part({
        "probe_linear_accuracy": linear["test"],
        "probe_linear_train_accuracy": linear["train"],
        "probe_knn_accuracy": float(np.mean(predicted == np.asarray(y_test))),
    }, {"class_knn_accuracy": per_class_accuracy(y_test, predicted)})
