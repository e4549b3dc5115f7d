"""One pipeline run as the ledger reads it, and what a measure is.

`RunData` holds everything one run wrote that the claims read, keyed by
variant name; `roles` maps the studies' parts to those names (params.yaml
`roles:`). A `Measure` maps a run to one number, or raises `Missing` with
the reason: a role the run does not assign, a metric it did not write. The
measures themselves live in measures.py (one variant's numbers, files,
combinations), digit_measures.py, curve_measures.py and sweep_measures.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


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
    # The applications' metrics files by name (metrics/<name>.json: denoise, anomaly, mislabel, downstream).
    applications: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
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

    def application(self, name: str) -> Mapping[str, Any]:
        """metrics/<name>.json of an application stage (denoise, anomaly, mislabel, downstream)."""
        found = self.applications.get(name)
        if found is None:
            raise Missing(f"metrics/{name}.json is not in this run (its stage did not run)")
        return found

    def history(self, name: str) -> list[Mapping[str, float]]:
        rows = list(self.histories.get(name, ()))
        if not rows:
            raise Missing(f"the training history of {name} is not in this run")
        return rows

    def param(self, key: str) -> Any:
        if key not in self.params:
            raise Missing(f"param {key} is not in this run's params.yaml")
        return self.params[key]


def read_path(mapping: Mapping[str, Any], path: Sequence[str], what: str) -> Any:
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



def differs(found: Any, want: Any) -> bool:
    if isinstance(want, float | int) and not isinstance(want, bool) and isinstance(found, float | int):
        return not np.isclose(found, want, rtol=1e-9, atol=0)
    return found != want


def variant_numbers(analyses: Mapping[str, Mapping[str, Any]],
                    train: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Each variant's numbers: its training metrics, then its analysis metrics (which win on a shared key)."""
    return {name: {**(train or {}).get(name, {}), **metrics} for name, metrics in analyses.items()}
