"""Where each stage reads and writes: one place, shared by stages, dvc.yaml and tests."""

from __future__ import annotations

import os
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
JUDGE = Path("models/judge.pt")
JUDGE_METRICS = Path("metrics/judge.json")
HEADLINE_METRICS = Path("metrics/headline.json")
# Applications: one stage each (the one-class family: a stage per digit, then the table).
DENOISE_METRICS = Path("metrics/denoise.json")
DENOISE_PLOTS = Path("plots/denoise")
ANOMALY_METRICS = Path("metrics/anomaly.json")
ANOMALY_PLOTS = Path("plots/anomaly")
MISLABEL_METRICS = Path("metrics/mislabel.json")
DOWNSTREAM_METRICS = Path("metrics/downstream.json")
OFFDOMAIN_METRICS = Path("metrics/offdomain.json")
OFFDOMAIN_PLOTS = Path("plots/offdomain")
DENOISE_REPORT = Path("reports/applications/denoise.md")
ANOMALY_REPORT = Path("reports/applications/anomaly.md")
MISLABEL_REPORT = Path("reports/applications/mislabel.md")
DOWNSTREAM_REPORT = Path("reports/applications/downstream.md")
OFFDOMAIN_REPORT = Path("reports/applications/offdomain.md")
# Every application stage's files: the ledger reads the metrics by file name; MLflow logs all three.
APPLICATION_METRICS = (DENOISE_METRICS, ANOMALY_METRICS, MISLABEL_METRICS, DOWNSTREAM_METRICS, OFFDOMAIN_METRICS)
APPLICATION_REPORTS = (DENOISE_REPORT, ANOMALY_REPORT, MISLABEL_REPORT, DOWNSTREAM_REPORT, OFFDOMAIN_REPORT)
APPLICATION_PLOTS = (DENOISE_PLOTS, ANOMALY_PLOTS, OFFDOMAIN_PLOTS)
SUMMARY_REPORT = Path("reports/summary.md")
CLAIMS_REPORT = Path("reports/claims.md")
# Each claim's numbers in this run (per seed, for `latent-atlas replicates`).
CLAIMS_METRICS = Path("metrics/claims.json")
SUMMARY_PLOTS = Path("plots/summary")
# The rows behind compare's figures, one DVC plot file each (dvc.yaml draws them).
MSE_VS_LATENT_PLOT = Path("plots/data/mse_vs_latent.json")
NOISE_PLOT = Path("plots/data/noise.json")
SPECTRA_PLOT = Path("plots/data/spectra.json")
CONFUSION_PLOT = Path("plots/data/confusion.json")
# DVC runs queued experiments in copies of the repository under this folder.
_EXPS_TMP = (".dvc", "tmp", "exps")


def repo_root(start: str | Path | None = None) -> Path:
    """The user's repository root, also from inside a queued-experiment copy (DVC_ROOT, walked out of it)."""
    root = Path(start or os.environ.get("DVC_ROOT") or Path.cwd()).resolve()
    parts = root.parts
    for i in range(len(parts) - len(_EXPS_TMP) + 1):
        if parts[i : i + len(_EXPS_TMP)] == _EXPS_TMP:
            return Path(*parts[:i])
    return root


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
    """A fresh id each time `stage` really runs for `variant` (see executions.py)."""
    return Path("metrics/runs") / stage / f"{variant}.json"


def anomaly_scores(digit: int | str) -> Path:
    """Every test image's anomaly scores with `digit` normal (one-class protocol)."""
    return Path("data/anomaly") / f"{digit}.npz"


def anomaly_digit_metrics(digit: int | str) -> Path:
    return Path("metrics/anomaly") / f"{digit}.json"
