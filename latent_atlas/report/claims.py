"""The studies' claims as data, and how a verdict follows from the runs.

A `Claim` is one ID of the catalogue (../shared/CLAIMS.md): its quote, its
kind, and the checks that answer it. A `Check` reads one number from a run
(a `Measure`, by role) and says where that number must lie for the claim to
be true (a `stats.Region`: a direction beyond a margin, an equivalence bound,
or a study's number with a tolerance). A claim without checks is either "not
testable", with the reason, or open: `needs` names the measurement it waits
for (the applications that other models answer).

Two steps, both returning data:
- `run_values`: one run -> the number of every check, or why it has none
  (what metrics/claims.json holds, one file per run and so per seed);
- `ledger`: those numbers over seeds -> each check's Student-t interval and
  verdict, and the claim's. A check with `experiment` compares runs of a
  recipe experiment (`dvc exp run -S ...`) with the runs of the same seeds
  without it, paired by seed.

Markdown only renders what `ledger` returns (latent_atlas.report.ledger).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from latent_atlas.report import stats
from latent_atlas.report.run_data import Measure, Missing, RunData

KINDS = ("number", "qualitative", "recipe", "application")

NOT_MEASURED = "not measured in this run"
NOT_TESTABLE = "not testable"
INCONCLUSIVE = "inconclusive"
# The verdicts a claim can get, in the order reports count them.
VERDICTS = (stats.HOLDS, stats.DOES_NOT_HOLD, INCONCLUSIVE, stats.NO_VERDICT, NOT_MEASURED, NOT_TESTABLE)

# A study's number is reproduced when our interval lies within this fraction of it.
STUDY_TOLERANCE = 0.10


@dataclass(frozen=True)
class Experiment:
    """A recipe change run as its own DVC experiment beside the default runs, seed for seed."""

    changes: tuple[tuple[str, Any], ...]

    def command(self) -> str:
        return "dvc exp run " + " ".join(f"-S {key}={value}" for key, value in self.changes)

    def applied_to(self, flat_params: Mapping[str, Any]) -> dict[str, Any]:
        return {**flat_params, **dict(self.changes)}


@dataclass(frozen=True)
class Check:
    """One number of a claim and where it must lie.

    region None: a number shown beside the verdict. decides False: a verdict
    of its own that the claim's does not follow (the untrained z=6 network
    beside the trained one). exact: each run decides on its own, as for a
    number that does not vary with the seed (a parameter count, a ratio of
    sizes): holds when every run's number lies in the region. experiment:
    the number is (this measure with the experiment) - (without it), paired
    by seed.
    """

    key: str
    label: str
    measure: Measure
    region: stats.Region | None = None
    decides: bool = True
    exact: bool = False
    fmt: str = "{:.4g}"
    experiment: Experiment | None = None

    def __post_init__(self):
        if self.region is None and self.decides:
            object.__setattr__(self, "decides", False)


@dataclass(frozen=True)
class Claim:
    id: str
    kind: str
    quote: str
    checks: tuple[Check, ...] = ()
    # The figure that shows it, under plots/: "{role}/file.png" (the role's first variant) or "summary/file.png".
    figure: str | None = None
    not_testable: str | None = None
    # An open entry: the measurement it waits for (and who builds it).
    needs: str | None = None
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind={self.kind!r} is not allowed; use one of {KINDS}")
        answered = [bool(self.checks), self.not_testable is not None, self.needs is not None]
        if sum(answered) != 1:
            raise ValueError(f"{self.id}: give checks, or not_testable, or needs (exactly one)")
        if self.checks and not any(c.decides for c in self.checks):
            raise ValueError(f"{self.id}: no check decides the verdict")
        keys = [c.key for c in self.checks]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.id}: check keys repeat: {keys}")

    @property
    def study(self) -> str:
        return self.id[1:4]

    def roles(self) -> set[str]:
        return set().union(*(c.measure.roles() for c in self.checks)) if self.checks else set()


def study_number(key: str, label: str, measure: Measure, number: float, tolerance: float = STUDY_TOLERANCE,
                 fmt: str = "{:.4g}") -> Check:
    """The study's number, reproduced when the interval lies within ± tolerance of it (relative)."""
    return Check(key, f"{label} (study: {fmt.format(number)})", measure,
                 stats.near(number, tolerance * abs(number)), fmt=fmt)


def exact(key: str, label: str, measure: Measure, value: float, fmt: str = "{:,.0f}", tolerance: float = 0.0) -> Check:
    """A number that does not vary with the seed, equal to `value` (± tolerance): each run decides."""
    return Check(key, label, measure, stats.near(value, tolerance), exact=True, fmt=fmt)


# --- one run ---------------------------------------------------------------------------------


Values = Mapping[str, Mapping[str, float | str]]  # claim id -> check key -> number, or why there is none
MISSING_PREFIX = "missing: "


def run_values(claims: Iterable[Claim], run: RunData) -> dict[str, dict[str, float | str]]:
    """Every check's number in this run, or "missing: <what the run lacks>" (metrics/claims.json)."""
    out: dict[str, dict[str, float | str]] = {}
    for claim in claims:
        found: dict[str, float | str] = {}
        for check in claim.checks:
            try:
                found[check.key] = float(check.measure.value(run))
            except Missing as exc:
                found[check.key] = f"{MISSING_PREFIX}{exc}"
        if found:
            out[claim.id] = found
    return out


