"""The Slurm side of a sweep without a cluster: resources, the batch script run by bash as a task
would run it (with a recording `dvc` on PATH), and reading tasks' outcomes from real
`scontrol` output. The loopback cluster runs the real thing (tests/e2e/test_slurm_sweep.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests_support import PROJECT, git, pushed_clone

from latent_atlas import commands
from latent_atlas.cluster import origin, slurm, sweep

SCONTROL = PROJECT / "tests/data/scontrol_array.txt"
# Records every call and fails the one whose arguments contain $FAIL_ON.
FAKE_DVC = """#!/bin/bash
echo "$PWD|$*" >> "$CALLS"
case "$*" in *"$FAIL_ON"*) echo "dvc: failing on purpose" >&2; exit 3 ;; esac
"""


@pytest.fixture
def pushed(tmp_path):
    return pushed_clone(tmp_path)


def scontrol_snapshots() -> dict[str, str]:
    """`## title` sections of the captured output: pending, running, done."""
    sections: dict[str, list[str]] = {}
    for line in SCONTROL.read_text().splitlines():
        if line.startswith("## "):
            sections[line[3:]] = []
        elif not line.startswith("#"):
            sections[next(reversed(sections))].append(line)
    return {title: "\n".join(lines) for title, lines in sections.items()}


def test_resources_become_directives_and_a_value_slurm_refuses_is_named():
    assert slurm.Resources(cpus_per_task=4, mem="16G", time="1-00:00", gres="gpu:a100:1",
                           partition="gpu").directives() == [
        "--cpus-per-task=4", "--mem=16G", "--time=1-00:00", "--gres=gpu:a100:1", "--partition=gpu"]
    for kwargs, named in (({"time": "4h"}, "--time '4h'"), ({"mem": "8 GB"}, "--mem '8 GB'"),
                          ({"gres": "gpu=1"}, "--gres 'gpu=1'"), ({"cpus_per_task": 0}, "--cpus-per-task 0"),
                          ({"partition": "a b"}, "--partition 'a b'")):
        with pytest.raises(slurm.SlurmError, match=named):
            slurm.Resources(**kwargs)


def render(repo: Path, tmp_path: Path, overrides: list[str]) -> str:
    planned = sweep.experiments(sweep.param_sets(overrides))
    source = origin.sweep_origin(repo, "origin", [e.name for e in planned])
    return slurm.render_script(planned, source, slurm.Resources(cpus_per_task=1), log_dir=tmp_path / "logs",
                               scratch=str(tmp_path / "scratch"))


def run_task(script: str, task: int, tmp_path: Path, fail_on: str = "never") -> subprocess.CompletedProcess:
    """The script under bash as Slurm starts a task: its array variables set, in the log folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "dvc").write_text(FAKE_DVC)
    (bin_dir / "dvc").chmod(0o755)
    (tmp_path / "logs").mkdir(exist_ok=True)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_ARRAY_JOB_ID": "7", "SLURM_ARRAY_TASK_ID": str(task),
           "MLFLOW_TRACKING_URI": "http://127.0.0.1:1", "CALLS": str(tmp_path / "calls"), "FAIL_ON": fail_on,
           "HOME": str(tmp_path)}
    (tmp_path / "sweep.sbatch").write_text(script)
    return subprocess.run(["bash", str(tmp_path / "sweep.sbatch")], cwd=tmp_path / "logs", env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_task_clones_the_commit_runs_its_experiment_and_removes_its_folder(pushed, tmp_path):
    repo, _ = pushed
    script = render(repo, tmp_path, ["seed=1,2", "data.limit=100"])
    assert "#SBATCH --array=0-1" in script and "#SBATCH --export=ALL" in script
    result = run_task(script, 1, tmp_path)
    assert result.returncode == 0, result.stderr
    workdir = tmp_path / "scratch" / "latent-atlas-7_1"
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [f"{workdir}|pull --allow-missing",
                     f"{workdir}|exp run -n seed-2 -S seed=2 -S data.limit=100",
                     f"{workdir}|push", f"{workdir}|exp push origin seed-2"]
    assert not workdir.exists()


def test_a_failed_task_keeps_its_folder_at_the_commit_and_says_where(pushed, tmp_path):
    repo, _ = pushed
    script = render(repo, tmp_path, ["seed=1,2"])
    result = run_task(script, 0, tmp_path, fail_on="exp run")
    assert result.returncode == 3
    workdir = tmp_path / "scratch" / "latent-atlas-7_0"
    assert git(workdir, "rev-parse", "HEAD") == git(repo, "rev-parse", "HEAD")
    assert str(workdir) in result.stderr.splitlines()[-1]
    assert len((tmp_path / "calls").read_text().splitlines()) == 2  # pull, then the failed run
    assert run_task(script, 5, tmp_path).returncode == 2  # no such task


def test_the_script_holds_no_credentials_and_needs_the_tracking_uri(pushed, tmp_path, monkeypatch):
    repo, _ = pushed
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-in-the-environment")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pa55-in-the-environment")
    script = render(repo, tmp_path, ["seed=1,2"])
    assert "in-the-environment" not in script
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    (tmp_path / "s.sbatch").write_text(script)
    result = subprocess.run(["bash", str(tmp_path / "s.sbatch")], env={**env, "SLURM_ARRAY_TASK_ID": "0"},
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "MLFLOW_TRACKING_URI" in result.stderr


def test_outcomes_from_real_scontrol_output_pending_running_done():
    snapshots = scontrol_snapshots()
    assert slurm.task_outcomes(snapshots["pending"]) == {}  # one record for tasks 0-2, none started
    watch = slurm.ArrayWatch("1", 3)
    assert not watch.update(snapshots["running"])
    assert watch.seen[0].ok and watch.seen[0].log.endswith("/x-1_0.out")
    assert watch.update(snapshots["done"])
    assert [(o.state, o.exit_code, o.ok) for o in watch.seen.values()] == [
        ("COMPLETED", 0, True), ("FAILED", 2, False), ("FAILED", 1, False)]


def test_waiting_reports_failed_tasks_and_tasks_whose_record_expired(tmp_path):
    snapshots = scontrol_snapshots()
    answers = iter([snapshots["pending"], snapshots["running"], None])  # then Slurm forgot the job
    outcomes = slurm.wait_for_array("1", 3, poll_s=0, show_job=lambda _: next(answers))
    assert [o.state for o in outcomes] == ["COMPLETED", slurm.UNKNOWN, slurm.UNKNOWN]
    planned = sweep.experiments(sweep.param_sets(["seed=1,2,3"]))
    report = slurm.wait_report(planned, outcomes, log_dir=tmp_path, job_id="1", script=tmp_path / "s.sbatch",
                               remote="origin")
    assert report == ["1 of 3 experiments succeeded",
                      f"failed: seed-2 (task 1: UNKNOWN, exit 0): {tmp_path}/latent-atlas-sweep-1_1.out",
                      f"failed: seed-3 (task 2: UNKNOWN, exit 0): {tmp_path}/latent-atlas-sweep-1_2.out",
                      f"retry the failed: sbatch --array=1,2 {tmp_path}/s.sbatch",
                      "gather: dvc exp pull origin && latent-atlas replicates"]


def exit_code(argv: list[str]) -> int:
    try:
        return commands.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


@pytest.mark.parametrize(("argv", "named"), [
    (["sweep"], "no parameters to sweep"),
    (["sweep", "-S", "seed=1,2", "--gpus", "1"], "unrecognized arguments: --gpus 1"),
    (["sweep", "-S", "seed=1,2", "--time", "2 hours"], "--time '2 hours'"),
    (["sweep", "-S", "seed=1,2", "--wait"], "--wait needs --submit"),
    (["sweep", "-S", "seed=1,2", "--submit", "--wait", "--poll", "0"], "--poll 0"),
    (["sweep", "-S", "seed=1,2", "--submit"], "MLFLOW_TRACKING_URI is not set"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(argv, named, pushed, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(pushed[0])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert exit_code([*argv, "--log-dir", str(tmp_path / "logs")]) == 2
    err = capsys.readouterr().err.strip()
    assert named in err and "\n" not in err


def test_sweep_prints_a_script_bash_accepts(pushed, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(pushed[0])
    assert commands.main(["sweep", "-S", "seed=1,2,3", "--gres", "gpu:1", "--log-dir", str(tmp_path)]) == 0
    script = capsys.readouterr().out
    assert "#SBATCH --array=0-2" in script and "#SBATCH --gres=gpu:1" in script
    assert f"#SBATCH --output={tmp_path}/latent-atlas-sweep-%A_%a.out" in script
    (tmp_path / "s.sbatch").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "s.sbatch")]).returncode == 0
