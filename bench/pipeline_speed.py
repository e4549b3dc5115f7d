"""Benchmark: the real `dvc repro` in a fresh clone, stage by stage, against the import floor.

Clones the project's committed HEAD into a temporary folder, sets the data
source (default: the 5,000 digits bundled offline; --local-mnist DIR: full
MNIST from DIR), runs `dvc repro`, and reads each stage's timing line
(latent_atlas.timing). In the same run it measures the floor, the start-up of
`python -c "import torch"` and of `python -c "import torch, mlflow"` (the
`track` stage's), just before each command. Prints one table per command:

    stage   wall   process   imports   tracking   work   dvc   fixed/floor

wall: from DVC starting the stage to starting the next (DVC's own hashing and
bookkeeping included); process: the stage's process to the end of its work;
imports: process start to the start of its `main` (the fixed cost);
tracking: time in the MLflow phase; dvc: wall - process; fixed/floor: imports
over the floor (torch+mlflow's for `track`, torch's for the rest). --exp-run
then also times `dvc exp run -S latent_dim=6` the same way.

    python bench/pipeline_speed.py [--local-mnist ../shared/datasets/mnist] [--exp-run]
                                   [-S key=value ...] [--rev REV] [--keep] [--skip-stage NAME ...]

--rev clones another commit than HEAD (a before/after pair: --rev main, then
the branch). --skip-stage leaves a top-level stage out (its name as in
dvc.yaml): both commands then reproduce every other stage, as targets. On a
machine without MLflow (the GPU machine, which has no registry to install it
from), `--skip-stage track` times the rest, and its torch+mlflow floor is not
measured.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from latent_atlas.timing import parse_line

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FLOORS = {"torch": "import torch", "torch+mlflow": "import torch, mlflow"}
STAGE_START = "Running stage '"
STAGE_SKIPPED = "Stage '"  # "Stage 'x' didn't change, skipping" / "... is cached - skipping run"


def floor_seconds(code: str, repeats: int) -> float:
    """Median wall time of a fresh interpreter running `code`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def set_param(params: dict, dotted: str, raw_value: str) -> None:
    """params[a][b] = value for "a.b", the value read as YAML (as `dvc exp run -S` reads it)."""
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = yaml.safe_load(raw_value)


def pipeline_targets(clone_dir: Path, skipped: list[str]) -> list[str]:
    """The top-level stages of the clone's dvc.yaml less `skipped` (no targets when none is skipped)."""
    if not skipped:
        return []
    stages = list(yaml.safe_load((clone_dir / "dvc.yaml").read_text())["stages"])
    unknown = sorted(set(skipped) - set(stages))
    if unknown:
        raise SystemExit(f"--skip-stage {', '.join(unknown)}: not a stage of dvc.yaml; stages: {', '.join(stages)}")
    return [name for name in stages if name not in skipped]


def clone(dest: Path, overrides: list[str], env: dict[str, str], rev: str = "HEAD") -> None:
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(dest)], check=True, env=env)
    commit = subprocess.run(["git", "rev-parse", rev], cwd=PROJECT, capture_output=True, text=True,
                            check=True).stdout.strip()
    subprocess.run(["git", "checkout", "-q", commit], cwd=dest, check=True, env=env)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        set_param(params, key, value)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for cmd in (["git", "add", "params.yaml"], ["git", "commit", "-qm", "benchmark params", "--allow-empty"]):
        subprocess.run(cmd, cwd=dest, check=True, env=env)


def timed_run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, list[tuple[str, float]], dict]:
    """Run cmd; return (wall, [(stage, wall)] of the stages it ran, {stage: timing fields}), echoing its output."""
    start = time.perf_counter()
    starts: list[tuple[str | None, float]] = []  # None: a skipped stage, which ends the one before
    timings: dict[str, dict[str, float]] = {}
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:
        for line in proc.stdout:
            now = time.perf_counter() - start
            sys.stdout.write(f"{now:7.1f} | {line}")  # seconds since it began: a cut-short log dates stages
            if line.startswith(STAGE_START):
                starts.append((line[len(STAGE_START):].split("'")[0], now))
            elif line.startswith(STAGE_SKIPPED):
                starts.append((None, now))
            elif parsed := parse_line(line.strip()):
                timings[parsed[0]] = parsed[1]
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed with exit code {proc.returncode}")
    ends = [t for _, t in starts[1:]] + [wall]
    stage_walls = [(name, end - begun) for (name, begun), end in zip(starts, ends, strict=True) if name]
    return wall, stage_walls, timings


