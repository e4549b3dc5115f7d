"""Checkpoints: weights, the model config and the run's facts in one file, loaded safely.

A checkpoint holds only tensors and plain values, so it loads with
`torch.load(weights_only=True)`; its zip CRCs are checked first, and the
network is rebuilt from the stored config, so a damaged or mismatched file
names itself instead of loading as different weights.
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from latent_atlas.errors import DamagedFileError, MissingFileError
from latent_atlas.io import write_with
from latent_atlas.models.autoencoders import Autoencoder, ModelConfig, build_model
from latent_atlas.models.tensorfile import read_tensors, save_tensors

# Per-epoch fields that differ between identical runs (training.train_model's
# wall-clock "seconds"): they go to the metrics files, never into a checkpoint.
RUN_VARYING_KEYS = frozenset({"seconds"})


@dataclass
class Checkpoint:
    """Everything a later stage needs: weights, model config, params, data
    checksum, and the losses per epoch.

    Nothing that differs between identical runs (timings, timestamps, run ids):
    identical inputs give identical bytes, so DVC reruns nothing downstream.
    """

    model_config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    variant: str
    params: dict[str, Any]
    input_range: str
    data_checksum: str
    data_source: str
    history: list[dict[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        varying = sorted({key for row in self.history for key in row} & RUN_VARYING_KEYS)
        if varying:
            raise ValueError(f"checkpoint history holds {varying}, which differ between identical runs; "
                             "drop them (training.epoch_losses) and keep them in the metrics files")

    def build(self) -> Autoencoder:
        model = build_model(ModelConfig.from_dict(self.model_config))
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    save_tensors(path, asdict(ckpt))


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist; run the train stage first (dvc repro)")
    try:
        ckpt = Checkpoint(**read_tensors(path))
        ckpt.build()  # fails here, naming the file, if weights and config disagree
    except Exception as exc:
        raise DamagedFileError(
            f"{path} is not a readable latent-atlas checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
            "retrain it with dvc repro --force"
        ) from None
    return ckpt
