"""Answers with error bars: means, Student-t intervals over seeds, and verdicts.

Every claim the report checks is a number measured once per seed (a metric,
or the paired difference of two metrics from the same seed). Its mean and 95%
interval come from the t distribution with n - 1 degrees of freedom. A claim
declares the values for which it is true, a `Region` (e.g. "above a
practical-significance margin"), and the verdict compares the whole interval
with it:

- holds: the interval lies inside the region;
- does not hold: the interval lies outside it;
- inconclusive with n seeds: the interval straddles a border;
- one seed: no interval, so no verdict.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import special

CONFIDENCE = 0.95
HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NO_VERDICT = "no verdict (one seed)"


def t_quantile(df: int, confidence: float = CONFIDENCE) -> float:
    """Two-sided Student-t quantile: t_{(1+confidence)/2, df} (2.776 for df=4 at 95%)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    # special.stdtrit is stats.t.ppf without importing scipy.stats (~1 s of the compare stage's start-up).
    return float(special.stdtrit(df, (1 + confidence) / 2))


@dataclass(frozen=True)
class Interval:
    """Mean, sample sd and confidence interval of n replicates (sd and bounds are nan when n = 1)."""

    n: int
    mean: float
    sd: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    def text(self, fmt: str = "{:.4f}") -> str:
        """'0.9712 ± 0.0021 [0.9691, 0.9733], n=5', or '0.9712 (one seed)'."""
        if self.n == 1:
            return f"{fmt.format(self.mean)} (one seed)"
        half = (self.high - self.low) / 2
        return (f"{fmt.format(self.mean)} ± {fmt.replace('+', '').format(half)} "
                f"[{fmt.format(self.low)}, {fmt.format(self.high)}], n={self.n}")

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-ready: nan (n = 1) becomes None."""
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else x
        return {"n": self.n, "mean": self.mean, "sd": clean(self.sd), "ci_low": clean(self.low),
                "ci_high": clean(self.high), "confidence": self.confidence}


def interval(values: Iterable[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean, sd (ddof=1) and the Student-t interval mean ± t * sd / sqrt(n)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        raise ValueError("no values: an interval needs at least one replicate")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"values must be finite, got {x.tolist()}")
    mean = float(x.mean())
    if x.size == 1:
        return Interval(1, mean, math.nan, math.nan, math.nan, confidence)
    sd = float(x.std(ddof=1))
    half = t_quantile(x.size - 1, confidence) * sd / math.sqrt(x.size)
    return Interval(int(x.size), mean, sd, mean - half, mean + half, confidence)


def paired_difference(a: Mapping[Hashable, float], b: Mapping[Hashable, float],
                      confidence: float = CONFIDENCE) -> Interval:
    """Interval of a - b over the replicates (seeds) both have: each seed's difference is one value.

    Pairing removes what the two share within a seed (data order, the
    evaluation subset), so the interval is about the difference itself.
    """
    common = [key for key in a if key in b]
    if not common:
        raise ValueError(f"no replicate in common: a has {sorted(map(str, a))}, b has {sorted(map(str, b))}")
    return interval((a[key] - b[key] for key in common), confidence)


@dataclass(frozen=True)
class Region:
    """The values for which a claim is true: [low, high] (either side may be infinite).

    A one-sided region (above, below) excludes its border: "larger than 0"
    is false of exactly 0, so a difference that is 0 on every seed does not
    hold rather than holding on its border. A two-sided one (near) includes it.
    """

    low: float = -math.inf
    high: float = math.inf

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"a region needs low <= high, got [{self.low}, {self.high}]")

    @property
    def open(self) -> bool:
        return math.isinf(self.low) != math.isinf(self.high)

    def text(self, fmt: str = "{:.4g}") -> str:
        if self.low == -math.inf:
            return f"< {fmt.format(self.high)}"
        if self.high == math.inf:
            return f"> {fmt.format(self.low)}"
        return f"in [{fmt.format(self.low)}, {fmt.format(self.high)}]"

    def inside(self, low: float, high: float) -> bool:
        """[low, high] lies in the region."""
        if self.open:
            return self.low < low and high < self.high
        return self.low <= low and high <= self.high

    def outside(self, low: float, high: float) -> bool:
        """[low, high] lies wholly outside the region (on its border counts as outside an open one)."""
        if self.open:
            return high <= self.low or low >= self.high
        return high < self.low or low > self.high


def above(margin: float) -> Region:
    """True when the value exceeds `margin` (a difference that matters, margin 0: any difference)."""
    return Region(low=margin)


def below(margin: float) -> Region:
    return Region(high=margin)


def near(target: float, margin: float) -> Region:
    """True within ± margin of target (an equivalence claim, e.g. 'about 97%')."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return Region(target - margin, target + margin)


def verdict(found: Interval, region: Region) -> str:
    """holds / does not hold / inconclusive with n seeds / no verdict from one seed."""
    if found.n < 2:
        return NO_VERDICT
    if region.inside(found.low, found.high):
        return HOLDS
    if region.outside(found.low, found.high):
        return DOES_NOT_HOLD
    return f"inconclusive with {found.n} seeds"


def exact_verdict(value: float, region: Region) -> str:
    """A number that does not vary with the seed (a parameter count, a ratio of sizes): one run decides."""
    return HOLDS if region.inside(value, value) else DOES_NOT_HOLD
