"""The team stack on loopback: MLflow on PostgreSQL with artifacts in S3 (moto),
reached by the name clients use for it, and a DVC remote on the same S3.

Skips outside CI when PostgreSQL or moto is missing (saying which); fails in CI.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from team_stack import (
    ARTIFACT_BUCKET,
    DVC_BUCKET,
    PUBLIC_HOST,
    add_dvc_s3_remote,
    bare_git_repo,
    clone,
    require,
    set_dvc_s3_credentials,
)
from tests_support import Repo

SEARCH = "/api/2.0/mlflow/experiments/search"


def post(server, path: str, body: dict, host: str) -> tuple[int, str]:
    """POST to the server on 127.0.0.1 with the given Host header."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", path, body=json.dumps(body),
                     headers={"Host": host, "Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.mark.e2e
def test_an_allowed_host_header_is_served_and_another_is_refused(team_server):
    """MLflow answers 403 to any API call whose Host it was not told to allow;
    /health is exempt, so only a real API call shows it."""
    status, body = post(team_server, SEARCH, {"max_results": 1}, f"{PUBLIC_HOST}:{team_server.port}")
    assert status == 200, body
    assert "experiments" in json.loads(body)
    status, body = post(team_server, SEARCH, {"max_results": 1}, f"mlflow.elsewhere.test:{team_server.port}")
    assert status == 403, body


@pytest.mark.e2e
def test_a_run_and_its_artifact_go_to_postgres_and_s3(team_server, postgres_cluster, moto_s3, tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=team_server.url)
    experiment_id = client.create_experiment("team-smoke")
    # Served artifacts: clients see the server's proxy URI, never the bucket.
    assert client.get_experiment(experiment_id).artifact_location.startswith("mlflow-artifacts:")
    run = client.create_run(experiment_id, run_name="smoke")
    client.log_param(run.info.run_id, "latent_dim", 6)
    payload = tmp_path / "model.bin"
    payload.write_bytes(bytes(range(256)) * 40)
    client.log_artifact(run.info.run_id, str(payload), "checkpoint")
    client.set_terminated(run.info.run_id)

    # The run is in PostgreSQL, and the artifact's bytes in the bucket.
    rows = postgres_cluster.query(f"SELECT status FROM runs WHERE run_uuid = '{run.info.run_id}'")
    assert rows == [("FINISHED",)]
    stored = moto_s3.objects(ARTIFACT_BUCKET, "mlartifacts/")
    matches = [key for key in stored if key.endswith(f"{run.info.run_id}/artifacts/checkpoint/model.bin")]
    assert len(matches) == 1, sorted(stored)
    assert stored[matches[0]] == payload.read_bytes()
    # And it reads back through the server.
    fetched = client.download_artifacts(run.info.run_id, "checkpoint/model.bin", str(tmp_path / "back"))
    assert Path(fetched).read_bytes() == payload.read_bytes()


@pytest.mark.e2e
def test_dvc_push_to_the_s3_remote_and_pull_on_another_machine(moto_s3, tmp_path):
    origin = bare_git_repo(tmp_path / "origin.git")
    first = tmp_path / "machine-a"
    first.mkdir()
    repo = Repo(first)
    repo.run("git", "init", "-q", "--initial-branch=main")
    repo.dvc("init", "-q")
    url = add_dvc_s3_remote(repo, moto_s3)
    (first / "data.bin").write_bytes(b"latent atlas\n" * 1000)
    repo.dvc("add", "data.bin")
    repo.commit("data")
    repo.run("git", "remote", "add", "origin", str(origin))
    repo.run("git", "push", "-q", "origin", "main")
    repo.dvc("push")
    assert moto_s3.objects(DVC_BUCKET, "dvc/"), "dvc push stored nothing in the bucket"
    assert "secret_access_key" not in (first / ".dvc/config").read_text()  # credentials stay local

    other = clone(origin, tmp_path / "machine-b")
    assert f"url = {url}" in (other.root / ".dvc/config").read_text()
    set_dvc_s3_credentials(other)  # each machine's own config.local
    other.dvc("pull")
    assert (other.root / "data.bin").read_bytes() == b"latent atlas\n" * 1000


def test_a_missing_component_fails_in_ci_and_skips_elsewhere(monkeypatch):
    require(True, "never shown")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL missing .CI=true"):
        require(False, "PostgreSQL missing")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL missing"):
        require(False, "PostgreSQL missing")
