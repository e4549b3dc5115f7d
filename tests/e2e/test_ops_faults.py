"""Faults a user meets: damaged pipeline files, mirrors that never answer, and
any params.yaml a user could write.

Stages run as real subprocesses in a scratch copy of the project; network
servers are loopback only (127.0.0.1).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gzip
import http.server
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from tests_support import (
    LOOPBACK,
    PROJECT,
    GarbageServer,
    Repo,
    SilentServer,
    TrickleServer,
    assert_one_line_error,
    clean_env,
    free_port,
    run_stage,
    scratch_project,
    tiny_params,
)

from latent_atlas import io
from latent_atlas.config import Params, load_params, parse_params
from latent_atlas.data import download, idx, sources
from latent_atlas.data import mnist as D
from latent_atlas.errors import ConfigError, DamagedFileError, DataError, MissingFileError

# --------------------------------------------------------------------------- #
# damaged checkpoints and latent files
# --------------------------------------------------------------------------- #

VARIANT = "classifier"
CKPT = Path("models") / f"{VARIANT}.pt"
LATENTS = Path("data/latents") / f"{VARIANT}.npz"


def corrupt(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "truncated":
        raw = raw[: len(raw) // 2]
    elif how == "flipped":  # one byte in the middle: inside a weight or latent array
        raw[len(raw) // 2] ^= 0xFF
    elif how == "garbage":
        raw = bytearray(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif how == "empty":
        raw = bytearray()
    else:
        raise ValueError(how)
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def pipeline_files(tmp_path_factory) -> Path:
    """A scratch project holding what extract and analyze read: synthetic digits,
    an (untrained) classifier checkpoint and its latents, written by the library."""
    import torch

    from latent_atlas.data.mnist import MNISTArrays, save_arrays
    from latent_atlas.models.autoencoders import ModelConfig, build_model
    from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint
    from latent_atlas.models.inference import run_model

    root = scratch_project(tmp_path_factory.mktemp("faults") / "proj")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params((VARIANT,)), sort_keys=False))
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (80, 28, 28), dtype=np.uint8)
    labels = np.tile(np.arange(10, dtype=np.uint8), 8)
    split = np.repeat(np.array([D.TRAIN, D.TEST], np.uint8), 40)
    save_arrays(root / "data/mnist.npz", MNISTArrays(images, labels, split, "synthetic"))
    config = ModelConfig(arch="classifier_mlp", latent_dim=4, hidden=(16,), head_hidden=(8,))
    torch.manual_seed(0)
    model = build_model(config).eval()
    save_checkpoint(root / CKPT, Checkpoint(
        model_config=config.to_dict(), state_dict=model.state_dict(), variant=VARIANT,
        params={"n_params": 1}, input_range="unit", data_checksum="synthetic", data_source="synthetic"))
    arrays = {}
    for name, which in (("test", D.TEST), ("train", D.TRAIN)):
        out = run_model(model, images[split == which], "unit", torch.device("cpu"))
        arrays.update({f"z_{name}": out["latents"], f"y_{name}": labels[split == which],
                       f"recon_error_{name}": out["recon_error"], f"log_probs_{name}": out["log_probs"]})
    io.write_npz(root / LATENTS, **arrays)
    return root


@pytest.mark.parametrize("how", ["truncated", "flipped", "garbage", "empty"])
def test_damaged_checkpoint_is_refused_naming_the_file(pipeline_files, tmp_path, how):
    from latent_atlas.models.checkpoint import load_checkpoint

    path = tmp_path / "classifier.pt"
    shutil.copy(pipeline_files / CKPT, path)
    load_checkpoint(path)  # intact: loads
    corrupt(path, how)
    with pytest.raises(DamagedFileError, match="is not a readable latent-atlas checkpoint") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("how", ["truncated", "flipped", "garbage", "empty"])
def test_damaged_latent_file_is_refused_naming_the_file(pipeline_files, tmp_path, how):
    path = tmp_path / "classifier.npz"
    shutil.copy(pipeline_files / LATENTS, path)
    io.read_npz(path)
    corrupt(path, how)
    with pytest.raises(DamagedFileError, match="is corrupted or not an .npz") as info:
        io.read_npz(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("stage", "damaged", "how"), [
    ("extract", CKPT, "flipped"),
    ("analyze", CKPT, "truncated"),
    ("analyze", LATENTS, "flipped"),
])
def test_stage_with_a_damaged_file_exits_2_naming_it(pipeline_files, tmp_path, stage, damaged, how):
    root = tmp_path / "proj"
    shutil.copytree(pipeline_files, root, ignore=shutil.ignore_patterns("__pycache__"))
    corrupt(root / damaged, how)
    before = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    result = run_stage(root, stage, "--variant", VARIANT, timeout=180)
    assert_one_line_error(result, str(damaged))
    after = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert after == before, "the failed stage left files behind"


# --------------------------------------------------------------------------- #
# mirrors that do not answer
# --------------------------------------------------------------------------- #

TIMEOUT_S = 1.0
MARGIN_S = 2.0


ONE_LABEL = b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"  # a 1-label IDX file


def one_archive_manifest(*mirrors: str) -> download.Manifest:
    return download.Manifest(mirrors, {"test_labels": idx.md5(gzip.compress(ONE_LABEL, mtime=0))},
                      {"test_labels": ("t10k-labels-idx1-ubyte", idx.md5(ONE_LABEL))})


@pytest.mark.parametrize("make_server", [
    SilentServer,  # trips the socket timeout
    TrickleServer,  # a byte every 0.1 s, headers included: never idle, never done
    lambda: TrickleServer(fast_headers=True),  # answers at once, then the body stalls
    GarbageServer,  # not HTTP: http.client's errors are not OSErrors
], ids=["silent", "trickle", "stalled-body", "not-http"])
def test_download_gives_up_within_its_timeout(tmp_path, make_server):
    """The trickling servers used to hold the download for hours; a server that
    does not speak HTTP used to end the stage with a traceback."""
    with make_server() as server:
        start = time.monotonic()
        with pytest.raises(DataError, match="could not download") as info:
            sources.load_download(tmp_path / "raw", timeout_s=TIMEOUT_S, manifest=one_archive_manifest(server.url))
        elapsed = time.monotonic() - start
    assert elapsed < TIMEOUT_S + MARGIN_S, f"gave up after {elapsed:.1f} s"
    message = str(info.value)
    assert f"{server.url}t10k-labels-idx1-ubyte.gz" in message and "\n" not in message
    assert not list((tmp_path / "raw").iterdir()), "a partial archive was left in the cache"


def test_slow_but_steady_download_is_not_cut_off(tmp_path):
    """A slow link (here 64 KiB every 0.25 s, 320 KiB in all) may take longer than
    the timeout as long as it keeps delivering."""
    body = np.random.default_rng(1).integers(0, 256, 5 * 65536, dtype=np.uint8).tobytes()
    with TrickleServer(interval_s=0.25, chunk=65536, fast_headers=True, body=body) as server:
        start = time.monotonic()
        got = download.fetch(f"{server.url}slow.gz", tmp_path / "slow.gz", timeout_s=TIMEOUT_S)
        elapsed = time.monotonic() - start
    assert got == idx.md5(body) and (tmp_path / "slow.gz").read_bytes() == body
    assert elapsed > TIMEOUT_S


def test_download_tries_every_mirror_once_each_within_the_timeout(tmp_path, monkeypatch):
    with SilentServer() as silent, TrickleServer() as trickle:
        refused = f"http://{LOOPBACK}:{free_port()}/"
        mirrors = [silent.url, trickle.url, refused]
        monkeypatch.setattr(download, "mirror_manifest", lambda: one_archive_manifest(*mirrors))
        start = time.monotonic()
        with pytest.raises(DataError) as info:
            sources.load_mnist("download", local_dir=tmp_path, cache_dir=tmp_path / "raw", timeout_s=TIMEOUT_S, seed=0)
        elapsed = time.monotonic() - start
    assert elapsed < 2 * TIMEOUT_S + MARGIN_S, f"gave up after {elapsed:.1f} s"
    for mirror in mirrors:
        assert mirror in str(info.value)


def test_auto_source_falls_back_when_the_mirror_trickles(tmp_path, monkeypatch):
    with TrickleServer() as trickle:
        monkeypatch.setattr(download, "mirror_manifest", lambda: one_archive_manifest(trickle.url))
        start = time.monotonic()
        data = sources.load_mnist("auto", local_dir=tmp_path, cache_dir=tmp_path / "raw", timeout_s=TIMEOUT_S, seed=0)
        assert time.monotonic() - start < TIMEOUT_S + MARGIN_S + 30  # + loading the bundled digits
    assert data.source == "bundled"


# --------------------------------------------------------------------------- #
# any params.yaml a user could write
# --------------------------------------------------------------------------- #

REAL_PARAMS = yaml.safe_load((PROJECT / "params.yaml").read_text())


def key_paths(node, prefix=()) -> list[tuple]:
    """Every path into the params: mapping keys and list positions."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((*prefix, key))
            found.extend(key_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.append((*prefix, i))
            found.extend(key_paths(value, (*prefix, i)))
    return found


def container_paths(node, prefix=()) -> list[tuple]:
    """Paths of the mappings, where a new (unknown) key can go."""
    found = [prefix] if isinstance(node, dict) else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(container_paths(value, (*prefix, key)))
    return found


PATHS = key_paths(REAL_PARAMS)
CONTAINERS = container_paths(REAL_PARAMS)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2, 3, 7, 64, 256, 785, 10**9, 2**31, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 0.5, 1.0, 1e308, -1e308]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["", "auto", "cpu", "cuda", "16", "1e-3", "null", "adam", "tanh", "classifier",
                     "symmetric", "mlp", "spatial_conv"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.one_of(st.text(max_size=6), st.integers(-3, 3), st.none(), st.booleans()), inner, max_size=3),
    max_leaves=6,
)
new_keys = st.one_of(st.text(max_size=10), st.integers(-5, 5), st.none(), st.booleans(),
                     st.sampled_from(["latent_dim", "epochs", "lr", "source", "arch", "variants"]))
