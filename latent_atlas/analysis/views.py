"""The plain pictures of a variant: reconstructions, loss curves, 2-D views of the codes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latent_atlas.analysis import plots
from latent_atlas.analysis.parts import Drawing, Part
from latent_atlas.analysis.pca import pca_directions
from latent_atlas.analysis.probes import per_class_accuracy, view_knn_accuracy


def classification_accuracy(log_probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(log_probs.argmax(axis=1) == labels))


def confusion_counts(log_probs: np.ndarray, labels: np.ndarray) -> list[list[int]]:
    """counts[actual][predicted] of the classifier head's predictions, every class of its output."""
    n_classes = log_probs.shape[1]
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(labels, dtype=np.int64), log_probs.argmax(axis=1)), 1)
    return counts.tolist()


def head_part(log_probs: np.ndarray, labels: np.ndarray) -> Part:
    """The classifier head on the test codes: accuracy, per digit, and its confusion counts."""
    return Part({"accuracy": classification_accuracy(log_probs, labels)},
                {"class_head_accuracy": per_class_accuracy(labels, log_probs.argmax(axis=1)),
                 "confusion": confusion_counts(log_probs, labels)})


def reconstructions_part(images01: np.ndarray, recon01: np.ndarray) -> Part:
    """Originals over reconstructions (the number is the variant's test MSE)."""
    return Part(drawings={"reconstructions.png": Drawing(
        plots.image_rows, "test digits", {"rows": [images01, recon01], "row_names": ["original", "reconstruction"]})})


def loss_part(history: Sequence[dict]) -> Part:
    """Loss per epoch (train, and validation where the recipe has one) and the final values."""
    if not history:
        return Part()
    last = history[-1]
    numbers = {f"final_{key}": float(last[key]) for key in ("train_loss", "val_loss") if key in last}
    return Part(numbers, drawings={"loss.png": Drawing(plots.loss_curves, "loss per epoch", {"history": history})})


def latent_views_part(z: np.ndarray, y: np.ndarray, seed: int) -> Part:
    """The first two latent dims, and the codes' top two principal components, coloured by digit."""
    if z.shape[1] < 2:
        return Part()
    mean, directions, eigenvalues = pca_directions(z, 2)
    projected = (z - mean) @ directions  # (n, 2)
    total = eigenvalues.sum()
    pca2, per_digit = view_knn_accuracy(projected, y, seed=seed, per_class=True)
    numbers = {
        "view_knn_latent12": view_knn_accuracy(z[:, :2], y, seed=seed),
        "view_knn_pca2": pca2,
        "pca2_explained": float(eigenvalues[:2].sum() / total) if total > 0 else 0.0,
    }
    drawings = {
        "latent_scatter.png": Drawing(plots.scatter_2d, "latent dims 1 and 2",
                                      {"points": z[:, :2], "labels": y, "axis_names": ("z1", "z2")}),
        "latent_pca.png": Drawing(plots.scatter_2d, f"latent PCA ({numbers['pca2_explained']:.0%} of the variance)",
                                  {"points": projected, "labels": y, "axis_names": ("PC 1", "PC 2")}),
    }
    return Part(numbers, {"class_view_knn_pca2": per_digit}, drawings)