def table(title: str, wall: float, stage_walls: list[tuple[str, float]], timings: dict, floors: dict) -> None:
    print(f"\n{title}: {wall:.1f} s wall, {len(stage_walls)} stages")
    print(f"{'stage':<26}{'wall':>8}{'process':>9}{'imports':>9}{'tracking':>10}{'work':>8}{'dvc':>8}"
          f"{'fixed/floor':>13}")
    totals = dict.fromkeys(("wall", "process", "imports", "tracking", "work"), 0.0)
    ratios = []
    for name, stage_wall in stage_walls:
        t = timings.get(name)
        if t is None:  # a stage that printed no timing line (it failed, or predates the timing hook)
            print(f"{name:<26}{stage_wall:8.2f}{'-':>9}")
            totals["wall"] += stage_wall
            continue
        floor = floors["torch+mlflow"] if name == "track" else floors["torch"]
        tracking = t.get("tracking", 0.0)
        print(f"{name:<26}{stage_wall:8.2f}{t['total']:9.2f}{t['imports']:9.2f}{tracking:10.2f}"
              f"{t['work'] - tracking:8.2f}{stage_wall - t['total']:8.2f}{t['imports'] / floor:12.2f}x")
        ratios.append(t["imports"] / floor)
        for key, value in (("wall", stage_wall), ("process", t["total"]), ("imports", t["imports"]),
                           ("tracking", tracking), ("work", t["work"] - tracking)):
            totals[key] += value
    print(f"{'sum':<26}{totals['wall']:8.2f}{totals['process']:9.2f}{totals['imports']:9.2f}"
          f"{totals['tracking']:10.2f}{totals['work']:8.2f}{totals['wall'] - totals['process']:8.2f}")
    if ratios:
        print(f"fixed cost / floor: median {statistics.median(ratios):.2f}x, max {max(ratios):.2f}x "
              "(issue 9's target: at most 1.5x)")
    families: dict[str, list[float]] = {}
    for name, stage_wall in stage_walls:
        if "@" in name:
            families.setdefault(name.split("@")[0], []).append(stage_wall)
    for family, walls in families.items():  # a foreach's stages together: the one-class budget is all ten digits
        print(f"{family}@*: {len(walls)} stages, {sum(walls):.1f} s wall together")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local-mnist", metavar="DIR", help="full MNIST from DIR (data.source=local)")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE",
                        help="a params.yaml override, as dvc exp run -S (repeatable)")
    parser.add_argument("--exp-run", action="store_true", help="then time `dvc exp run -S latent_dim=6`")
    parser.add_argument("--floor-repeats", type=int, default=3)
    parser.add_argument("--rev", default="HEAD", help="the commit to clone (default: HEAD)")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    parser.add_argument("--skip-stage", action="append", default=[], metavar="NAME",
                        help="leave this top-level stage out (repeatable), e.g. track where MLflow is absent")
    args = parser.parse_args()
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))

    source = (["data.source=local", f"data.local_dir={Path(args.local_mnist).resolve()}"] if args.local_mnist
              else ["data.source=bundled"])
    overrides = source + args.set_param
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1",
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    env.pop("MLFLOW_TRACKING_URI", None)  # the clone's own sqlite store

    root = Path(tempfile.mkdtemp(prefix="latent-atlas-bench-"))
    try:
        clone(root / "clone", overrides, env, args.rev)
        print(f"clone of {PROJECT} at {args.rev} in {root / 'clone'}, params: {' '.join(overrides)}")
        targets = pipeline_targets(root / "clone", args.skip_stage)
        commands = [["dvc", "repro", *targets]] + (
            [["dvc", "exp", "run", "-S", "latent_dim=6", *targets]] if args.exp_run else [])
        floor_codes = {name: code for name, code in FLOORS.items()
                       if "track" not in args.skip_stage or "mlflow" not in code}
        dvc = shutil.which("dvc", path=env["PATH"])
        if dvc is None:
            raise SystemExit(f"dvc is not on PATH ({env['PATH']})")
        results = []
        for cmd in commands:
            if cmd[1] == "exp":  # the first repro's results committed, as a user would
                for git in (["git", "add", "-A"], ["git", "commit", "-qm", "first repro"]):
                    subprocess.run(git, cwd=root / "clone", check=True, env=env)
            # The floor just before each command: a shared machine's load changes by the minute.
            floors = {name: floor_seconds(code, args.floor_repeats) for name, code in floor_codes.items()}
            results.append((shlex.join(cmd), floors, *timed_run([dvc, *cmd[1:]], root / "clone", env)))
        print("\n" + "command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
        for title, floors, wall, stage_walls, timings in results:
            print("\nfloor before it: " + ", ".join(f"python -c {FLOORS[name]!r} {seconds:.2f} s"
                                                   for name, seconds in floors.items()))
            table(title, wall, stage_walls, timings, floors)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
