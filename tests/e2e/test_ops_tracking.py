"""The MLflow store under concurrency and an unreachable tracking server.

Real MLflow in subprocesses, loopback only: parallel stages creating one fresh
sqlite store, the `init` command, and stages failing fast (before any work)
when MLFLOW_TRACKING_URI names a server that does not answer.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from tests_support import (
    LOOPBACK,
    SilentServer,
    assert_one_line_error,
    clean_env,
    dvc_detached,
    free_port,
    make_repo,
    queue_status,
    run_stage,
    scratch_project,
    tiny_params,
)

from latent_atlas import commands
from latent_atlas.errors import TrackingError
from latent_atlas.tracking import server, store

N_PARALLEL = 3  # 3 racing processes broke a fresh store in every trial without the lock

# Each worker imports MLflow first (the slow part), then waits on a shared
# start signal so that all of them open the fresh store at the same instant.
WORKER = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    import mlflow  # noqa: F401  (imported before the start signal)
    from latent_atlas.tracking import runs as tracking

    ready, go = Path(sys.argv[1]), Path(sys.argv[2])
    ready.touch()
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("no start signal")
        time.sleep(0.01)
    experiment_id = tracking.setup()
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("worker", float(sys.argv[3]))
    print(json.dumps({"experiment_id": experiment_id, "run_id": run.info.run_id}))
""")


