"""MLflow: where the store is, and the one place that writes to it.

Stages never talk to MLflow. They write DVC outputs; the last stage, `track`,
hands this module a `record.PipelineRecord` and `log_pipeline` turns it into
one parent run per pipeline run (one `dvc repro` or one DVC experiment) with
one child run per variant. Because `track` has no outputs, DVC never restores
it from its run cache: an experiment whose other stages all come from the run
cache is still logged. A child whose numbers come from an earlier execution
(restored from DVC's run cache, or a stage the experiment did not rerun) is
tagged restored=true and restored_<stage>_from=<the run that logged it first>.

The store defaults to mlflow.db at the repository root. DVC runs queued
experiments in copies of the repository (.dvc/tmp/exps/...), so the root is
resolved from DVC_ROOT and walked back out of such a copy;
MLFLOW_TRACKING_URI overrides it. A fresh sqlite store is created under a file
lock: parallel `dvc queue start -j N` workers that race on MLflow's schema
migrations corrupt it.

Models are logged as the DVC checkpoint itself (tensors and plain values,
read with `torch.load(weights_only=True)`) inside an MLflow model directory
whose MLmodel records the file's sha256. Loading rebuilds the network with
this project's classes: nothing from the store is unpickled or imported.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from latent_atlas.errors import TrackingError

if TYPE_CHECKING:
    from latent_atlas.tracking.record import PipelineRecord, VariantRecord

# The stages whose executions a child run records (record.py writes them).
VARIANT_STAGES = ("train", "analyze")

EXPERIMENT_NAME = "latent-atlas"
_EXPS_TMP = (".dvc", "tmp", "exps")
# How long a stage waits for another process to finish creating the store.
STORE_LOCK_TIMEOUT_S = 300.0
# MLflow retries a failing HTTP call 7 times with back-off (minutes); a stage
# should fail in seconds and say why.
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
# Opens the UI on training runs rather than on its GenAI pages.
_EXPERIMENT_TAGS = {"mlflow.experimentKind": "custom_model_development"}
MODEL_FLAVOR = "latent_atlas"
MODEL_FILE = "checkpoint.pt"


def repo_root(start: str | Path | None = None) -> Path:
    """The user's repository root, also from inside a queued-experiment copy."""
    root = Path(start or os.environ.get("DVC_ROOT") or Path.cwd()).resolve()
    parts = root.parts
    for i in range(len(parts) - len(_EXPS_TMP) + 1):
        if parts[i : i + len(_EXPS_TMP)] == _EXPS_TMP:
            return Path(*parts[:i])
    return root


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def display_uri() -> str:
    """The store, without credentials, for messages."""
    return _redact(tracking_uri())


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for any other store)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()


def artifact_location(uri: str | None = None) -> str | None:
    """Where a new experiment keeps its artifacts; None lets a server decide.

    Beside a local sqlite store: <store folder>/mlartifacts. A shared database
    reached directly (postgresql://...) would otherwise get a file:// path on
    whichever machine created the experiment, which no other machine can read:
    it needs LATENT_ATLAS_ARTIFACT_ROOT (an s3:// URI, say), or a server.
    """
    uri = uri or tracking_uri()
    if is_server(uri):
        return None
    db = sqlite_path(uri)
    if db is not None:
        return (db.parent / "mlartifacts").as_uri()
    root = os.environ.get("LATENT_ATLAS_ARTIFACT_ROOT")
    if not root:
        raise TrackingError(
            f"MLFLOW_TRACKING_URI={_redact(uri)} is a database, so artifacts would land on this machine's disk; "
            "point MLFLOW_TRACKING_URI at the team's `mlflow server` (http://...) instead, "
            "or set LATENT_ATLAS_ARTIFACT_ROOT to a shared location such as s3://bucket/mlflow")
    return root


