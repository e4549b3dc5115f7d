"""The analysis of one variant's latent space (SPEC section 3), each picture with a number.

Every analysis is a small function from arrays to a `Part`: `metrics` holds
scalar headline numbers (they go to metrics/analyze/<variant>.json, which DVC
and MLflow compare across experiments), `figures` the PNGs it saved, and
`details` the lists behind them (eigenvalues, per-noise-level and per-dim
values, the DCI importance matrix), which go to the sibling
metrics/analyze/<variant>.details.json: a plain output, not a DVC metric, so
`dvc exp show` stays readable. `analyze_arrays` runs every part on in-memory
inputs and times each (bench/analysis_speed.py calls it too);
`analyze_variant` reads the pipeline's files and calls it. The maths is in
latent_atlas.metrics, the drawing in latent_atlas.plots.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from latent_atlas import metrics as M
from latent_atlas import paths, plots
from latent_atlas.baseline import FACTORS, Factors, load_factors
from latent_atlas.config import AnalyzeParams, Params
from latent_atlas.data import TEST, load_arrays
from latent_atlas.inference import decoder_fn, encoder_fn
from latent_atlas.io import read_npz
from latent_atlas.models import load_checkpoint
from latent_atlas.training import resolve_device

log = logging.getLogger(__name__)

LATENT_KEYS = ("z_test", "y_test", "recon_error_test", "z_train", "y_train")
HEADLINE = ("test_mse", "accuracy", "purity_best", "probe_linear_accuracy", "participation_ratio",
            "dci_disentanglement")
# t-SNE's neighbour search and gradient scale with the input width; wider
# codes are first reduced to this many principal components (the usual
# practice, e.g. van der Maaten & Hinton 2008 reduced to 30-50 dims first).
TSNE_MAX_DIMS = 50
# The DCI heatmap shows at most this many codes (the most important ones).
HEATMAP_MAX_CODES = 32


def details_path(variant: str) -> Path:
    """Lists behind the metrics: beside the metrics file, not declared as a DVC metric."""
    return paths.analysis(variant).with_suffix(".details.json")


class Part(NamedTuple):
    """What one analysis returns: scalar metrics, saved figures, list-valued details."""

    metrics: dict[str, float | int]
    figures: list[Path]
    details: dict[str, Any] = {}


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
    figures: list[Path] = field(default_factory=list)
    run_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def headline(self) -> dict[str, float]:
        return {k: float(self.metrics[k]) for k in HEADLINE if k in self.metrics}


# --------------------------------------------------------------------------- #
# small helpers
# --------------------------------------------------------------------------- #


def classification_accuracy(log_probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(log_probs.argmax(axis=1) == labels))


def subsample(n: int, max_n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of range(n) of size min(n, max_n); all when max_n is None."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_n, replace=False))


def top_variance_dims(z: np.ndarray, k: int) -> list[int]:
    """All dims when there are at most k, else the k highest-variance ones (highest first)."""
    if z.shape[1] <= k:
        return list(range(z.shape[1]))
    return [int(j) for j in np.argsort(-z.var(axis=0), kind="stable")[:k]]


def pca_directions(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, top-k principal directions (d, k) and all eigenvalues (descending) of the codes."""
    mean = z.mean(axis=0)
    centred = z - mean
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / max(len(z) - 1, 1))  # ascending
    order = np.argsort(eigenvalues)[::-1]
    return mean, vectors[:, order[:k]], np.clip(eigenvalues[order], 0.0, None)


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
# one function per analysis
# --------------------------------------------------------------------------- #


def reconstructions(images01: np.ndarray, recon01: np.ndarray, name: str, out_dir: Path) -> Part:
    """Originals over reconstructions (the number is the variant's test MSE)."""
    fig = plots.image_rows([images01, recon01], ["original", "reconstruction"], f"{name}: test digits")
    return Part({}, [plots.save(out_dir / "reconstructions.png", fig)])


