"""What one pipeline run produced, gathered from its DVC outputs for MLflow.

The `track` stage builds a PipelineRecord from files alone and hands it to
`tracking.log_pipeline`. Metric names are the keys of the DVC metrics files
(nested keys joined with "."), so a quantity has one name in `dvc metrics
diff`, in MLflow and in the report.

Each variant's record carries the ids of the stage executions behind its
files (latent_atlas.executions), so `track` can tell numbers restored from
DVC's run cache from numbers computed in this pipeline run, and their start
and end times, so MLflow shows when the computation ran: each epoch's point
at the training's start plus the epochs' cumulative seconds.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np

from latent_atlas import paths
from latent_atlas.config import Params, flatten
from latent_atlas.data.mnist import TEST, load_arrays
from latent_atlas.executions import VARIANT_STAGES, execution_id, execution_times, now_ms
from latent_atlas.io import read_history, read_json
from latent_atlas.tracking.store import experiment_name, git_commit

MLFLOW_PARAM_MAX = 6000  # MLflow's limit on a param value's length
# Test images logged with each model as its input example (serving_input_example.json).
N_EXAMPLE_IMAGES = 2


@dataclass(frozen=True)
class DatasetRecord:
    name: str
    source: str
    digest: str
    n_train: int
    n_test: int


@dataclass(frozen=True)
class VariantRecord:
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    history: list[dict[str, float]]
    artifacts: list[tuple[Path, str]]  # (file, artifact folder)
    checkpoint: Path
    executions: dict[str, str]  # stage -> execution id
    # stage -> (start, end) of that execution, ms since the epoch (None: not recorded)
    times: dict[str, tuple[int, int] | None] = field(default_factory=dict)

    @property
    def span_ms(self) -> tuple[int, int] | None:
        """When the computation this variant's numbers come from ran: its executions' first start, last end."""
        spans = [span for span in self.times.values() if span]
        return (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None

    def epoch_timestamps_ms(self) -> list[int] | None:
        """Each history row's wall-clock time: the training's start plus the epochs' cumulative seconds."""
        train = self.times.get("train")
        if train is None or any("seconds" not in row for row in self.history):
            return None
        return epoch_timestamps(train[0], [row["seconds"] for row in self.history])


