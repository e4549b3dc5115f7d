"""A team's deployment on loopback, for tests (fixtures and helpers; no tests here).

- a throwaway PostgreSQL cluster (Debian's initdb and pg_ctl), MLflow's backend store;
- an S3-compatible server (moto's `moto_server`), holding MLflow's artifacts and a
  DVC remote;
- `mlflow server` on both, with --serve-artifacts and --allowed-hosts, as a lab
  would run it (authentication aside);
- a bare git repository and a DVC `s3://` remote with its `endpointurl`, for
  machines that share experiments.

Everything listens on 127.0.0.1 and is torn down at the end of the session. A
test gets the fixtures (postgres_cluster, moto_s3, team_server) by name:
conftest.py loads this module as a plugin.

A missing component (PostgreSQL, moto, boto3, psycopg2) skips the test with the
reason outside CI, and fails it when CI=true: CI installs them (.ci/run).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests_support import (
    BIN,
    LOOPBACK,
    Repo,
    clean_env,
    free_port,
    stop_process_group,
    wait_healthy,
)

# What the fake S3 accepts: any key pair works; region is required by the clients.
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                  "AWS_DEFAULT_REGION": "us-east-1"}
ARTIFACT_BUCKET = "team-artifacts"
DVC_BUCKET = "team-dvc"
# The name clients use for the server, as on a real network. Nothing resolves it:
# tests connect to 127.0.0.1 and send it as the Host header.
PUBLIC_HOST = "mlflow.team.test"
START_TIMEOUT_S = 180  # mlflow's first start migrates a fresh PostgreSQL schema


def require(ok: bool, reason: str) -> None:
    """Missing in CI is a failure; elsewhere the test skips and says why."""
    if ok:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the team-stack tests must run; .ci/run installs it)", pytrace=False)
    pytest.skip(reason)


def _python_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# --------------------------------------------------------------------------- #
# PostgreSQL
# --------------------------------------------------------------------------- #


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's versioned folder."""
    on_path = shutil.which("pg_ctl")
    if on_path and (Path(on_path).resolve().parent / "initdb").exists():
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return versions[-1].parent if versions else None


def _unprivileged_user() -> str | None:
    """initdb refuses to run as root: as root, run the cluster as this user."""
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


class PostgresCluster:
    """A fresh cluster in a temporary folder, listening on 127.0.0.1 only (trust
    authentication: nothing else can reach it), with one database, `mlflow`."""

    user = "mlflow"
    database = "mlflow"

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.folder: Path | None = None
        self.port = 0
        self.run_as: list[str] = []

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg2://{self.user}@{LOOPBACK}:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self.run_as, str(self.bin_dir / tool), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.folder)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def start(self) -> PostgresCluster:
        # Under /tmp, not pytest's tmp_path: the unprivileged user must reach it.
        self.folder = Path(tempfile.mkdtemp(prefix="latent-atlas-pg-"))
        if os.geteuid() == 0:
            owner = _unprivileged_user()
            entry = pwd.getpwnam(owner)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
            self.run_as = ["runuser", "-u", owner, "--"]
        data = self.folder / "data"
        # --no-sync and fsync=off: a throwaway cluster need not survive a crash.
        self._run("initdb", "-D", str(data), "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--no-instructions", "--no-sync")
        self.port = free_port()
        options = (f"-c listen_addresses={LOOPBACK} -p {self.port} -k {self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(data), "-l", str(self.folder / "server.log"), "-w", "-t", "60",
                  "-o", options, "start")
        self._run("createdb", "-h", LOOPBACK, "-p", str(self.port), "-U", self.user, self.database)
        return self

    def stop(self) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def query(self, sql: str) -> list[tuple]:
        import psycopg2

        with contextlib.closing(psycopg2.connect(host=LOOPBACK, port=self.port, user=self.user,
                                                 dbname=self.database)) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()


# --------------------------------------------------------------------------- #
# S3 (moto)
# --------------------------------------------------------------------------- #


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # an HTTP error is an answer
    except OSError:
        return False


