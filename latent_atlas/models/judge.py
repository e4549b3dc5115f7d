"""The fixed judge: one small pixel-space digit classifier, trained once per pipeline run.

Several of the studies' statements are about what images look like: a
reconstruction is "barely recognizable", noisy inputs are "not identifiable",
samples are "new data". The judge turns them into numbers. It is trained on
the clean training images (the judge stage), never on a variant's output, and
then scores any batch of [0,1] images: its accuracy on a variant's
reconstructions, its confidence on samples, and its penultimate features for
a Fréchet distance between two image sets (the FID recipe of Heusel et al.
2017, with a digit classifier in place of Inception, as is usual on MNIST).

The network is a LeNet-style CNN (two conv + pool blocks, a 128-unit hidden
layer): about 99% test accuracy after two epochs on full MNIST, at a few
seconds per epoch on the CPU.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latent_atlas.arch import N_CLASSES
from latent_atlas.errors import DamagedFileError, DivergedError, MissingFileError
from latent_atlas.models.tensorfile import read_tensors, save_tensors
from latent_atlas.models.optim import ForeachAdam

FEATURES = 128  # width of the penultimate layer: what the Fréchet distance compares


class JudgeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 7, 7)
            nn.Flatten(),  # (B, 1568)
            nn.Linear(32 * 7 * 7, FEATURES), nn.ReLU(),  # (B, 128)
        )
        self.head = nn.Linear(FEATURES, N_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))  # logits (B, 10)


@dataclass(frozen=True)
class JudgeSettings:
    epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 42


def _as_input(images01: np.ndarray) -> torch.Tensor:
    """(n, 28, 28) floats in [0,1] -> (n, 1, 28, 28) float32."""
    x = np.asarray(images01)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (n, 28, 28); got {x.shape}")
    return torch.as_tensor(x, dtype=torch.float32).unsqueeze(1)


def train_judge(images01: np.ndarray, labels: np.ndarray, settings: JudgeSettings) -> tuple[JudgeNet, list[dict]]:
    """Train the judge with Adam on [0,1] images; return it (eval mode) and one row per epoch."""
    torch.manual_seed(settings.seed)
    model = JudgeNet()
    x, y = _as_input(images01), torch.as_tensor(labels, dtype=torch.long)
    if settings.batch_size > len(x):
        raise ValueError(f"batch_size={settings.batch_size} is larger than the {len(x)} training images")
    # torch.optim's first step imports torch._dynamo; ForeachAdam steps identically without it.
    optimizer = ForeachAdam(model.parameters(), settings.lr, weight_decay=0.0, decoupled_weight_decay=False)
    generator = torch.Generator().manual_seed(settings.seed)
    history = []
    model.train()
    for epoch in range(1, settings.epochs + 1):
        start, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(x), generator=generator).split(settings.batch_size):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        mean = total / len(x)
        if not math.isfinite(mean):
            raise DivergedError(f"the judge's training loss became {mean} in epoch {epoch}; lower judge.lr")
        history.append({"epoch": epoch, "train_loss": mean, "seconds": time.perf_counter() - start})
    return model.eval(), history


class Judge:
    """A trained JudgeNet with numpy in and out, in batches, without gradients."""

    def __init__(self, model: JudgeNet, chunk: int = 2048):
        self.model, self.chunk = model.eval(), chunk

    @torch.no_grad()
    def _map(self, images01: np.ndarray, fn) -> np.ndarray:
        x = _as_input(images01)
        return torch.cat([fn(x[i : i + self.chunk]) for i in range(0, len(x), self.chunk)]).numpy()

    def probabilities(self, images01: np.ndarray) -> np.ndarray:
        """(n, 10) class probabilities of [0,1] images."""
        return self._map(images01, lambda x: torch.softmax(self.model(x), dim=1))

    def features(self, images01: np.ndarray) -> np.ndarray:
        """(n, 128) penultimate activations: what the Fréchet distance compares."""
        return self._map(images01, self.model.features).astype(np.float64)

    def accuracy(self, images01: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.probabilities(images01).argmax(axis=1) == np.asarray(labels)))


def save_judge(path: str | Path, model: JudgeNet, data_checksum: str) -> None:
    save_tensors(path, {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                        "data_checksum": data_checksum})


def load_judge(path: str | Path) -> Judge:
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{path} does not exist; run the judge stage first (dvc repro)")
    try:
        model = JudgeNet()
        model.load_state_dict(read_tensors(path)["state_dict"])
    except Exception as exc:
        raise DamagedFileError(f"{path} is not a readable judge ({type(exc).__name__}: {str(exc)[:200]}); "
                               "retrain it with dvc repro --force judge") from None
    return Judge(model)