mutations = st.one_of(
    st.tuples(st.just("set"), st.sampled_from(PATHS), values),
    st.tuples(st.just("delete"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("add"), st.sampled_from(CONTAINERS), st.tuples(new_keys, values)),
)


def mutate(raw, ops):
    raw = copy.deepcopy(raw)
    for op, path, value in ops:
        node = raw
        try:
            for part in path[:-1] if op != "add" else path:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation replaced the parent: nothing left to mutate here
        if op == "add":
            if isinstance(node, dict):
                key, val = value
                node[key] = val
        elif isinstance(node, dict | list):
            try:
                if op == "set":
                    node[path[-1]] = value
                else:
                    del node[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue
    return raw


user_params = st.one_of(
    st.lists(mutations, min_size=1, max_size=4).map(lambda ops: mutate(REAL_PARAMS, ops)),
    values,  # a whole file that is not the project's mapping at all
)


def check_outcome(raw, source="params.yaml") -> Params | None:
    """A valid Params, fully usable, or a one-line ConfigError: nothing else."""
    try:
        params = parse_params(raw, source)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        assert message.startswith(source), message
        return None
    assert isinstance(params, Params)
    for name in params.variants:
        assert params.variant(name) is params.variants[name]
        size = params.latent_dim_of(name)
        assert isinstance(size, int) and size >= 1
    assert all(math.isfinite(v.lr) and v.lr > 0 for v in params.variants.values())
    assert params.data.timeout_s > 0
    return params


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_params)
def test_any_params_are_valid_or_one_line_config_error(raw):
    check_outcome(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(user_params)
def test_any_params_file_loads_or_fails_in_one_line(raw):
    """The same through YAML text on disk, as a stage reads it."""
    try:
        text = yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
    except yaml.YAMLError:
        assume(False)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "params.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_params(path)
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(str(path)), str(exc)


def _invalid(raw) -> bool:
    try:
        parse_params(raw)
    except ConfigError:
        return True
    return False


@pytest.fixture(scope="module")
def stage_project(tmp_path_factory) -> Path:
    return scratch_project(tmp_path_factory.mktemp("badparams") / "proj")


@settings(max_examples=2, deadline=None, derandomize=True, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much])
@given(st.lists(mutations, min_size=1, max_size=3).map(lambda ops: mutate(REAL_PARAMS, ops)))
def test_stage_with_generated_bad_params_exits_2_in_one_line(stage_project, raw):
    assume(_invalid(raw))
    path = stage_project / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    result = run_stage(stage_project, "population", timeout=120)
    assert_one_line_error(result, "params.yaml")
    assert not (stage_project / "data").exists(), "the stage did work despite bad params"


@pytest.mark.parametrize("text", ["seed: [1, 2\n", "latent_dim: '16'\n"])
def test_stage_with_hand_written_bad_params_exits_2_in_one_line(stage_project, text):
    (stage_project / "params.yaml").write_text(text)
    result = run_stage(stage_project, "population", timeout=120)
    assert_one_line_error(result, "params.yaml")


# --------------------------------------------------------------------------- #
# downloads: caps and schemes
# --------------------------------------------------------------------------- #


class NoLengthServer(TrickleServer):
    """HTTP/1.0 with no Content-Length: the body ends when the server hangs up."""

    def handle(self, conn) -> None:
        with contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + self.body)
            conn.close()


