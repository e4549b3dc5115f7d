"""The ledger: one definition per catalogue ID, and verdicts that follow from the numbers over seeds."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from tests_support import PROJECT

from latent_atlas.config import RolesParams, load_params
from latent_atlas.report import claims, stats
from latent_atlas.report.claims import Check, Claim, Experiment, exact, study_number
from latent_atlas.report.ledger import CATALOGUE, figure_link, ledger_markdown, ledger_rows
from latent_atlas.report.measures import Diff, Metric
from latent_atlas.report.run_data import RunData

# The catalogue the ledger answers: ../shared/CLAIMS.md beside the project, as params.yaml's comments say.
CLAIMS_MD = PROJECT.parent / "shared" / "CLAIMS.md"
ROW = re.compile(r"^\| (C\d{3}-\d{2}) \| .* \| (number|qualitative|recipe|application) \| .* \|$")


def catalogue_ids() -> dict[str, str]:
    """ID -> kind, from the catalogue's tables."""
    if not CLAIMS_MD.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CLAIMS_MD} is missing: the ledger cannot be checked against the catalogue")
        pytest.skip(f"{CLAIMS_MD} is not beside the project")
    return {m[1]: m[2] for line in CLAIMS_MD.read_text().splitlines() if (m := ROW.match(line.strip()))}


def test_the_ledger_and_the_catalogue_list_the_same_ids():
    listed = catalogue_ids()
    defined = [claim.id for claim in CATALOGUE]
    assert len(defined) == len(set(defined)), "an ID is defined twice"
    missing = sorted(set(listed) - set(defined))
    invented = sorted(set(defined) - set(listed))
    assert not missing, f"catalogue IDs without a definition: {missing}"
    assert not invented, f"definitions of IDs the catalogue does not have: {invented}"
    assert defined == sorted(defined), "the ledger keeps the catalogue's order"


def test_each_definition_has_the_catalogues_kind():
    listed = catalogue_ids()
    assert {c.id: c.kind for c in CATALOGUE if c.kind != listed[c.id]} == {}


def test_at_most_a_tenth_is_not_testable_and_each_says_why():
    untestable = [c for c in CATALOGUE if c.not_testable is not None]
    assert len(untestable) <= len(CATALOGUE) // 10
    assert all(len(c.not_testable) > 20 for c in untestable)


def test_every_role_a_claim_reads_is_a_role_of_params_and_the_default_run_assigns_it():
    declared = set(RolesParams.model_fields)
    read = set().union(*(claim.roles() for claim in CATALOGUE))
    assert read <= declared, sorted(read - declared)
    assert read <= set(load_params(PROJECT / "params.yaml").roles.assigned())


def test_open_entries_are_applications_or_name_the_issue_that_measures_them():
    for claim in CATALOGUE:
        if claim.needs is not None:
            assert claim.kind == "application" or "issue 17" in claim.needs, claim.id


def test_figures_link_to_a_role_or_a_folder_of_plots():
    roles = load_params(PROJECT / "params.yaml").roles.assigned()
    for claim in CATALOGUE:
        if claim.figure is not None:
            link = figure_link(claim, roles)
            assert link is not None and link.startswith("../plots/") and link.endswith(".png"), claim.id
            assert "{" not in link, claim.id


# --------------------------------------------------------------------------- #
# verdicts from numbers
# --------------------------------------------------------------------------- #


def drop_claim(**check) -> Claim:
    return Claim("C000-19", "qualitative", "q", (Check("drop", "drop", Metric("classifier_ae", "accuracy"),
                                                       stats.above(0.005), **check),))


def by_seed(values: list) -> dict:
    return {seed: {"C000-19": {"drop": v}} for seed, v in enumerate(values)}


@pytest.mark.parametrize(("values", "verdict"), [
    ([0.020, 0.019, 0.021], stats.HOLDS),  # 0.020 +- 0.0025: above the margin
    ([0.001, 0.002, 0.0015], stats.DOES_NOT_HOLD),  # wholly below 0.005
    ([0.002, 0.012, 0.004], "inconclusive with 3 seeds"),  # straddles it
    ([0.02], stats.NO_VERDICT),
    (["missing: role classifier_ae has no variant in this run (roles.classifier_ae)"], claims.NOT_MEASURED),
])
def test_a_verdict_follows_from_the_interval(values, verdict):
    result = claims.claim_result(drop_claim(), by_seed(values))
    assert result.verdict == verdict
    if verdict == claims.NOT_MEASURED:
        assert "roles.classifier_ae" in result.reason and result.checks[0].interval is None


