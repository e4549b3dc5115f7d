"""Execution records: which stage executions produced the files DVC holds now.

Each stage that trains or analyses writes, beside its outputs, an execution
record (metrics/runs/<stage>/<variant>.json) holding a fresh id. DVC's run
cache restores that file with the rest of the stage's outputs, so a reader
that finds an id it has seen before knows those outputs were restored rather
than computed in this pipeline run. It is a DVC fact, not an MLflow one: the
`track` stage reads it to tag MLflow runs as restored. It also holds when the
execution started and ended (wall clock, ms since the epoch), so MLflow's runs
carry the times of the computation they record, restored or not.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

from latent_atlas import paths
from latent_atlas.io import read_json, write_json

# The stages that write an execution record per variant.
VARIANT_STAGES = ("train", "analyze")


def now_ms() -> int:
    return int(time.time() * 1000)


def mark_executed(stage: str, variant: str, start_ms: int) -> Path:
    """Record that `stage` really ran for `variant`, from start_ms until now: a new id every time."""
    return write_json(paths.execution(stage, variant),
                      {"execution_id": uuid.uuid4().hex, "host": socket.gethostname(),
                       "start_time_ms": int(start_ms), "end_time_ms": now_ms()})


def execution_id(stage: str, variant: str) -> str:
    """The id of the execution whose outputs are in the workspace now."""
    return read_json(paths.execution(stage, variant))["execution_id"]


def execution_times(stage: str, variant: str) -> tuple[int, int] | None:
    """(start, end) in ms of that execution; None for a record written before times were kept."""
    record = read_json(paths.execution(stage, variant))
    if "start_time_ms" not in record or "end_time_ms" not in record:
        return None
    return int(record["start_time_ms"]), int(record["end_time_ms"])
