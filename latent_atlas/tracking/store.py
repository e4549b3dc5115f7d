"""Where the MLflow store is, and creating it safely.

The store defaults to mlflow.db at the repository root (paths.repo_root, which
walks out of DVC's queued-experiment copies); MLFLOW_TRACKING_URI overrides
it. A fresh sqlite store is created under a file lock: parallel `dvc queue
start -j N` workers that race on MLflow's schema migrations corrupt it.
"""

from __future__ import annotations

import os
import subprocess
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from latent_atlas.errors import TrackingError
from latent_atlas.paths import repo_root

EXPERIMENT_NAME = "latent-atlas"
# How long a stage waits for another process to finish creating the store.
STORE_LOCK_TIMEOUT_S = 300.0


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo_root() / 'mlflow.db'}"


def display_uri() -> str:
    """The store, without credentials, for messages."""
    return redact(tracking_uri())


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
            f"MLFLOW_TRACKING_URI={redact(uri)} is a database, so artifacts would land on this machine's disk; "
            "point MLFLOW_TRACKING_URI at the team's `mlflow server` (http://...) instead, "
            "or set LATENT_ATLAS_ARTIFACT_ROOT to a shared location such as s3://bucket/mlflow")
    return root


def redact(uri: str) -> str:
    """The URI without a password, for error messages."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def store_lock(uri: str, timeout_s: float = STORE_LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an exclusive lock on a local sqlite store while it is opened.

    The first connection to a fresh mlflow.db runs MLflow's schema migrations;
    two processes doing that at once leave a broken database. The lock file
    (mlflow.db-init.lock) sits beside the database; the OS releases it if its
    holder dies. Other stores need no lock.
    """
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


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def experiment_name() -> str:
    """DVC's experiment name where `dvc exp run` set one, else 'workspace'."""
    return os.environ.get("DVC_EXP_NAME") or "workspace"
