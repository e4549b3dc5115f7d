"""What a claim reads from one pipeline run: measures, named by role.

A measure is data: a claim in the catalogue says what it reads,
`Metric("classifier_ae", "accuracy")`, never a variant's name or a file, so
renaming a variant changes params.yaml's `roles:` and nothing here.
Per-variant measures take a role, and for a list-valued role such as the
vanilla sweep the latent size `z` of the member they read; built with
role=None they are templates that `Across` applies to every variant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from latent_atlas.analysis.ranks import spearman
from latent_atlas.arch import N_PIXELS
from latent_atlas.report.run_data import (
    Measure,
    Missing,
    RunData,
    VariantMeasure,
    differs,
    read_path,
)


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
        return float(sum(differs(run.param(f"variants.{name}.{key}"), want) for key, want in self.settings))

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


# --- files of the whole run -----------------------------------------------------------------


@dataclass(frozen=True)
class Baseline(Measure):
    """A number of metrics/baseline.json, by its path of keys."""

    path: tuple[str, ...]

    def value(self, run: RunData) -> float:
        return float(read_path(run.baseline, self.path, "metrics/baseline.json"))

    def reads(self) -> str:
        return f"baseline {'.'.join(self.path)}"


@dataclass(frozen=True)
class Population(Measure):
    """A number of metrics/pca.json (the population study), by its path of keys."""

    path: tuple[str, ...]

    def value(self, run: RunData) -> float:
        return float(read_path(run.population, self.path, "metrics/pca.json"))

    def reads(self) -> str:
        return f"population {'.'.join(self.path)}"


@dataclass(frozen=True)
class Deviation(Measure):
    """The largest |found - expected| over a list of metrics/pca.json, element by element."""

    path: tuple[str, ...]
    expected: tuple[float, ...]

    def value(self, run: RunData) -> float:
        found = np.asarray(read_path(run.population, self.path, "metrics/pca.json"), dtype=float)
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
        return float(read_path(run.judge, (self.key,), "metrics/judge.json"))

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
                count += differs(found, want)
        return float(count)

    def reads(self) -> str:
        return "params other than " + ", ".join(
            f"{k} containing {list(v)}" if isinstance(v, tuple) else f"{k}={v}" for k, v in self.settings)


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