def test_an_exact_check_is_decided_by_each_run():
    count = Claim("C000-18", "number", "q", (exact("n", "n", Metric("classifier_ae", "n_params"), 207_594),))
    assert claims.claim_result(count, {1: {"C000-18": {"n": 207_594.0}}}).verdict == stats.HOLDS
    assert claims.claim_result(count, {1: {"C000-18": {"n": 204_384.0}}}).verdict == stats.DOES_NOT_HOLD
    split = claims.claim_result(count, {1: {"C000-18": {"n": 207_594.0}}, 2: {"C000-18": {"n": 1.0}}})
    assert split.category == claims.INCONCLUSIVE


def test_a_study_number_holds_within_ten_percent():
    check = study_number("mse", "deep test MSE", Metric("deep_ae", "test_mse"), 0.021359)
    assert check.region == stats.near(0.021359, 0.0021359)
    claim = Claim("C003-03", "number", "q", (check,))
    near = {s: {"C003-03": {"mse": 0.0213 + 0.0001 * s}} for s in range(3)}
    far = {s: {"C003-03": {"mse": 0.030 + 0.0001 * s}} for s in range(3)}
    assert claims.claim_result(claim, near).verdict == stats.HOLDS
    assert claims.claim_result(claim, far).verdict == stats.DOES_NOT_HOLD


def test_the_claim_holds_only_when_every_deciding_check_holds():
    claim = Claim("C000-12", "qualitative", "q", (
        Check("a", "a", Metric("classifier_ae", "x"), stats.below(0.2)),
        Check("b", "b", Metric("classifier_ae", "y"), stats.below(0.2)),
        Check("c", "c", Metric("classifier_ae", "z"), stats.below(0.2), decides=False)))
    runs = {s: {"C000-12": {"a": 0.10 + s / 1000, "b": 0.11 + s / 1000, "c": 0.9 + s / 1000}} for s in range(3)}
    result = claims.claim_result(claim, runs)
    assert result.verdict == stats.HOLDS  # c does not hold, but does not decide
    assert [r.verdict for r in result.checks] == [stats.HOLDS, stats.HOLDS, stats.DOES_NOT_HOLD]
    runs[0]["C000-12"]["b"] = "missing: metric y of classifier is not in this run"
    for s in (1, 2):
        runs[s]["C000-12"]["b"] = "missing: metric y of classifier is not in this run"
    assert claims.claim_result(claim, runs).verdict == claims.NOT_MEASURED
    for s in range(3):
        runs[s]["C000-12"]["a"] = 0.5 + s / 1000  # a fails: the claim fails, whatever b lacks
    assert claims.claim_result(claim, runs).verdict == stats.DOES_NOT_HOLD


def test_a_recipe_experiment_pairs_by_seed_and_a_single_run_says_what_to_run():
    experiment = Experiment((("recipes.vanilla.weight_decay", 0.0),))
    claim = Claim("C002-48", "qualitative", "q", (Check("gap", "gap", Metric("vanilla_sweep", "g", z=3),
                                                       stats.above(0), experiment=experiment),))
    base = {s: {"C002-48": {"gap": 0.001 * s}} for s in (1, 2, 3, 4)}
    changed = {s: {"C002-48": {"gap": 0.001 * s + 0.002 + 0.0001 * (s % 2)}} for s in (1, 2, 3)}
    alone = claims.claim_result(claim, base)
    assert alone.verdict == claims.NOT_MEASURED and experiment.command() in alone.reason
    paired = claims.claim_result(claim, base, {experiment: changed})
    # (changed - base) per common seed: 0.0021, 0.0020, 0.0021 (seed 4 has no partner).
    assert paired.checks[0].interval.n == 3 and paired.checks[0].interval.mean == pytest.approx(0.0062 / 3)
    assert paired.verdict == stats.HOLDS


