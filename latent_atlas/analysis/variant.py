"""The analysis of one variant's latent space (SPEC section 3), each picture with a number.

Every analysis is a pure function from arrays to a `Part`: `metrics` holds
scalar headline numbers (they go to metrics/analyze/<variant>.json, which DVC
compares across experiments), `details` the lists behind them (eigenvalues,
per-noise-level and per-dim values, the DCI importance matrix), which go to
the sibling metrics/analyze/<variant>.details.json (a plain output, not a DVC
metric, so `dvc exp show` stays readable), and `drawings` what to draw: a
plots function and its data per figure file. `draw` turns drawings into PNGs
in one thin step, so tests check the numbers and the figures come for free.

`analyze_arrays` runs every part on in-memory inputs (bench/analysis_speed.py
calls it too); `analyze_variant` reads the pipeline's files and calls it. The
maths is in latent_atlas.analysis.metrics, the drawing in latent_atlas.analysis.plots. Outputs
hold no timings, so identical inputs give byte-identical metrics files and
DVC reruns nothing downstream for nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latent_atlas import paths
from latent_atlas.analysis import metrics as M
from latent_atlas.analysis import plots
from latent_atlas.analysis.baseline import Factors, load_factors
from latent_atlas.analysis.metrics import subsample
from latent_atlas.analysis.pca import covariance_spectrum
from latent_atlas.config import (
    AnalyzeParams,
    DCIParams,
    NoiseParams,
    Params,
    TraversalParams,
    TSNEParams,
)
from latent_atlas.data.mnist import TEST, load_arrays
from latent_atlas.errors import DamagedFileError
from latent_atlas.io import read_npz
from latent_atlas.models.autoencoders import load_checkpoint
from latent_atlas.models.inference import decoder_fn, encoder_fn
from latent_atlas.models.training import resolve_device

log = logging.getLogger(__name__)

LATENT_KEYS = ("z_test", "y_test", "recon_error_test", "z_train", "y_train")
HEADLINE = ("test_mse", "accuracy", "purity_best", "probe_linear_accuracy", "participation_ratio",
            "dci_disentanglement")
# t-SNE's neighbour search and gradient scale with the input width; wider
# codes are first reduced to this many principal components (the usual
# practice, e.g. van der Maaten & Hinton 2008 reduced to 30-50 dims first).
TSNE_MAX_DIMS = 50
# t-SNE's first iterations pull clusters apart with exaggerated attraction
# (van der Maaten & Hinton 2008); 250 is both libraries' default.
EARLY_EXAGGERATION_ITER = 250
# The DCI heatmap shows at most this many codes (the most important ones).
HEATMAP_MAX_CODES = 32


def available_cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Drawing:
    """One figure to draw: a latent_atlas.analysis.plots function, its data, and a title.

    The variant's name is put before the title when it is drawn, so the
    computations need not know which variant they look at.
    """

    plot: Callable[..., Any]
    title: str
    data: dict[str, Any]

    def render(self, name: str):
        return self.plot(**self.data, title=f"{name}: {self.title}")


@dataclass(frozen=True)
class Part:
    """What one analysis returns: scalar metrics, list-valued details, figures to draw (by file name)."""

    metrics: dict[str, float | int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    drawings: dict[str, Drawing] = field(default_factory=dict)


@dataclass
class VariantInputs:
    """Everything the analyses read, in memory: latents, test images, the model as two functions."""

    name: str
    z_test: np.ndarray  # (n, d)
    y_test: np.ndarray  # (n,)
    z_train: np.ndarray  # (m, d)
    y_train: np.ndarray  # (m,)
    images_test: np.ndarray  # (n, 28, 28) uint8
    recon_error_test: np.ndarray  # (n,) per-image MSE in [0,1] units
    encode: Callable[[np.ndarray], np.ndarray]  # (k, 28, 28) in [0,1] -> (k, d)
    decode: Callable[[np.ndarray], np.ndarray]  # (k, d) -> (k, 28, 28) in [0,1]
    history: list[dict] = field(default_factory=list)
    factors: Factors | None = None
    log_probs_test: np.ndarray | None = None


@dataclass
class AnalysisResult:
    metrics: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    # Wall time per part: printed by the stage and the bench, never written to
    # the outputs (a timing would make identical runs differ).
    seconds: dict[str, float] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def headline(self) -> dict[str, float]:
        return {k: float(self.metrics[k]) for k in HEADLINE if k in self.metrics}


def draw(drawings: Mapping[str, Drawing], name: str, out_dir: Path) -> list[Path]:
    """Render and save every drawing as out_dir/<file name>; the thin step after the maths."""
    return [plots.save(out_dir / filename, drawing.render(name)) for filename, drawing in drawings.items()]


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #


def classification_accuracy(log_probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(log_probs.argmax(axis=1) == labels))


def top_variance_dims(z: np.ndarray, k: int) -> list[int]:
    """All dims when there are at most k, else the k highest-variance ones (highest first)."""
    if z.shape[1] <= k:
        return list(range(z.shape[1]))
    return [int(j) for j in np.argsort(-z.var(axis=0), kind="stable")[:k]]


def pca_directions(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, top-k principal directions (d, k) and all eigenvalues (descending) of the codes."""
    s = covariance_spectrum(z)
    return s.mean, s.vectors[:, :k], s.eigenvalues


