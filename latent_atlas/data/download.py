"""Full MNIST from the torchvision mirrors: https only, bounded in time and size, verified.

Each archive streams to disk under a network timeout, a stall bound and a
size cap, with its md5 computed on the way and checked against torchvision's
list; verified archives stay in data/raw, so a rerun downloads nothing.

Tests and operators may replace the mirrors and checksums with a manifest named
by LATENT_ATLAS_MNIST_MANIFEST (see load_manifest); it is not for normal use.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from latent_atlas.data.idx import IDX_FILES
from latent_atlas.errors import ConfigError, DataError
from latent_atlas.io import atomic_path

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


def download_archives(cache_dir: str | Path, timeout_s: float, manifest: Manifest | None = None) -> Manifest:
    """Download the four archives (mirrors in order) into cache_dir unless it holds them verified
    already; return the manifest whose IDX checksums the archives must then meet."""
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
    return manifest
