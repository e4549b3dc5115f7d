"""Beyond one `dvc repro` (issue 5), with the real dvc, mlflow and Chromium.

One tiny repository (the classifier variant only, latent_dim 3) is built and
reproduced once for the module; its first run logs to a separate MLflow store
so that the repository has no mlflow.db when the queued sweep starts and its
parallel workers create it. Then, in file order:

- a queued sweep over latent_dim with two parallel workers, all in <repo>/mlflow.db;
- the sweep compared in MLflow's UI, in headless Chromium;
- a forced rerun of every stage that logs to MLflow, against a real
  `mlflow server` (SQL backend, served artifacts), which also serves as the CPU
  determinism check against the first run;
- models loaded back from MLflow, encoding like the DVC checkpoints;
- a training stage killed mid-run, then `dvc repro`;
- a local DVC remote: push, lose the cache and outputs, pull.

Everything is loopback only and every subprocess is bounded in time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests_support import (
    PROJECT,
    MlflowServer,
    Repo,
    dvc_detached,
    make_repo,
    pipeline_variants,
    queue_status,
    stop_process_group,
)

from latent_atlas.io import sweep_stale_temporaries
from latent_atlas.models.autoencoders import model_config
from latent_atlas.tracking import models as tracking_models
from latent_atlas.tracking import store

pytestmark = pytest.mark.e2e

VARIANTS = ("classifier",)
BASE_LATENT = 3  # not one of the swept sizes, so every queued experiment really runs
SWEEP = (2, 8)
REPRO_TIMEOUT_S = 600
SWEEP_TIMEOUT_S = 600
POLL_S = 1
# Wall-clock measurements differ between identical runs; everything else must not.
TIMING_KEY = re.compile(r"seconds|_time$|^time_|duration", re.IGNORECASE)
# Analysis metrics may differ in the last bits between identical runs (see the determinism test).
ANALYSIS_REL_TOL = 1e-12

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                  "--no-first-run", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--window-size=1920,2400")
UI_TIMEOUT_S = 90


def md5_file(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def file_digests(root: Path, rels: list[str]) -> dict[str, str]:
    """md5 of every file under each path (a file or a folder)."""
    digests = {}
    for rel in rels:
        path = root / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            digests[str(file.relative_to(root))] = md5_file(file)
    return digests


def cached_outputs(root: Path) -> list[str]:
    """The outputs DVC caches (and pushes): every `outs` entry not marked cache: false."""
    found = []
    dvc_yaml = yaml.safe_load((root / "dvc.yaml").read_text())
    for stage in dvc_yaml["stages"].values():
        keys = list(pipeline_variants(dvc_yaml)) if "foreach" in stage else [None]
        body = stage.get("do", stage)
        for key in keys:
            for out in body.get("outs", []):
                name, options = (out, {}) if isinstance(out, str) else next(iter(out.items()))
                if (options or {}).get("cache", True):
                    found.append(name.replace("${key}", key) if key else name)
    return found


def differences(a, b, rel: float, where: str = "") -> list[str]:
    """Where two JSON documents differ, timing keys aside; floats within `rel`
    (relative) count as equal, so rel=0 asks for bitwise equality."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = {k for k in a.keys() | b.keys() if not TIMING_KEY.search(str(k))}
        return [d for k in sorted(keys) for d in
                (differences(a[k], b[k], rel, f"{where}.{k}") if k in a and k in b else [f"{where}.{k}: missing"])]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, rel, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and rel > 0 and math.isclose(a, b, rel_tol=rel, abs_tol=1e-300):
        return []
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        return []
    return [f"{where}: {a!r} != {b!r}"]


def mlflow_client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def experiment_runs(uri: str):
    client = mlflow_client(uri)
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    assert experiment is not None, f"no {store.EXPERIMENT_NAME} experiment at {uri}"
    return experiment, client.search_runs([experiment.experiment_id], max_results=1000)


# --------------------------------------------------------------------------- #
# the module's repository
# --------------------------------------------------------------------------- #


