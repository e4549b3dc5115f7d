"""A sweep's experiments: the parameter sets of `-S` overrides, and a name for each.

The `-S` syntax is DVC's (`dvc exp run --queue -S`): `seed=1,2,3` sweeps three
values, `range(1,4)` and `choice(a,b)` too, `file.yaml:key=...` targets another
params file, and several swept keys give their cartesian product. The sets are
computed by DVC's own function for `--queue`, so a sweep here runs exactly the
experiments `dvc exp run --queue -S ...` would queue.

Names say what differs: `seed-3`, or `latent_dim-6-seed-3` when two keys vary
(with an optional prefix). DVC's queue draws random names instead, which a
report of failed tasks could not explain.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dvc.exceptions import InvalidArgumentError
from dvc.utils.cli_parse import to_path_overrides
from dvc.utils.hydra import get_hydra_sweeps
from hydra.errors import OverrideParseException

from latent_atlas.errors import UserError

DEFAULT_PARAMS_FILE = "params.yaml"  # where DVC applies an override that names no file
# Characters a name keeps; git refuses others (and "..") in the ref DVC stores an experiment under.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+|\.\.+")


class SweepError(UserError):
    """The -S overrides do not describe a sweep: names the override and what is allowed."""


@dataclass(frozen=True)
class Experiment:
    """One task of the sweep: the experiment's name and its `dvc exp run -S` arguments."""

    name: str
    overrides: tuple[str, ...]


def _reason(exc: Exception) -> str:
    """Hydra's parse error without its first line (the override) and its link."""
    lines = [line for line in str(exc).splitlines()[1:] if not line.startswith("See https://")]
    return " ".join(lines) or str(exc)


def param_sets(overrides: Sequence[str]) -> list[tuple[str, ...]]:
    """Each parameter set of a sweep, as the `-S` arguments of one `dvc exp run`, in DVC's order."""
    if not overrides:
        raise SweepError("no parameters to sweep: give at least one -S key=value[,value...], e.g. -S seed=1,2,3")
    for override in overrides:  # one at a time, to name the bad one
        key = override.partition("=")[0].rpartition(":")[2].lstrip("+~")
        if "=" in override and not key:
            raise SweepError(f"-S {override!r} names no parameter: write key=value, e.g. -S seed=1,2")
        try:
            if not get_hydra_sweeps(to_path_overrides([override])):
                raise SweepError(f"-S {override!r} gives an empty parameter list: sweep at least one value")
        except (OverrideParseException, InvalidArgumentError) as exc:
            raise SweepError(f"-S {override!r} is not DVC's -S syntax ({_reason(exc)}); "
                             "allowed: key=value, key=a,b,c, key=range(1,4), key=choice(a,b)") from None
    return [tuple(override if path == DEFAULT_PARAMS_FILE else f"{path}:{override}"
                  for path, file_overrides in sweep.items() for override in file_overrides)
            for sweep in get_hydra_sweeps(to_path_overrides(overrides))]


def _key_and_value(override: str) -> tuple[str, str]:
    target, _, value = override.partition("=")
    return target.rpartition(":")[2].lstrip("+~"), value


def _name_part(key: str, value: str) -> str:
    return f"{key}-{_UNSAFE.sub('_', value).strip('_.') or 'empty'}"


def experiments(sets: Sequence[tuple[str, ...]], prefix: str | None = None) -> list[Experiment]:
    """Name each parameter set by the values that differ between the sets (all of them for one set)."""
    if prefix is not None and (not prefix or _UNSAFE.search(prefix) or prefix[0] in "._-"):
        raise SweepError(f"--name {prefix!r}: a name prefix holds letters, digits, '_', '.' and '-' only, "
                         "and starts with a letter or digit")
    values = [dict(_key_and_value(o) for o in overrides) for overrides in sets]
    keys = list(dict.fromkeys(k for v in values for k in v))
    varying = [k for k in keys if len({v.get(k) for v in values}) > 1] or keys
    names = []
    for v in values:
        parts = [_name_part(k, v[k]) for k in varying if k in v]
        names.append("-".join(([prefix] if prefix else []) + parts))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SweepError(f"two parameter sets would share the experiment name {repeated[0]!r}: "
                         "their values differ only in characters a name cannot hold")
    return [Experiment(name, tuple(overrides)) for name, overrides in zip(names, sets, strict=True)]

