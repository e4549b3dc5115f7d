"""Two machines share experiments through the team stack, exactly as the README's
"Team setup" section tells a lab to: one MLflow server (PostgreSQL, artifacts in
S3), one DVC remote on S3, one git remote. All on 127.0.0.1 (tests/team_stack.py).

- a first machine sets the project up: `dvc repro`, `dvc push`, `git push`;
- two machines each run one experiment the way a scheduler job does: clone,
  `dvc pull`, `dvc exp run -n NAME -S ...`, `dvc push`, `dvc exp push origin NAME`;
- a third machine runs `dvc exp pull origin` and `dvc pull`, and sees both
  experiments in `dvc exp show` and in MLflow, with models bit-identical to the
  ones in MLflow's S3 artifacts.
"""

from __future__ import annotations

import csv
import hashlib
import io
import sys

import pytest
from team_stack import (
    ARTIFACT_BUCKET,
    add_dvc_s3_remote,
    bare_git_repo,
    clone,
    set_dvc_s3_credentials,
)
from tests_support import make_repo

from latent_atlas.tracking import models as tracking_models
from latent_atlas.tracking import store

pytestmark = pytest.mark.e2e

VARIANTS = ("classifier",)
EXPERIMENTS = {"z4": 4, "z6": 6}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def scheduler_job(origin, path, name: str, latent_dim: int, env: dict):
    """One experiment as a stateless job: clone, pull, run, push."""
    machine = clone(origin, path)
    set_dvc_s3_credentials(machine)
    machine.dvc("pull", env=env)
    machine.dvc("exp", "run", "-n", name, "-S", f"latent_dim={latent_dim}", env=env)
    machine.dvc("push", env=env)
    machine.dvc("exp", "push", "origin", name, env=env)
    return machine


def test_two_machines_share_experiments(team_server, moto_s3, tmp_path):
    from mlflow.tracking import MlflowClient

    env = team_server.client_env()
    origin = bare_git_repo(tmp_path / "origin.git")
    first = make_repo(tmp_path / "first", variants=VARIANTS)
    add_dvc_s3_remote(first, moto_s3)
    first.run("git", "remote", "add", "origin", str(origin))
    first.dvc("repro", env=env)
    first.dvc("push", env=env)
    first.commit("baseline results")
    first.run("git", "push", "-q", "origin", "HEAD:main")

    for i, (name, dim) in enumerate(EXPERIMENTS.items()):
        scheduler_job(origin, tmp_path / f"machine{i}", name, dim, env)

    third = clone(origin, tmp_path / "third")
    set_dvc_s3_credentials(third)
    third.dvc("exp", "pull", "origin", *EXPERIMENTS, env=env)
    table = third.run(sys.executable, "-m", "latent_atlas.experiments", "--csv", env=env).stdout
    rows = {r["experiment"]: r for r in csv.DictReader(io.StringIO(table))}
    assert {name: int(rows[name]["latent_dim"]) for name in EXPERIMENTS} == EXPERIMENTS

    client = MlflowClient(team_server.url)
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    for name, dim in EXPERIMENTS.items():
        parents = [r for r in runs if r.data.tags.get("role") == "pipeline" and r.data.tags["dvc_experiment"] == name]
        assert len(parents) == 1, name
        parent = parents[0]
        assert parent.info.status == "FINISHED" and parent.data.params["latent_dim"] == str(dim)
        assert float(rows[name]["acc"]) == pytest.approx(parent.data.metrics["classifier.accuracy"], abs=5e-5)
        child = next(r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)
        assert child.data.tags["variant"] == "classifier" and child.info.status == "FINISHED"

        # The experiment's model from DVC's S3 remote, and from MLflow's S3 artifacts: the same bytes.
        third.dvc("exp", "apply", name, env=env)
        third.dvc("pull", env=env)
        from_dvc = (third.root / "models/classifier.pt").read_bytes()
        in_s3 = {key: data for key, data in moto_s3.objects(ARTIFACT_BUCKET).items()
                 if child.info.run_id in key and key.endswith("checkpoint/classifier.pt")}
        assert len(in_s3) == 1, sorted(in_s3)
        assert md5(next(iter(in_s3.values()))) == md5(from_dvc)
        model = tracking_models.load_model(f"runs:/{child.info.run_id}/model", store_uri=team_server.url)
        assert model.config.latent_dim == dim
        third.run("git", "reset", "-q", "--hard")
