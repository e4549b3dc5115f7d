"""Files of tensors and plain values: written atomically with stable bytes, read back safely.

`torch.load(weights_only=True)` unpickles nothing but tensors and plain
values, and the zip's CRCs are checked first, so a damaged file fails instead
of loading as different weights.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from latent_atlas.io import write_with


def save_tensors(path: str | Path, obj: dict[str, Any]) -> None:
    """torch.save a dict of tensors and plain values atomically, with the same bytes for the same content."""
    def save(tmp: Path) -> None:
        # Through a file object: given a path, torch.save names the archive's
        # folder after the (random) temporary file, so the bytes would differ.
        with open(tmp, "wb") as f:
            torch.save(obj, f)

    write_with(path, save)


def read_tensors(path: Path) -> dict[str, Any]:
    """The dict a save_tensors file holds: zip CRCs checked, then torch.load(weights_only=True).

    Raises whatever the damage causes; callers turn it into a DamagedFileError naming the file.
    """
    # torch.load does not check the zip's CRCs: a flipped byte in the weights
    # would load silently as different weights.
    with zipfile.ZipFile(path) as archive:
        damaged = archive.testzip()
    if damaged is not None:
        raise ValueError(f"CRC mismatch in {damaged}")
    return torch.load(path, map_location="cpu", weights_only=True)
