"""Ground-truth factors of the digits, for DCI, MIG and SAP: the file the baseline stage writes.

Every test image and a seeded subset of training images are measured once
per pipeline run (data.morpho.measure_factors, in the baseline stage) instead
of once per variant: morphometrics are the slowest part of a DCI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latent_atlas import paths
from latent_atlas.arrays import subsample
from latent_atlas.errors import DamagedFileError
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


@dataclass(frozen=True)
class FactorTable:
    """The digit and the morphometrics as one (rows, factors) table per split, for the metrics that read them."""

    train_rows: np.ndarray  # (m,), rows of the training split the train table describes
    train: np.ndarray  # (m, f)
    test: np.ndarray  # (n_test, f)
    names: tuple[str, ...]
    discrete: np.ndarray  # (f,) bool: the digit is a class, the morphometrics are continuous


def factor_table(factors: Factors | None, y_train: np.ndarray, y_test: np.ndarray, *, n_train: int | None,
                 seed: int) -> FactorTable:
    """Digit (and, when measured, the six morphometrics) of the test set and of at most n_train seeded
    training rows: the measured training rows when there are factors, any rows when only the digit is known."""
    if factors is None:
        rows = subsample(len(y_train), n_train, seed)
        return FactorTable(rows, np.asarray(y_train)[rows, None].astype(np.float64),
                           np.asarray(y_test)[:, None].astype(np.float64), ("digit",), np.array([True]))
    if len(factors.test) != len(y_test) or factors.train_index.max(initial=-1) >= len(y_train):
        raise DamagedFileError(f"{paths.FACTORS}: the factors ({len(factors.test)} test rows, training rows up to "
                               f"{factors.train_index.max(initial=-1)}) do not match the latents "
                               f"({len(y_test)} test, {len(y_train)} train); rerun the baseline stage")
    picked = subsample(len(factors.train_index), n_train, seed)
    rows = factors.train_index[picked]
    train = np.column_stack([y_train[rows], factors.train[picked]]).astype(np.float64)
    test = np.column_stack([y_test, factors.test]).astype(np.float64)
    return FactorTable(rows, train, test, ("digit", *factors.names),
                       np.array([True] + [False] * len(factors.names)))