def _redact(uri: str) -> str:
    """The URI without a password, for error messages."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _auth_header() -> dict[str, str]:
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not user:
        return {}
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def check_server(uri: str, timeout_s: float = 5.0) -> None:
    """Fail at once, in one line naming the URI and the fix, when a tracking
    server cannot serve this project.

    It calls a real API endpoint: `/health` is exempt from MLflow's Host-header
    and authentication checks, so a healthy /health proves nothing.
    """
    if not is_server(uri):
        return
    query = urllib.parse.urlencode({"experiment_name": EXPERIMENT_NAME})
    url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?{query}"
    request = urllib.request.Request(url, headers=_auth_header())
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):
            return
    except urllib.error.HTTPError as exc:
        body = exc.read(300).decode(errors="replace")
        if exc.code == 404 and "RESOURCE_DOES_NOT_EXIST" in body:
            return  # answers; the experiment is created on first use
        raise TrackingError(_http_failure(uri, exc.code, body)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach the MLflow tracking server at MLFLOW_TRACKING_URI={uri} ({reason}); "
            "start it or unset MLFLOW_TRACKING_URI to use the local mlflow.db"
        ) from None


def _http_failure(uri: str, code: int, body: str) -> str:
    host = urllib.parse.urlsplit(uri).netloc
    fixes = {
        403: f"the server refuses the Host header {host!r}: start `mlflow server` with "
             f"--allowed-hosts {host} (or check MLFLOW_TRACKING_USERNAME's permissions)",
        401: "the server wants credentials: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD",
    }
    fix = fixes.get(code, f"the server answered: {' '.join(body.split())[:160]}")
    return f"MLflow server at MLFLOW_TRACKING_URI={uri} answered HTTP {code}; {fix}"


@contextmanager
def store_lock(uri: str, timeout_s: float = STORE_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive lock on a local sqlite store while it is opened.

    The first connection to a fresh mlflow.db runs MLflow's schema migrations;
    two processes doing that at once leave a broken database. The lock file
    (mlflow.db-init.lock) sits beside the database; the OS releases it if its
    holder dies. Other stores need no lock.
    """
    from filelock import FileLock, Timeout

    db = sqlite_path(uri)
    if db is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db.with_name(f"{db.name}-init.lock")
    try:
        with FileLock(lock_path, timeout=timeout_s):
            yield
    except Timeout:
        raise TrackingError(
            f"waited {timeout_s:g} s for {lock_path} (another process is creating the MLflow store {db}); "
            "remove the lock file if no stage is running") from None


@contextmanager
def _mlflow_errors(uri: str) -> Iterator[None]:
    """MLflow and HTTP failures -> one TrackingError line naming the store."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    try:
        yield
    except MlflowException as exc:
        message = " ".join(str(exc.message).split())
        code = getattr(exc, "get_http_status_code", lambda: None)()
        raise TrackingError(f"MLflow at {_redact(uri)} failed (HTTP {code}): {message[:300]}") from None
    except RequestException as exc:
        raise TrackingError(f"MLflow at {_redact(uri)} failed: {type(exc).__name__}: {str(exc)[:300]}") from None


def setup() -> str:
    """Point MLflow at the store, check it, create the experiment; return its id."""
    for key, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import mlflow

    uri = tracking_uri()
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    with _mlflow_errors(uri), store_lock(uri):
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


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def experiment_name() -> str:
    """DVC's experiment name where `dvc exp run` set one, else 'workspace'."""
    return os.environ.get("DVC_EXP_NAME") or "workspace"


# --- runs whose process is gone ---------------------------------------------------------


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_abandoned_runs(client, experiment_id: str) -> list[str]:
    """Mark FAILED the RUNNING runs this host started whose process is gone
    (killed by SIGKILL or a power cut: no handler ran). Returns their ids."""
    host = socket.gethostname()
    running = client.search_runs([experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.host = '{host}'",
                                 max_results=1000)
    gone = [r for r in running if r.data.tags.get("pid", "").isdigit() and not _process_alive(int(r.data.tags["pid"]))]
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


# --- the pipeline run -----------------------------------------------------------------------


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
    import mlflow

    experiment_id = setup()
    uri = tracking_uri()
    client = mlflow.MlflowClient()
    with _mlflow_errors(uri):
        existing = _logged_already(client, experiment_id, record)
        if existing:
            return existing
        restored = {v.name: _restored_stages(client, experiment_id, v) for v in record.variants}
        with _killed_on_signal(), _run(experiment_id, record.run_name, _parent_tags(record, restored)) as parent:
            mlflow.log_params(record.params)
            mlflow.log_metrics(record.metrics)
            mlflow.log_input(_dataset(record), context="train")
            for path, folder in record.artifacts:
                mlflow.log_artifact(str(path), folder)
            for variant in record.variants:
                _log_variant(experiment_id, parent.info.run_id, record, variant, restored[variant.name])
    return parent.info.run_id


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
        "mlflow.source.type": "PROJECT",
        # true when nothing was computed in this run (a full run-cache hit).
        "restored": str(all(len(stages) == len(VARIANT_STAGES) for stages in restored.values())).lower(),
        "restored_variants": ",".join(sorted(name for name, stages in restored.items() if stages)),
        "mlflow.note.content": record.note,
    }


def _process_tags() -> dict[str, str]:
    return {"host": socket.gethostname(), "pid": str(os.getpid())}


@contextmanager
def _run(experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None):
    """start_run that ends KILLED on SIGTERM/SIGINT and FAILED on an error."""
    import mlflow

    run = mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags, parent_run_id=parent_run_id,
                           nested=parent_run_id is not None)
    try:
        yield run
    except Interrupted:
        mlflow.end_run("KILLED")
        raise
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    mlflow.end_run("FINISHED")


