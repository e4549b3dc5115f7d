"""Tests for latent_atlas.io (atomic writes, checksums) and latent_atlas.tracking.runs (store location)."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path

import numpy as np
import pytest

from latent_atlas import io, paths
from latent_atlas.errors import DamagedFileError, TrackingError
from latent_atlas.tracking import server, store


def folder_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


class Boom(RuntimeError):
    pass


# --------------------------------------------------------------------------- #
# atomic writes
# --------------------------------------------------------------------------- #


def test_write_text_creates_parents_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "a" / "b" / "note.txt"
    assert io.write_text(path, "hello\n") == path
    assert path.read_text() == "hello\n"
    assert folder_names(path.parent) == ["note.txt"]


def test_write_json(tmp_path):
    path = tmp_path / "m.json"
    io.write_json(path, {"b": 1.5, "a": [1, 2], "c": None})
    assert json.loads(path.read_text()) == {"a": [1, 2], "b": 1.5, "c": None}
    assert path.read_text().endswith("\n")
    assert path.read_text().index('"a"') < path.read_text().index('"b"')  # sorted: stable diffs for DVC
    assert folder_names(tmp_path) == ["m.json"]


def test_write_npz_round_trip_keeps_the_name(tmp_path):
    path = tmp_path / "arrays.npz"
    a, b = np.arange(6, dtype=np.int16).reshape(2, 3), np.linspace(0, 1, 4)
    io.write_npz(path, a=a, b=b)
    assert folder_names(tmp_path) == ["arrays.npz"]  # not arrays.npz.npz
    loaded = io.read_npz(path, required=("a", "b"))
    np.testing.assert_array_equal(loaded["a"], a)
    assert loaded["a"].dtype == np.int16
    np.testing.assert_array_equal(loaded["b"], b)


def test_overwrite_replaces_content(tmp_path):
    path = tmp_path / "x.txt"
    io.write_text(path, "old")
    io.write_text(path, "new")
    assert path.read_text() == "new"
    assert folder_names(tmp_path) == ["x.txt"]


def test_failing_writer_keeps_previous_content_and_no_temp_file(tmp_path):
    path = tmp_path / "keep.txt"
    io.write_text(path, "previous")

    def half_then_fail(tmp: Path) -> None:
        tmp.write_text("half-writ")
        raise Boom("disk full")

    with pytest.raises(Boom):
        io.write_with(path, half_then_fail)
    assert path.read_text() == "previous"
    assert folder_names(tmp_path) == ["keep.txt"]


def test_failing_writer_creates_nothing_when_there_was_no_file(tmp_path):
    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"partial")
        raise Boom

    with pytest.raises(Boom):
        io.write_with(tmp_path / "new.bin", fail)
    assert folder_names(tmp_path) == []


def test_write_npz_failing_midway_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "arrays.npz"
    io.write_npz(path, a=np.arange(3))
    before = path.read_bytes()

    def savez_then_fail(fh, **arrays):
        fh.write(b"PK\x03\x04 partial")
        raise Boom("killed mid-write")

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(Boom):
        io.write_npz(path, a=np.arange(1000))
    assert path.read_bytes() == before
    assert folder_names(tmp_path) == ["arrays.npz"]


def test_write_json_unserializable_keeps_previous_file(tmp_path):
    path = tmp_path / "m.json"
    io.write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        io.write_json(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert folder_names(tmp_path) == ["m.json"]


def test_atomic_write_gives_the_permissions_of_a_plain_write(tmp_path):
    # The temporary file comes from mkstemp (mode 0600); the final file must not keep it,
    # or every metric, plot and model becomes unreadable to other users and services.
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    for path in (io.write_text(tmp_path / "a.txt", "x"), io.write_json(tmp_path / "b.json", {}),
                 io.write_npz(tmp_path / "c.npz", a=np.zeros(1))):
        assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode), path.name


def test_read_npz_missing_required(tmp_path):
    path = tmp_path / "a.npz"
    io.write_npz(path, a=np.zeros(2))
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} lacks arrays ['b']")):
        io.read_npz(path, required=("a", "b"))


def test_read_npz_pickled_object_array_is_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is corrupted or not an .npz")):
        io.read_npz(path)


# --------------------------------------------------------------------------- #
# arrays_checksum
# --------------------------------------------------------------------------- #


def test_arrays_checksum_is_stable_and_sensitive():
    a = np.arange(100, dtype=np.uint8).reshape(10, 10)
    b = np.zeros(5, dtype=np.uint8)
    base = io.arrays_checksum(a, b)
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert io.arrays_checksum(a.copy(), b.copy()) == base

    one_byte = a.copy()
    one_byte[3, 7] ^= 1
    assert io.arrays_checksum(one_byte, b) != base
    assert io.arrays_checksum(a.astype(np.int8), b) != base  # same bytes, other dtype
    assert io.arrays_checksum(a.reshape(4, 25), b) != base  # same bytes, other shape
    assert io.arrays_checksum(b, a) != base  # order matters
    assert io.arrays_checksum(a) != base


def test_arrays_checksum_same_for_non_contiguous_view():
    a = np.arange(24, dtype=np.uint8).reshape(4, 6)
    view = a.T
    assert io.arrays_checksum(view) == io.arrays_checksum(np.ascontiguousarray(view))


# --------------------------------------------------------------------------- #
# tracking: where the store is
# --------------------------------------------------------------------------- #


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return monkeypatch


@pytest.mark.parametrize("start", ["/x/repo/.dvc/tmp/exps/tmpabc/", "/x/repo/.dvc/tmp/exps/tmpabc/sub/dir",
                                   "/x/repo/.dvc/tmp/exps"])
def test_repo_root_maps_a_queued_experiment_copy_back(clean_env, start):
    assert paths.repo_root(start=start) == Path("/x/repo")


def test_repo_root_leaves_an_ordinary_path(clean_env):
    assert paths.repo_root(start="/x/repo/sub") == Path("/x/repo/sub")
    assert paths.repo_root(start="/x/repo/.dvc/tmp") == Path("/x/repo/.dvc/tmp")  # not an exps copy


def test_repo_root_uses_dvc_root(clean_env, tmp_path):
    clean_env.setenv("DVC_ROOT", str(tmp_path / "repo"))
    assert paths.repo_root() == (tmp_path / "repo").resolve()
    clean_env.setenv("DVC_ROOT", str(tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmp123"))
    assert paths.repo_root() == (tmp_path / "repo").resolve()


def test_repo_root_defaults_to_cwd(clean_env, tmp_path):
    clean_env.chdir(tmp_path)
    assert paths.repo_root() == tmp_path.resolve()


def test_tracking_uri_honours_env(clean_env):
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert store.tracking_uri() == "http://tracking.example:5000"
    assert store.artifact_location() is None  # a server decides its own


def test_tracking_uri_defaults_to_sqlite_at_the_root(clean_env, tmp_path):
    root = tmp_path / "repo"
    clean_env.setenv("DVC_ROOT", str(root / ".dvc" / "tmp" / "exps" / "tmpabc"))
    expected_db = root.resolve() / "mlflow.db"
    assert store.tracking_uri() == f"sqlite:///{expected_db}"
    assert store.artifact_location() == (root.resolve() / "mlartifacts").as_uri()


def test_empty_tracking_uri_falls_back_to_sqlite(clean_env, tmp_path):
    clean_env.setenv("MLFLOW_TRACKING_URI", "")
    clean_env.setenv("DVC_ROOT", str(tmp_path))
    assert store.tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"


def test_check_server_unreachable_fails_fast_naming_the_uri():
    uri = "http://127.0.0.1:9"
    start = time.perf_counter()
    with pytest.raises(TrackingError, match=re.escape(f"MLFLOW_TRACKING_URI={uri}")) as info:
        server.check_server(uri)
    assert time.perf_counter() - start < 10
    assert "\n" not in str(info.value)


def test_check_server_ignores_local_stores():
    server.check_server("sqlite:////nowhere/mlflow.db")  # nothing to reach: no error
    server.check_server("file:///nowhere/mlruns")


def test_experiment_name(monkeypatch):
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    assert store.experiment_name() == "workspace"
    monkeypatch.setenv("DVC_EXP_NAME", "wispy-bass")
    assert store.experiment_name() == "wispy-bass"