@dataclass(frozen=True)
class PipelineRecord:
    experiment: str
    git_commit: str
    params: dict[str, str]
    metrics: dict[str, float]
    artifacts: list[tuple[Path, str]]
    dataset: DatasetRecord
    variants: list[VariantRecord] = field(default_factory=list)
    # (n, 1, 28, 28) float32 test images in [0, 1]: each model's input example.
    example_images: np.ndarray | None = None

    @property
    def digest(self) -> str:
        """Identifies the results: params, data, every stage execution, the headline."""
        material = json.dumps([self.params, self.dataset.digest, self.metrics,
                               [(v.name, v.executions) for v in self.variants]], sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()[:16]

    @property
    def run_name(self) -> str:
        return f"{self.experiment}-{self.digest[:6]}"

    @property
    def note(self) -> str:
        return (f"Pipeline run of DVC experiment `{self.experiment}` at commit `{self.git_commit[:12]}`, "
                f"on {self.dataset.name} ({self.dataset.n_train} train / {self.dataset.n_test} test images). "
                "Each child run is one variant's training and analysis in this run.")


@dataclass(frozen=True)
class TrainingFailure:
    """A training that did not finish: what MLflow shows of it."""

    variant: str
    experiment: str
    git_commit: str
    params: dict[str, str]
    history: list[dict[str, float]]
    start_ms: int
    end_ms: int
    status: str  # FAILED, or KILLED when a signal stopped it
    error: str

    def epoch_timestamps_ms(self) -> list[int]:
        return epoch_timestamps(self.start_ms, [row.get("seconds", 0.0) for row in self.history])


def epoch_timestamps(start_ms: int, seconds: list[float]) -> list[int]:
    """The wall-clock end of each epoch: start plus the cumulative seconds, in ms."""
    return [start_ms + round(1000 * total) for total in accumulate(seconds)]


def scalar_metrics(obj: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a metrics mapping, keyed as DVC flattens them (a.b.c)."""
    return {key: float(value) for key, value in flatten(obj, prefix).items()
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)}


def mlflow_params(mapping: dict[str, Any]) -> dict[str, str]:
    """Nested params -> MLflow's flat string params (null stays visible as 'null')."""
    return {key: ("null" if value is None else str(value))[:MLFLOW_PARAM_MAX]
            for key, value in flatten(mapping).items()}


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def variant_record(name: str, params: Params) -> VariantRecord:
    variant = params.variant(name)
    metrics = {**scalar_metrics(read_json(paths.train_metrics(name))),
               **scalar_metrics(read_json(paths.analysis(name)))}
    run_params = mlflow_params({"variant": name, "seed": params.seed, "latent_dim": params.latent_dim_of(name),
                                **variant.model_dump(exclude={"latent_dim"}),
                                "train": params.train.model_dump(), "analyze": params.analyze.model_dump()})
    artifacts = [(paths.checkpoint(name), "checkpoint"), (paths.history(name), "metrics"),
                 (paths.train_metrics(name), "metrics"), (paths.analysis(name), "metrics"),
                 (paths.analysis_details(name), "metrics"),
                 *[(p, "plots") for p in files_under(paths.plots(name))]]
    executions = {stage: execution_id(stage, name) for stage in VARIANT_STAGES}
    times = {stage: execution_times(stage, name) for stage in VARIANT_STAGES}
    return VariantRecord(name=name, params=run_params, metrics=metrics, history=read_history(paths.history(name)),
                         artifacts=artifacts, checkpoint=paths.checkpoint(name), executions=executions, times=times)


def example_images(path: Path = paths.MNIST, n: int = N_EXAMPLE_IMAGES) -> np.ndarray:
    """The first n test images as (n, 1, 28, 28) float32 in [0, 1]: the models' input example."""
    images = load_arrays(path).subset(TEST)[0][:n]
    return (images.astype(np.float32) / np.float32(255.0))[:, None]  # (n, 1, 28, 28)


def pipeline_record(params: Params, params_path: Path, experiment: str, git_commit: str) -> PipelineRecord:
    info = read_json(paths.MNIST_INFO)
    dataset = DatasetRecord(name=f"mnist-{info['source']}", source=info["source"], digest=info["checksum_sha256"],
                            n_train=int(info["n_train"]), n_test=int(info["n_test"]))
    metrics = {**scalar_metrics(read_json(paths.HEADLINE_METRICS)),
               **scalar_metrics(read_json(paths.PCA_METRICS), "pca."),
               **scalar_metrics(read_json(paths.BASELINE_METRICS), "baseline.")}
    # The applications' numbers, keyed <application>.<key as DVC flattens it>, where the run made them.
    applications = [path for path in paths.APPLICATION_METRICS if path.exists()]
    for path in applications:
        metrics.update(scalar_metrics(read_json(path), f"{path.stem}."))
    artifacts = [(paths.SUMMARY_REPORT, "report"), (paths.CLAIMS_REPORT, "report"), (Path(params_path), "config"),
                 (paths.HEADLINE_METRICS, "metrics"), (paths.MNIST_INFO, "metrics"),
                 *[(p, "plots/summary") for p in files_under(paths.SUMMARY_PLOTS)],
                 *[(p, "plots/pca") for p in files_under(paths.PCA_PLOTS)],
                 *[(p, "plots/baseline") for p in files_under(paths.BASELINE_PLOTS)],
                 *[(p, "metrics") for p in applications],
                 *[(p, "report/applications") for p in paths.APPLICATION_REPORTS if p.exists()],
                 *[(p, f"plots/{folder.name}") for folder in paths.APPLICATION_PLOTS for p in files_under(folder)]]
    return PipelineRecord(
        experiment=experiment, git_commit=git_commit, params=mlflow_params(params.model_dump()),
        metrics=metrics, artifacts=artifacts, dataset=dataset,
        variants=[variant_record(name, params) for name in params.variants], example_images=example_images())


def training_failure(name: str, params: Params, start_ms: int, status: str, error: str) -> TrainingFailure:
    """What the train stage knows when its training fails: the params, and the epochs completed
    as its history file holds them (written whole after each epoch, so exactly what DVC shows)."""
    history = read_history(paths.history(name)) if paths.history(name).exists() else []
    run_params = mlflow_params({"variant": name, "seed": params.seed, "latent_dim": params.latent_dim_of(name),
                                **params.variant(name).model_dump(exclude={"latent_dim"}),
                                "train": params.train.model_dump()})
    return TrainingFailure(variant=name, experiment=experiment_name(), git_commit=git_commit(Path.cwd()),
                           params=run_params, history=history, start_ms=start_ms, end_ms=now_ms(),
                           status=status, error=error)
