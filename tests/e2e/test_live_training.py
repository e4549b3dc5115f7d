"""A training run while it runs and when it fails: the history file grows an epoch
at a time (what DVC's VS Code extension plots live), and a training that fails
or is stopped is an MLflow run with the epochs it completed.

A scratch project (stage scripts, tiny params, synthetic digits written by the
library), a sqlite store in the test's folder; no DVC.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from tests_support import clean_env, scratch_project, stop_process_group, tiny_params

from latent_atlas import paths
from latent_atlas.config import load_params
from latent_atlas.data.mnist import TEST, TRAIN, MNISTArrays, save_arrays
from latent_atlas.io import write_json
from latent_atlas.tracking import store

pytestmark = pytest.mark.e2e

VARIANT = "classifier"


@pytest.fixture
def project(tmp_path):
    """Stage scripts, params with one variant training (nearly) forever, digits, and their data.json."""
    root = scratch_project(tmp_path / "proj")
    params = tiny_params((VARIANT,))
    params["variants"][VARIANT].update(epochs=100_000)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rng = np.random.default_rng(0)
    split = np.repeat(np.array([TRAIN, TEST], np.uint8), 64)
    checksum = save_arrays(root / paths.MNIST, MNISTArrays(rng.integers(0, 256, (128, 28, 28), dtype=np.uint8),
                                                           np.tile(np.arange(10, dtype=np.uint8), 13)[:128],
                                                           split, "synthetic"))
    write_json(root / paths.MNIST_INFO, {"source": "synthetic", "checksum_sha256": checksum})
    return root


def history_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def runs_of(root: Path):
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    return client, client.search_runs([experiment.experiment_id])


def test_a_stopped_training_leaves_its_epochs_in_the_history_and_in_mlflow(project):
    """SIGTERM (a scheduler's stop) mid-training: the CSV holds whole rows, one per
    finished epoch, and MLflow a KILLED run with those epochs at their times."""
    log = project / "train.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "stages.train", "--variant", VARIANT], cwd=project,
                                env=clean_env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    history = project / paths.history(VARIANT)
    try:
        deadline = time.monotonic() + 120
        while not (history.exists() and len(history_rows(history)) >= 3):  # the curve, live
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"no 3 epochs within 120 s:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=120) != 0
    finally:
        stop_process_group(proc)
    rows = history_rows(history)
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(r["train_loss"] and r["val_loss"] == "" for r in rows)  # whole rows; no validation split
    assert not (project / paths.checkpoint(VARIANT)).exists()

    client, runs = runs_of(project)
    assert len(runs) == 1, log.read_text()[-3000:]
    run = runs[0]
    assert run.info.status == "KILLED" and run.data.tags["role"] == "training"
    assert run.data.tags["variant"] == VARIANT and "Terminated: SIGTERM" in run.data.tags["failure"]
    curve = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.value for m in curve] == [float(r["train_loss"]) for r in rows]
    stamps = [m.timestamp for m in curve]
    assert run.info.start_time < stamps[0] and stamps == sorted(stamps) and stamps[-1] <= run.info.end_time


def test_a_training_that_fails_is_a_failed_run(project, monkeypatch):
    """An error after two epochs (here injected into the loop): FAILED, with both
    epochs; the stage still ends with the training's own error."""
    from latent_atlas.models.training import TrainingDivergedError
    from stages import train as train_stage

    def diverge_after_two(params, name, images, labels, device, *, on_epoch, **_):
        for epoch in (1, 2):
            on_epoch({"epoch": epoch, "train_loss": 1.0 / epoch, "train_recon_mse": 0.1, "train_nll": 0.9,
                      "seconds": 0.5})
        raise TrainingDivergedError("training loss became nan in epoch 3; lower the learning rate")

    monkeypatch.chdir(project)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{project / 'mlflow.db'}")
    monkeypatch.setattr(train_stage, "train_variant", diverge_after_two)
    with pytest.raises(TrainingDivergedError):
        train_stage.main(argparse.Namespace(variant=VARIANT), load_params("params.yaml"))
    assert len(history_rows(project / paths.history(VARIANT))) == 2
    client, runs = runs_of(project)
    assert [r.info.status for r in runs] == ["FAILED"]
    assert runs[0].data.tags["failure"].startswith("TrainingDivergedError: training loss became nan in epoch 3")
    assert [m.step for m in client.get_metric_history(runs[0].info.run_id, "train_loss")] == [1, 2]
