"""Where each stage reads and writes: one place, shared by stages, dvc.yaml and tests."""

from __future__ import annotations

from pathlib import Path

MNIST = Path("data/mnist.npz")
MNIST_INFO = Path("metrics/data.json")
DOWNLOAD_CACHE = Path("data/raw")
POPULATION = Path("data/population.csv")
PCA_PROJECTED = Path("data/pca_projected.csv")
PCA_METRICS = Path("metrics/pca.json")
PCA_PLOTS = Path("plots/pca")
FACTORS = Path("data/factors.npz")
BASELINE_METRICS = Path("metrics/baseline.json")
BASELINE_PLOTS = Path("plots/baseline")
HEADLINE_METRICS = Path("metrics/headline.json")
SUMMARY_REPORT = Path("reports/summary.md")
SUMMARY_PLOTS = Path("plots/summary")


def checkpoint(variant: str) -> Path:
    return Path("models") / f"{variant}.pt"


def history(variant: str) -> Path:
    return Path("metrics/train") / f"{variant}.csv"


def train_metrics(variant: str) -> Path:
    return Path("metrics/train") / f"{variant}.json"


def latents(variant: str) -> Path:
    return Path("data/latents") / f"{variant}.npz"


def analysis(variant: str) -> Path:
    return Path("metrics/analyze") / f"{variant}.json"


def plots(variant: str) -> Path:
    return Path("plots") / variant


def analysis_details(variant: str) -> Path:
    """Lists behind the analysis metrics (spectra, per-noise-level values): read by compare."""
    return analysis(variant).with_suffix(".details.json")


def execution(stage: str, variant: str) -> Path:
    """A fresh id each time `stage` really runs for `variant` (see record.py)."""
    return Path("metrics/runs") / stage / f"{variant}.json"
