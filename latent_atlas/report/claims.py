"""The studies' claims: a number per seed, its interval over seeds, a verdict.

The numbers are held per seed (`Runs`: seed -> variant -> metric); each claim
is a metric of one variant or the paired difference of two. A single seed
states its numbers and draws no verdict. The same claims feed this run's
report and the replicate report (`latent-atlas replicates`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from latent_atlas.config import CompareParams, ReadingParams
from latent_atlas.report import stats
from latent_atlas.report.markdown import markdown_table

# seed -> variant -> metric -> value; PCA of the pixels at size k is the variant pca_name(k).
Runs = Mapping[Hashable, Mapping[str, Mapping[str, float]]]

# A study's number is reproduced when our interval lies within this fraction of it.
STUDY_MARGIN = 0.10

# The dense AE's curves "stay together" when the final validation loss is within this fraction of the training loss.
CURVE_GAP_MARGIN = 0.10

# What a single run can do instead of a verdict.
REPLICATE_HINT = ("run replicates for intervals and verdicts: `dvc exp run --queue -S seed=1,2,3,4,5`, "
                  "`dvc queue start`, then `python -m latent_atlas.replicates`")


def pca_name(k: int) -> str:
    return f"pca_k{k}"


def seed_metrics(analyses: Mapping[str, Mapping[str, Any]], train: Mapping[str, Mapping[str, Any]] | None = None,
                 baseline: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """One run's numbers by variant: analysis and training metrics, and PCA of size k as pca_k<k>.

    Adds val_train_gap = final validation / final training loss - 1 where a
    variant has a validation split (how far its two curves end apart).
    """
    out = {}
    for name, metrics in analyses.items():
        row = {**(train or {}).get(name, {}), **metrics}
        if row.get("final_val_loss") is not None and row.get("final_train_loss"):
            row["val_train_gap"] = row["final_val_loss"] / row["final_train_loss"] - 1
        out[name] = row
    for entry in (baseline or {}).get("pca", {}).values():
        out[pca_name(int(entry["latent_dim"]))] = dict(entry)
    return out


@dataclass(frozen=True)
class Claim:
    """A statement checked on every seed: `metric` of variant `a`, or minus that of `b` (paired by seed)."""

    text: str
    study: str
    metric: str
    a: str
    b: str | None = None
    region: stats.Region = stats.above(0.0)
    fmt: str = "{:.4f}"

    def measure(self) -> str:
        return f"{self.metric}: {self.a}" + (f" − {self.b}" if self.b else "")

    def values(self, runs: Runs) -> dict[Hashable, float]:
        """seed -> the claim's number, for the seeds that have every variant it names."""
        out = {}
        for seed, variants in runs.items():
            a = variants.get(self.a, {}).get(self.metric)
            b = variants.get(self.b, {}).get(self.metric) if self.b else 0.0
            if a is not None and b is not None:
                out[seed] = float(a) - float(b)
        return out


def evaluate(claim: Claim, runs: Runs) -> dict[str, Any]:
    """The claim's interval over seeds and its verdict (interval None when no seed has the numbers)."""
    values = claim.values(runs)
    try:
        found = stats.interval(values.values()) if values else None
    except ValueError as exc:
        raise ValueError(f"{claim.measure()} by seed {values}: {exc}") from exc
    return {"claim": claim.text, "study": claim.study, "measure": claim.measure(), "interval": found,
            "holds_when": claim.region.text(), "seeds": sorted(values, key=str),
            "verdict": stats.verdict(found, claim.region) if found else "not measured in this run"}


def claims_table(claims: Sequence[Claim], runs: Runs) -> str:
    rows = []
    for claim in claims:
        found = evaluate(claim, runs)
        measured = found["interval"].text(claim.fmt) if found["interval"] else "-"
        rows.append({**found, "measured": measured, "holds_when": f"{found['measure']} {found['holds_when']}"})
    return markdown_table(rows, (("claim", "claim", "{}"), ("study", "study", "{}"),
                                 ("measured", "this project: mean ± half-width [95% CI]", "{}"),
                                 ("holds_when", "holds when", "{}"), ("verdict", "verdict", "{}")))


def claims_json(claims: Sequence[Claim], runs: Runs) -> list[dict[str, Any]]:
    out = []
    for claim in claims:
        found = evaluate(claim, runs)
        out.append({**found, "seeds": [str(s) for s in found["seeds"]],
                    "interval": found["interval"].as_dict() if found["interval"] else None})
    return out


def _study(variant: str, metric: str, number: float, fmt: str, text: str) -> Claim:
    return Claim(text, f"{number:g}", metric, variant,
                 region=stats.near(number, STUDY_MARGIN * abs(number)), fmt=fmt)


