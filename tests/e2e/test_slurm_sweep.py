"""`latent-atlas sweep --submit --wait` on a loopback Slurm cluster, against the team stack.

A submitting clone pushes its commit to the git remote and sweeps
`-S seed=1,2,three -S data.limit=100`: three array tasks, each cloning the
remote into its own scratch folder, running one experiment and pushing it
(the MLflow server on PostgreSQL with artifacts in S3, the DVC remote on S3,
the bare git remote: tests/team_stack.py; the cluster: tests/slurm_cluster.py).
`seed=three` is not an integer, so that task fails on purpose in its first
stage. Credentials reach the tasks only through the environment: the clones
have no .dvc/config.local.

One sweep serves both tests (a pipeline run is the cost): the first checks
the two seeds' experiments end to end, the second the failed task's report.
The commit has no results yet, so `dvc pull` has nothing to fetch; a seed
sweep reruns every stage anyway.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from team_stack import ARTIFACT_BUCKET, DVC_BUCKET, add_dvc_s3_remote, bare_git_repo, clone
from tests_support import GIT_IDENTITY, Repo, git, make_repo

from latent_atlas.cluster import origin as sweep_origin
from latent_atlas.tracking import store

pytestmark = pytest.mark.e2e

VARIANTS = ("classifier",)
SEEDS = {"seed-1": 1, "seed-2": 2}
BAD = "seed-three"
# `latent-atlas sweep` from the submitting clone's own copy of the package.
LATENT_ATLAS = ("-c", "import sys; from latent_atlas.commands import main; sys.exit(main(sys.argv[1:]))")
FAILED_LINE = re.compile(r"failed: (\S+) \(task (\d+): (\w+), exit (\d+)\): (\S+)")


@dataclass
class Sweep:
    submitter: Repo
    origin: Path
    commit: str
    scratch: Path
    env: dict[str, str]
    returncode: int
    stdout: str


@pytest.fixture(scope="module")
def swept(slurm_cluster, team_server, moto_s3, tmp_path_factory) -> Sweep:
    root = tmp_path_factory.mktemp("sweep")
    origin = bare_git_repo(root / "origin.git")
    submitter = make_repo(root / "submitter", variants=VARIANTS)
    params = submitter.params()
    params["judge"]["batch_size"] = 32  # at most the sweep's data.limit=100
    submitter.write_params(params)
    add_dvc_s3_remote(submitter, moto_s3)
    submitter.commit("team DVC remote")
    submitter.run("git", "remote", "add", "origin", str(origin))
    submitter.run("git", "push", "-q", "origin", "HEAD:main")
    # The submitting shell's environment, which sbatch passes on to the tasks.
    env = {**team_server.client_env(), **moto_s3.env, **slurm_cluster.env, **GIT_IDENTITY}
    result = submitter.run(
        sys.executable, *LATENT_ATLAS, "sweep", "-S", "seed=1,2,three", "-S", "data.limit=100",
        "--submit", "--wait", "--poll", "1", "--cpus-per-task", "1", "--mem", "1G", "--time", "20",
        "--log-dir", str(root / "logs"), "--scratch", str(root / "scratch"), check=False, env=env, timeout=900)
    assert "Traceback" not in result.stderr, result.stderr
    return Sweep(submitter, origin, submitter.head(), root / "scratch", env, result.returncode, result.stdout)


def job_id(sweep: Sweep) -> str:
    return re.search(r"submitted array job (\d+)", sweep.stdout).group(1)


def remote_experiments(sweep: Sweep) -> set[str]:
    refs = git(sweep.origin, "for-each-ref", "--format=%(refname)", "refs/exps/")
    prefix = sweep_origin.experiment_ref(sweep.commit, "")
    return {ref.removeprefix(prefix) for ref in refs.splitlines() if ref.startswith(prefix)}


def test_two_seeds_swept_on_slurm_reach_git_mlflow_and_s3(swept, team_server, moto_s3, tmp_path):
    from mlflow.tracking import MlflowClient

    assert remote_experiments(swept) == set(SEEDS)
    # Finished tasks leave nothing behind; the failed one keeps its folder (next test).
    assert sorted(p.name for p in swept.scratch.iterdir()) == [f"latent-atlas-{job_id(swept)}_2"]

    # Anyone: a fresh clone sees both in its experiment table and gathers them as replicates.
    fresh = clone(swept.origin, tmp_path / "fresh")
    fresh.dvc("exp", "pull", "origin", env=swept.env)
    table = fresh.run(sys.executable, "-m", "latent_atlas.experiments", "--csv", env=swept.env).stdout
    rows = {r["experiment"]: r for r in csv.DictReader(io.StringIO(table))}
    assert {name: int(rows[name]["seed"]) for name in SEEDS} == SEEDS
    fresh.run(sys.executable, "-m", "latent_atlas.replicates", env=swept.env)
    [group] = json.loads((fresh.root / "reports/replicates.json").read_text())["groups"]
    assert group["experiments"] == SEEDS

    client = MlflowClient(team_server.url)
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    runs = client.search_runs([experiment.experiment_id], max_results=200)
    for name, seed in SEEDS.items():
        [parent] = [r for r in runs if r.data.tags.get("role") == "pipeline"
                    and r.data.tags.get("dvc_experiment") == name]
        assert parent.info.status == "FINISHED" and parent.data.params["seed"] == str(seed)
        assert float(rows[name]["acc"]) == pytest.approx(parent.data.metrics["classifier.accuracy"], abs=5e-5)
        [child] = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
        assert child.data.tags["variant"] == "classifier" and child.info.status == "FINISHED"

        # The model in DVC's S3 remote (by the md5 in the experiment's dvc.lock) and in
        # MLflow's S3 artifacts: the same bytes.
        md5 = model_md5(fresh, sweep_origin.experiment_ref(swept.commit, name))
        from_dvc = moto_s3.objects(DVC_BUCKET, f"dvc/files/md5/{md5[:2]}/{md5[2:]}")
        [in_mlflow] = [data for key, data in moto_s3.objects(ARTIFACT_BUCKET).items()
                       if child.info.run_id in key and key.endswith("checkpoint/classifier.pt")]
        assert list(from_dvc.values()) == [in_mlflow] and hashlib.md5(in_mlflow).hexdigest() == md5


def model_md5(repo: Repo, ref: str) -> str:
    """The md5 DVC recorded for the classifier's checkpoint in a commit's dvc.lock."""
    lock = yaml.safe_load(repo.run("git", "show", f"{ref}:dvc.lock").stdout)
    [out] = [o for o in lock["stages"]["train@classifier"]["outs"] if o["path"] == "models/classifier.pt"]
    return out["md5"]


def test_wait_names_the_failed_task_with_its_log_and_the_others_complete(swept):
    failed = FAILED_LINE.findall(swept.stdout)
    assert [(name, task, state) for name, task, state, _, _ in failed] == [(BAD, "2", "FAILED")], swept.stdout
    assert swept.returncode == 1
    log = Path(failed[0][4])
    assert log == swept.scratch.parent / "logs" / f"latent-atlas-sweep-{job_id(swept)}_2.out"
    # The log holds the stage's one-line refusal of the bad value, and where the task's folder is kept.
    errors = [line for line in log.read_text().splitlines() if line.startswith("error:")]
    assert errors and "seed" in errors[0] and "three" in errors[0], log.read_text()[-3000:]
    kept = swept.scratch / f"latent-atlas-{job_id(swept)}_2"
    assert git(kept, "rev-parse", "HEAD") == swept.commit
    # Retrying the failed task is one sbatch of the kept script.
    retry = re.search(r"retry the failed: sbatch --array=(\S+) (\S+)", swept.stdout)
    assert retry.group(1) == "2" and Path(retry.group(2)).is_file()
    # The other tasks' results are complete: both on the git remote (their MLflow runs: the test above).
    assert remote_experiments(swept) == set(SEEDS)