# --- over seeds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    check: Check
    interval: stats.Interval | None
    verdict: str | None  # None: a number without a region, or no number
    missing: str | None = None  # why there is no number
    seeds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    verdict: str
    reason: str = ""
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def category(self) -> str:
        """The verdict without its seed count: one of VERDICTS."""
        return INCONCLUSIVE if self.verdict.startswith(INCONCLUSIVE) else self.verdict


BySeed = Mapping[Hashable, Values]  # seed -> one run's values


def _numbers(runs: BySeed, claim: Claim, check: Check) -> tuple[dict[Hashable, float], list[str]]:
    numbers, missing = {}, []
    for seed, values in runs.items():
        found = values.get(claim.id, {}).get(check.key)
        if isinstance(found, int | float):
            numbers[seed] = float(found)
        else:
            missing.append(str(found).removeprefix(MISSING_PREFIX) if found is not None
                           else f"no number for {claim.id} ({check.key}): this run predates the check")
    return numbers, missing


def check_result(claim: Claim, check: Check, runs: BySeed, experiment_runs: BySeed | None = None) -> CheckResult:
    numbers, missing = _numbers(runs, claim, check)
    if check.experiment is not None:
        if experiment_runs is None:
            return CheckResult(check, None, None, f"needs the recipe experiment `{check.experiment.command()}` "
                                                  "on the same seeds (latent-atlas replicates pairs them)")
        changed, changed_missing = _numbers(experiment_runs, claim, check)
        common = [seed for seed in numbers if seed in changed]
        numbers = {seed: changed[seed] - numbers[seed] for seed in common}
        missing = missing or changed_missing
    if not numbers:
        return CheckResult(check, None, None, "; ".join(dict.fromkeys(missing)) or "no run")
    seeds = tuple(sorted(map(str, numbers)))
    try:
        found = stats.interval(numbers.values())
    except ValueError as exc:
        raise ValueError(f"{claim.id} {check.key} by seed {numbers}: {exc}") from exc
    if check.region is None:
        return CheckResult(check, found, None, seeds=seeds)
    if check.exact:
        low, high = min(numbers.values()), max(numbers.values())
        verdict = (stats.HOLDS if check.region.inside(low, high) else
                   stats.DOES_NOT_HOLD if check.region.outside(low, high) else f"{INCONCLUSIVE}: the runs disagree")
    else:
        verdict = stats.verdict(found, check.region)
    return CheckResult(check, found, verdict, seeds=seeds)


def combine(results: Sequence[CheckResult]) -> tuple[str, str]:
    """The claim's verdict from its deciding checks: all hold -> holds; any fails -> does not hold."""
    deciding = [r for r in results if r.check.decides]
    if any(r.verdict == stats.DOES_NOT_HOLD for r in deciding):
        return stats.DOES_NOT_HOLD, ""
    missing = [f"{r.check.key}: {r.missing}" for r in deciding if r.verdict is None]
    if missing:
        return NOT_MEASURED, "; ".join(missing)
    if all(r.verdict == stats.HOLDS for r in deciding):
        return stats.HOLDS, ""
    if any(r.verdict == stats.NO_VERDICT for r in deciding):
        return stats.NO_VERDICT, ""
    n = min((r.interval.n for r in deciding if r.interval is not None), default=0)
    return f"{INCONCLUSIVE} with {n} seed{'s' if n != 1 else ''}", ""


def claim_result(claim: Claim, runs: BySeed, experiments: Mapping[Experiment, BySeed] | None = None) -> ClaimResult:
    if claim.not_testable is not None:
        return ClaimResult(claim, NOT_TESTABLE, claim.not_testable)
    if claim.needs is not None:
        return ClaimResult(claim, NOT_MEASURED, f"needs {claim.needs}")
    results = tuple(check_result(claim, check, runs, (experiments or {}).get(check.experiment))
                    for check in claim.checks)
    verdict, reason = combine(results)
    return ClaimResult(claim, verdict, reason, results)


def ledger(claims: Iterable[Claim], runs: BySeed,
           experiments: Mapping[Experiment, BySeed] | None = None) -> list[ClaimResult]:
    """Every claim's checks and verdict over the runs (seed -> run_values of that seed's run)."""
    return [claim_result(claim, runs, experiments) for claim in claims]


def counts(results: Iterable[ClaimResult]) -> dict[str, int]:
    """How many claims got each verdict (every verdict listed, 0 included)."""
    out = dict.fromkeys(VERDICTS, 0)
    for result in results:
        out[result.category] += 1
    return out


def result_json(result: ClaimResult) -> dict[str, Any]:
    claim = result.claim
    return {
        "id": claim.id, "kind": claim.kind, "verdict": result.verdict, "reason": result.reason or None,
        "checks": [{"key": r.check.key, "label": r.check.label, "reads": r.check.measure.reads(),
                    "holds_when": r.check.region.text() if r.check.region else None, "decides": r.check.decides,
                    "experiment": r.check.experiment.command() if r.check.experiment else None,
                    "interval": r.interval.as_dict() if r.interval else None, "verdict": r.verdict,
                    "missing": r.missing, "seeds": list(r.seeds)} for r in result.checks],
    }
