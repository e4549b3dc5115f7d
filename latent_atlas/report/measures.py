"""What a claim reads from one pipeline run: measures, named by role.

A measure maps one run's outputs (`RunData`) to one number, or raises
`Missing` with the reason: a role the run does not assign, a metric it did
not write. Measures are data: a claim in the catalogue says what it reads,
`Metric("classifier_ae", "accuracy")`, never a variant's name or a file, so
renaming a variant changes params.yaml's `roles:` and nothing here.

Per-variant measures (Metric, At, DigitGap, ...) take a role, and for a
list-valued role such as the vanilla sweep the latent size `z` of the member
they read. Built with role=None they are templates that `Across` applies to
every variant of the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from latent_atlas.analysis.ranks import rank_descending, spearman
from latent_atlas.arch import N_PIXELS


class Missing(Exception):
    """The run lacks what a measure reads; the message names it."""


@dataclass(frozen=True)
class RunData:
    """Everything one pipeline run wrote that the ledger reads, keyed by variant name."""

    roles: Mapping[str, Sequence[str]]  # role -> variant names (RolesParams.assigned())
    variants: Mapping[str, Mapping[str, Any]]  # name -> its analyze and train metrics, merged
    details: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    histories: Mapping[str, Sequence[Mapping[str, float]]] = field(default_factory=dict)
    baseline: Mapping[str, Any] = field(default_factory=dict)  # metrics/baseline.json
    population: Mapping[str, Any] = field(default_factory=dict)  # metrics/pca.json
    judge: Mapping[str, Any] = field(default_factory=dict)  # metrics/judge.json
    params: Mapping[str, Any] = field(default_factory=dict)  # params.yaml, flattened ("a.b": value)

    def members(self, role: str) -> list[str]:
        names = [n for n in self.roles.get(role, ()) if n in self.variants]
        if not names:
            raise Missing(f"role {role} has no variant in this run (roles.{role})")
        return names

    def variant(self, role: str, z: int | None = None) -> str:
        names = self.members(role)
        if z is None:
            return names[0]
        found = [n for n in names if self.variants[n].get("latent_dim") == z]
        if not found:
            raise Missing(f"role {role} has no variant with latent_dim {z} in this run")
        return found[0]

    def sweep(self, role: str) -> list[tuple[int, str]]:
        """(latent size, name) of a list role's members, smallest first."""
        return sorted((int(self.variants[n]["latent_dim"]), n) for n in self.members(role))

    def metric(self, name: str, key: str) -> float:
        value = self.variants.get(name, {}).get(key)
        if value is None:
            raise Missing(f"metric {key} of {name} is not in this run")
        return float(value)

    def detail(self, name: str, key: str) -> Any:
        value = self.details.get(name, {}).get(key)
        if value is None:
            raise Missing(f"detail {key} of {name} is not in this run")
        return value

    def history(self, name: str) -> list[Mapping[str, float]]:
        rows = list(self.histories.get(name, ()))
        if not rows:
            raise Missing(f"the training history of {name} is not in this run")
        return rows

    def param(self, key: str) -> Any:
        if key not in self.params:
            raise Missing(f"param {key} is not in this run's params.yaml")
        return self.params[key]


def _path(mapping: Mapping[str, Any], path: Sequence[str], what: str) -> Any:
    """mapping[path[0]][path[1]]...; a digit string indexes a list."""
    node: Any = mapping
    for part in path:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise Missing(f"{'.'.join(path)} is not in this run's {what}")
    return node


class Measure:
    """One number from one run: `value(run)`, and what it reads, as text."""

    def value(self, run: RunData) -> float:
        raise NotImplementedError

    def reads(self) -> str:
        raise NotImplementedError

    def roles(self) -> set[str]:
        return set()


# --- one variant's numbers ------------------------------------------------------------


@dataclass(frozen=True)
class VariantMeasure(Measure):
    """A number of the variant in `role` (the member of latent size z, for a list role)."""

    role: str | None
    z: int | None = field(default=None, kw_only=True)

    def of(self, run: RunData, name: str) -> float:
        raise NotImplementedError

    def value(self, run: RunData) -> float:
        if self.role is None:
            raise ValueError(f"{self!r} has no role: only Across may apply it")
        return self.of(run, run.variant(self.role, self.z))

    def who(self) -> str:
        return f"{self.role or 'each variant'}" + (f" (z={self.z})" if self.z is not None else "")

    def roles(self) -> set[str]:
        return {self.role} if self.role else set()


