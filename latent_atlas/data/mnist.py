"""The pipeline's MNIST array file: images, labels and split, written once by the download stage.

Every later stage reads data/mnist.npz through `load_arrays`, which checks its
shapes and types; where the images came from is latent_atlas.data.sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_atlas.errors import DamagedFileError
from latent_atlas.io import arrays_checksum, read_npz, write_npz

TRAIN, TEST = 0, 1


@dataclass(frozen=True)
class MNISTArrays:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) uint8
    split: np.ndarray  # (N,) uint8, TRAIN or TEST
    source: str

    def subset(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        mask = self.split == which
        return self.images[mask], self.labels[mask]


def limit_per_split(data: MNISTArrays, limit: int | None) -> MNISTArrays:
    """Keep the first `limit` images of each split (for quick runs)."""
    if limit is None:
        return data
    keep = np.zeros(len(data.split), dtype=bool)
    for which in (TRAIN, TEST):
        keep[np.flatnonzero(data.split == which)[:limit]] = True
    return MNISTArrays(data.images[keep], data.labels[keep], data.split[keep], data.source)


def save_arrays(path: str | Path, data: MNISTArrays) -> str:
    """Write images, labels and split atomically; return the arrays' checksum."""
    write_npz(path, images=data.images, labels=data.labels, split=data.split)
    return arrays_checksum(data.images, data.labels, data.split)


def load_arrays(path: str | Path, source: str = "pipeline") -> MNISTArrays:
    arrays = read_npz(path, required=("images", "labels", "split"))
    images, labels, split = arrays["images"], arrays["labels"], arrays["split"]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DamagedFileError(f"{path}: images have shape {images.shape} and dtype {images.dtype}, "
                               "expected (N, 28, 28) uint8; rerun the download stage (dvc repro --force download)")
    if labels.shape != (len(images),) or split.shape != (len(images),):
        raise DamagedFileError(f"{path}: {len(images)} images but labels of shape {labels.shape} and split of "
                               f"shape {split.shape}; rerun the download stage (dvc repro --force download)")
    return MNISTArrays(images, labels, split, source)
