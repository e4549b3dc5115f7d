"""What one pipeline run produced, gathered from its DVC outputs for MLflow.

The `track` stage builds a PipelineRecord from files alone and hands it to
`tracking.log_pipeline`. Metric names are the keys of the DVC metrics files
(nested keys joined with "."), so a quantity has one name in `dvc metrics
diff`, in MLflow and in the report.

Each variant's record carries the ids of the stage executions behind its
files (latent_atlas.executions), so `track` can tell numbers restored from
DVC's run cache from numbers computed in this pipeline run.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latent_atlas import paths
from latent_atlas.config import Params, flatten
from latent_atlas.executions import VARIANT_STAGES, execution_id
from latent_atlas.io import read_json

MLFLOW_PARAM_MAX = 6000  # MLflow's limit on a param value's length


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


@dataclass(frozen=True)
class PipelineRecord:
    experiment: str
    git_commit: str
    params: dict[str, str]
    metrics: dict[str, float]
    artifacts: list[tuple[Path, str]]
    dataset: DatasetRecord
    variants: list[VariantRecord] = field(default_factory=list)

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


def scalar_metrics(obj: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a metrics mapping, keyed as DVC flattens them (a.b.c)."""
    return {key: float(value) for key, value in flatten(obj, prefix).items()
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)}


def mlflow_params(mapping: dict[str, Any]) -> dict[str, str]:
    """Nested params -> MLflow's flat string params (null stays visible as 'null')."""
    return {key: ("null" if value is None else str(value))[:MLFLOW_PARAM_MAX]
            for key, value in flatten(mapping).items()}


def history_rows(path: Path) -> list[dict[str, float]]:
    """Per-epoch rows of a training history CSV, numbers only."""
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


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
    return VariantRecord(name=name, params=run_params, metrics=metrics, history=history_rows(paths.history(name)),
                         artifacts=artifacts, checkpoint=paths.checkpoint(name), executions=executions)


def pipeline_record(params: Params, params_path: Path, experiment: str, git_commit: str) -> PipelineRecord:
    info = read_json(paths.MNIST_INFO)
    dataset = DatasetRecord(name=f"mnist-{info['source']}", source=info["source"], digest=info["checksum_sha256"],
                            n_train=int(info["n_train"]), n_test=int(info["n_test"]))
    metrics = {**scalar_metrics(read_json(paths.HEADLINE_METRICS)),
               **scalar_metrics(read_json(paths.PCA_METRICS), "pca."),
               **scalar_metrics(read_json(paths.BASELINE_METRICS), "baseline.")}
    artifacts = [(paths.SUMMARY_REPORT, "report"), (Path(params_path), "config"),
                 (paths.HEADLINE_METRICS, "metrics"), (paths.MNIST_INFO, "metrics"),
                 *[(p, "plots/summary") for p in files_under(paths.SUMMARY_PLOTS)],
                 *[(p, "plots/pca") for p in files_under(paths.PCA_PLOTS)],
                 *[(p, "plots/baseline") for p in files_under(paths.BASELINE_PLOTS)]]
    return PipelineRecord(
        experiment=experiment, git_commit=git_commit, params=mlflow_params(params.model_dump()),
        metrics=metrics, artifacts=artifacts, dataset=dataset,
        variants=[variant_record(name, params) for name in params.variants])