@dataclass(frozen=True)
class Metric(VariantMeasure):
    """A scalar the analyze or train stage wrote (metrics/analyze|train/<variant>.json)."""

    key: str

    def of(self, run: RunData, name: str) -> float:
        return run.metric(name, self.key)

    def reads(self) -> str:
        return f"{self.key} of {self.who()}"


@dataclass(frozen=True)
class At(VariantMeasure):
    """details[key] where details[axis] equals `where` (e.g. a value per noise level)."""

    key: str
    axis: str
    where: float

    def of(self, run: RunData, name: str) -> float:
        axis, values = run.detail(name, self.axis), run.detail(name, self.key)
        hits = [i for i, a in enumerate(axis) if np.isclose(a, self.where)]
        if not hits:
            raise Missing(f"{self.axis} of {name} has no {self.where:g} (it has {axis})")
        return float(values[hits[0]])

    def reads(self) -> str:
        return f"{self.key} at {self.axis} {self.where:g} of {self.who()}"


@dataclass(frozen=True)
class Trend(VariantMeasure):
    """Spearman correlation of details[key] with details[axis] (1: rises with it at every step)."""

    key: str
    axis: str

    def of(self, run: RunData, name: str) -> float:
        return spearman(run.detail(name, self.axis), run.detail(name, self.key))

    def reads(self) -> str:
        return f"Spearman of {self.key} with {self.axis} of {self.who()}"


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


@dataclass(frozen=True)
class Dims(VariantMeasure):
    """A per-dim list (indexed like details[dims_key]) at `dims` (0-based): their mean, minus the
    median over every listed dim when `against_median`."""

    key: str
    dims: tuple[int, ...]
    dims_key: str = "traversal_grid_dims"
    against_median: bool = False

    def of(self, run: RunData, name: str) -> float:
        listed = [int(d) for d in run.detail(name, self.dims_key)]
        values = np.asarray(run.detail(name, self.key), dtype=float)
        absent = [d for d in self.dims if d not in listed]
        if absent:
            raise Missing(f"dims {absent} of {name} are not among the {len(listed)} measured ({self.dims_key})")
        chosen = float(np.mean([values[listed.index(d)] for d in self.dims]))
        return chosen - float(np.median(values)) if self.against_median else chosen

    def reads(self) -> str:
        dims = ",".join(str(d + 1) for d in self.dims)
        return f"{self.key} of dims {dims} (1-based)" + (" minus the median dim" if self.against_median else "") \
            + f", {self.who()}"


@dataclass(frozen=True)
class RecipeMismatches(VariantMeasure):
    """How many of `settings` the role's variant(s) train with a different value (0: the recipe).

    For a list role every member counts.
    """

    settings: tuple[tuple[str, Any], ...]

    def of(self, run: RunData, name: str) -> float:
        return float(sum(_differs(run.param(f"variants.{name}.{key}"), want) for key, want in self.settings))

    def value(self, run: RunData) -> float:
        if self.role is None or self.z is not None:
            return super().value(run)
        return float(sum(self.of(run, name) for name in run.members(self.role)))

    def reads(self) -> str:
        return f"settings of {self.who()} other than " + ", ".join(f"{k}={v}" for k, v in self.settings)


@dataclass(frozen=True)
class LinearParams(VariantMeasure):
    """Weights and biases of the MLP's Linear layers at `layers` (0-based, encoder then decoder), summed;
    divided by all of the model's parameters when `share`."""

    layers: tuple[int, ...]
    share: bool = False

    def of(self, run: RunData, name: str) -> float:
        hidden = list(run.param(f"variants.{name}.hidden"))
        widths = [N_PIXELS, *hidden, int(run.metric(name, "latent_dim"))]
        chain = widths + widths[-2::-1]
        counts = [a * b + b for a, b in zip(chain[:-1], chain[1:], strict=True)]
        if max(self.layers) >= len(counts):
            raise Missing(f"{name} has {len(counts)} Linear layers, not {max(self.layers) + 1}")
        total = float(sum(counts[i] for i in self.layers))
        return total / run.metric(name, "n_params") if self.share else total

    def reads(self) -> str:
        what = "share of the parameters in" if self.share else "parameters of"
        return f"{what} Linear layers {','.join(str(i + 1) for i in self.layers)} of {self.who()}"


@dataclass(frozen=True)
class ShapesMatch(VariantMeasure):
    """1 when the layer output shapes the analyze stage recorded (details.layer_shapes) are `expected`."""

    expected: tuple[tuple[int, ...], ...]

    def of(self, run: RunData, name: str) -> float:
        found = [tuple(s) for s in run.detail(name, "layer_shapes")]
        return float(found == list(self.expected))

    def reads(self) -> str:
        return f"layer output shapes of {self.who()} equal to " + " -> ".join("x".join(map(str, s))
                                                                               for s in self.expected)


