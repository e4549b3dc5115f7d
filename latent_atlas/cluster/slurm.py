"""A sweep as a Slurm array job: the batch script, its submission, and the tasks' outcomes.

One array task per experiment. Each task clones the git remote at the sweep's
commit into its own folder on the node's scratch disk, pulls what the DVC
remote has, runs `dvc exp run -n NAME -S ...`, pushes the outputs to the DVC
remote and the experiment to the git remote, and removes the folder; a failed
task keeps it for inspection and its log says where. Nothing is written into
the submitting clone: Slurm writes logs to the log folder, and tasks start
there.

The script holds no credentials: sbatch passes the submitting shell's
environment on (--export=ALL), where the team setup keeps them
(MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME/PASSWORD, the DVC remote's).

Outcomes come from `scontrol show job`, which needs no accounting database
(many clusters run without one) and keeps a finished task's record for
MinJobAge (300 s by default): polling every few seconds sees every task end.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from latent_atlas.cluster.origin import Origin
from latent_atlas.cluster.sweep import Experiment
from latent_atlas.errors import UserError

JOB_NAME = "latent-atlas-sweep"
SLURM_TIMEOUT_S = 60  # one sbatch or scontrol call against a busy controller
# The node's scratch disk: Slurm sites point TMPDIR at it; expanded on the node.
DEFAULT_SCRATCH = '"${TMPDIR:-/tmp}"'
FINISHED_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                             "BOOT_FAIL", "DEADLINE", "PREEMPTED"})
UNKNOWN = "UNKNOWN"  # a task whose record expired before it was seen to end

# What Slurm accepts, for a one-line error before anything is submitted.
_TIME = re.compile(r"(\d+-)?\d+(:\d\d?){0,2}|UNLIMITED|INFINITE")
_MEM = re.compile(r"\d+[KMGT]?")
_GRES_ONE = r"[A-Za-z][\w.-]*(:[\w.-]+){0,2}"
_GRES = re.compile(f"{_GRES_ONE}(,{_GRES_ONE})*")
_NAME_LIST = re.compile(r"[\w.-]+(,[\w.-]+)*")
# `Key=value` of `scontrol --oneliner`: a value runs to the next ` Key=` (paths may hold spaces).
_RECORD_FIELD = re.compile(r"(?:^|\s)([A-Za-z][\w:/]*)=(.*?)(?=\s[A-Za-z][\w:/]*=|\s*$)")


class SlurmError(UserError):
    """A resource Slurm would refuse, or sbatch/scontrol failing: names the flag or the command."""


@dataclass(frozen=True, kw_only=True)
class Resources:
    """What each task asks Slurm for; None leaves it to the cluster's defaults."""

    cpus_per_task: int = 2  # training runs on one thread; DVC and the analyses use the second
    mem: str = "8G"
    time: str = "04:00:00"  # a full-MNIST pipeline takes about 16 min on 2 CPU cores
    gres: str | None = None  # e.g. gpu:1
    partition: str | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        if self.cpus_per_task < 1:
            raise SlurmError(f"--cpus-per-task {self.cpus_per_task}: must be at least 1")
        checks = (("mem", _MEM, "a size such as 8G or 16000M"),
                  ("time", _TIME, "minutes, HH:MM:SS or D-HH:MM:SS"),
                  ("gres", _GRES, "name[:type]:count, e.g. gpu:1 or gpu:a100:2"),
                  ("partition", _NAME_LIST, "a partition name or a comma list of them"),
                  ("account", _NAME_LIST, "an account name"))
        for key, pattern, allowed in checks:
            value = getattr(self, key)
            if value is not None and not pattern.fullmatch(value):
                raise SlurmError(f"--{key.replace('_', '-')} {value!r}: not a Slurm {key}; allowed: {allowed}")

    def directives(self) -> list[str]:
        asked = {"cpus-per-task": self.cpus_per_task, "mem": self.mem, "time": self.time, "gres": self.gres,
                 "partition": self.partition, "account": self.account}
        return [f"--{key}={value}" for key, value in asked.items() if value is not None]


def log_pattern(log_dir: Path) -> str:
    return f"{log_dir}/{JOB_NAME}-%A_%a.out"


def log_path(log_dir: Path, job_id: str, task: int) -> Path:
    return log_dir / f"{JOB_NAME}-{job_id}_{task}.out"


