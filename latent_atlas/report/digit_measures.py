"""Per-digit and digit-pair measures: a digit's spread against the median digit, a pair's rank, ..."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latent_atlas.analysis.ranks import rank_descending
from latent_atlas.report.run_data import Missing, RunData, VariantMeasure


def _digits_vector(run: RunData, name: str, key: str) -> np.ndarray:
    v = np.asarray(run.detail(name, key), dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise Missing(f"detail {key} of {name} is not a per-digit list")
    return v


@dataclass(frozen=True)
class DigitGap(VariantMeasure):
    """Mean of a per-digit list over `digits`, minus its median over all digits (NaN digits left out)."""

    key: str
    digits: tuple[int, ...]

    def of(self, run: RunData, name: str) -> float:
        v = _digits_vector(run, name, self.key)
        return float(np.nanmean(v[list(self.digits)]) - np.nanmedian(v))

    def reads(self) -> str:
        return f"{self.key} of digits {','.join(map(str, self.digits))} minus the median digit, {self.who()}"


@dataclass(frozen=True)
class DigitRank(VariantMeasure):
    """Rank (1 = largest) of `digits` in a per-digit list: the worst of them, or the best."""

    key: str
    digits: tuple[int, ...]
    worst: bool = True

    def of(self, run: RunData, name: str) -> float:
        ranks = rank_descending(_digits_vector(run, name, self.key))
        chosen = [ranks[d] for d in self.digits]
        return float(max(chosen) if self.worst else min(chosen))

    def reads(self) -> str:
        which = "worst" if self.worst else "best"
        return f"{which} rank (1 = highest) of digits {','.join(map(str, self.digits))} in {self.key}, {self.who()}"


def _pairs(run: RunData, name: str, key: str) -> np.ndarray:
    m = np.asarray(run.detail(name, key), dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise Missing(f"detail {key} of {name} is not a square matrix of digit pairs")
    return m


def upper_pairs(m: np.ndarray) -> np.ndarray:
    """The values of the distinct pairs (i < j) of a square matrix."""
    return m[np.triu_indices(m.shape[0], k=1)]


@dataclass(frozen=True)
class PairGap(VariantMeasure):
    """Pair (a, b) of a digit-pair matrix minus the median over every distinct pair."""

    key: str
    a: int
    b: int

    def of(self, run: RunData, name: str) -> float:
        m = _pairs(run, name, self.key)
        return float(m[self.a, self.b] - np.nanmedian(upper_pairs(m)))

    def reads(self) -> str:
        return f"{self.key} of {self.a}-{self.b} minus the median pair, {self.who()}"


@dataclass(frozen=True)
class PairRank(VariantMeasure):
    """Rank (1 = smallest) of pair (a, b) among the distinct pairs of a digit-pair matrix."""

    key: str
    a: int
    b: int

    def of(self, run: RunData, name: str) -> float:
        m = _pairs(run, name, self.key)
        return float(1 + np.sum(upper_pairs(m) < m[self.a, self.b]))

    def reads(self) -> str:
        return f"rank (1 = smallest) of {self.a}-{self.b} in {self.key}, {self.who()}"


@dataclass(frozen=True)
class PairShare(VariantMeasure):
    """Share of a matrix's off-diagonal total in cells (a, b) and (b, a): e.g. 3-8 among all confusions."""

    key: str
    a: int
    b: int

    def of(self, run: RunData, name: str) -> float:
        m = _pairs(run, name, self.key)
        off = m.sum() - np.trace(m)
        if off <= 0:
            raise Missing(f"{self.key} of {name} has no off-diagonal mass")
        return float((m[self.a, self.b] + m[self.b, self.a]) / off)

    def reads(self) -> str:
        return f"share of {self.a}<->{self.b} in the off-diagonal of {self.key}, {self.who()}"