def loss_history(history: Sequence[dict], name: str, out_dir: Path) -> Part:
    """Loss per epoch (train, and validation where the recipe has one) and the final values."""
    if not history:
        return Part({}, [])
    last = history[-1]
    numbers = {f"final_{key}": float(last[key]) for key in ("train_loss", "val_loss") if key in last}
    fig = plots.loss_curves(history, f"{name}: loss per epoch")
    return Part(numbers, [plots.save(out_dir / "loss.png", fig)])


def latent_views(z: np.ndarray, y: np.ndarray, name: str, out_dir: Path, seed: int) -> Part:
    """The first two latent dims, and the codes' top two principal components, coloured by digit."""
    if z.shape[1] < 2:
        return Part({}, [])
    mean, directions, eigenvalues = pca_directions(z, 2)
    projected = (z - mean) @ directions  # (n, 2)
    total = eigenvalues.sum()
    numbers = {
        "view_knn_latent12": view_knn_accuracy(z[:, :2], y, seed),
        "view_knn_pca2": view_knn_accuracy(projected, y, seed),
        "pca2_explained": float(eigenvalues[:2].sum() / total) if total > 0 else 0.0,
    }
    figures = [
        plots.save(out_dir / "latent_scatter.png", plots.scatter_2d(
            z[:, :2], y, f"{name}: latent dims 1 and 2", ("z1", "z2"))),
        plots.save(out_dir / "latent_pca.png", plots.scatter_2d(
            projected, y, f"{name}: latent PCA ({numbers['pca2_explained']:.0%} of the variance)",
            ("PC 1", "PC 2"))),
    ]
    return Part(numbers, figures)


