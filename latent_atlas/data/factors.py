"""Ground-truth factors of the digits: Morpho-MNIST measures, for DCI.

Every test image and a seeded subset of training images are measured once
per pipeline run (by the baseline stage) instead of once per variant:
morphometrics are the slowest part of a DCI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_atlas.arrays import subsample
from latent_atlas.data.morpho import MORPHO_NAMES, morphometrics_matrix
from latent_atlas.io import read_npz


@dataclass(frozen=True)
class Factors:
    """Morphometrics of the test set and of a subset of the training set."""

    test: np.ndarray  # (n_test, 6)
    train: np.ndarray  # (m, 6)
    train_index: np.ndarray  # (m,), rows of the training split
    names: tuple[str, ...] = MORPHO_NAMES

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"test": self.test, "train": self.train, "train_index": self.train_index,
                "names": np.asarray(self.names)}


def measure_factors(test_images, train_images, n_train: int, seed: int, scale: int = 4) -> Factors:
    """Morphometrics of every test image and `n_train` seeded training images (sorted)."""
    n_avail = len(train_images)
    if n_avail < 1:
        raise ValueError("no training images to measure factors on")
    index = subsample(n_avail, n_train, seed)
    test, names = morphometrics_matrix(test_images, scale=scale)
    train, _ = morphometrics_matrix(train_images[index], scale=scale)
    return Factors(test, train, index.astype(np.int64), tuple(names))


def load_factors(path: str | Path) -> Factors:
    arrays = read_npz(path, required=("test", "train", "train_index", "names"))
    return Factors(arrays["test"], arrays["train"], arrays["train_index"],
                   tuple(str(n) for n in arrays["names"]))
