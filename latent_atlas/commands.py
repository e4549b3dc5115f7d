"""`latent-atlas`: the one command for users, with a subcommand per task.

    latent-atlas experiments    DVC's experiments as one readable table
    latent-atlas replicates     intervals and verdicts over replicate seeds
    latent-atlas claims         the studies' claims against this workspace's run
    latent-atlas tracking init  create the MLflow store before parallel runs
    latent-atlas tracking check call the tracking server's API
    latent-atlas tracking promote  register the workspace's models, alias `baseline`
    latent-atlas sweep          a sweep of experiments as a Slurm array job

The same flag means the same thing everywhere: --repo is the DVC repository,
-A/--all-commits reads experiments of every commit. An unknown flag or a
problem the user can fix is one line on stderr and exit code 2. The
`python -m latent_atlas.experiments` (and .replicates, .tracking) forms call
the same code.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from latent_atlas import paths
from latent_atlas.cli import USER_ERROR_EXIT, one_line
from latent_atlas.cluster import origin, slurm, sweep
from latent_atlas.errors import UserError
from latent_atlas.io import read_json, write_text
from latent_atlas.report import claims, experiments, replicates
from latent_atlas.report.headline import HEADLINE_KEYS
from latent_atlas.report.ledger import CATALOGUE, check_line
from latent_atlas.report.replicates import REPLICATES_JSON, REPLICATES_REPORT
from latent_atlas.tracking import server, store

PROG = "latent-atlas"
SWEEP_LOG_DIR = Path("~/latent-atlas-sweeps")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line naming it, then exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)


def _repository_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", type=Path, default=Path("."), help="the DVC repository (default: .)")
    parser.add_argument("-A", "--all-commits", action="store_true",
                        help="read the experiments of every commit, not only the current one")


def _dvc_selection(args: argparse.Namespace) -> list[str]:
    """The `dvc exp show` arguments our flags stand for."""
    selection = ["--all-commits"] if args.all_commits else []
    for rev in getattr(args, "rev", None) or []:
        selection += ["--rev", rev]
    if getattr(args, "num", None):
        selection += ["--num", str(args.num)]
    return selection


# --- subcommands ------------------------------------------------------------------------


def _experiments(args: argparse.Namespace) -> int:
    header, rows, hidden = experiments.table_rows(
        experiments.dvc_exp_show(_dvc_selection(args), repo=args.repo), args.variant)
    if not rows:
        raise UserError(f"no finished experiment has {experiments.HEADLINE_METRICS}; run `dvc repro` or "
                        "`dvc exp run` first")
    print(experiments.render_csv(header, rows) if args.csv else experiments.render(header, rows), end="")
    if hidden:
        print(f"({hidden} more params differ: `dvc exp show --only-changed` lists them)", file=sys.stderr)
    return 0


def _replicates(args: argparse.Namespace) -> int:
    shown = experiments.dvc_exp_show(_dvc_selection(args), repo=args.repo)
    summary = replicates.write_report(shown, args.metrics, out=args.repo / args.out, json_out=args.repo / args.json)
    print(summary)
    return 0


def _claims(args: argparse.Namespace) -> int:
    """This run's ledger from metrics/claims.json, filtered by verdict or ID, as lines for a terminal."""
    values = read_json(args.repo / paths.CLAIMS_METRICS)
    results = claims.ledger(CATALOGUE, {"this run": values})
    shown = [r for r in results
             if (not args.verdict or r.category in args.verdict)
             and (not args.id or any(r.claim.id.startswith(prefix) for prefix in args.id))]
    for result in shown:
        print(f"{result.claim.id} [{result.claim.kind}] {result.verdict}: {result.claim.quote}")
        if result.reason:
            print(f"    {result.reason}")
        for check in result.checks:
            print(f"    {check_line(check)}")
    found = claims.counts(shown)
    print(f"{len(shown)} of {len(results)} claims: " + ", ".join(f"{n} {v}" for v, n in found.items() if n))
    print("(one run: over seeds, `latent-atlas replicates`)")
    return 0


