"""Intervals and verdicts: known answers (t tables, hand-computed means and spreads)."""

from __future__ import annotations

import math

import pytest

from latent_atlas.report import stats


def test_known_t_quantiles():
    # Two-sided 95% values from any t table.
    assert stats.t_quantile(4) == pytest.approx(2.776, abs=5e-4)
    assert stats.t_quantile(1) == pytest.approx(12.706, abs=5e-4)
    assert stats.t_quantile(2) == pytest.approx(4.303, abs=5e-4)
    assert stats.t_quantile(4, confidence=0.90) == pytest.approx(2.132, abs=5e-4)


def test_identical_replicates_have_zero_spread_and_a_zero_width_interval():
    found = stats.interval([0.97] * 5)
    assert (found.n, found.mean, found.sd) == (5, pytest.approx(0.97), 0.0)
    assert found.low == found.high == pytest.approx(0.97)
    assert stats.verdict(found, stats.near(0.97, 0.01)) == stats.HOLDS


def test_interval_of_one_to_five():
    # mean 3, sd sqrt(2.5), half-width t_{0.975,4} * sd / sqrt(5) = 1.9632.
    found = stats.interval([1, 2, 3, 4, 5])
    assert found.mean == 3 and found.sd == pytest.approx(math.sqrt(2.5))
    assert (found.low, found.high) == (pytest.approx(3 - 1.9632, abs=1e-4), pytest.approx(3 + 1.9632, abs=1e-4))
    assert found.text("{:.2f}") == "3.00 ± 1.96 [1.04, 4.96], n=5"


def test_a_difference_whose_interval_straddles_zero_is_inconclusive():
    a = {1: 1.0, 2: 2.0, 3: 3.0}
    b = {1: 1.5, 2: 1.5, 3: 2.5}
    diff = stats.paired_difference(a, b)  # -0.5, 0.5, 0.5
    assert diff.mean == pytest.approx(1 / 6) and diff.low < 0 < diff.high
    assert stats.verdict(diff, stats.above(0.0)) == "inconclusive with 3 seeds"


def test_pairing_by_seed_removes_the_shared_spread():
    # Seeds differ a lot, but a beats b by exactly 0.01 on every seed.
    b = {seed: 0.9 + 0.02 * seed for seed in range(5)}
    a = {seed: value + 0.01 for seed, value in b.items()}
    diff = stats.paired_difference(a, b)
    assert diff.mean == pytest.approx(0.01) and diff.sd == pytest.approx(0.0, abs=1e-12)
    assert stats.verdict(diff, stats.above(0.005)) == stats.HOLDS
    # Unpaired, the two intervals overlap: the seed spread would hide the difference.
    assert stats.interval(a.values()).low < stats.interval(b.values()).high


def test_paired_difference_uses_only_the_seeds_both_have():
    diff = stats.paired_difference({1: 3.0, 2: 5.0, 3: 100.0}, {1: 1.0, 2: 2.0})
    assert diff.n == 2 and diff.mean == pytest.approx(2.5)
    with pytest.raises(ValueError, match="no replicate in common"):
        stats.paired_difference({1: 1.0}, {2: 1.0})


def test_verdict_rules():
    tight_low = stats.interval([0.001, 0.002, 0.003])  # clearly below a 0.005 margin
    assert stats.verdict(tight_low, stats.above(0.005)) == stats.DOES_NOT_HOLD
    assert stats.verdict(tight_low, stats.below(0.005)) == stats.HOLDS
    assert stats.verdict(tight_low, stats.near(0.0, 0.01)) == stats.HOLDS
    assert stats.verdict(tight_low, stats.near(0.5, 0.01)) == stats.DOES_NOT_HOLD


def test_one_seed_states_the_number_and_draws_no_verdict():
    found = stats.interval([0.9728])
    assert found.n == 1 and math.isnan(found.sd) and math.isnan(found.low)
    assert stats.verdict(found, stats.above(0.0)) == "no verdict (one seed)"
    assert found.text() == "0.9728 (one seed)"
    assert found.as_dict() == {"n": 1, "mean": 0.9728, "sd": None, "ci_low": None, "ci_high": None,
                               "confidence": 0.95}


def test_regions_read_as_text():
    assert stats.above(0.005).text() == "> 0.005"
    assert stats.below(0).text() == "< 0"
    assert stats.near(0.97, 0.01).text() == "in [0.96, 0.98]"


@pytest.mark.parametrize(("call", "match"), [
    (lambda: stats.interval([]), "no values"),
    (lambda: stats.interval([1.0, float("nan")]), "must be finite"),
    (lambda: stats.t_quantile(0), "degrees of freedom must be at least 1, got 0"),
    (lambda: stats.t_quantile(3, confidence=1.5), r"confidence must be in \(0, 1\), got 1.5"),
    (lambda: stats.Region(1.0, 0.0), r"low <= high, got \[1.0, 0.0\]"),
    (lambda: stats.near(0.5, -0.1), "margin must be >= 0, got -0.1"),
])
def test_bad_arguments_name_the_value(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_one_sided_claim_does_not_hold_on_its_border():
    # "larger than 0" is false of a difference that is exactly 0 on every seed.
    zeros = stats.interval([0.0, 0.0, 0.0])
    assert stats.verdict(zeros, stats.above(0.0)) == stats.DOES_NOT_HOLD
    assert stats.verdict(zeros, stats.below(0.0)) == stats.DOES_NOT_HOLD
    assert stats.verdict(zeros, stats.near(0.0, 0.0)) == stats.HOLDS
    ones = stats.interval([1.0, 1.0])
    assert stats.verdict(ones, stats.above(0.99)) == stats.HOLDS


def test_an_exact_number_is_decided_by_one_run():
    assert stats.exact_verdict(207_594, stats.near(207_594, 0)) == stats.HOLDS
    assert stats.exact_verdict(204_384, stats.near(207_594, 0)) == stats.DOES_NOT_HOLD
    assert stats.exact_verdict(0.0, stats.above(0.0)) == stats.DOES_NOT_HOLD
