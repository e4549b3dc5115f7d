"""Replicate seeds: intervals and verdicts over DVC experiments that differ only in `seed`.

Run the pipeline over several seeds as DVC experiments, then gather them:

    dvc exp run --queue -S seed=1,2,3,4,5
    dvc queue start                 # `dvc queue status` until every task is done
    python -m latent_atlas.replicates

The one source of truth is DVC's experiment table (`dvc exp show --json`):
the baseline commit and every finished experiment on it, each with its
params.yaml and the metrics files DVC tracks, by path. The nested JSON is read
rather than `dvc.api.exp_show`, whose flat columns drop a file's path when a
metric's name is unique and so change with the set of files. The workspace row
is skipped: it repeats the commit or the experiment last applied.

Runs are grouped by every param except `seed`; each group gets, for every
variant and headline metric, n, mean, sd and a Student-t 95% interval, and the
ledger of the studies' claims with verdicts (latent_atlas.report.claims), from
each run's metrics/claims.json. A claim that compares two recipes (e.g.
weight decay 0 against 1e-5) pairs the group with the group whose params
differ by exactly that experiment's changes, seed by seed. Writes
reports/replicates.md and reports/replicates.json.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latent_atlas import paths
from latent_atlas.config import flatten
from latent_atlas.errors import UserError
from latent_atlas.io import write_json, write_text
from latent_atlas.report import claims, experiments, stats
from latent_atlas.report.headline import HEADLINE_KEYS
from latent_atlas.report.ledger import CATALOGUE, ledger_markdown
from latent_atlas.report.markdown import markdown_table
from latent_atlas.report.run_data import variant_numbers

REPLICATES_REPORT = Path("reports/replicates.md")
REPLICATES_JSON = Path("reports/replicates.json")


class ReplicateError(UserError):
    """Something the user can fix: no experiments, an unknown metric, dvc failing."""


@dataclass(frozen=True)
class Run:
    """One finished pipeline run: its seed, its other params, its numbers by variant, its claims' numbers."""

    name: str
    seed: int
    params: dict[str, Any]
    variants: dict[str, dict[str, Any]]
    claims: dict[str, Any] = field(default_factory=dict)  # metrics/claims.json


@dataclass
class Group:
    """Runs whose params agree on everything but `seed`, one run per seed."""

    params: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    def by_seed(self) -> dict[int, dict[str, dict[str, Any]]]:
        return {run.seed: run.variants for run in self.runs}

    def claim_values(self) -> dict[int, dict[str, Any]]:
        return {run.seed: run.claims for run in self.runs}

    def roles(self) -> dict[str, list[str]]:
        roles = self.params.get("roles") or {}
        return {role: v if isinstance(v, list) else [v] for role, v in roles.items() if v}


def run_from_revision(name: str, revision: Mapping[str, Any]) -> Run | None:
    """The run a revision record holds, or None when it has no params or no analysis metrics."""
    params = experiments.params_of(revision)
    if not params or "seed" not in params:
        return None
    variants = list(params.get("variants") or {})
    analyses = {v: found for v in variants if (found := experiments.metrics_file(revision, paths.analysis(v)))}
    if not analyses:
        return None
    train = {v: found for v in variants if (found := experiments.metrics_file(revision, paths.train_metrics(v)))}
    return Run(name, int(params["seed"]), {k: v for k, v in params.items() if k != "seed"},
               variant_numbers(analyses, train), experiments.metrics_file(revision, paths.CLAIMS_METRICS) or {})


def gather_runs(rows: Sequence[Mapping[str, Any]]) -> tuple[list[Run], list[str]]:
    """Finished runs in `dvc exp show --json` output, and a line for each revision skipped."""
    runs, skipped = [], []
    for name, revision, state in experiments.revisions(rows, workspace=False):
        if state not in experiments.FINISHED:
            skipped.append(f"{name}: not finished ({state})")
        elif revision.get("error"):
            skipped.append(f"{name}: dvc could not read it ({revision['error'].get('msg', revision['error'])})")
        elif (run := run_from_revision(name, revision)) is None:
            skipped.append(f"{name}: no params with a seed or no metrics/analyze files")
        else:
            runs.append(run)
    return runs, skipped


def group_runs(runs: Sequence[Run]) -> tuple[list[Group], list[str]]:
    """Groups by every param except seed, largest first; a seed seen twice in a group keeps its first run."""
    groups: dict[str, Group] = {}
    duplicates = []
    for run in runs:
        group = groups.setdefault(json.dumps(run.params, sort_keys=True), Group(run.params))
        first = next((r for r in group.runs if r.seed == run.seed), None)
        if first is not None:
            duplicates.append(f"{run.name}: seed {run.seed} repeats {first.name} with the same params")
        else:
            group.runs.append(run)
    return sorted(groups.values(), key=lambda g: -len(g.runs)), duplicates


def differing_params(groups: Sequence[Group]) -> list[dict[str, Any]]:
    """For each group, the params whose values are not the same in every group."""
    flat = [flatten(g.params) for g in groups]
    differ = experiments.differing_keys(flat)
    return [{k: f.get(k) for k in differ} for f in flat]