def _log_variant(experiment_id: str, parent_id: str, record: PipelineRecord, variant: VariantRecord,
                 restored: dict[str, str]) -> None:
    import mlflow
    from mlflow.entities import Metric

    tags = {**_process_tags(), "role": "variant", "variant": variant.name, "dvc_experiment": record.experiment,
            "mlflow.source.git.commit": record.git_commit, "restored": str(bool(restored)).lower(),
            **{f"{stage}_execution": execution for stage, execution in variant.executions.items()},
            **{f"restored_{stage}_from": run_id for stage, run_id in restored.items()}}
    with _run(experiment_id, f"{variant.name} ({record.experiment})", tags, parent_id) as child:
        # The model first: Model.log copies every metric already in the run, one call each.
        log_model(variant.checkpoint)
        mlflow.log_params(variant.params)
        mlflow.log_metrics(variant.metrics)
        curves = [Metric(key, float(value), 0, int(row["epoch"]))
                  for row in variant.history for key, value in row.items() if key != "epoch"]
        mlflow.MlflowClient().log_batch(child.info.run_id, metrics=curves)
        mlflow.log_input(_dataset(record), context="train")
        for path, folder in variant.artifacts:
            mlflow.log_artifact(str(path), folder)


def _dataset(record: PipelineRecord):
    """The MNIST arrays this run used, named after their source; the digest is
    (a prefix of: MLflow keeps 36 characters) the data's sha256."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    data = record.dataset
    source = CodeDatasetSource(tags={"dvc_output": "data/mnist.npz", "data_source": data.source,
                                     "sha256": data.digest})
    return MetaDataset(source=source, name=data.name, digest=data.digest[:36])


# --- models ------------------------------------------------------------------------------------


def model_signature(checkpoint_path: Path):
    """Images (n, 1, 28, 28) float32 in the variant's input range -> its latents."""
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    from latent_atlas.models.autoencoders import load_checkpoint

    latent_dim = int(load_checkpoint(checkpoint_path).model_config["latent_dim"])
    return ModelSignature(inputs=Schema([TensorSpec(np.dtype("float32"), (-1, 1, 28, 28), "images")]),
                          outputs=Schema([TensorSpec(np.dtype("float32"), (-1, latent_dim), "latent")]))


class _CheckpointFlavor:
    """MLflow's model-flavor protocol (save_model), for Model.log."""

    @staticmethod
    def save_model(path, mlflow_model, checkpoint_path, signature=None, **_):
        import shutil

        path = Path(path)
        mlflow_model.signature = signature
        path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(checkpoint_path, path / MODEL_FILE)
        mlflow_model.add_flavor(MODEL_FLAVOR, file=MODEL_FILE, sha256=sha256_file(path / MODEL_FILE),
                                loader="latent_atlas.tracking.runs.load_model")
        mlflow_model.save(str(path / "MLmodel"))


def sha256_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def log_model(checkpoint_path: Path):
    """Log the DVC checkpoint as an MLflow model (with a signature) in the active run."""
    from mlflow.models import Model

    return Model.log(None, _CheckpointFlavor, name="model", flavor_name=MODEL_FLAVOR,
                     checkpoint_path=Path(checkpoint_path), signature=model_signature(checkpoint_path))


@contextmanager
def _using_store(uri: str | None) -> Iterator[None]:
    """Resolve runs:/ and models:/ URIs against `uri`, then restore the previous store."""
    if uri is None:
        yield
        return
    import mlflow
    from mlflow.tracking._tracking_service import utils

    previous = utils._tracking_uri
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def load_model(model_uri: str, store_uri: str | None = None):
    """Load a model that log_model logged (runs:/<run_id>/model or models:/<id>).

    Checks the file against the sha256 its MLmodel records, reads it with
    torch.load(weights_only=True) and rebuilds the network with this
    project's classes: nothing from the store is unpickled or imported, and
    sys.path is untouched. Returns the model in eval mode, on the CPU.
    """
    import tempfile

    import mlflow
    import yaml

    from latent_atlas.models.autoencoders import load_checkpoint

    with _using_store(store_uri), tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=tmp))
        try:
            flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"][MODEL_FLAVOR]
        except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise TrackingError(f"{model_uri} is not a latent-atlas model (no {MODEL_FLAVOR} flavor in its "
                                f"MLmodel: {type(exc).__name__}); log it with tracking.log_model") from None
        weights = local / flavor["file"]
        actual = sha256_file(weights)
        if actual != flavor["sha256"]:
            raise TrackingError(f"{model_uri}: {flavor['file']} has sha256 {actual[:12]}..., but its MLmodel "
                                f"records {flavor['sha256'][:12]}...: the artifact was modified; not loading it")
        return load_checkpoint(weights).build().eval()


# --- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m latent_atlas.tracking",
        description="MLflow store of latent-atlas. `init` creates it (schema and experiment) "
        "before parallel runs, e.g. before `dvc queue start -j 2`; `check` calls the server's API.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the store and the latent-atlas experiment")
    commands.add_parser("check", help="check that the store (or tracking server) answers its API")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "check":
            check_server(tracking_uri())
            print(f"ok: {_redact(tracking_uri())}")
            return 0
        experiment_id = setup()
    except TrackingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"MLflow store ready: {display_uri()} (experiment {EXPERIMENT_NAME!r}, id {experiment_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
