"""Atomic file output: a reader (or DVC) never sees a half-written file.

Every writer goes to a temporary file in the destination's folder and renames
it into place, so a stage killed mid-write leaves the previous file or none.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would stick to the output
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def write_with(path: str | Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    return write_with(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object stops numpy appending ".npz"
            np.savez(fh, **arrays)

    return write_with(path, save)


def write_figure(path: str | Path, fig: Any, dpi: int = 110) -> Path:
    import matplotlib.pyplot as plt

    def save(tmp: Path) -> None:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi, bbox_inches="tight")

    try:
        return write_with(path, save)
    finally:
        plt.close(fig)


def read_npz(path: str | Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load every array of an .npz; a damaged or incomplete file names itself."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; run the stage that makes it (dvc repro)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as exc:  # zipfile, OSError, ValueError: all mean "damaged"
        raise ValueError(f"{path} is corrupted or not an .npz array file ({exc}); "
                         "rerun the stage that makes it (dvc repro --force <stage>)") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise ValueError(f"{path} lacks arrays {missing}; rerun the stage that makes it")
    return arrays


def arrays_checksum(*arrays: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes: names the exact data a model saw."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
