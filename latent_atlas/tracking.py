"""MLflow bookkeeping: where the store is, and how runs are grouped.

The store defaults to mlflow.db at the repository root. DVC runs queued
experiments in temporary copies of the repository (.dvc/tmp/exps/...), so the
root is resolved from DVC_ROOT (set by DVC in stage commands) and, inside such
a copy, walked back up to the real repository; MLFLOW_TRACKING_URI overrides it.

Each pipeline run (one `dvc repro` or one DVC experiment) gets one parent run;
every stage that trains or analyses logs into a child run named after its
variant, so MLflow's compare view lines the variants up.

A fresh sqlite store is created under an exclusive file lock
(mlflow.db-init.lock beside it): MLflow builds the schema with a chain of
migrations on first connection, and parallel workers of `dvc queue start -j N`
that race on it corrupt the file. `python -m latent_atlas.tracking init`
creates the store and the experiment up front.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: no lock (parallel queue workers need one; see store_lock)
    fcntl = None  # type: ignore[assignment]

EXPERIMENT_NAME = "latent-atlas"
_EXPS_TMP = (".dvc", "tmp", "exps")
# How long a stage waits for another process to finish creating the store.
STORE_LOCK_TIMEOUT_S = 300.0


class TrackingError(RuntimeError):
    """The tracking store cannot be used."""


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


def artifact_location() -> str | None:
    """Artifacts beside a local store; a server decides its own."""
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        return None
    base = Path(uri.removeprefix("sqlite:///")).parent if uri.startswith("sqlite:///") else repo_root()
    return (base / "mlartifacts").resolve().as_uri()


def check_server(uri: str, timeout_s: float = 5.0) -> None:
    """Fail at once, naming the URI, when a tracking server does not answer."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as response:
            if response.status != 200:
                raise TrackingError(f"MLflow server at {uri} answered /health with HTTP {response.status}")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TrackingError(
            f"cannot reach the MLflow tracking server at MLFLOW_TRACKING_URI={uri} ({reason}); "
            "start it or unset MLFLOW_TRACKING_URI to use the local mlflow.db"
        ) from None


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite:/// URI (None for any other store)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///").split("?", 1)[0]).resolve()


@contextmanager
def store_lock(uri: str, timeout_s: float = STORE_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive lock on a local sqlite store while it is opened.

    The first connection to a fresh mlflow.db runs MLflow's schema migrations;
    two processes doing that at once leave a broken database ("table already
    exists", "duplicate column"). The lock file (mlflow.db-init.lock) sits
    beside the database; the kernel releases it if its holder dies, so a
    killed stage never blocks the next. Other stores need no lock.
    """
    db = sqlite_path(uri)
    if db is None or fcntl is None:
        yield
        return
    db.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db.with_name(f"{db.name}-init.lock")
    with open(lock_path, "a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TrackingError(
                        f"waited {timeout_s:g} s for {lock_path} (another process is creating the "
                        f"MLflow store {db}); remove the lock file if no stage is running"
                    ) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def setup() -> str:
    """Point MLflow at the store, check it, create the experiment; return its id.

    A local store is created (schema and experiment) under store_lock, so
    parallel stages can start on a repository that has no mlflow.db yet.
    """
    import mlflow

    uri = tracking_uri()
    check_server(uri)
    mlflow.set_tracking_uri(uri)
    with store_lock(uri):
        experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME)  # creates the schema if new
        if experiment is not None:
            return experiment.experiment_id
        try:
            return mlflow.create_experiment(EXPERIMENT_NAME, artifact_location=artifact_location())
        except Exception:  # created meanwhile by a stage writing to the same server
            experiment = mlflow.get_experiment_by_name(EXPERIMENT_NAME)
            if experiment is None:
                raise
            return experiment.experiment_id


def git_revision(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def experiment_name() -> str:
    """DVC's experiment name where `dvc exp run` set one, else 'workspace'."""
    return os.environ.get("DVC_EXP_NAME") or "workspace"


def pipeline_key(params_text: str) -> str:
    """Identifies one pipeline run: the experiment, the code revision and the params."""
    root = Path.cwd()
    material = f"{experiment_name()}|{git_revision(root)}|{params_text}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def run_tags(variant: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        "variant": variant,
        "dvc_experiment": experiment_name(),
        "git_revision": git_revision(Path.cwd()),
        **(extra or {}),
    }


def parent_run_id(experiment_id: str, params_text: str) -> str:
    """Find or create the parent run of this pipeline run."""
    import mlflow
    from mlflow.tracking import MlflowClient

    key = pipeline_key(params_text)
    client = MlflowClient()
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.pipeline_key = '{key}' and tags.role = 'pipeline'", max_results=1
    )
    if found:
        return found[0].info.run_id
    name = f"{experiment_name()}-{key[:6]}"
    run = client.create_run(experiment_id, run_name=name, tags={
        "pipeline_key": key,
        "role": "pipeline",
        "dvc_experiment": experiment_name(),
        "git_revision": git_revision(Path.cwd()),
        mlflow.utils.mlflow_tags.MLFLOW_RUN_NAME: name,
    })
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def log_params_flat(params: dict[str, Any]) -> None:
    import mlflow

    from latent_atlas.config import flatten

    flat = {k: ("null" if v is None else v) for k, v in flatten(params).items()}
    mlflow.log_params({k: str(v)[:6000] for k, v in flat.items()})