def test_not_testable_and_open_entries_have_their_own_verdicts():
    # The catalogue's own not-testable entries, and an open one waiting for its measurement.
    waiting = Claim("C9", "application", "q", needs="a measurement nobody has built")
    found = claims.ledger([c for c in CATALOGUE if c.not_testable] + [waiting], {1: {}})
    assert {r.category for r in found} == {claims.NOT_TESTABLE, claims.NOT_MEASURED}
    assert all(r.reason for r in found)


def test_a_definition_must_answer_the_claim_one_way():
    with pytest.raises(ValueError, match="exactly one"):
        Claim("C9", "qualitative", "q", not_testable="why", needs="what")
    with pytest.raises(ValueError, match="no check decides"):
        Claim("C9", "qualitative", "q", (Check("a", "a", Metric("r", "x")),))
    with pytest.raises(ValueError, match="kind='opinion'"):
        Claim("C9", "opinion", "q", needs="x")


def test_a_non_finite_number_names_the_claim_and_check():
    with pytest.raises(ValueError, match=r"C000-19 drop by seed .*values must be finite"):
        claims.claim_result(drop_claim(), by_seed([float("nan"), 0.02]))


# --------------------------------------------------------------------------- #
# one run's numbers, by role
# --------------------------------------------------------------------------- #


def run(**roles) -> RunData:
    return RunData(roles=roles or {"classifier_ae": ["classifier"], "classifier_ae_reduced": ["classifier_z6"]},
                   variants={"classifier": {"latent_dim": 16, "accuracy": 0.975, "n_params": 207_594},
                             "classifier_z6": {"latent_dim": 6, "accuracy": 0.973, "untrained_accuracy": 0.1}})


def test_run_values_read_by_role_and_name_what_is_missing():
    drop = Claim("C000-19", "qualitative", "q", (
        Check("trained", "t", Diff(Metric("classifier_ae", "accuracy"), Metric("classifier_ae_reduced", "accuracy")),
              stats.above(0.005)),
        Check("deep", "d", Metric("deep_ae", "test_mse"), stats.above(0)),
        Check("typo", "t", Metric("classifier_ae", "acuracy"), stats.above(0))))
    values = claims.run_values([drop], run())["C000-19"]
    assert values["trained"] == pytest.approx(0.002)
    assert values["deep"] == "missing: role deep_ae has no variant in this run (roles.deep_ae)"
    assert values["typo"] == "missing: metric acuracy of classifier is not in this run"
    # Renaming a variant changes the roles, not the claim.
    renamed = RunData(roles={"classifier_ae": ["big"], "classifier_ae_reduced": ["small"]},
                      variants={"big": {"accuracy": 0.975}, "small": {"accuracy": 0.973}})
    assert claims.run_values([drop], renamed)["C000-19"]["trained"] == pytest.approx(0.002)


def test_the_whole_catalogue_runs_on_a_run_that_has_almost_nothing():
    values = claims.run_values(CATALOGUE, run())
    measured = {cid for cid, checks in values.items() if any(isinstance(v, float) for v in checks.values())}
    assert {"C000-18", "C000-19", "C004-01"} <= measured
    assert all(isinstance(v, float) or v.startswith("missing: ") for checks in values.values() for v in checks.values())
    results = claims.ledger(CATALOGUE, {"this run": values})
    counted = claims.counts(results)
    assert sum(counted.values()) == len(CATALOGUE) and counted[claims.NOT_TESTABLE] == 1


def test_the_markdown_renders_the_results_with_their_figures():
    results = claims.ledger(CATALOGUE, {"this run": claims.run_values(CATALOGUE, run())})
    rows = {r["id"]: r for r in ledger_rows(results, {"classifier_ae": ["classifier"]})}
    assert rows["C000-17"]["figure"] == "[figure](../plots/classifier/scree.png)"
    assert rows["C002-33"]["figure"] is None  # its role is not in this run
    text = ledger_markdown(results, {"classifier_ae": ["classifier"]}, n_runs=1)
    assert len([line for line in text.splitlines() if re.match(r"^\| C\d{3}-\d{2} \|", line)]) == len(CATALOGUE)
    assert Path(figure_link(CATALOGUE[16], {"classifier_ae": ["classifier"]})).name == "scree.png"
