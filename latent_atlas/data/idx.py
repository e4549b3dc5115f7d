"""LeCun's IDX format: parse and verify the four MNIST files of a folder.

The checksums are of the decompressed canonical files, so any gzip settings,
and the uncompressed files too, pass.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from latent_atlas.errors import DataError

# md5 of the decompressed canonical files (identical for every mirror and gzip).
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}

_IDX_DTYPES = {0x08: np.uint8}


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode an IDX file (LeCun's format: magic, dims, big-endian sizes, data)."""
    if len(raw) < 4:
        raise DataError(f"{name}: truncated, {len(raw)} bytes is shorter than the IDX header")
    zero, dtype_code, ndim = raw[0] | raw[1], raw[2], raw[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim == 0:
        raise DataError(f"{name}: not an unsigned-byte IDX file (magic bytes {raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated inside the IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(
            f"{name}: {len(raw)} bytes but its header promises {expected} for shape {shape} "
            "(truncated or corrupted)"
        )
    return np.frombuffer(raw, dtype=_IDX_DTYPES[dtype_code], offset=header).reshape(shape)


def read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: damaged gzip archive ({exc})") from None
    return raw


def md5(raw: bytes) -> str:
    return hashlib.md5(raw, usedforsecurity=False).hexdigest()


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    raise DataError(f"{folder}: missing {stem}(.gz); a local MNIST folder needs all four IDX files")


def load_idx_folder(folder: str | Path, checksums: dict[str, tuple[str, str]] = IDX_FILES) -> dict[str, np.ndarray]:
    """Read and verify the four IDX files of a folder (gzipped or not)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"data.local_dir={str(folder)!r} is not a folder; point it at the four MNIST IDX files")
    arrays = {}
    for key, (stem, expected_md5) in checksums.items():
        path = _find_idx(folder, stem)
        raw = read_maybe_gzip(path)
        if md5(raw) != expected_md5:
            raise DataError(
                f"{path}: md5 of the decompressed bytes is {md5(raw)}, expected {expected_md5} "
                "(corrupted, truncated or not the canonical file)"
            )
        arrays[key] = parse_idx(raw, str(path))
    return arrays
