"""latent_atlas.tracking.runs writing records: the run tree, restored numbers,
idempotency, interrupted and abandoned runs, and the pre-flight check.

Records are built by hand from small real files (a real checkpoint), and
logged into a sqlite store in a temporary folder: no pipeline runs here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from latent_atlas.errors import TrackingError
from latent_atlas.models.autoencoders import ModelConfig, build_model
from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint
from latent_atlas.tracking import models as tracking_models
from latent_atlas.tracking import runs as tracking
from latent_atlas.tracking import server
from latent_atlas.tracking import store as tracking_store
from latent_atlas.tracking.record import DatasetRecord, PipelineRecord, VariantRecord


@pytest.fixture
def store(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'store' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    return uri


def checkpoint(path: Path, latent_dim: int = 3) -> Path:
    config = ModelConfig(arch="mlp", latent_dim=latent_dim, hidden=(8,), output="sigmoid")
    torch.manual_seed(0)
    model = build_model(config)
    save_checkpoint(path, Checkpoint(model_config=config.to_dict(), state_dict=model.state_dict(), variant="v",
                                     params={}, input_range="unit", data_checksum="c" * 64, data_source="bundled"))
    return path


def record(tmp_path: Path, experiment: str, executions: dict[str, dict[str, str]], mse: float = 0.5) -> PipelineRecord:
    report = tmp_path / "summary.md"
    report.write_text("# report\n")
    variants = [VariantRecord(name=name, params={"latent_dim": "3", "variant": name}, metrics={"test_mse": mse},
                              history=[{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.7}],
                              artifacts=[(report, "metrics")], checkpoint=checkpoint(tmp_path / f"{name}.pt"),
                              executions=ids)
                for name, ids in executions.items()]
    return PipelineRecord(experiment=experiment, git_commit="a" * 40, params={"latent_dim": "3", "seed": "1"},
                          metrics={f"{v}.test_mse": mse for v in executions}, artifacts=[(report, "report")],
                          dataset=DatasetRecord("mnist-bundled", "bundled", "d" * 64, 10, 10), variants=variants)


def runs(uri: str):
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(tracking_store.EXPERIMENT_NAME)
    return client, experiment, client.search_runs([experiment.experiment_id], max_results=100)


def test_one_parent_with_a_child_per_variant(store, tmp_path):
    rec = record(tmp_path, "exp-a", {"a": {"train": "t1", "analyze": "a1"}, "b": {"train": "t2", "analyze": "a2"}})
    parent_id = tracking.log_pipeline(rec)
    client, experiment, found = runs(store)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    parent = next(r for r in found if r.info.run_id == parent_id)
    assert parent.data.tags["role"] == "pipeline" and parent.data.tags["dvc_experiment"] == "exp-a"
    assert parent.data.tags["mlflow.source.git.commit"] == "a" * 40
    assert parent.data.metrics == {"a.test_mse": 0.5, "b.test_mse": 0.5}
    assert parent.inputs.dataset_inputs[0].dataset.name == "mnist-bundled"
    assert parent.inputs.dataset_inputs[0].dataset.digest == ("d" * 64)[:36]
    children = {r.data.tags["variant"]: r for r in found if r.data.tags.get("mlflow.parentRunId") == parent_id}
    assert sorted(children) == ["a", "b"]
    assert all(c.data.tags["restored"] == "false" and c.info.status == "FINISHED" for c in children.values())
    curve = client.get_metric_history(children["a"].info.run_id, "train_loss")
    assert [(m.step, m.value) for m in curve] == [(1, 0.9), (2, 0.7)]
    model = tracking_models.load_model(f"runs:/{children['a'].info.run_id}/model")
    assert model.config.latent_dim == 3


def test_reused_executions_are_tagged_restored_and_logging_is_idempotent(store, tmp_path):
    first = tracking.log_pipeline(record(tmp_path, "exp-a", {"a": {"train": "t1", "analyze": "a1"}}))
    assert tracking.log_pipeline(record(tmp_path, "exp-a", {"a": {"train": "t1", "analyze": "a1"}})) == first
    # Another experiment whose outputs DVC restored from its run cache: same execution ids.
    second = tracking.log_pipeline(record(tmp_path, "exp-b", {"a": {"train": "t1", "analyze": "a1"}}))
    # A third that reran the analysis only.
    third = tracking.log_pipeline(record(tmp_path, "exp-c", {"a": {"train": "t1", "analyze": "a9"}}))
    _, _, found = runs(store)
    by_parent = {r.data.tags.get("mlflow.parentRunId"): r for r in found if r.data.tags.get("role") == "variant"}
    parents = {r.info.run_id: r for r in found if r.data.tags.get("role") == "pipeline"}
    assert len(parents) == 3
    assert parents[first].data.tags["restored"] == "false"
    assert parents[second].data.tags["restored"] == "true"
    assert by_parent[second].data.tags["restored_train_from"] == by_parent[first].info.run_id
    assert by_parent[second].data.tags["restored_analyze_from"] == by_parent[first].info.run_id
    assert by_parent[third].data.tags["restored_train_from"] == by_parent[first].info.run_id
    assert "restored_analyze_from" not in by_parent[third].data.tags
    assert parents[third].data.tags["restored"] == "false"


_INTERRUPTIBLE = textwrap.dedent("""
    import sys, time
    from latent_atlas.tracking import runs as tracking
    experiment_id = tracking.setup()
    with tracking._killed_on_signal(), tracking._run(experiment_id, "slow", tracking._process_tags()) as run:
        print(run.info.run_id, flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_marks_the_open_run_killed(store, tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": store})
    run_id = proc.stdout.readline().strip()
    assert run_id, "the script opened no run"
    proc.send_signal(sig)
    assert proc.wait(timeout=60) != 0
    client, _, _ = runs(store)
    assert client.get_run(run_id).info.status == "KILLED"


def test_a_run_whose_process_died_is_marked_failed_by_the_next_user(store, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": store})
    run_id = proc.stdout.readline().strip()
    proc.kill()  # SIGKILL: no handler runs, the run stays RUNNING
    proc.wait(timeout=60)
    client, _, _ = runs(store)
    assert client.get_run(run_id).info.status == "RUNNING"
    tracking.setup()
    run = client.get_run(run_id)
    assert run.info.status == "FAILED"
    assert str(proc.pid) in run.data.tags["failure"]


def test_a_live_run_of_another_process_is_left_alone(store, tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTIBLE], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "MLFLOW_TRACKING_URI": store})
    try:
        run_id = proc.stdout.readline().strip()
        tracking.setup()
        client, _, _ = runs(store)
        assert client.get_run(run_id).info.status == "RUNNING"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_a_database_uri_needs_a_shared_artifact_root(monkeypatch):
    monkeypatch.delenv("LATENT_ATLAS_ARTIFACT_ROOT", raising=False)
    uri = "postgresql://user:secret@db.example/mlflow"
    with pytest.raises(TrackingError, match="LATENT_ATLAS_ARTIFACT_ROOT") as info:
        tracking_store.artifact_location(uri)
    assert "secret" not in str(info.value)
    monkeypatch.setenv("LATENT_ATLAS_ARTIFACT_ROOT", "s3://bucket/mlflow")
    assert tracking_store.artifact_location(uri) == "s3://bucket/mlflow"


@pytest.mark.parametrize(("code", "body", "fix"), [
    (403, "Invalid Host header", "--allowed-hosts"),
    (401, "unauthorized", "MLFLOW_TRACKING_USERNAME"),
    (500, "database is down", "database is down"),
])
def test_check_server_calls_the_api_and_names_the_fix(code, body, fix):
    """A server whose /health is fine but whose API refuses: one line naming the fix."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, text = (200, "OK") if self.path == "/health" else (code, body)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        start = time.monotonic()
        with pytest.raises(TrackingError, match=f"HTTP {code}") as info:
            server.check_server(uri)
        assert time.monotonic() - start < 5
    finally:
        httpd.shutdown()
    assert fix in str(info.value) and uri in str(info.value) and "\n" not in str(info.value)


def test_a_vae_loads_back_from_mlflow_bit_for_bit(store, tmp_path):
    """Logged as the track stage logs a variant's model, loaded back: the same posterior means and
    log-variances and reconstructions, bit for bit. (tests/e2e/test_ops_pipeline.py logs one model of every
    arch of params.yaml; this one adds a config no variant uses: tanh hidden layers.)"""
    import mlflow

    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    experiment_id = tracking.setup()
    for config in (ModelConfig("vae_mlp", 5, (8, 8), activation="tanh"),):
        torch.manual_seed(1)
        model = build_model(config).eval()
        path = tmp_path / f"{config.arch}-{config.activation}.pt"
        save_checkpoint(path, Checkpoint(model_config=config.to_dict(), state_dict=model.state_dict(), variant="v",
                                         params={}, input_range="unit", data_checksum="c" * 64,
                                         data_source="bundled"))
        with tracking_models._using_store(store), mlflow.start_run(experiment_id=experiment_id) as run:
            tracking_models.log_model(path)
        loaded = tracking_models.load_model(f"runs:/{run.info.run_id}/model", store_uri=store)
        assert type(loaded) is type(model) and loaded.config == config
        with torch.no_grad():
            expected, got = model(x), loaded(x)
        assert expected.keys() == got.keys()
        for key in expected:
            assert torch.equal(expected[key], got[key]), (config.arch, key)
