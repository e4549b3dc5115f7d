"""MLflow's model registry: one registered model per variant, an alias on the baseline's versions.

`latent-atlas tracking promote` registers the models of the pipeline run that
produced the results in the workspace (found by its digest: params, data,
every stage execution, the headline) under latent-atlas-<variant>, and points
the alias `baseline` at them:

    mlflow.pyfunc.load_model("models:/latent-atlas-classifier@baseline")

Promoting is a decision, like committing dvc.lock, so no stage does it:
bench/make_baseline.py does it after the baseline run that is committed on
main. Registering every experiment's models would bury the baseline among
hundreds of versions. Promoting the same run again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

from latent_atlas.errors import TrackingError
from latent_atlas.tracking.record import PipelineRecord
from latent_atlas.tracking.runs import mlflow_errors, setup
from latent_atlas.tracking.store import tracking_uri

REGISTERED_PREFIX = "latent-atlas-"
BASELINE_ALIAS = "baseline"


def registered_name(variant: str) -> str:
    return f"{REGISTERED_PREFIX}{variant}"


@dataclass(frozen=True)
class Promoted:
    variant: str
    name: str
    version: int
    model_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{BASELINE_ALIAS}"


def promote(record: PipelineRecord, alias: str = BASELINE_ALIAS) -> list[Promoted]:
    """Register the models of the pipeline run that logged `record`, and point `alias` at them."""
    experiment_id = setup()
    client = mlflow.MlflowClient()
    with mlflow_errors(tracking_uri()):
        parents = client.search_runs(
            [experiment_id], max_results=1, order_by=["attributes.start_time DESC"],
            filter_string=(f"tags.role = 'pipeline' and tags.pipeline_digest = '{record.digest}' "
                           "and attributes.status = 'FINISHED'"))
        if not parents:
            raise TrackingError(f"no finished MLflow run in {tracking_uri()} records the results in this "
                                f"workspace (pipeline digest {record.digest}); run `dvc repro`, whose track "
                                "stage logs them, then promote")
        parent = parents[0]
        children = client.search_runs([experiment_id], max_results=1000,
                                       filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
        promoted = [_register(client, experiment_id, child, parent, alias) for child in children]
    return sorted(promoted, key=lambda p: p.variant)


def _register(client, experiment_id: str, child, parent, alias: str) -> Promoted:
    variant = child.data.tags["variant"]
    logged = client.search_logged_models(experiment_ids=[experiment_id],
                                         filter_string=f"source_run_id = '{child.info.run_id}'")
    if len(logged) != 1:
        raise TrackingError(f"run {child.info.run_id} ({variant}) holds {len(logged)} models, expected 1")
    model_id, name = logged[0].model_id, registered_name(variant)
    source = f"models:/{model_id}"
    existing = [v for v in client.search_model_versions(f"name = '{name}'") if v.source == source]
    if existing:
        version = existing[0].version
    else:
        tags = {"dvc_experiment": parent.data.tags.get("dvc_experiment", ""),
                "pipeline_digest": parent.data.tags.get("pipeline_digest", ""),
                "git_commit": parent.data.tags.get("mlflow.source.git.commit", "")}
        version = mlflow.register_model(source, name, tags=tags).version
    client.set_registered_model_alias(name, alias, version)
    return Promoted(variant, name, int(version), model_id)