class MotoS3:
    """moto's S3-compatible server on 127.0.0.1 (in-memory: gone when it stops)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.proc: subprocess.Popen | None = None
        self.url = ""

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs: fake credentials, and not the user's AWS
        config (an empty file: botocore refuses a named file that is missing)."""
        empty = str(self.folder / "aws-config")
        return {**S3_CREDENTIALS, "AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty}

    def start(self) -> MotoS3:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "aws-config").touch()
        port = free_port()
        self.url = f"http://{LOOPBACK}:{port}"
        with open(self.folder / "moto.log", "w") as log:
            self.proc = subprocess.Popen([str(BIN / "moto_server"), "-H", LOOPBACK, "-p", str(port)],
                                         env=clean_env(**self.env), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while not _answers_http(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start:\n{(self.folder / 'moto.log').read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, grace_s=5)

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"],
                            aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix`: key -> bytes."""
        s3 = self.client()
        found = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        return found


# --------------------------------------------------------------------------- #
# the MLflow server
# --------------------------------------------------------------------------- #


@dataclass
class TeamMlflowServer:
    """`mlflow server` on PostgreSQL with artifacts in S3, served through the server
    (clients need no S3 credentials), accepting only the Host headers it is told."""

    folder: Path
    backend_uri: str
    s3: MotoS3
    artifacts_destination: str
    public_host: str = PUBLIC_HOST
    proc: subprocess.Popen | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def allowed_hosts(self) -> str:
        return f"{self.public_host}:{self.port},{LOOPBACK}:{self.port},localhost:{self.port}"

    @property
    def log(self) -> Path:
        return self.folder / "mlflow-server.log"

    def command(self) -> list[str]:
        return [str(BIN / "mlflow"), "server",
                "--backend-store-uri", self.backend_uri,
                "--artifacts-destination", self.artifacts_destination,
                "--serve-artifacts",
                "--host", LOOPBACK, "--port", str(self.port),
                "--allowed-hosts", self.allowed_hosts,
                "--workers", "1"]

    def start(self) -> TeamMlflowServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        env = clean_env(**self.s3.env, MLFLOW_S3_ENDPOINT_URL=self.s3.url)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(self.command(), cwd=self.folder, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.url, self.proc, timeout_s=START_TIMEOUT_S, log=self.log)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop_process_group(self.proc, grace_s=5)

    def client_env(self) -> dict[str, str]:
        """A machine's environment for this server: the tracking URI and nothing else
        (artifacts go through the server, so no S3 credentials)."""
        return clean_env(MLFLOW_TRACKING_URI=self.url)


# --------------------------------------------------------------------------- #
# fixtures (session-scoped: the stack starts once, ~20 s)
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin_dir()
    require(bin_dir is not None, "PostgreSQL's initdb and pg_ctl are not installed (Debian: apt-get install postgresql)")
    require(os.geteuid() != 0 or (shutil.which("runuser") is not None and _unprivileged_user() is not None),
            "running as root, and no runuser or unprivileged user to run initdb as")
    require(_python_module("psycopg2"), "psycopg2 is not installed (pip install -e '.[dev]')")
    cluster = PostgresCluster(bin_dir)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def moto_s3(tmp_path_factory) -> Iterator[MotoS3]:
    require((BIN / "moto_server").exists() and _python_module("boto3"),
            "moto_server or boto3 is not installed (pip install -e '.[dev]')")
    server = MotoS3(tmp_path_factory.mktemp("moto"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def team_server(postgres_cluster, moto_s3, tmp_path_factory) -> Iterator[TeamMlflowServer]:
    bucket = moto_s3.create_bucket(ARTIFACT_BUCKET)
    server = TeamMlflowServer(tmp_path_factory.mktemp("mlflow-team"), postgres_cluster.uri, moto_s3,
                              f"s3://{bucket}/mlartifacts")
    try:
        yield server.start()
    finally:
        server.stop()


# --------------------------------------------------------------------------- #
# machines sharing experiments
# --------------------------------------------------------------------------- #


def bare_git_repo(path: Path) -> Path:
    """The git remote machines push experiments to (`dvc exp push origin`)."""
    subprocess.run(["git", "init", "--bare", "-q", "--initial-branch=main", str(path)], check=True, timeout=60)
    return path


def add_dvc_s3_remote(repo: Repo, s3: MotoS3, bucket: str = DVC_BUCKET, name: str = "team") -> str:
    """A default DVC remote `s3://<bucket>/dvc` on the moto server: the URL and the
    endpoint go into .dvc/config (committed, so clones have them), the
    credentials into .dvc/config.local (never committed), as on a team's machines."""
    with contextlib.suppress(Exception):  # another machine may have made it already
        s3.create_bucket(bucket)
    url = f"s3://{bucket}/dvc"
    repo.dvc("remote", "add", "-d", name, url)
    repo.dvc("remote", "modify", name, "endpointurl", s3.url)
    set_dvc_s3_credentials(repo, name)
    return url


def set_dvc_s3_credentials(repo: Repo, name: str = "team") -> None:
    """What each machine (each clone) sets for itself, as the README's team setup
    says: `dvc remote modify --local` (no region: the endpoint decides)."""
    for option, variable in (("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY")):
        repo.dvc("remote", "modify", "--local", name, option, S3_CREDENTIALS[variable])


def clone(origin: Path, path: Path) -> Repo:
    """Another machine: a clone of the shared git remote."""
    subprocess.run(["git", "clone", "-q", str(origin), str(path)], check=True, timeout=120)
    return Repo(path)