@pytest.mark.e2e
def test_parallel_stages_create_one_fresh_store(tmp_path):
    """Without the lock, 3-4 processes opening a fresh mlflow.db fail with
    'table ... already exists' / 'duplicate column' (MLflow's schema migrations race)."""
    import json

    from mlflow.tracking import MlflowClient

    root = tmp_path / "repo"
    root.mkdir()
    env = clean_env(DVC_ROOT=str(root))
    procs, readies = [], []
    go = tmp_path / "go"
    for i in range(N_PARALLEL):
        ready = tmp_path / f"ready{i}"
        readies.append(ready)
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(ready), str(go), str(i)], cwd=root,
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in readies):
            assert time.monotonic() < deadline, "workers did not start within 120 s"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
            time.sleep(0.05)
        go.touch()
        outputs = [p.communicate(timeout=180) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, f"a worker failed opening the fresh store:\n{err[-3000:]}"
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert len({r["experiment_id"] for r in results}) == 1

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiments = [e for e in client.search_experiments() if e.name == store.EXPERIMENT_NAME]
    assert len(experiments) == 1
    runs = client.search_runs([experiments[0].experiment_id])
    assert sorted(r.data.metrics["worker"] for r in runs) == [float(i) for i in range(N_PARALLEL)]
    assert experiments[0].artifact_location == (root / "mlartifacts").resolve().as_uri()


@pytest.mark.e2e
def test_init_command_creates_the_store_up_front(tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    root = tmp_path / "repo"
    root.mkdir()
    cmd = [sys.executable, "-m", "latent_atlas.tracking", "init"]
    first = subprocess.run(cmd, cwd=root, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    uri = f"sqlite:///{(root / 'mlflow.db').resolve()}"
    assert uri in first.stdout and "latent-atlas" in first.stdout, first.stdout
    experiment = MlflowClient(tracking_uri=uri).get_experiment_by_name(store.EXPERIMENT_NAME)
    assert experiment is not None and f"id {experiment.experiment_id})" in first.stdout
    assert experiment.artifact_location == (root / "mlartifacts").resolve().as_uri()

    # A server that does not answer: one line naming it, exit code 2, nothing created.
    unreachable = f"http://{LOOPBACK}:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", unreachable)
    for command in ("init", "check"):
        assert commands.main(["tracking", command]) == 2
        err = capsys.readouterr().err
        assert f"MLFLOW_TRACKING_URI={unreachable}" in err and len(err.strip().splitlines()) == 1


def test_store_lock_is_released_when_its_holder_dies(tmp_path):
    """A stage killed while holding the lock must not block the next one."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from latent_atlas.tracking import store
        with store.store_lock({uri!r}):
            print("held", flush=True)
            time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TrackingError, match="mlflow.db-init.lock"), store.store_lock(uri, timeout_s=0.5):
            pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    start = time.monotonic()
    with store.store_lock(uri, timeout_s=5):
        pass
    assert time.monotonic() - start < 2


def test_check_server_gives_up_on_a_silent_server():
    with SilentServer() as silent:
        uri = silent.url.rstrip("/")
        start = time.monotonic()
        with pytest.raises(TrackingError, match=f"MLFLOW_TRACKING_URI={uri}") as info:
            server.check_server(uri, timeout_s=1.0)
        assert time.monotonic() - start < 1.0 + 2.0
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["refused", pytest.param("silent", marks=pytest.mark.e2e)])  # silent: 5 s timeout
def test_track_stage_fails_before_reading_outputs_when_the_server_is_down(tmp_path, kind):
    """The stage that logs checks the server first: had it read the pipeline's
    outputs first, the error would name metrics/data.json instead of the server."""
    root = scratch_project(tmp_path / "proj")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params(("classifier",))))
    with SilentServer() as silent:
        uri = silent.url.rstrip("/") if kind == "silent" else f"http://{LOOPBACK}:{free_port()}"
        start = time.monotonic()
        result = run_stage(root, "track", timeout=90,
                           env=clean_env(MLFLOW_TRACKING_URI=uri))
        elapsed = time.monotonic() - start
    line = assert_one_line_error(result, f"MLFLOW_TRACKING_URI={uri}")
    assert "mnist" not in line and "data.json" not in line
    assert not (root / "models").exists() and not (root / "mlflow.db").exists()
    # Python start-up and imports take a few seconds on a busy machine; the check
    # itself is immediate (refused) or bounded by its 5 s timeout (silent).
    assert elapsed < 30, f"the stage took {elapsed:.1f} s to fail"
    print(f"track stage failed in {elapsed:.1f} s against a {kind} server: {line}")


def test_tracking_module_names_its_store_files(tmp_path):
    assert store.sqlite_path(f"sqlite:///{tmp_path}/mlflow.db") == (tmp_path / "mlflow.db").resolve()
    assert store.sqlite_path("http://127.0.0.1:5000") is None
    assert store.sqlite_path("file:///x/mlruns") is None
    # The lock file sits beside the store, where .gitignore's mlflow.db-* covers it.
    with store.store_lock(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        assert Path(tmp_path / "mlflow.db-init.lock").exists()


# Port 9 (discard): nothing listens on it here; a refused connection, at once.
DEAD_SERVER = f"http://{LOOPBACK}:9"
QUEUE_TIMEOUT_S = 180


def ran_stages(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


@pytest.mark.e2e
def test_a_pipeline_against_a_dead_server_stops_in_its_first_stage(tmp_path):
    """`dvc repro -f`, and a queued experiment, with MLFLOW_TRACKING_URI at a dead port:
    the first stage that runs checks the server before any work and stops the
    pipeline within seconds, naming the URI (not `track`, an hour later)."""
    repo = make_repo(tmp_path / "repo", variants=("classifier",))
    dead = {"MLFLOW_TRACKING_URI": DEAD_SERVER}
    start = time.monotonic()
    result = repo.dvc("repro", "-f", check=False, env=dead, timeout=120)
    elapsed = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert len(ran_stages(output)) == 1, output  # the first stage stops the pipeline
    assert f"MLFLOW_TRACKING_URI={DEAD_SERVER}" in output and "unset MLFLOW_TRACKING_URI" in output
    assert not (repo.root / "data" / "mnist.npz").exists() and not (repo.root / "dvc.lock").exists()
    assert elapsed < 30, f"dvc repro -f took {elapsed:.1f} s to stop"
    print(f"dvc repro -f against {DEAD_SERVER} stopped after {elapsed:.1f} s")

    # The same in a queued experiment, which DVC runs in a copy of the repository.
    queued = repo.dvc("exp", "run", "--queue", "-n", "dead-server", "-S", "seed=7", timeout=120)
    assert "Queued experiment 'dead-server'" in queued.stdout, queued.stdout
    log = tmp_path / "queue.log"
    start = time.monotonic()
    try:
        dvc_detached(repo, "queue", "start", log=log, env=dead)
        while queue_status(repo).get("dead-server") not in ("Success", "Failed"):
            assert time.monotonic() - start < QUEUE_TIMEOUT_S, f"still queued after {QUEUE_TIMEOUT_S} s"
            time.sleep(1)
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            dvc_detached(repo, "queue", "stop", "--kill", log=log)
    assert queue_status(repo)["dead-server"] == "Failed"
    logs = repo.dvc("queue", "logs", "dead-server", check=False, timeout=120).stdout
    assert len(ran_stages(logs)) == 1 and f"MLFLOW_TRACKING_URI={DEAD_SERVER}" in logs, logs[-3000:]
    print(f"the queued experiment failed {time.monotonic() - start:.1f} s after `dvc queue start`")