def _task_cases(experiments: Sequence[Experiment]) -> list[str]:
    cases = []
    for task, experiment in enumerate(experiments):
        overrides = " ".join(f"-S {shlex.quote(o)}" for o in experiment.overrides)
        cases.append(f"  {task}) name={shlex.quote(experiment.name)}; overrides=({overrides}) ;;")
    return cases


def render_script(experiments: Sequence[Experiment], origin: Origin, resources: Resources, *,
                  log_dir: Path, scratch: str | None = None) -> str:
    """The sbatch script: an array of one task per experiment. `scratch` None: the node's $TMPDIR."""
    directives = [f"--job-name={JOB_NAME}", f"--array=0-{len(experiments) - 1}", *resources.directives(),
                  f"--output={log_pattern(log_dir)}", f"--chdir={log_dir}", "--export=ALL"]
    scratch_dir = DEFAULT_SCRATCH if scratch is None else shlex.quote(str(scratch))
    lines = [
        "#!/bin/bash",
        *(f"#SBATCH {shlex.quote(d)}" for d in directives),
        "#",
        f"# latent-atlas sweep: {len(experiments)} experiments of commit {origin.commit}",
        f"# from {origin.url}. Each task clones that commit into its own folder under the",
        "# scratch folder, pulls what the DVC remote has of it, runs one experiment, pushes",
        "# its outputs and the experiment, and removes the folder; a failed task keeps it.",
        "# Credentials come from the environment sbatch passes on (--export=ALL):",
        "# MLFLOW_TRACKING_URI (and _USERNAME, _PASSWORD), the DVC remote's (e.g. AWS_*).",
        "# Retry failed tasks: sbatch --array=<their task ids> <this file>",
        "set -euo pipefail",
        "",
        'case "${SLURM_ARRAY_TASK_ID:?submit this script with sbatch}" in',
        *_task_cases(experiments),
        '  *) echo "this sweep has no task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;',
        "esac",
        ': "${MLFLOW_TRACKING_URI:?is not set: export the URI of the team MLflow server before sbatch}"',
        "command -v dvc >/dev/null || { echo \"dvc is not on PATH: activate the project's environment "
        'before sbatch" >&2; exit 2; }',
        "",
        f'workdir={scratch_dir}"/latent-atlas-${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"',
        'current="start"',
        'step() { current="$*"; echo "+ $current"; "$@"; }',
        "trap 'status=$?; [ $status -eq 0 ] || echo \"latent-atlas sweep: $name failed (exit $status) at: "
        "$current; its folder is kept: $workdir\" >&2' EXIT",
        'echo "latent-atlas sweep: task $SLURM_ARRAY_TASK_ID, experiment $name, on $(hostname), in $workdir"',
        f'step git clone --quiet --no-checkout {shlex.quote(origin.url)} "$workdir"',
        'cd "$workdir"',
        f"step git checkout --quiet --detach {origin.commit}",
        "step dvc pull --allow-missing  # what the remote lacks, the experiment computes",
        'step dvc exp run -n "$name" "${overrides[@]}"',
        "step dvc push",
        'step dvc exp push origin "$name"',
        "cd /",
        'rm -rf "$workdir"',
        'echo "latent-atlas sweep: $name done"',
    ]
    return "\n".join(lines) + "\n"


# --- running the array -------------------------------------------------------------------


def _slurm(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=SLURM_TIMEOUT_S)
    except FileNotFoundError:
        raise SlurmError(f"{args[0]} is not on PATH: submit from a machine with Slurm's client tools, "
                         "or print the script (no --submit) and submit it there") from None


