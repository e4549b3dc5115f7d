"""Figures: each function takes arrays and returns a matplotlib Figure.

Saving is separate (`save`, atomic) so figures can be tested or logged
without touching the disk twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI; chosen before pyplot loads

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from latent_atlas.io import write_figure  # noqa: E402

DIGIT_CMAP = "tab10"


def save(path: str | Path, fig) -> Path:
    return write_figure(path, fig)


def scree(eigenvalues: np.ndarray, title: str):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ranks = np.arange(1, len(eigenvalues) + 1)
    ax.plot(ranks, eigenvalues, "o-")
    ax.set(xlabel="component", ylabel="eigenvalue", title=title)
    ax.set_xticks(ranks if len(ranks) <= 20 else ranks[:: max(1, len(ranks) // 10)])
    ax.grid(alpha=0.3)
    return fig


def scatter_2d(points: np.ndarray, labels: np.ndarray, title: str, axis_names=("dim 1", "dim 2")):
    """(n, 2) points coloured by digit."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=DIGIT_CMAP, s=3, alpha=0.7, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1], title=title)
    return fig


def image_rows(rows: Sequence[np.ndarray], row_names: Sequence[str], title: str):
    """Rows of (n, 28, 28) images in [0,1], e.g. originals over reconstructions."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(n_cols * 0.9, n_rows * 0.95 + 0.4), squeeze=False)
    for r, (images, name) in enumerate(zip(rows, row_names, strict=True)):
        for c in range(n_cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(images):
                ax.imshow(images[c], cmap="gray", vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def loss_curves(history: Sequence[dict], title: str):
    fig, ax = plt.subplots(figsize=(5, 3.5))
    epochs = [row["epoch"] for row in history]
    for key in ("train_loss", "val_loss"):
        if key in history[0]:
            ax.plot(epochs, [row[key] for row in history], "o-", label=key.replace("_", " "))
    ax.set(xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig
