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

from latent_atlas.io import write_with  # noqa: E402

DIGIT_CMAP = "tab10"


def save(path: str | Path, fig, dpi: int = 110) -> Path:
    """Write the figure atomically (format from the suffix) and close it."""
    def write(tmp: Path) -> None:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")

    try:
        return write_with(path, write)
    finally:
        plt.close(fig)


def scree(eigenvalues: np.ndarray, title: str, threshold: float | None = None):
    """Eigenvalues by rank; a dashed line at `threshold` (the study read "below 10").

    Spectra spanning more than three decades are drawn on a log axis, where
    the tail of a wide code is visible at all.
    """
    eig = np.asarray(eigenvalues, dtype=float)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ranks = np.arange(1, len(eig) + 1)
    ax.plot(ranks, eig, "o-", ms=3 if len(eig) > 30 else 5)
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"eigenvalue {threshold:g}")
        ax.legend()
    positive = eig[eig > 0]
    if positive.size and positive.max() > 1e3 * positive.min():
        ax.set_yscale("log")
        ax.set_ylim(bottom=positive.min() / 2)
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


def _mosaic(grid: Sequence[Sequence[np.ndarray | None]], pad: int = 2) -> np.ndarray:
    """Tile equal-sized (h, w) images into one array; NaN between cells and for empty ones.

    One imshow of a mosaic draws many times faster than one axes per image,
    which matters for grids of a hundred digits or more.
    """
    n_rows, n_cols = len(grid), max(len(row) for row in grid)
    h, w = next(np.shape(image) for row in grid for image in row if image is not None)
    out = np.full((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad), np.nan)
    for r, row in enumerate(grid):
        for c, image in enumerate(row):
            if image is not None:
                out[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = image
    return out


def _show_mosaic(ax, mosaic: np.ndarray, n_rows: int, n_cols: int, pad: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Draw a mosaic on white; return the pixel centres of its rows and columns (for tick labels)."""
    cmap = plt.get_cmap("gray").with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for side in ax.spines.values():
        side.set_visible(False)
    centres = []
    for size, n in ((mosaic.shape[0], n_rows), (mosaic.shape[1], n_cols)):
        step = (size + pad) / n  # one cell and its padding
        centres.append(np.arange(n) * step + (step - pad - 1) / 2)
    return centres[0], centres[1]


def image_rows(rows: Sequence[np.ndarray], row_names: Sequence[str], title: str):
    """Rows of (n, 28, 28) images in [0,1], e.g. originals over reconstructions."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, ax = plt.subplots(figsize=(n_cols * 0.9 + 1.0, n_rows * 0.95 + 0.4))
    row_centres, _ = _show_mosaic(ax, _mosaic([list(images) for images in rows]), n_rows, n_cols)
    ax.set_xticks([])
    ax.set_yticks(row_centres, row_names, fontsize=8)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=10)
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


def scatter_pair(left: np.ndarray, right: np.ndarray, labels: np.ndarray, titles: Sequence[str], title: str,
                 axis_names=("PC 1", "PC 2")):
    """Two (n, 2) views of the same points side by side on shared axes (e.g. clean vs noisy)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True, sharey=True)
    for ax, points, name in zip(axes, (left, right), titles, strict=True):
        sc = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap=DIGIT_CMAP, s=3, alpha=0.7, vmin=-0.5, vmax=9.5)
        ax.set(xlabel=axis_names[0], ylabel=axis_names[1], title=name)
    fig.colorbar(sc, ax=list(axes), ticks=range(10), label="digit")
    fig.suptitle(title, fontsize=10)
    return fig


def noise_curves(stds: Sequence[float], latent_shift: Sequence[float], recon_mse: Sequence[float],
                 input_mse: Sequence[float], title: str):
    """Latent shift and reconstruction error against the noise std (log axis)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(stds, latent_shift, "o-")
    left.set(xscale="log", xlabel="noise std", ylabel="mean ||z(x) - z(x+noise)||", title="latent shift")
    right.plot(stds, recon_mse, "o-", label="reconstruction of the noisy input vs clean")
    right.plot(stds, input_mse, "s--", color="gray", label="noisy input vs clean")
    right.set(xscale="log", xlabel="noise std", ylabel="MSE [0,1]", title="reconstruction error")
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def traversal_grid(images: np.ndarray, row_names: Sequence[str], values: Sequence[float], source: np.ndarray,
                   title: str):
    """(rows, steps, 28, 28) decoded images: one row per latent dim, one column per value.

    The first column holds the encoded test image itself, for reference.
    """
    n_rows, n_cols = images.shape[:2]
    grid = [[source if r == 0 else None, *images[r]] for r in range(n_rows)]
    fig, ax = plt.subplots(figsize=((n_cols + 1) * 0.75 + 0.8, n_rows * 0.75 + 0.7))
    row_centres, col_centres = _show_mosaic(ax, _mosaic(grid), n_rows, n_cols + 1)
    ax.set_xticks(col_centres, ["input", *(f"{v:.2g}" for v in values)], fontsize=7)
    ax.xaxis.tick_top()
    # Row names on the right: the input column sits where left labels would go.
    ax.yaxis.tick_right()
    ax.set_yticks(row_centres, row_names, fontsize=7)
    ax.tick_params(length=0)
    ax.set_title(title, fontsize=9, pad=14)
    return fig


def effect_bars(dims: Sequence[int], effect: Sequence[float], consistency: Sequence[float], title: str):
    """Per latent dim: how much a traversal changes the image, and how alike across images."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(5.0, 0.12 * len(dims) + 2), 4.5), sharex=True)
    x = np.arange(len(dims))
    top.bar(x, effect, color="tab:blue")
    top.set(ylabel="mean |pixel change|\nper step")
    bottom.bar(x, consistency, color="tab:orange")
    bottom.set(ylabel="consistency\n(mean cosine)", xlabel="latent dim", ylim=(min(0.0, min(consistency)), 1))
    step = max(1, len(dims) // 16)
    bottom.set_xticks(x[::step], [str(d) for d in dims][::step], fontsize=7)
    for ax in (top, bottom):
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def importance_heatmap(matrix: np.ndarray, row_names: Sequence[str], col_names: Sequence[str], title: str):
    """(codes, factors) importances, e.g. DCI's R: which code predicts which factor."""
    r = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(1.0 * len(col_names) + 2.5, 0.22 * len(row_names) + 1.5))
    im = ax.imshow(r, aspect="auto", cmap="viridis", vmin=0)
    ax.set_xticks(range(len(col_names)), col_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(row_names)), row_names, fontsize=7)
    ax.set(xlabel="factor", ylabel="latent code", title=title)
    fig.colorbar(im, ax=ax, label="importance")
    return fig


