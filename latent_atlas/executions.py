"""Execution records: which stage executions produced the files DVC holds now.

Each stage that trains or analyses writes, beside its outputs, an execution
record (metrics/runs/<stage>/<variant>.json) holding a fresh id. DVC's run
cache restores that file with the rest of the stage's outputs, so a reader
that finds an id it has seen before knows those outputs were restored rather
than computed in this pipeline run. It is a DVC fact, not an MLflow one: the
`track` stage reads it to tag MLflow runs as restored.
"""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from latent_atlas import paths
from latent_atlas.io import read_json, write_json

# The stages that write an execution record per variant.
VARIANT_STAGES = ("train", "analyze")


def mark_executed(stage: str, variant: str) -> Path:
    """Record that `stage` really ran for `variant`: a new id every time."""
    return write_json(paths.execution(stage, variant),
                      {"execution_id": uuid.uuid4().hex, "host": socket.gethostname()})


def execution_id(stage: str, variant: str) -> str:
    """The id of the execution whose outputs are in the workspace now."""
    return read_json(paths.execution(stage, variant))["execution_id"]