def view_knn_accuracy(points: np.ndarray, labels: np.ndarray, seed: int, k: int = 5) -> float:
    """How well a 2-D picture separates the digits: k-NN accuracy inside the view.

    A seeded half of the points votes for the other half. It is the number
    that goes with a scatter plot: 1 when every digit forms its own island.
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    half = len(order) // 2
    fit, score = order[:half], order[half:]
    return M.knn_accuracy(points[fit], labels[fit], points[score], labels[score], k=min(k, half),
                          max_train=None, seed=seed)


# --------------------------------------------------------------------------- #
# one pure function per analysis
# --------------------------------------------------------------------------- #


def reconstructions(images01: np.ndarray, recon01: np.ndarray) -> Part:
    """Originals over reconstructions (the number is the variant's test MSE)."""
    return Part(drawings={"reconstructions.png": Drawing(
        plots.image_rows, "test digits", {"rows": [images01, recon01], "row_names": ["original", "reconstruction"]})})


def loss_history(history: Sequence[dict]) -> Part:
    """Loss per epoch (train, and validation where the recipe has one) and the final values."""
    if not history:
        return Part()
    last = history[-1]
    numbers = {f"final_{key}": float(last[key]) for key in ("train_loss", "val_loss") if key in last}
    return Part(numbers, drawings={"loss.png": Drawing(plots.loss_curves, "loss per epoch", {"history": history})})


def latent_views(z: np.ndarray, y: np.ndarray, seed: int) -> Part:
    """The first two latent dims, and the codes' top two principal components, coloured by digit."""
    if z.shape[1] < 2:
        return Part()
    mean, directions, eigenvalues = pca_directions(z, 2)
    projected = (z - mean) @ directions  # (n, 2)
    total = eigenvalues.sum()
    numbers = {
        "view_knn_latent12": view_knn_accuracy(z[:, :2], y, seed),
        "view_knn_pca2": view_knn_accuracy(projected, y, seed),
        "pca2_explained": float(eigenvalues[:2].sum() / total) if total > 0 else 0.0,
    }
    drawings = {
        "latent_scatter.png": Drawing(plots.scatter_2d, "latent dims 1 and 2",
                                      {"points": z[:, :2], "labels": y, "axis_names": ("z1", "z2")}),
        "latent_pca.png": Drawing(plots.scatter_2d, f"latent PCA ({numbers['pca2_explained']:.0%} of the variance)",
                                  {"points": projected, "labels": y, "axis_names": ("PC 1", "PC 2")}),
    }
    return Part(numbers, drawings=drawings)


def tsne_embedding(x: np.ndarray, cfg: TSNEParams, seed: int, n_jobs: int) -> tuple[np.ndarray, float]:
    """Seeded 2-D t-SNE of (n, d) points and the exact KL divergence of the result.

    openTSNE (Policar, Strazar & Zupan 2024) with Barnes-Hut gradients at
    every size. The library's own rule switches to FFT-interpolated ones
    (Linderman et al. 2019) at 10,000 points, the size of MNIST's test set;
    there, on the test images' top 16 principal components, Barnes-Hut took
    29.7 s against 43.6 s on 2 threads and reached a lower KL (1.712 against
    1.729); FFT's cost is its grid, which grows with the embedding's spread,
    and a coarser grid (ints_in_interval=2) took 11.5 s but raised the KL
    to 1.824. scikit-learn's Barnes-Hut reached 1.768 with 1000 iterations
    (bench/analysis_speed.py --only tsne). Neighbours are exact (the
    approximate index builds its trees in threads, in no fixed order) and the
    PCA start is seeded: the embedding came out byte-identical in fresh
    processes on 1 and 2 threads, at 1,000 and 10,000 points. The KL is
    recomputed exactly (metrics.tsne_kl_divergence) because the library sums
    its own estimate across threads in finish order.
    """
    from openTSNE import TSNE
    from openTSNE.affinity import PerplexityBasedNN
    from openTSNE.initialization import pca

    # The neighbour graph holds 3 * perplexity points; keep it below n on tiny runs.
    perplexity = float(min(cfg.perplexity, max(1.0, (len(x) - 1) / 3)))
    affinities = PerplexityBasedNN(x, perplexity=perplexity, method="exact", n_jobs=n_jobs, random_state=seed)
    tsne = TSNE(early_exaggeration_iter=EARLY_EXAGGERATION_ITER, n_iter=cfg.max_iter - EARLY_EXAGGERATION_ITER,
                negative_gradient_method="bh", n_jobs=n_jobs, random_state=seed)
    embedded = np.asarray(tsne.fit(affinities=affinities, initialization=pca(x, random_state=seed)))  # (n, 2)
    return embedded, M.tsne_kl_divergence(affinities.P, embedded)


def tsne_view(z: np.ndarray, y: np.ndarray, cfg: TSNEParams, seed: int, n_jobs: int = 1) -> Part:
    """t-SNE of (a seeded subset of) the codes to 2-D, coloured by digit."""
    idx = subsample(len(z), cfg.max_points, seed)
    x = z[idx].astype(np.float64)
    if x.shape[1] > TSNE_MAX_DIMS:
        mean, directions, _ = pca_directions(x, TSNE_MAX_DIMS)
        x = (x - mean) @ directions  # (n, 50)
    embedded, kl = tsne_embedding(x, cfg, seed, n_jobs)
    numbers = {
        "tsne_points": len(idx),
        "tsne_kl_divergence": kl,
        "view_knn_tsne": view_knn_accuracy(embedded, y[idx], seed),
    }
    return Part(numbers, drawings={"latent_tsne.png": Drawing(
        plots.scatter_2d, f"t-SNE of {len(idx):,} test codes",
        {"points": embedded, "labels": y[idx], "axis_names": ("t-SNE 1", "t-SNE 2")})})


def clustering(z: np.ndarray, y: np.ndarray, n_seeds: int, seed: int) -> Part:
    """k-means (10 clusters) purity over seeds, NMI and ARI of the best run."""
    return Part(M.kmeans_purity(z, y, n_clusters=10, n_seeds=n_seeds, seed=seed))


def probes(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, *, k: int,
           max_train: int | None, seed: int) -> Part:
    """Linear and k-NN probes: fitted on training codes, scored on test codes.

    Training codes of a single digit (tiny runs on a class-sorted subset) leave
    nothing to probe: the part then reports no probe numbers, with a warning.
    """
    from threadpoolctl import threadpool_limits

    if np.unique(y_train).size < 2:
        log.warning("probes skipped: the training codes hold a single digit")
        return Part()
    # The probe's matrices are small (10k x d); two BLAS threads that spin-wait
    # made L-BFGS 5x slower than one on a shared 2-core CPU (34 s vs 6 s, d=256).
    with threadpool_limits(1, user_api="blas"):
        linear = M.linear_probe_accuracy(z_train, y_train, z_test, y_test, seed=seed, max_train=max_train)
    return Part({
        "probe_linear_accuracy": linear,
        "probe_knn_accuracy": M.knn_accuracy(z_train, y_train, z_test, y_test, k=k, max_train=max_train,
                                             seed=seed),
    })


def spectrum(z: np.ndarray, threshold: float) -> Part:
    """Eigenvalues of the code covariance (scree), effective dimension, the study's count."""
    s = M.spectrum(z)
    eig = np.asarray(s["eigenvalues"])
    numbers = {
        "participation_ratio": s["participation_ratio"],
        "dims_90": s["dims_90"],
        "dims_95": s["dims_95"],
        "eigenvalues_above_threshold": int(np.sum(eig > threshold)),
        "eigenvalue_max": float(eig[0]),
    }
    details = {"eigenvalues": s["eigenvalues"], "explained_ratio": s["explained_ratio"],
               "eigen_threshold": float(threshold)}
    drawings = {"scree.png": Drawing(
        plots.scree, f"latent covariance spectrum (PR {s['participation_ratio']:.1f})",
        {"eigenvalues": eig, "threshold": threshold})}
    return Part(numbers, details, drawings)


def robustness(encode: Callable, decode: Callable, images01: np.ndarray, labels: np.ndarray, cfg: NoiseParams,
               *, seed: int, n_show: int = 10) -> Part:
    """Latent shift and reconstruction error under Gaussian pixel noise, and what it looks like.

    Scalars are at `cfg.view_std`; latent_shift_rel divides the shift by the
    mean distance of the clean codes to their centre, so variants whose
    codes live on different scales compare.
    """
    idx = subsample(len(images01), cfg.max_images, seed)
    x, y = images01[idx], labels[idx]
    rows = M.noise_robustness(encode, lambda a: decode(encode(a)), x, cfg.stds, seed=seed)
    at_view = next(r for r in rows if np.isclose(r["std"], cfg.view_std))
    z_clean = np.asarray(encode(x), dtype=np.float64).reshape(len(x), -1)
    spread = float(np.mean(np.linalg.norm(z_clean - z_clean.mean(axis=0), axis=1)))
    numbers = {
        "noise_latent_shift": at_view["latent_shift_mean"],
        "noise_latent_shift_rel": at_view["latent_shift_mean"] / spread if spread > 0 else 0.0,
        "noise_recon_mse": at_view["recon_mse_noisy"],
        "noise_images": len(idx),
    }
    details = {
        "noise_std": [r["std"] for r in rows],
        "noise_latent_shift": [r["latent_shift_mean"] for r in rows],
        "noise_recon_mse": [r["recon_mse_noisy"] for r in rows],
        "noise_input_mse": [r["input_mse"] for r in rows],
        "noise_view_std": float(cfg.view_std),
        "noise_latent_spread": spread,
    }
    drawings = {"noise_robustness.png": Drawing(
        plots.noise_curves, f"Gaussian pixel noise, {len(idx):,} test images",
        {"stds": details["noise_std"], "latent_shift": details["noise_latent_shift"],
         "recon_mse": details["noise_recon_mse"], "input_mse": details["noise_input_mse"]})}

    # The same images once more at view_std, for the pictures (own generator:
    # the curves above stay the same whatever is drawn here).
    rng = np.random.default_rng(seed + 1)
    noisy = np.clip(x + rng.normal(0.0, cfg.view_std, size=x.shape), 0.0, 1.0)
    z_noisy = np.asarray(encode(noisy), dtype=np.float64).reshape(len(x), -1)
    if z_clean.shape[1] >= 2:
        mean, directions, _ = pca_directions(z_clean, 2)  # fitted on the clean codes only
        drawings["noise_view.png"] = Drawing(
            plots.scatter_pair, "codes before and after noise (PCA fitted on the clean codes)",
            {"left": (z_clean - mean) @ directions, "right": (z_noisy - mean) @ directions, "labels": y,
             "titles": ["clean", f"noise std {cfg.view_std:g}"]})
    shown = slice(0, min(n_show, len(x)))
    drawings["noise_reconstructions.png"] = Drawing(
        plots.image_rows, f"noise std {cfg.view_std:g}",
        {"rows": [x[shown], noisy[shown], decode(z_clean[shown]), decode(z_noisy[shown])],
         "row_names": ["clean", "noisy", "recon clean", "recon noisy"]})
    return Part(numbers, details, drawings)


def traversal_grid(decode: Callable, code: np.ndarray, dims: Sequence[int], values: np.ndarray) -> np.ndarray:
    """Decoded images with code[j] set to each value, one row per dim j: (len(dims), len(values), 28, 28)."""
    d = code.shape[0]
    codes = np.repeat(code[None, None, :], len(values), axis=1).repeat(len(dims), axis=0)  # (rows, steps, d)
    for row, j in enumerate(dims):
        codes[row, :, j] = values
    return np.asarray(decode(codes.reshape(-1, d))).reshape(len(dims), len(values), 28, 28)


def traversals(decode: Callable, z: np.ndarray, images01: np.ndarray, labels: np.ndarray, cfg: TraversalParams,
               *, seed: int) -> Part:
    """Latent traversal grids of chosen test images, and every dim's effect and its consistency.

    A grid row sets one latent coordinate of the image's code to each value
    in [-range, range] and decodes. Codes wider than `cfg.max_rows` show
    their highest-variance dims; effects are measured over `cfg.n_images`
    seeded test codes for at most `cfg.max_dims` dims (again the
    highest-variance ones).
    """
    values = np.linspace(-cfg.range, cfg.range, cfg.steps)
    n, d = z.shape
    grid_dims = top_variance_dims(z, cfg.max_rows)
    capped = "" if len(grid_dims) == d else f", the {len(grid_dims)} highest-variance of {d} dims"
    drawings, drawn = {}, []
    for i in cfg.images:
        if i >= n:
            log.warning("traversal image %d skipped: the test set has %d images", i, n)
            continue
        drawings[f"traversal_{i}.png"] = Drawing(
            plots.traversal_grid, f"traversal of test image {i} (digit {labels[i]}){capped}",
            {"images": traversal_grid(decode, z[i], grid_dims, values), "row_names": [f"z{j}" for j in grid_dims],
             "values": values, "source": images01[i]})
        drawn.append(int(i))

    effect_dims = sorted(top_variance_dims(z, cfg.max_dims))
    sample = subsample(n, cfg.n_images, seed)
    eff = M.traversal_effects(decode, z[sample], values, dims=effect_dims)
    effect, consistency = np.asarray(eff["effect"]), np.asarray(eff["consistency"])
    numbers = {
        "traversal_effect_mean": float(effect.mean()),
        "traversal_consistency_mean": float(consistency.mean()),
        # Dead dims have consistency 0 by definition; weighting by effect asks
        # how consistent the dims that do something are.
        "traversal_consistency_weighted": float(effect @ consistency / effect.sum()) if effect.sum() > 0 else 0.0,
        "traversal_n_dims": len(effect_dims),
        "traversal_n_images": len(sample),
    }
    details = {"traversal_dims": eff["dims"], "traversal_effect": eff["effect"],
               "traversal_consistency": eff["consistency"], "traversal_values": values.tolist(),
               "traversal_images": drawn, "traversal_grid_dims": grid_dims}
    drawings["traversal_effects.png"] = Drawing(
        plots.effect_bars, f"traversal effect per dim over {len(sample)} test images",
        {"dims": eff["dims"], "effect": eff["effect"], "consistency": eff["consistency"]})
    return Part(numbers, details, drawings)


def dci(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray,
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
    if factors is None:
        train_rows = subsample(len(z_train), cfg.n_train, seed)
        f_train, f_test, names = y_train[train_rows, None], y_test[:, None], ["digit"]
    else:
        if len(factors.test) != len(z_test) or factors.train_index.max(initial=-1) >= len(z_train):
            raise DamagedFileError(f"{paths.FACTORS}: the factors ({len(factors.test)} test rows, training rows up to "
                             f"{factors.train_index.max(initial=-1)}) do not match the latents "
                             f"({len(z_test)} test, {len(z_train)} train); rerun the baseline stage")
        rows = subsample(len(factors.train_index), cfg.n_train, seed)
        train_rows = factors.train_index[rows]
        f_train = np.column_stack([y_train[train_rows], factors.train[rows]])
        f_test = np.column_stack([y_test, factors.test])
        names = ["digit", *factors.names]
    discrete = np.array([True] + [False] * (len(names) - 1))
    full = M.dci(z_train[train_rows], f_train.astype(np.float64), z_test, f_test.astype(np.float64), names,
                 discrete, seed=seed)
    importance = np.asarray(full.pop("importance_matrix"))  # (d, factors)
    numbers: dict[str, Any] = {
        **M.dci_single_factor(importance[:, 0], full["dci_informativeness_digit"]),
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


# --------------------------------------------------------------------------- #
# orchestration
# --------------------------------------------------------------------------- #


def analyze_arrays(inputs: VariantInputs, cfg: AnalyzeParams, seed: int, out_dir: Path,
                   n_jobs: int | None = None) -> AnalysisResult:
    """Run every analysis on one variant's in-memory inputs, then draw; time each step.

    `n_jobs` threads for t-SNE (default: every available core).
    """
    z, y = inputs.z_test, inputs.y_test
    images01 = inputs.images_test.astype(np.float32) / 255.0
    n_jobs = n_jobs or available_cores()
    metrics: dict[str, Any] = {
        "latent_dim": int(z.shape[1]),
        "n_test": int(len(y)),
        "test_mse": float(inputs.recon_error_test.mean()),
    }
    if inputs.log_probs_test is not None:
        metrics["accuracy"] = classification_accuracy(inputs.log_probs_test, y)

    shown = images01[: cfg.n_recon]
    parts: dict[str, Callable[[], Part]] = {
        "reconstructions": lambda: reconstructions(shown, inputs.decode(inputs.encode(shown))),
        "loss": lambda: loss_history(inputs.history),
        "latent_views": lambda: latent_views(z, y, seed),
        "tsne": lambda: tsne_view(z, y, cfg.tsne, seed, n_jobs),
        "clustering": lambda: clustering(z, y, cfg.kmeans_seeds, seed),
        "probes": lambda: probes(inputs.z_train, inputs.y_train, z, y, k=cfg.knn_k, max_train=cfg.probe_max_train,
                                 seed=seed),
        "spectrum": lambda: spectrum(z, cfg.eigen_threshold),
        "robustness": lambda: robustness(inputs.encode, inputs.decode, images01, y, cfg.noise, seed=seed,
                                         n_show=cfg.n_recon),
        "traversals": lambda: traversals(inputs.decode, z, images01, y, cfg.traversal, seed=seed),
        "dci": lambda: dci(inputs.z_train, inputs.y_train, z, y, inputs.factors, cfg.dci, seed=seed),
    }
    result = AnalysisResult(metrics)
    drawings: dict[str, Drawing] = {}
    for part_name, run in parts.items():
        start = time.perf_counter()
        part = run()
        result.seconds[part_name] = time.perf_counter() - start
        result.metrics.update(part.metrics)
        result.details.update(part.details)
        drawings.update(part.drawings)
    start = time.perf_counter()
    result.figures = draw(drawings, inputs.name, out_dir)
    result.seconds["drawing"] = time.perf_counter() - start
    return result


def load_inputs(name: str, params: Params) -> tuple[VariantInputs, Any]:
    """The variant's checkpoint, latents and test images, and the shared factors."""
    ckpt = load_checkpoint(paths.checkpoint(name))
    lat = read_npz(paths.latents(name), required=LATENT_KEYS)
    images, labels = load_arrays(paths.MNIST).subset(TEST)
    if not np.array_equal(labels, lat["y_test"]):
        raise DamagedFileError(f"{paths.latents(name)} does not match {paths.MNIST}; rerun extract ({name})")
    model, device = ckpt.build(), resolve_device(params.train.device)
    model = model.to(device)
    inputs = VariantInputs(
        name=name, z_test=lat["z_test"], y_test=lat["y_test"], z_train=lat["z_train"], y_train=lat["y_train"],
        images_test=images, recon_error_test=lat["recon_error_test"],
        encode=encoder_fn(model, ckpt.input_range, device), decode=decoder_fn(model, ckpt.input_range, device),
        history=list(ckpt.history), factors=load_factors(paths.FACTORS), log_probs_test=lat.get("log_probs_test"),
    )
    return inputs, ckpt


def analyze_variant(name: str, params: Params) -> AnalysisResult:
    inputs, ckpt = load_inputs(name, params)
    result = analyze_arrays(inputs, params.analyze, params.seed, paths.plots(name))
    result.metrics["n_params"] = int(ckpt.params["n_params"])
    return result