def _tracking(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.action == "check":
        server.check_server(store.tracking_uri())
        print(f"ok: {store.display_uri()}")
        return 0
    if args.action == "promote":
        return _promote(args)
    from latent_atlas.tracking import runs  # MLflow's import, about 1.8 s: only init needs it

    experiment_id = runs.setup()
    print(f"MLflow store ready: {store.display_uri()} (experiment {store.EXPERIMENT_NAME!r}, id {experiment_id})")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    if args.wait and not args.submit:
        args.parser.error("--wait needs --submit")
    if args.poll < 1:
        args.parser.error(f"--poll {args.poll:g}: at least 1 second between checks of the array")
    resources = slurm.Resources(cpus_per_task=args.cpus_per_task, mem=args.mem, time=args.time,
                                gres=args.gres, partition=args.partition, account=args.account)
    planned = sweep.experiments(sweep.param_sets(args.set_params or []), args.name)
    source = origin.sweep_origin(args.repo, args.remote, [e.name for e in planned])
    log_dir = args.log_dir.expanduser().resolve()
    log_dir.mkdir(parents=True, exist_ok=True)  # Slurm does not create the folder of --output
    script = slurm.render_script(planned, source, resources, log_dir=log_dir, scratch=args.scratch)
    if not args.submit:
        print(script, end="")
        return 0
    problem = slurm.environment_problem(os.environ)
    if problem:
        raise slurm.SlurmError(problem)
    server.check_server(store.tracking_uri())  # before N tasks find out each on its own
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = write_text(log_dir / f"{slurm.JOB_NAME}-{source.commit[:7]}-{stamp}.sbatch", script)
    job_id = slurm.submit(path)
    print(f"submitted array job {job_id}: {len(planned)} experiments of commit {source.commit[:7]}: "
          f"{', '.join(e.name for e in planned)}")
    print(f"script: {path}")
    print(f"logs: {slurm.log_pattern(log_dir)}")
    if not args.wait:
        return 0
    try:
        outcomes = slurm.wait_for_array(job_id, len(planned), poll_s=args.poll)
    except KeyboardInterrupt:
        print(f"stopped waiting; array job {job_id} runs on (squeue -j {job_id}, scancel {job_id})",
              file=sys.stderr)
        return 130
    print("\n".join(slurm.wait_report(planned, outcomes, log_dir=log_dir, job_id=job_id, script=path,
                                      remote=source.remote)))
    return 0 if all(o.ok for o in outcomes) else 1


def _promote(args: argparse.Namespace) -> int:
    from latent_atlas.config import load_params
    from latent_atlas.tracking import record, registry  # imports MLflow (about 1.8 s)

    workspace = record.pipeline_record(load_params(args.params), args.params, store.experiment_name(),
                                       store.git_commit(Path.cwd()))
    for promoted in registry.promote(workspace):
        print(f"{promoted.uri} -> version {promoted.version} (model {promoted.model_id})")
    return 0


# --- the parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="latent-atlas: compare, replicate and track the pipeline's runs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    exp = commands.add_parser(
        "experiments", help="DVC's experiments as one table: a row per experiment and variant",
        description="One row per DVC experiment and variant: latent_dim, the params that differ and the "
                    "headline numbers (metrics/headline.json).")
    _repository_flags(exp)
    exp.add_argument("--rev", action="append", help="show experiments of this commit (repeatable)")
    exp.add_argument("-n", "--num", type=int, help="also show this many commits before each --rev")
    exp.add_argument("--variant", action="append", help="show only this variant (repeatable)")
    exp.add_argument("--csv", action="store_true", help="print CSV instead of an aligned table")
    exp.set_defaults(run=_experiments, parser=exp)

    rep = commands.add_parser(
        "replicates", help="intervals and verdicts over experiments that differ only in seed",
        description="Gather finished DVC experiments, group them by every param but seed, and write "
                    "n, mean, sd and 95%% intervals with the ledger's verdicts.")
    _repository_flags(rep)
    rep.add_argument("--metric", action="append", dest="metrics",
                     help=f"a metric to summarise (repeatable; default: those of {', '.join(HEADLINE_KEYS)} "
                          "the runs have)")
    rep.add_argument("--out", type=Path, default=REPLICATES_REPORT,
                     help=f"markdown report, relative to --repo (default: {REPLICATES_REPORT})")
    rep.add_argument("--json", type=Path, default=REPLICATES_JSON,
                     help=f"its JSON twin, relative to --repo (default: {REPLICATES_JSON})")
    rep.set_defaults(run=_replicates, parser=rep)

    led = commands.add_parser(
        "claims", help="the studies' claims against this workspace's run (metrics/claims.json)",
        description="Each claim of the catalogue (../shared/CLAIMS.md) with this workspace's numbers and "
                    "verdict, as the claims stage wrote them (reports/claims.md holds the same as markdown). "
                    "One run decides only exact checks; `latent-atlas replicates` gives verdicts over seeds.")
    led.add_argument("--repo", type=Path, default=Path("."), help="the DVC repository (default: .)")
    led.add_argument("--verdict", action="append", choices=claims.VERDICTS,
                     help="show only claims with this verdict (repeatable)")
    led.add_argument("--id", action="append", metavar="PREFIX",
                     help="show only claims whose ID starts with PREFIX, e.g. C002 or C000-19 (repeatable)")
    led.set_defaults(run=_claims, parser=led)

    track = commands.add_parser(
        "tracking", help="the MLflow store: create it, or check the server",
        description="`init` creates the MLflow store (schema and experiment) before parallel runs, e.g. "
                    "before `dvc queue start -j 2`; `check` calls the tracking server's API; `promote` "
                    "registers the models of the run that logged this workspace's results (one registered "
                    "model per variant, latent-atlas-<variant>) and points the alias `baseline` at them.")
    track.add_argument("action", choices=("init", "check", "promote"))
    track.add_argument("--params", type=Path, default=Path("params.yaml"),
                       help="promote: the params file of the workspace's results (default: params.yaml)")
    track.set_defaults(run=_tracking, parser=track)

    swp = commands.add_parser(
        "sweep", help="a sweep of experiments (-S as dvc exp run --queue) as a Slurm array job",
        description="One Slurm array task per parameter set of the -S overrides (DVC's sweep syntax). "
                    "Each task clones the git remote at this commit into node-local scratch, runs dvc pull, "
                    "dvc exp run -n NAME -S ..., dvc push and dvc exp push, and removes its folder (kept "
                    "on failure). Prints the batch script; --submit submits it, --wait waits and names the "
                    "failed tasks with their logs. Credentials come from the environment, never the script.")
    swp.add_argument("-S", "--set-param", action="append", dest="set_params", metavar="[FILE:]KEY=VALUES",
                     help="an override as for dvc exp run --queue: seed=1,2,3, range(1,6), choice(a,b) "
                          "(repeatable; swept keys give their cartesian product)")
    swp.add_argument("-n", "--name", help="a prefix for the experiments' names (default: none; names "
                                          "say the values that differ, e.g. seed-3)")
    swp.add_argument("--repo", type=Path, default=Path("."), help="the DVC repository (default: .)")
    swp.add_argument("--remote", default="origin", help="the git remote the tasks clone and push "
                                                        "experiments to (default: origin)")
    swp.add_argument("--submit", action="store_true", help="submit the script with sbatch")
    swp.add_argument("--wait", action="store_true", help="with --submit: wait for every task, name the "
                                                         "failed ones with their logs (exit 1 if any)")
    swp.add_argument("--poll", type=float, default=10.0, help="seconds between checks with --wait "
                                                              "(default: 10)")
    swp.add_argument("--log-dir", type=Path, default=SWEEP_LOG_DIR,
                     help=f"where Slurm writes the tasks' logs and the script is kept; it must be "
                          f"visible to the nodes (default: {SWEEP_LOG_DIR}; created if missing)")
    swp.add_argument("--scratch", help="the folder on each node under which a task works (default: "
                                       "the node's $TMPDIR, else /tmp)")
    defaults = slurm.Resources()
    swp.add_argument("--cpus-per-task", type=int, default=defaults.cpus_per_task,
                     help=f"CPUs per task (default: {defaults.cpus_per_task})")
    swp.add_argument("--mem", default=defaults.mem, help=f"memory per task (default: {defaults.mem})")
    swp.add_argument("--time", default=defaults.time, help=f"time limit per task (default: {defaults.time})")
    swp.add_argument("--gres", help="generic resources per task, e.g. gpu:1 (default: none)")
    swp.add_argument("--partition", help="the partition (default: the cluster's)")
    swp.add_argument("--account", help="the account to charge (default: yours)")
    swp.set_defaults(run=_sweep, parser=swp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args, unknown = build_parser().parse_known_args(argv)
    if unknown:  # named by the subcommand that refused them
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return USER_ERROR_EXIT


def entry_point() -> None:
    """`[project.scripts]` target."""
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
