"""Where a stage's wall time goes: one machine-readable line per stage process.

Each stage prints, to stderr,

    latent-atlas timing stage=train@small_conv imports=2.41 work=0.87 total=3.28

imports: from the process's start (as the kernel recorded it, so the
interpreter's own start-up and every import count) to the start of the stage's
`main`; work: `main` itself; total: both. Named phases inside `main` (the
`track` stage's "tracking") add `<name>=<s>` fields. bench/pipeline_speed.py
collects these lines from a real `dvc repro`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

PREFIX = "latent-atlas timing"

# Seconds spent in each named phase of this process, in the order first seen.
_phases: dict[str, float] = {}


def process_start_age() -> float:
    """Seconds since this process started, or since this module was imported
    where the kernel's record is unavailable (not Linux)."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        # Field 22 (starttime, in clock ticks after boot) counted after the
        # command name, which is in parentheses and may itself hold spaces.
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _IMPORTED_AT


_IMPORTED_AT = time.perf_counter()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the time spent inside the block to the phase `name` of this process."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _phases[name] = _phases.get(name, 0.0) + time.perf_counter() - start


def phases() -> dict[str, float]:
    return dict(_phases)


def format_line(stage: str, imports: float, work: float, extra: dict[str, float] | None = None) -> str:
    fields = {"imports": imports, "work": work, "total": imports + work, **(extra or {})}
    return f"{PREFIX} stage={stage} " + " ".join(f"{k}={v:.3f}" for k, v in fields.items())


def parse_line(line: str) -> tuple[str, dict[str, float]] | None:
    """(stage, {field: seconds}) from a timing line; None for any other line."""
    if not line.startswith(PREFIX + " "):
        return None
    fields = dict(item.split("=", 1) for item in line[len(PREFIX):].split())
    return fields.pop("stage"), {k: float(v) for k, v in fields.items()}


def stage_name(main: Callable, variant: str | None = None) -> str:
    """DVC's name for the stage whose script defines `main`: train@small_conv, compare."""
    name = Path(main.__code__.co_filename).stem
    return f"{name}@{variant}" if variant else name


@contextmanager
def stage_timer(stage: str, stream: TextIO | None = None) -> Iterator[None]:
    """Time the block as the stage's work and print its timing line when it succeeds."""
    imports = process_start_age()
    start = time.perf_counter()
    yield
    line = format_line(stage, imports, time.perf_counter() - start, phases())
    print(line, file=stream or sys.stderr, flush=True)