def tsne_view(z: np.ndarray, y: np.ndarray, name: str, out_dir: Path, seed: int,
              max_points: int | None = None, perplexity: float = 30.0, max_iter: int = 1000) -> Part:
    """Seeded t-SNE of (a seeded subset of) the codes to 2-D, coloured by digit."""
    from sklearn.manifold import TSNE

    idx = subsample(len(z), max_points, seed)
    x = z[idx].astype(np.float64)
    if x.shape[1] > TSNE_MAX_DIMS:
        mean, directions, _ = pca_directions(x, TSNE_MAX_DIMS)
        x = (x - mean) @ directions  # (n, 50)
    # sklearn needs perplexity < n; a third of n keeps small test runs meaningful.
    perplexity = float(min(perplexity, max(1.0, (len(idx) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                max_iter=max_iter, random_state=seed, n_jobs=-1)
    embedded = tsne.fit_transform(x)  # (n, 2)
    numbers = {
        "tsne_points": len(idx),
        "tsne_kl_divergence": float(tsne.kl_divergence_),
        "view_knn_tsne": view_knn_accuracy(embedded, y[idx], seed),
    }
    fig = plots.scatter_2d(embedded, y[idx], f"{name}: t-SNE of {len(idx):,} test codes", ("t-SNE 1", "t-SNE 2"))
    return Part(numbers, [plots.save(out_dir / "latent_tsne.png", fig)])


def clustering(z: np.ndarray, y: np.ndarray, n_seeds: int, seed: int) -> Part:
    """k-means (10 clusters) purity over seeds, NMI and ARI of the best run."""
    return Part(M.kmeans_purity(z, y, n_clusters=10, n_seeds=n_seeds, seed=seed), [])


def probes(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray, seed: int,
           k: int = 5, max_train: int | None = 10000) -> Part:
    """Linear and k-NN probes: fitted on training codes, scored on test codes.

    Training codes of a single digit (tiny runs on a class-sorted subset) leave
    nothing to probe: the part then reports no probe numbers, with a warning.
    """
    from threadpoolctl import threadpool_limits

    if np.unique(y_train).size < 2:
        log.warning("probes skipped: the training codes hold a single digit")
        return Part({}, [])
    # The probe's matrices are small (10k x d); two BLAS threads that spin-wait
    # made L-BFGS 5x slower than one on a shared 2-core CPU (34 s vs 6 s, d=256).
    with threadpool_limits(1, user_api="blas"):
        linear = M.linear_probe_accuracy(z_train, y_train, z_test, y_test, seed=seed, max_train=max_train)
    return Part({
        "probe_linear_accuracy": linear,
        "probe_knn_accuracy": M.knn_accuracy(z_train, y_train, z_test, y_test, k=k, max_train=max_train,
                                             seed=seed),
    }, [])


def spectrum(z: np.ndarray, name: str, out_dir: Path, threshold: float = 10.0) -> Part:
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
    fig = plots.scree(eig, f"{name}: latent covariance spectrum (PR {s['participation_ratio']:.1f})", threshold)
    details = {"eigenvalues": s["eigenvalues"], "explained_ratio": s["explained_ratio"],
               "eigen_threshold": float(threshold)}
    return Part(numbers, [plots.save(out_dir / "scree.png", fig)], details)


def robustness(encode: Callable, decode: Callable, images01: np.ndarray, labels: np.ndarray, name: str,
               out_dir: Path, seed: int, stds: Sequence[float], view_std: float,
               max_images: int | None = None, n_show: int = 10) -> Part:
    """Latent shift and reconstruction error under Gaussian pixel noise, and what it looks like.

    Scalars are at `view_std`; latent_shift_rel divides the shift by the mean
    distance of the clean codes to their centre, so variants whose codes
    live on different scales compare.
    """
    idx = subsample(len(images01), max_images, seed)
    x, y = images01[idx], labels[idx]
    rows = M.noise_robustness(encode, lambda a: decode(encode(a)), x, stds, seed=seed)
    at_view = next(r for r in rows if np.isclose(r["std"], view_std))
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
        "noise_view_std": float(view_std),
        "noise_latent_spread": spread,
    }
    figures = [plots.save(out_dir / "noise_robustness.png", plots.noise_curves(
        details["noise_std"], details["noise_latent_shift"], details["noise_recon_mse"],
        details["noise_input_mse"], f"{name}: Gaussian pixel noise, {len(idx):,} test images"))]

    # The same images once more at view_std, for the pictures (own generator:
    # the curves above stay the same whatever is drawn here).
    rng = np.random.default_rng(seed + 1)
    noisy = np.clip(x + rng.normal(0.0, view_std, size=x.shape), 0.0, 1.0)
    z_noisy = np.asarray(encode(noisy), dtype=np.float64).reshape(len(x), -1)
    if z_clean.shape[1] >= 2:
        mean, directions, _ = pca_directions(z_clean, 2)  # fitted on the clean codes only
        figures.append(plots.save(out_dir / "noise_view.png", plots.scatter_pair(
            (z_clean - mean) @ directions, (z_noisy - mean) @ directions, y,
            ["clean", f"noise std {view_std:g}"],
            f"{name}: codes before and after noise (PCA fitted on the clean codes)")))
    shown = slice(0, min(n_show, len(x)))
    figures.append(plots.save(out_dir / "noise_reconstructions.png", plots.image_rows(
        [x[shown], noisy[shown], decode(z_clean[shown]), decode(z_noisy[shown])],
        ["clean", "noisy", "recon clean", "recon noisy"], f"{name}: noise std {view_std:g}")))
    return Part(numbers, figures, details)


def traversals(decode: Callable, z: np.ndarray, images01: np.ndarray, labels: np.ndarray, name: str,
               out_dir: Path, seed: int, image_indices: Sequence[int] = (12, 19), value_range: float = 3.0,
               steps: int = 10, max_rows: int = 16, n_images: int = 100, max_dims: int = 64) -> Part:
    """Latent traversal grids of chosen test images, and every dim's effect and its consistency.

    A grid row sets one latent coordinate of the image's code to each value
    in [-range, range] and decodes. Codes wider than `max_rows` show their
    highest-variance dims; effects are measured over `n_images` seeded test
    codes for at most `max_dims` dims (again the highest-variance ones).
    """
    values = np.linspace(-value_range, value_range, steps)
    n, d = z.shape
    figures, drawn = [], []
    grid_dims = top_variance_dims(z, max_rows)
    capped = "" if len(grid_dims) == d else f", the {len(grid_dims)} highest-variance of {d} dims"
    for i in image_indices:
        if i >= n:
            log.warning("traversal image %d skipped: the test set has %d images", i, n)
            continue
        codes = np.repeat(z[i][None, None, :], steps, axis=1).repeat(len(grid_dims), axis=0)  # (rows, steps, d)
        for row, j in enumerate(grid_dims):
            codes[row, :, j] = values
        decoded = np.asarray(decode(codes.reshape(-1, d))).reshape(len(grid_dims), steps, 28, 28)
        fig = plots.traversal_grid(decoded, [f"z{j}" for j in grid_dims], values, images01[i],
                                   f"{name}: traversal of test image {i} (digit {labels[i]}){capped}")
        figures.append(plots.save(out_dir / f"traversal_{i}.png", fig))
        drawn.append(int(i))

    effect_dims = sorted(top_variance_dims(z, max_dims))
    sample = subsample(n, n_images, seed)
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
    figures.append(plots.save(out_dir / "traversal_effects.png", plots.effect_bars(
        eff["dims"], eff["effect"], eff["consistency"],
        f"{name}: traversal effect per dim over {len(sample)} test images")))
    return Part(numbers, figures, details)


def dci(z_train: np.ndarray, y_train: np.ndarray, z_test: np.ndarray, y_test: np.ndarray,
        factors: Factors | None, name: str, out_dir: Path, seed: int, max_train: int = 10000,
        max_cells: int = 320000) -> Part:
    """DCI: the study's single-factor shortcut and Eastwood & Williams' full metric.

    Single factor, as the study computed it: one classifier from codes to
    digit, fitted and scored on the same test codes; I = accuracy, D = sum
    p^2, C = max p of its normalised importances. Full: one tree ensemble per
    factor (digit, and the six morphometrics of `factors`), fitted on
    training codes and scored on the test codes (held-out informativeness).
    Both use the fast extra-trees importances (metrics.FOREST_TREES) on at
    most max_cells / d rows, so a 256-dim code costs what a 16-dim one does.
    """
    d = z_test.shape[1]
    cap = max(10, max_cells // d)
    single_rows = subsample(len(z_test), cap, seed)
    zs, ys = z_test[single_rows], y_test[single_rows, None].astype(np.float64)
    r1, info1 = M.importance_matrix(zs, ys, zs, ys, np.array([True]), seed=seed)
    numbers: dict[str, Any] = {**M.dci_single_factor(r1[:, 0], info1[0]), "dci_single_n": len(single_rows)}
    details: dict[str, Any] = {"dci_single_importances": r1[:, 0].tolist()}
    if factors is None:
        return Part(numbers, [], details)

    if len(factors.test) != len(z_test) or factors.train_index.max(initial=-1) >= len(z_train):
        raise ValueError(f"the factors ({len(factors.test)} test rows, training rows up to "
                         f"{factors.train_index.max(initial=-1)}) do not match the latents "
                         f"({len(z_test)} test, {len(z_train)} train); rerun the baseline stage")
    rows = subsample(len(factors.train_index), min(max_train, cap), seed)
    train_idx = factors.train_index[rows]
    names = ["digit", *factors.names]
    f_train = np.column_stack([y_train[train_idx], factors.train[rows]])
    f_test = np.column_stack([y_test, factors.test])
    mask = np.array([True] + [False] * len(factors.names))
    full = M.dci(z_train[train_idx], f_train, z_test, f_test, names, mask, seed=seed)
    importance = np.asarray(full.pop("importance_matrix"))
    numbers.update(full)
    numbers["dci_n_train"] = len(rows)
    details.update(dci_importance_matrix=importance.tolist(), dci_factors=names)

    codes = np.arange(d)
    if d > HEATMAP_MAX_CODES:
        codes = np.sort(np.argsort(-importance.sum(axis=1), kind="stable")[:HEATMAP_MAX_CODES])
    shown = "" if len(codes) == d else f" (top {len(codes)} of {d} codes)"
    fig = plots.importance_heatmap(importance[codes], [f"z{j}" for j in codes], names,
                                   f"{name}: DCI importances{shown}\nD {full['dci_disentanglement']:.2f}, "
                                   f"C {full['dci_completeness']:.2f}, I {full['dci_informativeness']:.2f}")
    return Part(numbers, [plots.save(out_dir / "dci_importance.png", fig)], details)


# --------------------------------------------------------------------------- #
# orchestration
# --------------------------------------------------------------------------- #


def analyze_arrays(inputs: VariantInputs, cfg: AnalyzeParams, seed: int, out_dir: Path) -> AnalysisResult:
    """Run every analysis on one variant's in-memory inputs; time each part."""
    z, y = inputs.z_test, inputs.y_test
    images01 = inputs.images_test.astype(np.float32) / 255.0
    name = inputs.name
    metrics: dict[str, Any] = {
        "latent_dim": int(z.shape[1]),
        "n_test": int(len(y)),
        "test_mse": float(inputs.recon_error_test.mean()),
    }
    if inputs.log_probs_test is not None:
        metrics["accuracy"] = classification_accuracy(inputs.log_probs_test, y)

    shown = images01[: cfg.n_recon]
    parts: dict[str, Callable[[], Part]] = {
        "reconstructions": lambda: reconstructions(shown, inputs.decode(inputs.encode(shown)), name, out_dir),
        "loss": lambda: loss_history(inputs.history, name, out_dir),
        "latent_views": lambda: latent_views(z, y, name, out_dir, seed),
        "tsne": lambda: tsne_view(z, y, name, out_dir, seed, cfg.tsne_max_points, cfg.tsne_perplexity,
                                  cfg.tsne_max_iter),
        "clustering": lambda: clustering(z, y, cfg.kmeans_seeds, seed),
        "probes": lambda: probes(inputs.z_train, inputs.y_train, z, y, seed, cfg.knn_k, cfg.probe_max_train),
        "spectrum": lambda: spectrum(z, name, out_dir, cfg.eigen_threshold),
        "robustness": lambda: robustness(inputs.encode, inputs.decode, images01, y, name, out_dir, seed,
                                         cfg.noise_stds, cfg.noise_view_std, cfg.noise_max_images, cfg.n_recon),
        "traversals": lambda: traversals(inputs.decode, z, images01, y, name, out_dir, seed,
                                         cfg.traversal_images, cfg.traversal_range, cfg.traversal_steps,
                                         cfg.traversal_max_rows, cfg.traversal_n_images, cfg.traversal_max_dims),
        "dci": lambda: dci(inputs.z_train, inputs.y_train, z, y, inputs.factors, name, out_dir, seed,
                           cfg.dci_max_train, cfg.dci_max_cells),
    }
    result = AnalysisResult(metrics)
    for part_name, run in parts.items():
        start = time.perf_counter()
        part = run()
        result.seconds[part_name] = time.perf_counter() - start
        result.metrics.update(part.metrics)
        result.figures.extend(part.figures)
        result.details.update(part.details)
    result.details["seconds"] = dict(result.seconds)
    return result


def load_inputs(name: str, params: Params) -> tuple[VariantInputs, Any]:
    """The variant's checkpoint, latents and test images, and the shared factors."""
    ckpt = load_checkpoint(paths.checkpoint(name))
    lat = read_npz(paths.latents(name), required=LATENT_KEYS)
    images, labels = load_arrays(paths.MNIST).subset(TEST)
    if not np.array_equal(labels, lat["y_test"]):
        raise ValueError(f"{paths.latents(name)} does not match {paths.MNIST}; rerun extract ({name})")
    model, device = ckpt.build(), resolve_device(params.train.device)
    model = model.to(device)
    inputs = VariantInputs(
        name=name, z_test=lat["z_test"], y_test=lat["y_test"], z_train=lat["z_train"], y_train=lat["y_train"],
        images_test=images, recon_error_test=lat["recon_error_test"],
        encode=encoder_fn(model, ckpt.input_range, device), decode=decoder_fn(model, ckpt.input_range, device),
        history=list(ckpt.history), factors=load_factors(FACTORS), log_probs_test=lat.get("log_probs_test"),
    )
    return inputs, ckpt


def analyze_variant(name: str, params: Params) -> AnalysisResult:
    inputs, ckpt = load_inputs(name, params)
    result = analyze_arrays(inputs, params.analyze, params.seed, paths.plots(name))
    result.metrics.update(n_params=int(ckpt.params["n_params"]), train_seconds=float(ckpt.train_seconds))
    result.run_id = ckpt.mlflow_run_id
    return result