@dataclass
class Built:
    repo: Repo
    baseline_store: str  # the MLflow URI of the first run
    snapshot: Path  # the first run's metrics, checkpoints, latents and data
    seconds: float


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    base = tmp_path_factory.mktemp("ops")
    repo = make_repo(base / "repo", variants=VARIANTS)
    params = repo.params()
    params["latent_dim"] = BASE_LATENT
    repo.write_params(params)
    repo.commit(f"latent_dim {BASE_LATENT}")
    store = f"sqlite:///{base / 'baseline-store' / 'mlflow.db'}"
    start = time.monotonic()
    repo.dvc("repro", env={"MLFLOW_TRACKING_URI": store}, timeout=REPRO_TIMEOUT_S)
    seconds = time.monotonic() - start
    repo.commit("first run")
    snapshot = base / "snapshot"
    for rel in ("metrics", "models", "data/latents", "data/mnist.npz"):
        src, dst = repo.root / rel, snapshot / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    print(f"tiny repro ({', '.join(VARIANTS)}) took {seconds:.0f} s")
    return Built(repo, store, snapshot, seconds)


# --------------------------------------------------------------------------- #
# 1. a queued sweep, two workers, one MLflow store
# --------------------------------------------------------------------------- #


@dataclass
class Sweep:
    names: dict[str, int]  # experiment name -> latent_dim
    status: dict[str, str]
    seconds: float


@pytest.fixture(scope="module")
def sweep(built, shared_server_process) -> Sweep:
    """(shared_server_process: the server of test 2 starts up meanwhile, on the side.)"""
    repo = built.repo
    assert not (repo.root / "mlflow.db").exists(), "the workers should find no store and create it"
    queued = repo.dvc("exp", "run", "--queue", "-S", "latent_dim=" + ",".join(map(str, SWEEP)), timeout=300)
    pairs = re.findall(r"latent_dim=(\d+).*?Queued experiment '([^']+)'", queued.stdout, flags=re.S)
    names = {name: int(dim) for dim, name in pairs}
    assert sorted(names.values()) == sorted(SWEEP), queued.stdout
    start = time.monotonic()
    log = repo.root.parent / "queue.log"
    try:
        dvc_detached(repo, "queue", "start", "-j", "2", log=log)
        while True:
            status = queue_status(repo)
            if all(status.get(name) in ("Success", "Failed") for name in names):
                break
            assert time.monotonic() - start < SWEEP_TIMEOUT_S, f"sweep unfinished after {SWEEP_TIMEOUT_S} s: {status}"
            time.sleep(POLL_S)
    finally:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            dvc_detached(repo, "queue", "stop", "--kill", log=log)
    seconds = time.monotonic() - start
    print(f"queued sweep latent_dim={SWEEP} with 2 workers took {seconds:.0f} s")
    return Sweep(names, status, seconds)


def test_queued_sweep_runs_every_experiment_into_one_store(built, sweep):
    repo = built.repo
    failed = {name: repo.dvc("queue", "logs", name, check=False, timeout=120).stdout[-3000:]
              for name, state in sweep.status.items() if state != "Success"}
    assert not failed, f"failed experiments: {failed}"

    # DVC has the four experiments with their params and metrics.
    shown = json.loads(repo.dvc("exp", "show", "--json", timeout=300).stdout)
    found = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") in sweep.names and isinstance(node.get("data"), dict):
                data = node["data"]
                found[node["name"]] = (
                    data["params"]["params.yaml"]["data"]["latent_dim"],
                    data["metrics"]["metrics/train/classifier.json"]["data"]["latent_dim"],
                )
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(shown)
    assert found == {name: (dim, dim) for name, dim in sweep.names.items()}

    # One MLflow store, at the repository root, created once by racing workers.
    db = repo.root / "mlflow.db"
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list((repo.root / ".dvc" / "tmp").rglob("mlflow.db")), "a run logged inside a queue copy"
    _, runs = experiment_runs(f"sqlite:///{db}")
    trained = {r.data.tags["dvc_experiment"]: r for r in runs
               if r.data.tags.get("variant") == "classifier" and r.data.tags.get("role") == "variant"}
    assert set(trained) == set(sweep.names), sorted(trained)
    parents = {r.data.tags["dvc_experiment"]: r.info.run_id for r in runs if r.data.tags.get("role") == "pipeline"}
    for name, dim in sweep.names.items():
        run = trained[name]
        assert run.info.status == "FINISHED"
        assert run.data.params["latent_dim"] == str(dim)
        assert "train_loss" in run.data.metrics and "accuracy" in run.data.metrics  # train + analyze
        assert run.data.tags["mlflow.parentRunId"] == parents[name]