class RedirectServer(TrickleServer):
    """Answers every request with a redirect to `location`."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location

    def handle(self, conn) -> None:
        with contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {self.location}\r\nContent-Length: 0\r\n\r\n".encode())
            conn.close()


@pytest.mark.parametrize("make_server", [
    lambda: TrickleServer(interval_s=0, chunk=65536, fast_headers=True, body=b"x" * 5000),  # announces 5000
    lambda: NoLengthServer(body=b"x" * 5000),  # must be counted
], ids=["content-length", "counted"])
def test_fetch_stops_at_the_size_cap_and_the_archive_is_not_kept(tmp_path, make_server):
    with make_server() as server:
        with pytest.raises(DataError, match="over the 1000-byte cap|more than the 1000-byte cap"):
            download.fetch(f"{server.url}big.gz", tmp_path / "big.gz", timeout_s=TIMEOUT_S, max_bytes=1000)
        assert download.fetch(f"{server.url}big.gz", tmp_path / "ok.gz", timeout_s=TIMEOUT_S, max_bytes=5000) == \
            idx.md5(b"x" * 5000)


def test_a_redirect_to_plain_http_is_refused_before_connecting(tmp_path):
    # example.org is never contacted: the redirect is refused while being parsed.
    refused = r"http://example.org/mnist.gz is not allowed: downloads use https"
    with RedirectServer("http://example.org/mnist.gz") as server, pytest.raises(DataError, match=refused):
        download.fetch(f"{server.url}mnist.gz", tmp_path / "m.gz", timeout_s=TIMEOUT_S)


def test_load_download_reports_a_wrong_md5_and_keeps_nothing(tmp_path):
    wrong_md5 = r"t10k-labels-idx1-ubyte.gz \(md5 [0-9a-f]{32} != "
    with NoLengthServer(body=gzip.compress(b"not the archive")) as server, \
            pytest.raises(DataError, match=wrong_md5) as info:
        sources.load_download(tmp_path / "raw", timeout_s=TIMEOUT_S, manifest=one_archive_manifest(server.url))
    assert server.url in str(info.value)
    assert not list((tmp_path / "raw").iterdir())


# --------------------------------------------------------------------------- #
# writes killed half-way
# --------------------------------------------------------------------------- #

KILLED_WRITER = """
import sys, time
from pathlib import Path
from latent_atlas import io