def choose_metrics(groups: Sequence[Group], asked: Sequence[str] | None) -> list[str]:
    """The metrics asked for, all known to the runs; by default the headline metrics the runs have."""
    known = {key for g in groups for run in g.runs for m in run.variants.values() for key in m}
    if not asked:
        return [key for key in HEADLINE_KEYS if key in known]
    unknown = [m for m in asked if m not in known]
    if unknown:
        raise ReplicateError(f"unknown metric {', '.join(map(repr, unknown))}; the runs have: "
                             f"{', '.join(sorted(known))}")
    return list(asked)


def metric_table(group: Group, metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One row per variant and metric the group measured: n, mean, sd and the 95% interval."""
    by_seed = group.by_seed()
    variants = [v for v in group.params.get("variants", {}) if any(v in r for r in by_seed.values())]
    rows = []
    for variant in variants:
        for metric in metrics:
            values = [r[variant][metric] for r in by_seed.values()
                      if r.get(variant, {}).get(metric) is not None]
            if values:
                rows.append({"variant": variant, "metric": metric, **stats.interval(values).as_dict()})
    return rows


def paired_experiments(group: Group, groups: Sequence[Group]) -> dict[claims.Experiment, dict[int, dict[str, Any]]]:
    """For each recipe experiment of the catalogue, the claims' numbers of the group that ran it beside `group`.

    That group's params equal this group's with the experiment's changes
    applied, and nothing else changed.
    """
    wanted = {check.experiment for claim in CATALOGUE for check in claim.checks if check.experiment is not None}
    base = flatten(group.params)
    found = {}
    for experiment in wanted:
        target = experiment.applied_to(base)
        if target == base:
            continue
        for other in groups:
            if other is not group and flatten(other.params) == target:
                found[experiment] = other.claim_values()
    return found


def group_ledger(group: Group, groups: Sequence[Group]) -> list[claims.ClaimResult]:
    return claims.ledger(CATALOGUE, group.claim_values(), paired_experiments(group, groups))


def group_markdown(group: Group, label: Mapping[str, Any], metrics: Sequence[str],
                   results: Sequence[claims.ClaimResult]) -> list[str]:
    runs = group.by_seed()
    config = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in label.items()) or "the only configuration"
    lines = [f"## {config}", "",
             f"{len(runs)} seed{'s' if len(runs) != 1 else ''}: "
             + ", ".join(f"{run.seed} ({run.name})" for run in sorted(group.runs, key=lambda run: run.seed)) + ".", "",
             "### Headline metrics", "",
             markdown_table(metric_table(group, metrics), (
                 ("variant", "variant", "{}"), ("metric", "metric", "{}"), ("n", "n", "{}"),
                 ("mean", "mean", "{:.5g}"), ("sd", "sd", "{:.2g}"), ("ci_low", "95% CI low", "{:.5g}"),
                 ("ci_high", "95% CI high", "{:.5g}"))), ""]
    ledger = ledger_markdown(results, group.roles(), n_runs=len(runs), title="### Ledger: the studies' claims")
    # The ledger's study sections one level down, under this group's heading.
    lines += [line.replace("## Study", "#### Study", 1) if line.startswith("## Study") else line
              for line in ledger.splitlines()]
    return [*lines, ""]


def replicate_report(groups: Sequence[Group], skipped: Sequence[str],
                     metrics: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The markdown report and its JSON twin."""
    labels = differing_params(groups)
    lines = ["# latent-atlas: replicates", "",
             "Experiments from `dvc exp show --json`, grouped by every param except `seed`. Intervals are "
             "Student-t 95% over seeds; verdicts as in the ledger's note. Regenerate with "
             "`latent-atlas replicates`.", ""]
    out: dict[str, Any] = {"groups": [], "skipped": list(skipped)}
    for group, label in zip(groups, labels, strict=True):
        results = group_ledger(group, groups)
        lines += group_markdown(group, label, metrics, results)
        out["groups"].append({"params_differing": label, "seeds": sorted(group.by_seed()),
                              "experiments": {run.name: run.seed for run in group.runs},
                              "metrics": metric_table(group, metrics),
                              "verdicts": claims.counts(results),
                              "claims": [claims.result_json(r) for r in results]})
    if skipped:
        lines += ["## Not included", "", *(f"- {line}" for line in skipped), ""]
    return "\n".join(lines).rstrip() + "\n", out


def write_report(shown: Sequence[Mapping[str, Any]], metrics: Sequence[str] | None, *, out: Path,
                 json_out: Path) -> str:
    """Gather, group and summarise the runs of `dvc exp show --json`; write the report and its JSON.

    Returns one line saying what was written.
    """
    runs, skipped = gather_runs(shown)
    if not runs:
        raise ReplicateError("no finished experiments with metrics/analyze files; run "
                             "`dvc exp run --queue -S seed=1,2,3,4,5` and `dvc queue start` first")
    groups, duplicates = group_runs(runs)
    text, data = replicate_report(groups, [*skipped, *duplicates], choose_metrics(groups, metrics))
    write_text(out, text)
    write_json(json_out, data)
    return f"{len(runs)} runs in {len(groups)} group(s), largest with {len(groups[0].runs)} seeds -> {out}"
