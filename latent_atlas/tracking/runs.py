"""MLflow runs: the one place that writes a pipeline run to the store.

Stages never talk to MLflow. They write DVC outputs; the last stage, `track`,
hands this module a `record.PipelineRecord` and `log_pipeline` turns it into
one parent run per pipeline run (one `dvc repro` or one DVC experiment) with
one child run per variant. Because `track` has no outputs, DVC never restores
it from its run cache: an experiment whose other stages all come from the run
cache is still logged. A child whose numbers come from an earlier execution
(restored from DVC's run cache, or a stage the experiment did not rerun) is
tagged restored=true and restored_<stage>_from=<the run that logged it first>.

Runs carry the times of the computation they record, not of the logging: a
child starts when its variant's training started and ends when its analysis
ended (restored or not), each epoch's point sits at the training's start plus
the epochs' cumulative seconds, and the model's metrics are linked to its
LoggedModel. A training that fails never reaches `track`: the train stage
hands it to log_failed_training as it ends, a FAILED (or KILLED) run holding
the epochs it completed.
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import mlflow
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import (
    MLFLOW_PARENT_RUN_ID,
    MLFLOW_SOURCE_NAME,
    MLFLOW_SOURCE_TYPE,
    MLFLOW_USER,
)
from requests.exceptions import RequestException

from latent_atlas.errors import TrackingError
from latent_atlas.executions import VARIANT_STAGES, now_ms
from latent_atlas.io import process_exists
from latent_atlas.tracking.models import log_model
from latent_atlas.tracking.record import PipelineRecord, TrainingFailure, VariantRecord
from latent_atlas.tracking.server import check_server
from latent_atlas.tracking.store import (
    EXPERIMENT_NAME,
    artifact_location,
    redact,
    store_lock,
    tracking_uri,
)

# MLflow retries a failing HTTP call 7 times with back-off (minutes); a stage
# should fail in seconds and say why.
_MLFLOW_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
                    # Logging a model downloads it back to check its input example: no progress bars.
                    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
# Opens the UI on training runs rather than on its GenAI pages.
_EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}


@contextmanager
def mlflow_errors(uri: str) -> Iterator[None]:
    """MLflow and HTTP failures -> one TrackingError line naming the store."""
    try:
        yield
    except MlflowException as exc:
        message = " ".join(str(exc.message).split())
        code = getattr(exc, "get_http_status_code", lambda: None)()
        raise TrackingError(f"MLflow at {redact(uri)} failed (HTTP {code}): {message[:300]}") from None
    except RequestException as exc:
        raise TrackingError(f"MLflow at {redact(uri)} failed: {type(exc).__name__}: {str(exc)[:300]}") from None


def setup() -> str:
    """Point MLflow at the store, check it, create the experiment; return its id."""
    for key, value in _MLFLOW_DEFAULTS.items():
        os.environ.setdefault(key, value)
    uri = tracking_uri()
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    with mlflow_errors(uri), store_lock(uri):
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name(EXPERIMENT_NAME)  # creates the schema if new
        if experiment is None:
            try:
                experiment_id = client.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location(uri),
                                                         tags=_EXPERIMENT_TAGS)
            except mlflow.exceptions.MlflowException:  # created meanwhile by another machine's stage
                experiment = client.get_experiment_by_name(EXPERIMENT_NAME)
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
            for key, value in _EXPERIMENT_TAGS.items():
                if experiment.tags.get(key) != value:
                    client.set_experiment_tag(experiment_id, key, value)
        fail_abandoned_runs(client, experiment_id)
    return experiment_id


def fail_abandoned_runs(client, experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs this host started whose process is gone
    (killed by SIGKILL or a power cut: no handler ran). Returns their ids."""
    host = socket.gethostname()
    running = client.search_runs([experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.host = '{host}'",
                                 max_results=1000)
    gone = [r for r in running if r.data.tags.get("pid", "").isdigit() and not process_exists(int(r.data.tags["pid"]))]
    for run in gone:
        client.set_tag(run.info.run_id, "failure", f"process {run.data.tags['pid']} on {host} ended without closing the run")
        client.set_terminated(run.info.run_id, status="FAILED")
    return [r.info.run_id for r in gone]


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived while runs were open."""


@contextmanager
def _killed_on_signal() -> Iterator[None]:
    """Turn SIGTERM/SIGINT into an exception so open runs end as KILLED."""
    def stop(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _logged_already(client, experiment_id: str, record: PipelineRecord) -> str | None:
    found = client.search_runs(
        [experiment_id], max_results=1,
        filter_string=(f"tags.role = 'pipeline' and tags.pipeline_digest = '{record.digest}' and "
                       f"tags.dvc_experiment = '{record.experiment}' and attributes.status = 'FINISHED'"))
    return found[0].info.run_id if found else None


def _earlier_child(client, experiment_id: str, stage: str, execution_id: str) -> str | None:
    """The child run that first logged this stage execution, if any."""
    found = client.search_runs([experiment_id], max_results=1, order_by=["attributes.start_time ASC"],
                               filter_string=f"tags.role = 'variant' and tags.{stage}_execution = '{execution_id}'")
    return found[0].info.run_id if found else None


def log_pipeline(record: PipelineRecord) -> str:
    """Log one pipeline run: a parent with every param, the headline metrics,
    the dataset and the report; one child per variant. Returns the parent's id.

    Idempotent: a finished parent of the same experiment with the same digest
    (params, data and every stage execution) is not logged twice.
    """
    experiment_id = setup()
    uri = tracking_uri()
    client = mlflow.MlflowClient()
    with mlflow_errors(uri):
        existing = _logged_already(client, experiment_id, record)
        if existing:
            return existing
        restored = {v.name: _restored_stages(client, experiment_id, v) for v in record.variants}
        with _killed_on_signal(), _run(experiment_id, record.run_name, _parent_tags(record, restored),
                                       start_ms=_computed_since(record, restored)) as parent:
            mlflow.log_params(record.params)
            mlflow.log_metrics(record.metrics)
            mlflow.log_input(_dataset(record), context="train")
            for path, folder in record.artifacts:
                mlflow.log_artifact(str(path), folder)
            for variant in record.variants:
                _log_variant(experiment_id, parent.info.run_id, record, variant, restored[variant.name])
    return parent.info.run_id


def _computed_since(record: PipelineRecord, restored: dict[str, dict[str, str]]) -> int | None:
    """When this pipeline run's first fresh execution started (None: nothing fresh, so now)."""
    starts = [times[0] for v in record.variants for stage, times in v.times.items()
              if times and stage not in restored[v.name]]
    return min(starts, default=None)


def _restored_stages(client, experiment_id: str, variant: VariantRecord) -> dict[str, str]:
    """stage -> the earlier child that logged the same execution (DVC's run cache restored it)."""
    earlier = {stage: _earlier_child(client, experiment_id, stage, execution)
               for stage, execution in variant.executions.items()}
    return {stage: run_id for stage, run_id in earlier.items() if run_id}


def _parent_tags(record: PipelineRecord, restored: dict[str, dict[str, str]]) -> dict[str, str]:
    return {
        **_process_tags(),
        "role": "pipeline",
        "dvc_experiment": record.experiment,
        "pipeline_digest": record.digest,
        "data_source": record.dataset.source,
        "data_checksum": record.dataset.digest,
        "mlflow.source.git.commit": record.git_commit,
        # true when nothing was computed in this run (a full run-cache hit).
        "restored": str(all(len(stages) == len(VARIANT_STAGES) for stages in restored.values())).lower(),
        "restored_variants": ",".join(sorted(name for name, stages in restored.items() if stages)),
        "mlflow.note.content": record.note,
    }


def _process_tags() -> dict[str, str]:
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


def _source_tags(script: str) -> dict[str, str]:
    """What start_run would add, for runs the client creates: who ran what, locally."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        user = "unknown"
    return {MLFLOW_SOURCE_TYPE: "LOCAL", MLFLOW_SOURCE_NAME: script, MLFLOW_USER: user}


@contextmanager
def _run(experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None, *,
         start_ms: int | None = None, end_ms: int | None = None):
    """An active run from start_ms (default: now) to end_ms (default: the block's end);
    KILLED on SIGTERM/SIGINT and FAILED on an error.

    The client creates it, since start_run takes no start time; start_run then
    makes it the active run (for log_model and the fluent calls).
    """
    client = mlflow.MlflowClient()
    tags = {**_source_tags("stages/track.py"), **tags}
    if parent_run_id is not None:
        tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    created = client.create_run(experiment_id, start_time=start_ms, tags=tags, run_name=name)
    run = mlflow.start_run(run_id=created.info.run_id, nested=parent_run_id is not None)
    try:
        yield run
    except Interrupted:
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    mlflow.end_run("FINISHED")
    if end_ms is not None:
        client.set_terminated(run.info.run_id, "FINISHED", end_time=end_ms)


def _curves(history: list[dict[str, float]], timestamps: list[int] | None) -> list[Metric]:
    """Each history column as a metric per epoch, at its epoch's wall-clock time."""
    stamps = timestamps or [now_ms()] * len(history)
    return [Metric(key, float(value), stamp, int(row["epoch"]))
            for row, stamp in zip(history, stamps, strict=True) for key, value in row.items() if key != "epoch"]


def _log_variant(experiment_id: str, parent_id: str, record: PipelineRecord, variant: VariantRecord,
                 restored: dict[str, str]) -> None:
    tags = {**_process_tags(), "role": "variant", "variant": variant.name, "dvc_experiment": record.experiment,
            "mlflow.source.git.commit": record.git_commit, "restored": str(bool(restored)).lower(),
            **{f"{stage}_execution": execution for stage, execution in variant.executions.items()},
            **{f"restored_{stage}_from": run_id for stage, run_id in restored.items()}}
    start_ms, end_ms = variant.span_ms or (None, None)
    with _run(experiment_id, f"{variant.name} ({record.experiment})", tags, parent_id, start_ms=start_ms,
              end_ms=end_ms) as child:
        model = log_model(variant.checkpoint, record.example_images)
        mlflow.log_params(variant.params)
        # On the LoggedModel too, so the Models tab and search_logged_models rank the variants.
        mlflow.log_metrics(variant.metrics, timestamp=end_ms, model_id=model.model_id)
        mlflow.MlflowClient().log_batch(child.info.run_id,
                                        metrics=_curves(variant.history, variant.epoch_timestamps_ms()))
        mlflow.log_input(_dataset(record), context="train")
        for path, folder in variant.artifacts:
            mlflow.log_artifact(str(path), folder)


def log_failed_training(failure: TrainingFailure) -> str | None:
    """A training that did not finish, as a FAILED (or KILLED) run with the epochs it
    completed, at their times; returns its id. Called by the train stage as it
    fails, so it never raises: the training's own error is the one to show, and
    a store that cannot take the record costs a warning line."""
    try:
        experiment_id = setup()
        with mlflow_errors(tracking_uri()):
            client = mlflow.MlflowClient()
            tags = {**_source_tags("stages/train.py"), **_process_tags(), "role": "training",
                    "variant": failure.variant, "dvc_experiment": failure.experiment,
                    "mlflow.source.git.commit": failure.git_commit, "failure": failure.error[:5000]}
            run = client.create_run(experiment_id, start_time=failure.start_ms, tags=tags,
                                    run_name=f"{failure.variant} ({failure.experiment}) training")
            client.log_batch(run.info.run_id, metrics=_curves(failure.history, failure.epoch_timestamps_ms()),
                             params=[Param(k, v) for k, v in failure.params.items()])
            client.set_terminated(run.info.run_id, failure.status, end_time=failure.end_ms)
    except Exception as exc:  # noqa: BLE001 (any failure here must leave the training's error in charge)
        print(f"warning: the {failure.status} training of {failure.variant} was not recorded in MLflow: "
              f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return None
    print(f"MLflow: the {failure.status} training of {failure.variant} ({len(failure.history)} epochs) "
          f"is run {run.info.run_id}")
    return run.info.run_id


def _dataset(record: PipelineRecord):
    """The MNIST arrays this run used, named after their source; the digest is
    (a prefix of: MLflow keeps 36 characters) the data's sha256."""
    data = record.dataset
    source = CodeDatasetSource(tags={"dvc_output": "data/mnist.npz", "data_source": data.source,
                                     "sha256": data.digest})
    return MetaDataset(source=source, name=data.name, digest=data.digest[:36])