# --- a training curve -------------------------------------------------------------------


def _losses(run: RunData, name: str, key: str) -> np.ndarray:
    rows = run.history(name)
    if any(row.get(key) is None for row in rows):
        raise Missing(f"the training history of {name} has no {key}")
    return np.array([float(row[key]) for row in rows])


@dataclass(frozen=True)
class CurveRise(VariantMeasure):
    """The largest epoch-over-epoch change of a loss curve (< 0: it fell at every epoch)."""

    key: str = "train_loss"

    def of(self, run: RunData, name: str) -> float:
        losses = _losses(run, name, self.key)
        if losses.size < 2:
            raise Missing(f"{name} trained one epoch: its curve has no step")
        return float(np.max(np.diff(losses)))

    def reads(self) -> str:
        return f"largest epoch-over-epoch change of {self.key}, {self.who()}"


@dataclass(frozen=True)
class CurveGap(VariantMeasure):
    """(final validation loss - final training loss) / final validation loss."""

    def of(self, run: RunData, name: str) -> float:
        val, train = _losses(run, name, "val_loss")[-1], _losses(run, name, "train_loss")[-1]
        return float((val - train) / val)

    def reads(self) -> str:
        return f"(final val - train loss) / val loss of {self.who()}"


@dataclass(frozen=True)
class EarlyShare(VariantMeasure):
    """Share of the whole loss drop reached after `epochs` epochs.

    The drop starts at the untrained network's test MSE (untrained_test_mse,
    in [0,1] units; times 4 for a [-1,1] variant, whose losses are in its own
    units), so the first epoch's own drop counts.
    """

    epochs: int = 1

    def of(self, run: RunData, name: str) -> float:
        losses = _losses(run, name, "train_loss")
        scale = 4.0 if run.param(f"variants.{name}.input_range") == "symmetric" else 1.0
        start = scale * run.metric(name, "untrained_test_mse")
        if losses.size <= self.epochs or start <= losses[-1]:
            raise Missing(f"{name}'s curve has {losses.size} epochs from {start:.4g} to {losses[-1]:.4g}")
        return float((start - losses[self.epochs - 1]) / (start - losses[-1]))

    def reads(self) -> str:
        return f"share of the loss drop (from the untrained network) after {self.epochs} epoch(s), {self.who()}"


@dataclass(frozen=True)
class DropGrowth(VariantMeasure):
    """The largest growth of the per-epoch loss drop (< 0: every epoch gains less than the one before)."""

    def of(self, run: RunData, name: str) -> float:
        losses = _losses(run, name, "train_loss")
        if losses.size < 3:
            raise Missing(f"{name} trained {losses.size} epochs: two drops need three")
        return float(np.max(np.diff(-np.diff(losses))))

    def reads(self) -> str:
        return f"largest growth of the per-epoch loss drop, {self.who()}"


@dataclass(frozen=True)
class EpochsToReach(Measure):
    """Epochs `a` needs minus epochs `b` needs to reach the final training loss of the slower of
    the two (both curves in the same units); > 0: b converges in fewer epochs."""

    a: VariantMeasure
    b: VariantMeasure

    def value(self, run: RunData) -> float:
        curves = [_losses(run, run.variant(m.role, m.z), "train_loss") for m in (self.a, self.b)]
        target = max(c[-1] for c in curves)
        needed = [int(np.argmax(c <= target)) + 1 for c in curves]
        return float(needed[0] - needed[1])

    def reads(self) -> str:
        return f"epochs {self.a.who()} minus epochs {self.b.who()} to reach the slower one's final loss"

    def roles(self) -> set[str]:
        return self.a.roles() | self.b.roles()


# --- a list role (the sweep) --------------------------------------------------------------


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


# --- files of the whole run -----------------------------------------------------------------


@dataclass(frozen=True)
class Baseline(Measure):
    """A number of metrics/baseline.json, by its path of keys."""

    path: tuple[str, ...]

    def value(self, run: RunData) -> float:
        return float(_path(run.baseline, self.path, "metrics/baseline.json"))

    def reads(self) -> str:
        return f"baseline {'.'.join(self.path)}"


