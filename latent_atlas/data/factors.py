"""Ground-truth factors of the digits, for DCI: the file the baseline stage writes.

Every test image and a seeded subset of training images are measured once
per pipeline run (data.morpho.measure_factors, in the baseline stage) instead
of once per variant: morphometrics are the slowest part of a DCI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_atlas.io import read_npz


@dataclass(frozen=True)
class Factors:
    """Morphometrics of the test set and of a subset of the training set."""

    test: np.ndarray  # (n_test, 6)
    train: np.ndarray  # (m, 6)
    train_index: np.ndarray  # (m,), rows of the training split
    names: tuple[str, ...]

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"test": self.test, "train": self.train, "train_index": self.train_index,
                "names": np.asarray(self.names)}


def load_factors(path: str | Path) -> Factors:
    arrays = read_npz(path, required=("test", "train", "train_index", "names"))
    return Factors(arrays["test"], arrays["train"], arrays["train_index"],
                   tuple(str(n) for n in arrays["names"]))
