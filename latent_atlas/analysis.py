"""The analysis of one variant's latent space (SPEC section 3).

`analyze_variant` reads the pipeline's files, computes every metric as plain
numbers (for DVC and MLflow) and draws the figures; the maths lives in
latent_atlas.metrics and the drawing in latent_atlas.plots.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latent_atlas import metrics as M
from latent_atlas import paths, plots
from latent_atlas.config import Params
from latent_atlas.data import TEST, load_arrays
from latent_atlas.inference import run_model
from latent_atlas.io import read_npz
from latent_atlas.models import load_checkpoint
from latent_atlas.training import resolve_device

LATENT_KEYS = ("z_test", "y_test", "recon_error_test", "z_train", "y_train")
HEADLINE = ("test_mse", "accuracy", "purity_best", "purity_mean")


@dataclass
class AnalysisResult:
    metrics: dict[str, Any]
    figures: list[Path] = field(default_factory=list)
    run_id: str | None = None

    def scalars(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def headline(self) -> dict[str, float]:
        return {k: float(self.metrics[k]) for k in HEADLINE if k in self.metrics}


def classification_accuracy(log_probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(log_probs.argmax(axis=1) == labels))


def analyze_variant(name: str, params: Params) -> AnalysisResult:
    ckpt = load_checkpoint(paths.checkpoint(name))
    lat = read_npz(paths.latents(name), required=LATENT_KEYS)
    images, labels = load_arrays(paths.MNIST).subset(TEST)
    model, device = ckpt.build(), resolve_device(params.train.device)
    z, y = lat["z_test"], lat["y_test"]
    seed = params.seed

    metrics: dict[str, Any] = {
        "latent_dim": int(z.shape[1]),
        "n_params": int(ckpt.params["n_params"]),
        "n_test": int(len(y)),
        "test_mse": float(lat["recon_error_test"].mean()),
        "train_seconds": float(ckpt.train_seconds),
    }
    if "log_probs_test" in lat:
        metrics["accuracy"] = classification_accuracy(lat["log_probs_test"], y)
    metrics.update(M.kmeans_purity(z, y, n_clusters=10, n_seeds=params.analyze.kmeans_seeds, seed=seed))

    out_dir = paths.plots(name)
    figures = []
    shown = images[: params.analyze.n_recon]
    recon = run_model(model, shown, ckpt.input_range, device)["reconstructions"]
    figures.append(plots.save(out_dir / "reconstructions.png", plots.image_rows(
        [shown / 255.0, recon], ["original", "reconstruction"], f"{name}: test digits")))
    if z.shape[1] >= 2:
        figures.append(plots.save(out_dir / "latent_scatter.png", plots.scatter_2d(
            z[:, :2], y, f"{name}: latent dims 1 and 2", ("z1", "z2"))))
    figures.append(plots.save(out_dir / "loss.png", plots.loss_curves(ckpt.history, f"{name}: loss per epoch")))
    return AnalysisResult(metrics, figures, ckpt.mlflow_run_id)