@dataclass(frozen=True)
class Population(Measure):
    """A number of metrics/pca.json (the population study), by its path of keys."""

    path: tuple[str, ...]

    def value(self, run: RunData) -> float:
        return float(_path(run.population, self.path, "metrics/pca.json"))

    def reads(self) -> str:
        return f"population {'.'.join(self.path)}"


@dataclass(frozen=True)
class Deviation(Measure):
    """The largest |found - expected| over a list of metrics/pca.json, element by element."""

    path: tuple[str, ...]
    expected: tuple[float, ...]

    def value(self, run: RunData) -> float:
        found = np.asarray(_path(run.population, self.path, "metrics/pca.json"), dtype=float)
        if found.shape != (len(self.expected),):
            raise Missing(f"population {'.'.join(self.path)} has {found.size} values, not {len(self.expected)}")
        return float(np.max(np.abs(found - np.asarray(self.expected))))

    def reads(self) -> str:
        return f"largest deviation of population {'.'.join(self.path)} from {list(self.expected)}"


@dataclass(frozen=True)
class Judge(Measure):
    """A number of metrics/judge.json (the fixed digit classifier)."""

    key: str

    def value(self, run: RunData) -> float:
        return float(_path(run.judge, (self.key,), "metrics/judge.json"))

    def reads(self) -> str:
        return f"judge {self.key}"


@dataclass(frozen=True)
class ParamMismatches(Measure):
    """How many of `settings` this run's params differ from (a tuple value: the list must contain it)."""

    settings: tuple[tuple[str, Any], ...]

    def value(self, run: RunData) -> float:
        count = 0
        for key, want in self.settings:
            found = run.param(key)
            if isinstance(want, tuple):
                count += any(not any(np.isclose(w, f) for f in found) for w in want)
            else:
                count += _differs(found, want)
        return float(count)

    def reads(self) -> str:
        return "params other than " + ", ".join(
            f"{k} containing {list(v)}" if isinstance(v, tuple) else f"{k}={v}" for k, v in self.settings)


def _differs(found: Any, want: Any) -> bool:
    if isinstance(want, float | int) and not isinstance(want, bool) and isinstance(found, float | int):
        return not np.isclose(found, want, rtol=1e-9, atol=0)
    return found != want


@dataclass(frozen=True)
class ConvChain(Measure):
    """1 when Conv2d(kernel, stride, padding) maps each of `sizes` to the next: out = (n + 2p - k) // s + 1."""

    sizes: tuple[int, ...]
    kernel: int
    stride: int
    padding: int

    def value(self, run: RunData) -> float:
        out = [(n + 2 * self.padding - self.kernel) // self.stride + 1 for n in self.sizes[:-1]]
        return float(out == list(self.sizes[1:]))

    def reads(self) -> str:
        return (f"Conv2d(k={self.kernel}, s={self.stride}, p={self.padding}) output sizes "
                f"{' -> '.join(map(str, self.sizes))}")


# --- combinations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Diff(Measure):
    """a - b, both from the same run (paired by seed over runs)."""

    a: Measure
    b: Measure

    def value(self, run: RunData) -> float:
        return self.a.value(run) - self.b.value(run)

    def reads(self) -> str:
        return f"({self.a.reads()}) - ({self.b.reads()})"

    def roles(self) -> set[str]:
        return self.a.roles() | self.b.roles()


@dataclass(frozen=True)
class Ratio(Measure):
    """a / b - offset (offset 1: the relative change of a against b)."""

    a: Measure
    b: Measure
    offset: float = 0.0

    def value(self, run: RunData) -> float:
        b = self.b.value(run)
        if b == 0:
            raise Missing(f"{self.b.reads()} is 0")
        return self.a.value(run) / b - self.offset

    def reads(self) -> str:
        return f"({self.a.reads()}) / ({self.b.reads()})" + (f" - {self.offset:g}" if self.offset else "")

    def roles(self) -> set[str]:
        return self.a.roles() | self.b.roles()


@dataclass(frozen=True)
class Smallest(Measure):
    """The smallest of several measures."""

    parts: tuple[Measure, ...]

    def value(self, run: RunData) -> float:
        return min(part.value(run) for part in self.parts)

    def reads(self) -> str:
        return "min of " + "; ".join(part.reads() for part in self.parts)

    def roles(self) -> set[str]:
        return set().union(*(part.roles() for part in self.parts))


def variant_numbers(analyses: Mapping[str, Mapping[str, Any]],
                    train: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Each variant's numbers: its training metrics, then its analysis metrics (which win on a shared key)."""
    return {name: {**(train or {}).get(name, {}), **metrics} for name, metrics in analyses.items()}