def writer(tmp):
    with open(tmp, "wb") as fh:
        fh.write(b"half of a new file")
        fh.flush()
        Path(sys.argv[2]).touch()  # tell the test the write is under way
        time.sleep(600)

io.write_with(sys.argv[1], writer)
"""


def test_a_write_killed_with_sigkill_keeps_the_old_file_and_its_temporary_is_swept(tmp_path):
    out = tmp_path / "metrics"
    target, ready = out / "a.json", tmp_path / "ready"
    io.write_json(target, {"old": 1})
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target), str(ready)], cwd=PROJECT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = [p.name for p in out.iterdir()]
    assert io.read_json(target) == {"old": 1}
    assert len(left) == 2 and any(name.startswith(".a.json.") and name.endswith(".tmp") for name in left), left
    # The next write into that folder, of any file, sweeps the dead writer's temporary.
    io.write_json(out / "b.json", {"new": 2})
    assert sorted(p.name for p in out.iterdir()) == ["a.json", "b.json"]


def test_only_a_dead_writers_temporary_on_this_host_is_swept(tmp_path):
    # A parallel stage writing into the same folder must not lose its file, nor
    # must a writer on another host sharing the folder (its pid means nothing here).
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".x.json.la{io._HOST}.{alive.pid}-abc.tmp"
        dead = tmp_path / f".y.json.la{io._HOST}.999999999-abc.tmp"  # beyond any pid_max
        other_host = "0" * 8 if io._HOST != "0" * 8 else "1" * 8
        foreign = tmp_path / f".z.json.la{other_host}.999999999-abc.tmp"
        unrelated = tmp_path / ".notes.tmp"
        for path in (live, dead, foreign, unrelated):
            path.write_text("x")
        assert io.sweep_stale_temporaries(tmp_path) == [dead]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, foreign, unrelated))
    finally:
        alive.kill()
        alive.wait()


def test_atomic_write_fsyncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
                        or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("replace", str(b))) or real_replace(a, b))
    io.write_text(tmp_path / "f.txt", "x")
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync"], events
    assert events[0][1].endswith(".tmp") and events[1][1] == str(tmp_path / "f.txt")
    assert events[2][1] == str(tmp_path)


# --------------------------------------------------------------------------- #
# JSON a stage reads, and what the command line does with each kind of error
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("content", [b'{"source": "bundled", }', b"", b"\xff\xfe{}", b'{"a": 1'])
def test_a_damaged_json_names_the_file(tmp_path, content):
    path = tmp_path / "data.json"
    path.write_bytes(content)
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is not valid JSON")) as info:
        io.read_json(path)
    assert "\n" not in str(info.value)


def test_a_missing_json_names_the_file(tmp_path):
    with pytest.raises(MissingFileError, match=re.escape(f"{tmp_path / 'absent.json'} does not exist")):
        io.read_json(tmp_path / "absent.json")


STAGE_RAISING = """
import sys
from latent_atlas.cli import run_stage
from latent_atlas.errors import {kind}

