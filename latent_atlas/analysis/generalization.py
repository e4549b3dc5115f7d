"""Train against test: the generalization gap of the reconstruction (and of the head), and the code's size.

The gap is read from errors the extract stage already measured on every
training and test image (recon_error_train/test), so it costs nothing here.
A variant with a validation split counts its validation images among the
training ones: they come from the training set.
"""

from __future__ import annotations

import numpy as np

from latent_atlas.analysis.parts import Part
from latent_atlas.arch import N_PIXELS


def generalization_gap(train_errors: np.ndarray, test_errors: np.ndarray) -> dict[str, float]:
    """Mean per-image error on each split; gap = test - train, and relative to the test error."""
    train, test = float(np.mean(train_errors)), float(np.mean(test_errors))
    if not (np.isfinite(train) and np.isfinite(test)):
        raise ValueError(f"errors must be finite; got train mean {train}, test mean {test}")
    return {"train_mse": train, "generalization_gap": test - train,
            "generalization_gap_rel": (test - train) / test if test > 0 else 0.0}


def compression_ratio(latent_dim: int, n_inputs: int = N_PIXELS) -> float:
    """1 - code size / input size: the studies' "reduction" (784 -> 3 is 99.6%)."""
    if not latent_dim >= 1:
        raise ValueError(f"latent_dim must be positive; got {latent_dim}")
    return 1.0 - latent_dim / n_inputs


def generalization_part(recon_error_train: np.ndarray | None, recon_error_test: np.ndarray, z_test: np.ndarray,
                        log_probs_train: np.ndarray | None = None, y_train: np.ndarray | None = None,
                        log_probs_test: np.ndarray | None = None, y_test: np.ndarray | None = None) -> Part:
    """Train/test reconstruction gap, the head's train/test accuracy gap, compression and the code's range."""
    numbers: dict[str, float] = {
        "compression_ratio": compression_ratio(z_test.shape[1]),
        # Non-negative for a ReLU encoder (the spatial conv recipe); the sd sets a traversal range in context.
        "code_min": float(z_test.min()),
        "code_std_mean": float(z_test.std(axis=0).mean()),
    }
    if recon_error_train is not None:
        numbers.update(generalization_gap(recon_error_train, recon_error_test))
    if log_probs_train is not None and log_probs_test is not None:
        train_acc = float(np.mean(log_probs_train.argmax(axis=1) == y_train))
        test_acc = float(np.mean(log_probs_test.argmax(axis=1) == y_test))
        numbers.update(train_accuracy=train_acc, accuracy_gap=train_acc - test_acc)
    return Part(numbers)
