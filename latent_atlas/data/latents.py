"""Each variant's codes (data/latents/<variant>.npz, the extract stage's output), checked against the data."""

from __future__ import annotations

import numpy as np

from latent_atlas import paths
from latent_atlas.errors import DamagedFileError
from latent_atlas.io import read_npz


def read_codes(name: str, **labels: np.ndarray) -> dict[str, np.ndarray]:
    """The variant's z_<split> arrays for each split named (train=..., test=...), after checking that
    its y_<split> are those labels: codes extracted from other data are stale, not silently misaligned."""
    keys = [f"{kind}_{split}" for split in labels for kind in ("z", "y")]
    found = read_npz(paths.latents(name), required=tuple(keys))
    for split, expected in labels.items():
        if not np.array_equal(found[f"y_{split}"], expected):
            raise DamagedFileError(f"{paths.latents(name)} does not match {paths.MNIST}; rerun extract ({name})")
    return {split: found[f"z_{split}"] for split in labels}