def main(args, params):
    raise {kind}({message!r})

run_stage(main, "a stage that fails")
"""


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory) -> Path:
    root = scratch_project(tmp_path_factory.mktemp("cli") / "proj")
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params((VARIANT,)), sort_keys=False))
    return root


@pytest.mark.parametrize("kind", ["ConfigError", "DataError", "MissingFileError", "DamagedFileError",
                                  "TrackingError", "DivergedError"])
def test_a_user_error_is_one_line_and_exit_2(cli_project, kind):
    script = STAGE_RAISING.format(kind=kind, message="models/x.pt: what went wrong\nand its detail")
    result = subprocess.run([sys.executable, "-c", script], cwd=cli_project, capture_output=True, text=True,
                            timeout=120, env=clean_env())
    line = assert_one_line_error(result, "models/x.pt: what went wrong and its detail")
    assert line.startswith("error: ")


@pytest.mark.parametrize("kind", ["IndexError", "ValueError", "RuntimeError", "FileNotFoundError"])
def test_a_bug_keeps_its_traceback_and_exits_1(cli_project, kind):
    """ValueError and RuntimeError used to be printed as one line: a torch shape
    mismatch then looked like a user error and lost its traceback."""
    script = STAGE_RAISING.format(kind=kind, message="shape mismatch").replace(
        f"from latent_atlas.errors import {kind}", "")
    result = subprocess.run([sys.executable, "-c", script], cwd=cli_project, capture_output=True, text=True,
                            timeout=120, env=clean_env())
    assert result.returncode == 1, result.stderr
    assert "Traceback" in result.stderr and f"{kind}: shape mismatch" in result.stderr


def test_a_train_stage_with_a_damaged_data_json_exits_2_naming_it(pipeline_files, tmp_path):
    root = tmp_path / "proj"
    shutil.copytree(pipeline_files, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics/data.json").write_text('{"source": "synthetic", "checksum_sha256": }')
    result = run_stage(root, "train", "--variant", VARIANT, timeout=180)
    assert_one_line_error(result, "metrics/data.json", "is not valid JSON")


# --------------------------------------------------------------------------- #
# data that says what it is: an offline fallback, then a mirror that answers
# --------------------------------------------------------------------------- #


def fake_mnist_mirror(folder: Path, port: int) -> Path:
    """Four tiny gzip'ed IDX archives in `folder`, and a manifest naming them
    (served, once a server runs, at http://127.0.0.1:<port>/)."""
    rng = np.random.default_rng(0)
    files = {}
    for key, (stem, _) in idx.IDX_FILES.items():
        n = 6 if key.startswith("train") else 4
        array = rng.integers(0, 256, (n, 28, 28) if key.endswith("images") else n, dtype=np.uint8)
        raw = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()
        archive = gzip.compress(raw, mtime=0)
        (folder / f"{stem}.gz").write_bytes(archive)
        files[key] = {"stem": stem, "archive_md5": idx.md5(archive), "idx_md5": idx.md5(raw)}
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({"mirrors": [f"http://{LOOPBACK}:{port}/"], "files": files}))
    return manifest


