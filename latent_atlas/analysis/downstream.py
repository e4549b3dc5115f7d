"""Downstream efficiency: study 001's "dimensionality reduction ... improving efficiency of downstream tasks".

The same classifier (the linear probe's: standardised logistic regression)
is fitted on the same seeded training rows twice, once on a variant's codes
and once on the raw 784 pixels, and scored on the test images: its accuracy,
and its fit time (the median of a few fits, on one BLAS thread as the probes
run). The fit time is a measurement of this machine: it goes to the metrics,
never into a test.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from latent_atlas.analysis.parts import Part
from latent_atlas.analysis.probes import fit_quietly, linear_classifier
from latent_atlas.arrays import as_labels, as_matrix, check_positive_int, subsample


def timed_fit(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, *, seed: int,
              repeats: int = 1) -> dict[str, float]:
    """Test accuracy of the linear classifier fitted on (x_train, y_train), and the median fit time in seconds."""
    x_train, x_test = as_matrix("x_train", x_train), as_matrix("x_test", x_test)
    y_train, y_test = as_labels("y_train", y_train, len(x_train)), as_labels("y_test", y_test, len(x_test))
    seconds = []
    with threadpool_limits(1, user_api="blas"):
        for _ in range(check_positive_int("repeats", repeats)):
            start = time.perf_counter()
            model = fit_quietly(linear_classifier(seed), x_train, y_train)
            seconds.append(time.perf_counter() - start)
    return {"accuracy": float(np.mean(model.predict(x_test) == y_test)), "fit_seconds": statistics.median(seconds),
            "features": int(x_train.shape[1])}


def downstream_part(pixels: tuple[np.ndarray, np.ndarray], codes: dict[str, tuple[np.ndarray, np.ndarray]],
                    y_train: np.ndarray, y_test: np.ndarray, *, max_train: int | None, seed: int,
                    repeats: int) -> Part:
    """pixels and each variant's codes as (train rows, test rows) of the same images; the same seeded
    training subset for all. Each variant also gets its accuracy's difference from the pixels'."""
    idx = subsample(len(y_train), max_train, seed)
    on_pixels = timed_fit(pixels[0][idx], y_train[idx], pixels[1], y_test, seed=seed, repeats=repeats)
    metrics: dict = {"n_train": len(idx), "n_test": len(y_test), "pixels": on_pixels, "codes": {}}
    for name, (z_train, z_test) in codes.items():
        found = timed_fit(z_train[idx], y_train[idx], z_test, y_test, seed=seed, repeats=repeats)
        found["accuracy_vs_pixels"] = found["accuracy"] - on_pixels["accuracy"]
        metrics["codes"][name] = found
    return Part(metrics)
