"""The pipeline's models as MLflow users use them: the baseline alias, `mlflow
models serve` on loopback, and runs whose clock is the computation's.

On the `pipeline` repository (conftest.py), back at its commit:
`latent-atlas tracking promote` points latent-atlas-<variant>@baseline at the
models of the run that made the workspace's results; `mlflow models serve -m
models:/latent-atlas-classifier@baseline --env-manager local` answers on
127.0.0.1 with the codes the DVC checkpoint gives two test images, and with
MLflow's schema error (HTTP 400) to a wrong shape.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from tests_support import BIN, LOOPBACK, PROJECT, clean_env, free_port, stop_process_group

from latent_atlas.data.mnist import TEST, load_arrays
from latent_atlas.models.checkpoint import load_checkpoint
from latent_atlas.models.inference import encoder_fn
from latent_atlas.tracking import store
from latent_atlas.tracking.registry import registered_name

pytestmark = pytest.mark.e2e

VARIANT = "classifier"
SERVE_TIMEOUT_S = 120


def back_at_the_commit(repo) -> None:
    """Earlier tests leave an experiment's results (or a failed one's params) in the workspace."""
    repo.run("git", "reset", "-q", "--hard")
    repo.dvc("checkout", "--force")


def post(url: str, body: dict) -> tuple[int, dict, float]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response), time.monotonic() - start
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc), time.monotonic() - start


def wait_for_ping(url: str, proc: subprocess.Popen, log) -> float:
    start = time.monotonic()
    while time.monotonic() - start < SERVE_TIMEOUT_S:
        assert proc.poll() is None, f"mlflow models serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no answer from {url}/ping within {SERVE_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def test_the_baseline_alias_serves_the_checkpoints_codes(pipeline, tmp_path):
    repo, _ = pipeline
    back_at_the_commit(repo)
    promoted = repo.run(sys.executable, "-m", "latent_atlas.tracking", "promote").stdout
    uri = f"models:/{registered_name(VARIANT)}@baseline"
    assert re.search(rf"^{re.escape(uri)} -> version \d+ \(model m-\w+\)$", promoted, re.MULTILINE), promoted

    images = load_arrays(repo.root / "data/mnist.npz").subset(TEST)[0][:2]
    pixels = (images.astype(np.float32) / np.float32(255.0))[:, None]  # (2, 1, 28, 28) in [0, 1]
    ckpt = load_checkpoint(repo.root / "models" / f"{VARIANT}.pt")
    expected = encoder_fn(ckpt.build(), ckpt.input_range, torch.device("cpu"))(pixels[:, 0])

    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    # PYTHONPATH: the model's code imports this project's classes, from the code under test.
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{repo.root / 'mlflow.db'}", PYTHONPATH=str(PROJECT))
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
                                 "--host", LOOPBACK, "--port", str(port)], cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ready = wait_for_ping(url, proc, log)
        status, answer, first = post(f"{url}/invocations", {"inputs": pixels.tolist()})
        assert status == 200, answer
        codes = np.asarray(answer["predictions"], dtype=np.float32)
        assert codes.shape == (2, ckpt.model_config["latent_dim"])
        np.testing.assert_array_equal(codes, expected)
        _, _, again = post(f"{url}/invocations", {"inputs": pixels.tolist()})

        status, answer, _ = post(f"{url}/invocations", {"inputs": pixels[:, 0].tolist()})  # no channel axis
        assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "Shape of input (2, 28, 28) does not match expected shape (-1, 1, 28, 28)" in answer["message"]
        status, answer, _ = post(f"{url}/invocations", {"inputs": (pixels * 255).tolist()})  # 8-bit values
        assert status == 400 and "pixels must be finite and in [0, 1]" in answer["message"]
    finally:
        stop_process_group(proc)
    print(f"mlflow models serve: ready after {ready:.1f} s; two images in {first * 1000:.0f} ms, "
          f"then {again * 1000:.0f} ms")


def test_the_pipelines_runs_keep_its_clock_and_rank_its_models(pipeline):
    from mlflow import MlflowClient

    repo, _ = pipeline
    client = MlflowClient(f"sqlite:///{repo.root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    children = client.search_runs([experiment.experiment_id], filter_string="tags.role = 'variant'",
                                  max_results=1000)
    assert children
    for child in children:
        assert child.data.tags["mlflow.source.type"] == "LOCAL"
        stamps = [m.timestamp for m in client.get_metric_history(child.info.run_id, "train_loss")]
        # Epochs end after the run (the training) starts and before it (the analysis) ends.
        assert stamps and all(child.info.start_time <= s <= child.info.end_time for s in stamps), child.info.run_name
    ranked = client.search_logged_models(experiment_ids=[experiment.experiment_id], max_results=1000,
                                         order_by=[{"field_name": "metrics.test_mse", "ascending": True}])
    mse = [next(m.value for m in model.metrics if m.key == "test_mse") for model in ranked]
    assert len(ranked) == len(children) and mse == sorted(mse)