def mse_vs_latent(baseline: dict[int, float], models: Sequence[tuple[str, int, float]],
                  sweep: Sequence[tuple[int, float]], title: str):
    """Test MSE against latent size: the PCA curve, the sweep's line, each model as a point."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ks = sorted(baseline)
    ax.plot(ks, [baseline[k] for k in ks], "k--o", ms=4, label="PCA (linear baseline)")
    if sweep:
        ax.plot([s[0] for s in sweep], [s[1] for s in sweep], "-", color="tab:gray", lw=1.5, alpha=0.7,
                label="vanilla AE sweep")
    markers = "osD^v<>pPX*h"
    for i, (name, latent, mse) in enumerate(models):
        ax.scatter([latent], [mse], s=45, marker=markers[i % len(markers)], label=f"{name} (z={latent})",
                   zorder=3)
    ax.set(xscale="log", yscale="log", xlabel="latent size", ylabel="test MSE [0,1]", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


def spectra(eigenvalues: dict[str, Sequence[float]], title: str, threshold: float | None = None):
    """Several latent spectra on one log axis."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, eig in eigenvalues.items():
        eig = np.asarray(eig, dtype=float)
        ax.plot(np.arange(1, len(eig) + 1), np.clip(eig, 1e-12, None), "o-", ms=4, label=name)
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"eigenvalue {threshold:g}")
    ax.set(yscale="log", xlabel="component", ylabel="eigenvalue", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def curves(series: dict[str, tuple[Sequence[float], Sequence[float]]], title: str, xlabel: str, ylabel: str,
           logx: bool = False):
    """One line per name: (x, y) pairs, e.g. each variant's error against noise."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (x, y) in series.items():
        ax.plot(x, y, "o-", ms=3, label=name)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return fig


def unit_bars(values: dict[str, Sequence[float]], threshold: float | None, title: str):
    """One bar panel per quantity, one bar per code unit; a dashed line at `threshold` on the last panel."""
    fig, axes = plt.subplots(len(values), 1, figsize=(max(5.0, 0.25 * len(next(iter(values.values()))) + 2),
                                                      2.2 * len(values) + 0.6), sharex=True, squeeze=False)
    for ax, (name, v) in zip(axes[:, 0], values.items(), strict=True):
        ax.bar(np.arange(len(v)), v, color="tab:blue")
        ax.set(ylabel=name)
        ax.grid(alpha=0.3, axis="y")
    if threshold is not None:
        axes[-1, 0].axhline(threshold, color="tab:red", ls="--", lw=1, label=f"{threshold:g}")
        axes[-1, 0].legend(fontsize=7)
    axes[-1, 0].set(xlabel="code unit")
    axes[-1, 0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