def submit(script: Path) -> str:
    """sbatch the script; the array job's id."""
    result = _slurm("sbatch", "--parsable", str(script))
    if result.returncode != 0:
        raise SlurmError(f"sbatch refused {script}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip().split(";")[0]  # "<id>;<cluster>" on federated clusters


def parse_record(line: str) -> dict[str, str]:
    """One `Key=value Key=value ...` line of `scontrol --oneliner show job`."""
    return {m.group(1): m.group(2) for m in _RECORD_FIELD.finditer(line.strip())}


@dataclass(frozen=True)
class TaskOutcome:
    """One array task, as its record last showed it."""

    task: int
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ... or UNKNOWN
    exit_code: int = 0
    signal: int = 0
    log: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES or self.state == UNKNOWN

    @property
    def ok(self) -> bool:
        return self.state == "COMPLETED" and self.exit_code == 0 and self.signal == 0


def task_outcomes(scontrol_output: str) -> dict[int, TaskOutcome]:
    """The tasks that have their own record, by task id; still-pending ones
    share one record (`ArrayTaskId=2-9`) and are left out."""
    outcomes = {}
    for line in scontrol_output.splitlines():
        record = parse_record(line)
        task = record.get("ArrayTaskId", "")
        if task.isdigit():
            status, _, signal = record.get("ExitCode", "0:0").partition(":")
            outcomes[int(task)] = TaskOutcome(int(task), record.get("JobState", UNKNOWN), int(status),
                                              int(signal or 0), record.get("StdOut", ""))
    return outcomes


def _show_job(job_id: str) -> str | None:
    """`scontrol --oneliner show job`; None once Slurm no longer knows the job."""
    result = _slurm("scontrol", "--oneliner", "show", "job", job_id)
    if result.returncode == 0:
        return result.stdout
    if "Invalid job id" in result.stderr:
        return None
    raise SlurmError(f"scontrol show job {job_id} failed: {result.stderr.strip()}")


@dataclass
class ArrayWatch:
    """The latest outcome seen of each task: a finished task's record expires, its outcome stays."""

    job_id: str
    n_tasks: int
    seen: dict[int, TaskOutcome] = field(default_factory=dict)

    def update(self, scontrol_output: str | None) -> bool:
        """Take one `scontrol show job` answer (None: the job is gone); True once every task has ended."""
        if scontrol_output is None:
            for task in range(self.n_tasks):
                if task not in self.seen or not self.seen[task].finished:
                    self.seen[task] = TaskOutcome(task, UNKNOWN)
        else:
            self.seen.update(task_outcomes(scontrol_output))
        return len(self.seen) == self.n_tasks and all(o.finished for o in self.seen.values())


def wait_for_array(job_id: str, n_tasks: int, *, poll_s: float,
                   show_job: Callable[[str], str | None] = _show_job) -> list[TaskOutcome]:
    """Poll until every task of the array has ended; their outcomes by task id."""
    watch = ArrayWatch(job_id, n_tasks)
    while not watch.update(show_job(job_id)):
        time.sleep(poll_s)
    return [watch.seen[task] for task in range(n_tasks)]


def failure_lines(experiments: Sequence[Experiment], outcomes: Sequence[TaskOutcome], *, log_dir: Path,
                  job_id: str) -> list[str]:
    """`failed: NAME (task N: STATE, exit E): LOG` for each task that did not succeed."""
    lines = []
    for experiment, outcome in zip(experiments, outcomes, strict=True):
        if not outcome.ok:
            how = f"signal {outcome.signal}" if outcome.signal else f"exit {outcome.exit_code}"
            log = outcome.log or str(log_path(log_dir, job_id, outcome.task))
            lines.append(f"failed: {experiment.name} (task {outcome.task}: {outcome.state}, {how}): {log}")
    return lines


def wait_report(experiments: Sequence[Experiment], outcomes: Sequence[TaskOutcome], *, log_dir: Path,
                job_id: str, script: Path, remote: str) -> list[str]:
    """What `--wait` says once the array has ended: the count, each failure, how to retry and gather."""
    failed = failure_lines(experiments, outcomes, log_dir=log_dir, job_id=job_id)
    lines = [f"{len(outcomes) - len(failed)} of {len(outcomes)} experiments succeeded", *failed]
    if failed:
        lines.append(f"retry the failed: sbatch --array={','.join(str(o.task) for o in outcomes if not o.ok)} "
                     f"{script}")
    return [*lines, f"gather: dvc exp pull {remote} && latent-atlas replicates"]


def environment_problem(environ: Mapping[str, str]) -> str | None:
    """Why tasks submitted from this environment could not record their runs, or None."""
    if not environ.get("MLFLOW_TRACKING_URI"):
        return ("MLFLOW_TRACKING_URI is not set: each task would record into an mlflow.db inside its "
                "scratch clone, removed when it succeeds; export the team server's URI (README: Team setup)")
    return None