# --------------------------------------------------------------------------- #
# 2. a shared tracking server; 7. determinism
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def shared_server_process(tmp_path_factory):
    """The shared server's process, started without waiting (it takes ~15 s to answer)."""
    server = MlflowServer(tmp_path_factory.mktemp("shared-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_server(shared_server_process):
    return shared_server_process.wait()


# Every stage whose results the determinism check compares, and the one that logs them.
RERUN_STAGES = ("pca", "train@classifier", "extract@classifier", "analyze@classifier", "compare", "track")


@pytest.fixture(scope="module")
def server_rerun(built, shared_server) -> tuple[str, ...]:
    """The stages above, forced, with MLFLOW_TRACKING_URI at the shared server."""
    repo = built.repo
    start = time.monotonic()
    repo.dvc("repro", "-f", "-s", *RERUN_STAGES, env={"MLFLOW_TRACKING_URI": shared_server.url},
             timeout=REPRO_TIMEOUT_S)
    print(f"forced rerun of {', '.join(RERUN_STAGES)} against the server took {time.monotonic() - start:.0f} s")
    repo.commit("rerun against the shared server")
    return RERUN_STAGES


def test_the_pipeline_run_logs_to_the_shared_server(built, shared_server, server_rerun, tmp_path):
    from latent_atlas.models.checkpoint import load_checkpoint

    root = built.repo.root
    experiment, runs = experiment_runs(shared_server.url)
    assert experiment.artifact_location.startswith("mlflow-artifacts:"), experiment.artifact_location
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    parents = [r for r in runs if r.data.tags.get("role") == "pipeline"]
    assert len(parents) == 1
    children = {r.data.tags["variant"]: r for r in runs if r.data.tags.get("role") == "variant"}
    assert sorted(children) == sorted(VARIANTS)
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in children.values())
    assert parents[0].data.metrics["pca.kept_variance"] > 0.5

    classifier = children["classifier"]
    assert classifier.data.params["latent_dim"] == str(BASE_LATENT)
    assert {"train_loss", "final_train_loss", "accuracy"} <= set(classifier.data.metrics)

    # The checkpoint artifact went through the server and comes back intact.
    client = mlflow_client(shared_server.url)
    listed = [a.path for a in client.list_artifacts(classifier.info.run_id, "checkpoint")]
    assert listed == ["checkpoint/classifier.pt"]
    local = client.download_artifacts(classifier.info.run_id, "checkpoint/classifier.pt", str(tmp_path))
    assert md5_file(Path(local)) == md5_file(root / "models/classifier.pt")
    stored = list(shared_server.artifacts.rglob("classifier.pt"))
    assert stored, f"nothing under the server's --artifacts-destination {shared_server.artifacts}"
    assert not (root / "mlartifacts").exists() or not list((root / "mlartifacts").rglob(classifier.info.run_id))

    # The logged model loads back through the server.
    model = tracking_models.load_model(f"runs:/{classifier.info.run_id}/model", store_uri=shared_server.url)
    assert_same_latents(model, load_checkpoint(root / "models/classifier.pt"), built.snapshot / "data/mnist.npz")


def test_same_params_give_identical_results_on_cpu(built, server_rerun):
    """The forced rerun repeats the first run's training and analysis with the
    same params on the same CPU: weights, latents and training metrics are
    bitwise equal; analysis metrics equal to ANALYSIS_REL_TOL (relative)."""
    import torch

    from latent_atlas.models.checkpoint import load_checkpoint

    root, first = built.repo.root, built.snapshot
    compared = []
    for path in sorted((first / "metrics").rglob("*.json")):
        rel = path.relative_to(first)
        assert (root / rel).exists(), f"{rel} is gone after the rerun"
        again, before = json.loads((root / rel).read_text()), json.loads(path.read_text())
        # Training and PCA: bitwise. Analyses: scikit-learn's tree ensembles
        # (DCI) sum their trees' predictions in parallel threads, in whatever
        # order the threads finish, so a float may move in its last bits.
        if rel.parts[1] == "runs":
            continue  # execution ids: new for every execution, by design (record.py)
        rel_tol = 0.0 if rel.parts[1] in ("train", "pca.json", "data.json") else ANALYSIS_REL_TOL
        diff = differences(before, again, rel_tol)
        assert not diff, f"{rel} differs between identical runs: {diff[:10]}"
        compared.append(str(rel))
    assert {"metrics/train/classifier.json", "metrics/analyze/classifier.json", "metrics/pca.json"} <= set(compared)
    print(f"the same after the rerun (timing keys aside): {', '.join(compared)}")
    with np.load(first / "data/latents/classifier.npz") as a, np.load(root / "data/latents/classifier.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    weights_a = load_checkpoint(first / "models/classifier.pt").state_dict
    weights_b = load_checkpoint(root / "models/classifier.pt").state_dict
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)


# --------------------------------------------------------------------------- #
# 5. models logged to MLflow load back and work
# --------------------------------------------------------------------------- #


def assert_same_latents(model, ckpt, mnist_path: Path) -> np.ndarray:
    import torch

    from latent_atlas.data.mnist import TEST, load_arrays
    from latent_atlas.models.autoencoders import Autoencoder
    from latent_atlas.models.inference import run_model

    assert isinstance(model, Autoencoder) and not model.training
    images = load_arrays(mnist_path).subset(TEST)[0]
    cpu = torch.device("cpu")
    from_mlflow = run_model(model, images, ckpt.input_range, cpu)["latents"]
    from_dvc = run_model(ckpt.build(), images, ckpt.input_range, cpu)["latents"]
    assert from_mlflow.shape == (len(images), ckpt.model_config["latent_dim"])
    np.testing.assert_array_equal(from_mlflow, from_dvc)
    return from_mlflow


def test_models_in_mlflow_encode_like_the_dvc_checkpoints(built):
    from latent_atlas.models.checkpoint import load_checkpoint

    store = built.baseline_store
    _, runs = experiment_runs(store)
    checked = []
    for variant in VARIANTS:
        ckpt = load_checkpoint(built.snapshot / "models" / f"{variant}.pt")
        run_id = next(r.info.run_id for r in runs if r.data.tags.get("variant") == variant)
        by_run = tracking_models.load_model(f"runs:/{run_id}/model", store_uri=store)
        latents = assert_same_latents(by_run, ckpt, built.snapshot / "data/mnist.npz")
        with np.load(built.snapshot / "data/latents" / f"{variant}.npz") as extracted:
            np.testing.assert_array_equal(latents, extracted["z_test"])  # what the extract stage wrote

        # The same model by its own URI (models:/<model_id>), as MLflow 3 lists it.
        client = mlflow_client(store)
        experiment_id = client.get_run(run_id).info.experiment_id
        logged = client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'")
        assert len(logged) == 1, logged
        by_id = tracking_models.load_model(logged[0].model_uri, store_uri=store)
        assert_same_latents(by_id, ckpt, built.snapshot / "data/mnist.npz")
        checked.append(variant)
    assert checked == list(VARIANTS)


def test_every_architecture_round_trips_through_mlflow(built, tmp_path):
    """The pipeline above trains the classifier only; log one (untrained) model
    of every architecture the project's variants use the way the track stage
    does, and load it back without unpickling anything or touching sys.path."""
    import mlflow
    import torch

    from latent_atlas.config import load_params
    from latent_atlas.models.autoencoders import REGISTRY, build_model
    from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint

    params = load_params(PROJECT / "params.yaml")
    first_of_arch = {}
    for name, variant in params.variants.items():
        first_of_arch.setdefault(variant.arch, name)
    assert set(first_of_arch) == set(REGISTRY), "a registered architecture has no variant in params.yaml"
    experiment, _ = experiment_runs(built.baseline_store)
    for _arch, name in sorted(first_of_arch.items()):
        variant = params.variant(name)
        config = model_config(params, name)
        torch.manual_seed(0)
        model = build_model(config).eval()
        ckpt = Checkpoint(model_config=config.to_dict(), state_dict=model.state_dict(), variant=name, params={},
                          input_range=variant.input_range, data_checksum="", data_source="")
        save_checkpoint(tmp_path / f"{name}.pt", ckpt)
        with tracking_models._using_store(built.baseline_store), mlflow.start_run(
                experiment_id=experiment.experiment_id, run_name=f"round trip {name}") as run:
            info = tracking_models.log_model(tmp_path / f"{name}.pt")
        assert list(info.signature.outputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, config.latent_dim]
        path_before = list(sys.path)
        loaded = tracking_models.load_model(f"runs:/{run.info.run_id}/model", store_uri=built.baseline_store)
        assert sys.path == path_before
        assert_same_latents(loaded, ckpt, built.snapshot / "data/mnist.npz")


def test_a_tampered_model_artifact_is_refused(built, tmp_path):
    """Whoever can write to the artifact store cannot make a loader load other
    weights: the file must match the sha256 its MLmodel records, through this
    project's loader and through MLflow's pyfunc alike."""
    import mlflow

    from latent_atlas.errors import TrackingError

    _, runs = experiment_runs(built.baseline_store)
    run = next(r for r in runs if r.data.tags.get("variant") == "classifier")
    store_root = Path(built.baseline_store.removeprefix("sqlite:///")).parent / "mlartifacts"
    # A pyfunc model: <model>/MLmodel, and the checkpoint under <model>/artifacts/.
    weights = [p for p in store_root.rglob("artifacts/*.pt")
               if (p.parents[1] / "MLmodel").exists() and run.info.run_id in (p.parents[1] / "MLmodel").read_text()]
    assert len(weights) == 1, weights
    original = weights[0].read_bytes()
    try:
        weights[0].write_bytes(original[:-64] + bytes(64))
        with pytest.raises(TrackingError, match=f"{weights[0].name} .* modified"):
            tracking_models.load_model(f"runs:/{run.info.run_id}/model", store_uri=built.baseline_store)
        with tracking_models._using_store(built.baseline_store), pytest.raises(TrackingError, match="modified"):
            mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    finally:
        weights[0].write_bytes(original)
    tracking_models.load_model(f"runs:/{run.info.run_id}/model", store_uri=built.baseline_store)  # intact again


# --------------------------------------------------------------------------- #
# 6. a training stage killed mid-run
# --------------------------------------------------------------------------- #


def progress_epochs(text: str) -> int:
    """Epochs done, from tqdm's 'epochs:  3%|...| 3/100000' lines."""
    done = [int(n) for n in re.findall(r"epochs:.*?\|\s*(\d+)/\d+", text)]
    return max(done, default=0)


def leftovers(root: Path) -> list[str]:
    """Temporary or hidden files an interrupted writer could leave."""
    found = []
    for folder in ("models", "metrics/train", "data/latents"):
        for path in (root / folder).glob("*") if (root / folder).exists() else []:
            if path.name.endswith((".tmp", ".part")) or (path.name.startswith(".") and path.name != ".gitignore"):
                found.append(str(path.relative_to(root)))
    return found


def test_killed_training_leaves_nothing_half_written_and_repro_recovers(built, tmp_path):
    from latent_atlas.models.checkpoint import load_checkpoint

    repo, root = built.repo, built.repo.root
    long_params = repo.params()
    long_params["variants"]["classifier"]["epochs"] = 100_000
    params_file = tmp_path / "long-params.yaml"  # outside the repository: DVC never sees it
    params_file.write_text(yaml.safe_dump(long_params, sort_keys=False))
    outputs = [root / "models/classifier.pt", root / "metrics/train/classifier.json",
               root / "metrics/train/classifier.csv"]
    for path in outputs:
        path.unlink(missing_ok=True)

    log = tmp_path / "train.stderr"
    with open(log, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "stages.train", "--variant", "classifier",
                                 "--params", str(params_file)], cwd=root, env=repo.env,
                                stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while progress_epochs(log.read_text()) < 3:
            assert proc.poll() is None, f"training ended early ({proc.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"training did not start within 180 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        stop_process_group(proc)
    print(f"killed the train stage after {progress_epochs(log.read_text())} epochs")

    # The history grows an epoch at a time (a live curve): whole rows of finished epochs only.
    history = outputs.pop()
    lines = history.read_text().splitlines()
    assert len(lines) >= 1 + 3 and [int(line.split(",")[0]) for line in lines[1:]] == list(range(1, len(lines)))
    assert [p for p in outputs if p.exists()] == []
    # SIGKILL cannot be caught: a write it interrupts (the history's, every epoch) may leave its
    # temporary, named for the killed process, never a file under an output's name. git and DVC
    # ignore it (.gitignore, .dvcignore), and the next write into its folder removes it.
    killed = leftovers(root)
    assert all(re.fullmatch(rf"metrics/train/\.classifier\.csv\.la\w+\.{proc.pid}-\w+\.tmp", p)
               for p in killed), killed
    for path in killed:
        repo.run("git", "check-ignore", "-q", path)
    outputs.append(history)

    again = repo.dvc("repro", timeout=REPRO_TIMEOUT_S)
    assert "ERROR" not in again.stdout + again.stderr
    # download is always_changed (dvc.yaml): it is the only stage status lists.
    status = repo.dvc("status", "--json", timeout=120)
    assert json.loads(status.stdout) == {"download": ["always changed"]}, status.stdout
    assert all(p.exists() for p in outputs)
    # The run cache restored the stage without running it, so nothing has written into
    # metrics/train since the kill; the next writer there sweeps the dead process's temporary.
    remaining = leftovers(root)
    assert set(remaining) <= set(killed)
    swept = sweep_stale_temporaries(root / "metrics/train")
    assert sorted(p.relative_to(root).as_posix() for p in swept) == sorted(remaining)
    assert leftovers(root) == []
    ckpt = load_checkpoint(root / "models/classifier.pt")
    assert ckpt.params["epochs"] == 1  # the pipeline's params, not the interrupted run's


# --------------------------------------------------------------------------- #
# 3. a DVC remote
# --------------------------------------------------------------------------- #


def test_dvc_remote_push_then_pull_restores_identical_outputs(built, tmp_path):
    repo, root = built.repo, built.repo.root
    remote = tmp_path / "dvc-remote"
    repo.dvc("remote", "add", "-d", "local", str(remote), timeout=60)
    outs = cached_outputs(root)
    assert {"data/mnist.npz", "models/classifier.pt", "data/latents/classifier.npz"} <= set(outs)
    before = file_digests(root, outs)
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    locked = {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}
    for rel in outs:
        if rel in before:
            assert locked[rel] == before[rel], f"{rel} differs from dvc.lock"

    pushed = repo.dvc("push", timeout=300)
    assert re.search(r"\d+ files? pushed", pushed.stdout), pushed.stdout
    assert any(p.is_file() for p in remote.rglob("*"))

    shutil.rmtree(root / ".dvc" / "cache")
    for rel in outs:
        path = root / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    missing = repo.dvc("status", timeout=120).stdout
    assert "deleted" in missing

    repo.dvc("pull", timeout=300)
    assert file_digests(root, outs) == before
    assert json.loads(repo.dvc("status", "--json", timeout=120).stdout) == {"download": ["always changed"]}