@contextlib.contextmanager
def serving(folder: Path, port: int):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    with http.server.ThreadingHTTPServer((LOOPBACK, port), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield
        finally:
            server.shutdown()


# Stands in for every stage that reads the data: counts the images it sees.
DOWNSTREAM = {
    "cmd": "python -c \"import numpy as np; n = len(np.load('data/mnist.npz')['images']); "
           "open('data/n_images.txt', 'w').write(str(n))\"",
    "deps": ["data/mnist.npz"],
    "outs": ["data/n_images.txt"],
}


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


@pytest.mark.e2e
def test_offline_fallback_is_never_cached_and_the_next_repro_fetches_mnist(tmp_path):
    """data.source=auto with the mirror off falls back to the bundled digits; DVC must
    not keep (or push) that as the download's result, and the first repro after
    the mirror comes back must fetch the real archives and rerun what reads them."""
    mirror, root = tmp_path / "mirror", tmp_path / "repo"
    mirror.mkdir()
    port = free_port()  # nothing listens until `serving` starts
    manifest = fake_mnist_mirror(mirror, port)
    scratch_project(root)
    stage = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]["download"]  # the real definition
    (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"download": stage, "count": DOWNSTREAM}}))
    params = tiny_params(("classifier",))
    params["data"].update(source="auto", limit=None, timeout_s=2.0)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repo = Repo(root)
    repo.env[download.MANIFEST_ENV] = str(manifest)
    repo.run("git", "init", "-q")
    repo.dvc("init", "-q")
    repo.commit("download and a stand-in for what reads the data")

    offline = repo.dvc("repro")
    info = json.loads((root / "metrics/data.json").read_text())
    assert (info["source"], info["fallback"], info["n_train"]) == ("bundled", True, 4000)
    assert (root / "data/n_images.txt").read_text() == "5000"
    assert ran_stages(offline.stdout) == {"download", "count"}

    # The run cache holds the stand-in's result, never the download's.
    entries = [yaml.safe_load(p.read_text()) for p in (root / ".dvc/cache/runs").rglob("*") if p.is_file()]
    assert [e["cmd"] for e in entries] == [DOWNSTREAM["cmd"]]

    # Still offline: the download asks again and writes the same bytes; nothing downstream reruns.
    again = repo.dvc("repro")
    assert ran_stages(again.stdout) == {"download"}, again.stdout

    with serving(mirror, port):
        online = repo.dvc("repro")
    info = json.loads((root / "metrics/data.json").read_text())
    assert (info["source"], info["fallback"], info["n_train"], info["n_test"]) == ("download", False, 6, 4)
    assert ran_stages(online.stdout) == {"download", "count"}
    assert (root / "data/n_images.txt").read_text() == "10"
    # The verified archives stay in data/raw: the next repro needs no mirror.
    assert sorted(p.name for p in (root / "data/raw").iterdir()) == sorted(f"{s}.gz" for s, _ in idx.IDX_FILES.values())
    assert ran_stages(repo.dvc("repro").stdout) == {"download"}
    assert json.loads((root / "metrics/data.json").read_text())["source"] == "download"
