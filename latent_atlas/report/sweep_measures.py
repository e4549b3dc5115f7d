"""Measures over several variants: a list role's members by latent size, PCA of the same size, all variants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_atlas.analysis.ranks import spearman
from latent_atlas.report.run_data import Measure, Missing, RunData, VariantMeasure


@dataclass(frozen=True)
class Sweep(Measure):
    """One number from a metric across a list role's members, by latent size.

    how: "max_step" / "min_step" (the largest / smallest change from one
    size to the next: < 0 / > 0 means it falls / rises at every step),
    "spearman" (with the size), "argmax" / "argmin" (the size where it
    peaks / bottoms), "interior_peak" (1 when the peak is neither the
    smallest nor the largest size), "knee" (the size farthest below the chord
    from the first to the last point on a log-size axis).
    """

    role: str
    key: str
    how: str

    HOWS = ("max_step", "min_step", "spearman", "argmax", "argmin", "interior_peak", "knee")

    def __post_init__(self):
        if self.how not in self.HOWS:
            raise ValueError(f"how={self.how!r} is not allowed; use one of {self.HOWS}")

    def value(self, run: RunData) -> float:
        members = run.sweep(self.role)
        if len(members) < 3:
            raise Missing(f"role {self.role} has {len(members)} sizes in this run; a trend needs 3")
        z = np.array([m[0] for m in members], dtype=float)
        v = np.array([run.metric(name, self.key) for _, name in members])
        return sweep_statistic(z, v, self.how)

    def reads(self) -> str:
        return f"{self.how} of {self.key} over {self.role}"

    def roles(self) -> set[str]:
        return {self.role}


def sweep_statistic(z: np.ndarray, v: np.ndarray, how: str) -> float:
    if how == "max_step":
        return float(np.max(np.diff(v)))
    if how == "min_step":
        return float(np.min(np.diff(v)))
    if how == "spearman":
        return spearman(z, v)
    if how in ("argmax", "argmin"):
        return float(z[np.argmax(v) if how == "argmax" else np.argmin(v)])
    if how == "interior_peak":
        return float(0 < np.argmax(v) < len(v) - 1)
    # knee: the point farthest below the straight line from the first to the last (log z)
    x = np.log(z)
    chord = v[0] + (v[-1] - v[0]) * (x - x[0]) / (x[-1] - x[0])
    return float(z[np.argmax(chord - v)])


@dataclass(frozen=True)
class SweepVsPCA(Measure):
    """The worst, over a list role's sizes, of (metric of the AE - the same metric of PCA of that size).

    worst="max" for a metric where lower is better (test MSE: < 0 means the
    AE wins at every size), "min" where higher is better.
    """

    role: str
    key: str
    worst: str = "max"

    def value(self, run: RunData) -> float:
        diffs = [run.metric(name, self.key) - pca_entry(run, z, self.key) for z, name in run.sweep(self.role)]
        return float(max(diffs) if self.worst == "max" else min(diffs))

    def reads(self) -> str:
        return f"{self.worst} over {self.role} of {self.key}: AE - PCA of the same size"

    def roles(self) -> set[str]:
        return {self.role}


@dataclass(frozen=True)
class SweepWorst(Measure):
    """The smallest ("min") or largest ("max") of a per-variant measure over a list role's members:
    a bound that holds at every size."""

    role: str
    measure: VariantMeasure
    worst: str = "min"

    def __post_init__(self):
        if self.worst not in ("min", "max"):
            raise ValueError(f"worst={self.worst!r} is not allowed; use 'min' or 'max'")

    def value(self, run: RunData) -> float:
        values = [self.measure.of(run, name) for _, name in run.sweep(self.role)]
        return float(min(values) if self.worst == "min" else max(values))

    def reads(self) -> str:
        return f"{self.worst} over {self.role} of {self.measure.reads()}"

    def roles(self) -> set[str]:
        return {self.role}


def pca_entry(run: RunData, k: int, key: str) -> float:
    for entry in (run.baseline.get("pca") or {}).values():
        if int(entry.get("latent_dim", -1)) == k:
            if entry.get(key) is None:
                raise Missing(f"the PCA baseline of size {k} has no {key}")
            return float(entry[key])
    raise Missing(f"no PCA baseline of size {k} in this run (baseline.ks)")


@dataclass(frozen=True)
class PCAOfSize(VariantMeasure):
    """The PCA baseline's metric at the latent size of the role's variant."""

    key: str

    def of(self, run: RunData, name: str) -> float:
        return pca_entry(run, int(run.metric(name, "latent_dim")), self.key)

    def reads(self) -> str:
        return f"{self.key} of PCA of the size of {self.who()}"


# --- across the run's variants ------------------------------------------------------------


@dataclass(frozen=True)
class Across(Measure):
    """Spearman correlation, over every variant that has both, of two per-variant measures."""

    x: VariantMeasure
    y: VariantMeasure
    min_variants: int = 4

    def value(self, run: RunData) -> float:
        pairs = []
        for name in run.variants:
            try:
                pairs.append((self.x.of(run, name), self.y.of(run, name)))
            except Missing:
                continue
        if len(pairs) < self.min_variants:
            raise Missing(f"{len(pairs)} variants have both {self.x.reads()} and {self.y.reads()}; "
                          f"a correlation needs {self.min_variants}")
        x, y = zip(*pairs, strict=True)
        return spearman(x, y)

    def reads(self) -> str:
        return f"Spearman across variants of ({self.x.reads()}) with ({self.y.reads()})"