def start_variant_run(variant: str, params_text: str, tags: dict[str, str], run_id: str | None = None):
    """Open (or reopen, with run_id) the child run of one variant."""
    import mlflow

    experiment_id = setup()
    if run_id is not None:
        try:
            return mlflow.start_run(run_id=run_id)
        except Exception:
            pass  # the run lives in another store: open a fresh one
    parent = parent_run_id(experiment_id, params_text)
    return mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"{variant} ({experiment_name()})",
        tags={**run_tags(variant, tags), "role": "variant", "mlflow.parentRunId": parent},
    )


@contextmanager
def _pickle_allowed() -> Iterator[None]:
    """MLflow refuses pickled models where MLFLOW_ALLOW_PICKLE_DESERIALIZATION
    is false (its default is true in 3.17; an administrator may turn it off)."""
    key = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
    saved = os.environ.get(key)
    os.environ[key] = "true"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


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
    """Load a model that log_model logged: runs:/<run_id>/model or models:/<model_id>.

    store_uri: the tracking store to resolve the URI against (default: the
    current one, MLFLOW_TRACKING_URI or the repository's mlflow.db). The model
    is pickled, so loading it runs code from the artifact: load only models
    from a store you trust. Returns the model in eval mode, on the CPU.
    """
    import mlflow

    with _using_store(store_uri), _pickle_allowed():
        model = mlflow.pytorch.load_model(model_uri, map_location="cpu")
    return model.eval()


def log_model(model) -> None:
    """Log a loadable copy of the model (pickle format keeps `encode`/`decode`).

    MLflow's default since 3.14 is torch.export's pt2, which needs an input
    example and keeps only `forward`. Requirements are given, not inferred:
    inference loads the model in a subprocess and costs seconds per run.
    """
    import mlflow
    import torch

    package_dir = Path(__file__).resolve().parent
    mlflow.pytorch.log_model(
        model,
        name="model",
        serialization_format="pickle",
        code_paths=[str(package_dir)],
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
    )


# --- command line ----------------------------------------------------------------------


def init_store() -> tuple[str, str]:
    """Create the store and the experiment now; return (tracking URI, experiment id)."""
    experiment_id = setup()
    return tracking_uri(), experiment_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m latent_atlas.tracking",
        description="MLflow store of latent-atlas. `init` creates it (schema and experiment) "
        "before parallel runs, e.g. before `dvc queue start -j 2`.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create the store and the latent-atlas experiment")
    commands.add_parser("check", help="check that the store (or tracking server) answers")
    args = parser.parse_args(argv)
    import logging

    logging.basicConfig(level=logging.WARNING)
    for noisy in ("alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if args.command == "check":
            check_server(tracking_uri())
            print(f"ok: {tracking_uri()}")
            return 0
        uri, experiment_id = init_store()
    except TrackingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"MLflow store ready: {uri} (experiment {EXPERIMENT_NAME!r}, id {experiment_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
