"""Atomic, durable file output: a reader (or DVC) never sees a half-written file.

Every writer goes to a temporary file in the destination's folder (a rename
within one folder never crosses a device), which is fsync'ed, renamed into
place, and made durable by an fsync of the folder. A process killed mid-write
leaves the previous file or none, plus a hidden `.<name>.la<host>.<pid>-XXXX.tmp`;
the next write into that folder removes such files whose process is gone, so
they never linger in an output DVC hashes (plots/<variant>/, metrics/analyze/).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from latent_atlas.errors import DamagedFileError, MissingFileError

# `.<name>.la<host>.<pid>-<random>.tmp`: host and pid say whether its writer still
# runs. A pid means nothing on another host (or container) sharing the folder.
_TMP_NAME = re.compile(r"^\..+\.la([0-9a-f]{8})\.(\d+)-[^./]+\.tmp$")
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def process_exists(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def sweep_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporary files in `folder` left by writers that were killed.

    A file whose writer is still alive (a parallel stage) is kept, and so is one
    from another host, whose pids this host cannot check.
    """
    removed = []
    for entry in Path(folder).iterdir():
        match = _TMP_NAME.match(entry.name)
        if not match or match.group(1) != _HOST:
            continue
        pid = int(match.group(2))
        if pid != os.getpid() and not process_exists(pid):
            with suppress(FileNotFoundError):  # another writer swept it first
                entry.unlink()
                removed.append(entry)
    return removed


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; Windows cannot open a folder this way.
    if os.name != "nt":
        _fsync_path(folder)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success fsync it and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.la{_HOST}.{os.getpid()}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would stick to the output
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync_path(tmp_path)  # the data reaches the disk before the name does
        os.replace(tmp_path, path)
        _fsync_folder(path.parent)
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
    """np.savez, whose zip members carry a fixed date: the same arrays give the same
    bytes, so DVC sees no new data when a stage rewrites them (data/mnist.npz)."""

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as fh:  # a file object stops numpy appending ".npz"
            np.savez(fh, **arrays)

    return write_with(path, save)


def _require(path: Path) -> None:
    if not path.exists():
        raise MissingFileError(f"{path} does not exist; run the stage that makes it (dvc repro)")


def read_npz(path: str | Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Load every array of an .npz; a damaged or incomplete file names itself."""
    path = Path(path)
    _require(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as exc:  # zipfile, OSError, ValueError: all mean "damaged"
        raise DamagedFileError(f"{path} is corrupted or not an .npz array file ({exc}); "
                               "rerun the stage that makes it (dvc repro --force <stage>)") from None
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DamagedFileError(f"{path} lacks arrays {missing}; rerun the stage that makes it")
    return arrays


def read_json(path: str | Path) -> Any:
    """Parse a JSON file a stage wrote; a damaged one names itself."""
    path = Path(path)
    _require(path)
    try:
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise DamagedFileError(f"{path} is not valid JSON ({reason}); "
                               "rerun the stage that makes it (dvc repro --force <stage>)") from None


def read_history(path: str | Path) -> list[dict[str, float]]:
    """Per-epoch rows of a training history CSV (metrics/train/<variant>.csv), numbers only."""
    path = Path(path)
    _require(path)
    with open(path, newline="") as fh:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(fh)]


def arrays_checksum(*arrays: np.ndarray) -> str:
    """sha256 over dtype, shape and bytes: names the exact data a model saw."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