def reading_claims(reading: ReadingParams) -> list[Claim]:
    """The study's finding after its eigenvalue reading: the smaller code loses accuracy (and reconstructs worse).

    reading.accuracy_tolerance is the practical-significance margin: a drop
    smaller than it does not count as a loss.
    """
    full, reduced, tolerance = reading.full, reading.reduced, reading.accuracy_tolerance
    return [Claim(f"{reduced} loses accuracy against {full}", "drops", "accuracy", full, reduced,
                  stats.above(tolerance)),
            Claim(f"{reduced} reconstructs worse than {full}", "-", "test_mse", reduced, full,
                  stats.above(0.0), "{:.5f}")]


def _latent_dims(runs: Runs) -> dict[str, int]:
    dims: dict[str, int] = {}
    for variants in runs.values():
        for name, metrics in variants.items():
            if metrics.get("latent_dim") is not None:
                dims.setdefault(name, int(metrics["latent_dim"]))
    return dims


def pca_claims(runs: Runs) -> list[Claim]:
    """Each autoencoder against PCA of the pixels with as many components: lower test MSE."""
    dims = _latent_dims(runs)
    pcas = {dims[name] for name in dims if name.startswith("pca_k")}
    return [Claim(f"{name} reconstructs better than PCA with k={k}", "-", "test_mse", pca_name(k), name,
                  stats.above(0.0), "{:.5f}")
            for name, k in dims.items() if not name.startswith("pca_k") and k in pcas]


def sweep_claims(runs: Runs, sweep: Sequence[str]) -> list[Claim]:
    """Vanilla AE: the test MSE falls at each step up in latent size (the study's sharper reconstructions)."""
    dims = _latent_dims(runs)
    ordered = sorted((name for name in sweep if name in dims), key=dims.get)
    return [Claim(f"vanilla test MSE falls from z={dims[small]} to z={dims[large]}", "sharper as z grows",
                  "test_mse", small, large, stats.above(0.0), "{:.5f}")
            for small, large in pairwise(ordered)]


def ledger_claims(runs: Runs, compare: CompareParams) -> list[Claim]:
    """One row per claim the studies make (SPEC.md), in the order the studies make them."""
    full = compare.reading.full
    return [
        Claim("classifier AE reaches about 97% test accuracy", "about 0.97", "accuracy", full,
              region=stats.near(0.97, 0.01)),
        Claim("its 16-d code has about 6 eigenvalues above 10", "about 6", "eigenvalues_above_threshold", full,
              region=stats.near(6, 1), fmt="{:.1f}"),
        *reading_claims(compare.reading),
        _study("deep", "test_mse", 0.021359, "{:.5f}", "deep AE test MSE"),
        _study("deep", "purity_best", 0.6589, "{:.4f}", "deep AE k-means purity"),
        _study("small_conv", "test_mse", 0.016341, "{:.5f}", "small conv AE test MSE"),
        _study("small_conv", "purity_best", 0.7059, "{:.4f}", "small conv AE k-means purity"),
        Claim("small conv clusters better than deep", "0.7059 vs 0.6589", "purity_best", "small_conv", "deep"),
        *sweep_claims(runs, compare.sweep),
        Claim("dense AE: train and validation curves stay together", "together", "val_train_gap", "dense",
              region=stats.near(0.0, CURVE_GAP_MARGIN), fmt="{:+.3f}"),
    ]


def ledger_section(runs: Runs, compare: CompareParams) -> list[str]:
    n = len(runs)
    reduced, tolerance = compare.reading.reduced, compare.reading.accuracy_tolerance
    lines = ["## Ledger: the studies' claims", "",
             f"One row per claim (SPEC.md), measured on {n} seed{'s' if n != 1 else ''}: mean ± half-width of the "
             "Student-t 95% interval, and the region in which the claim is true. A claim holds when the whole "
             "interval lies in that region, does not hold when the interval lies outside it, and is inconclusive "
             "otherwise. Differences (a − b) are paired by seed. A study's number counts as reproduced within "
             f"±{STUDY_MARGIN:.0%} of it; `{reduced}`'s accuracy loss counts from the "
             f"{100 * tolerance:.2g}-point margin `compare.reading.accuracy_tolerance`; val_train_gap is the final "
             "validation over the final training loss, minus 1.", "",
             claims_table(ledger_claims(runs, compare), runs), ""]
    if n < 2:
        lines += [f"One seed: the numbers are this run's, with no interval and no verdict; {REPLICATE_HINT}.", ""]
    return lines
