"""MLflow as its users expect it: runs on the computation's clock, pyfunc models
that need no pickle, metrics on the LoggedModels, the registry's `baseline`
alias, and a failed training on record.

One sqlite store for the module (a store's creation costs seconds), a pipeline
record built by hand around small real checkpoints; no pipeline runs here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latent_atlas.errors import TrackingError
from latent_atlas.models.autoencoders import ModelConfig, build_model
from latent_atlas.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from latent_atlas.models.inference import encoder_fn
from latent_atlas.tracking import models as tracking_models
from latent_atlas.tracking import registry
from latent_atlas.tracking import runs as tracking
from latent_atlas.tracking.record import (
    DatasetRecord,
    PipelineRecord,
    TrainingFailure,
    VariantRecord,
    epoch_timestamps,
)

T0 = 1_700_000_000_000  # the training's start, ms: long before the test runs
SECONDS = [1.5, 2.5, 1.0]  # each epoch's wall time
ANALYSIS_END = T0 + 60_000
VARIANTS = {"unit_range": ("unit", 3), "symmetric": ("symmetric", 4)}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.delenv("DVC_EXP_NAME", raising=False)
        import mlflow

        previous = mlflow.get_tracking_uri()
        yield uri
        mlflow.set_tracking_uri(previous)


def checkpoint(path: Path, input_range: str, latent_dim: int, seed: int = 0) -> Path:
    config = ModelConfig(arch="mlp", latent_dim=latent_dim, hidden=(8,), output="sigmoid")
    torch.manual_seed(seed)
    model = build_model(config)
    save_checkpoint(path, Checkpoint(model_config=config.to_dict(), state_dict=model.state_dict(), variant=path.stem,
                                     params={}, input_range=input_range, data_checksum="c" * 64,
                                     data_source="bundled"))
    return path


def images(n: int = 2) -> np.ndarray:
    """(n, 1, 28, 28) float32 pixels in [0, 1], as 8-bit images divided by 255."""
    pixels = np.random.default_rng(0).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)
    return pixels.astype(np.float32) / np.float32(255.0)


def pipeline_record(folder: Path, experiment: str, seed: int = 0) -> PipelineRecord:
    folder.mkdir(parents=True, exist_ok=True)
    report = folder / "summary.md"
    report.write_text("# report\n")
    variants = []
    for name, (input_range, latent_dim) in VARIANTS.items():
        history = [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "seconds": s} for i, s in enumerate(SECONDS)]
        variants.append(VariantRecord(
            name=name, params={"variant": name}, metrics={"test_mse": 0.1 * latent_dim, "latent_dim": latent_dim},
            history=history, artifacts=[(report, "metrics")],
            checkpoint=checkpoint(folder / f"{name}.pt", input_range, latent_dim, seed),
            executions={"train": f"t-{experiment}-{name}", "analyze": f"a-{experiment}-{name}"},
            times={"train": (T0, T0 + 5_000), "analyze": (T0 + 10_000, ANALYSIS_END)}))
    return PipelineRecord(experiment=experiment, git_commit="a" * 40, params={"seed": str(seed)},
                          metrics={f"{v}.test_mse": 0.5 for v in VARIANTS}, artifacts=[(report, "report")],
                          dataset=DatasetRecord("mnist-bundled", "bundled", "d" * 64, 10, 10), variants=variants,
                          example_images=images())


@pytest.fixture(scope="module")
def logged(store, tmp_path_factory):
    """One pipeline run in the store: (record, parent run, {variant: child run})."""
    from mlflow import MlflowClient

    record = pipeline_record(tmp_path_factory.mktemp("run"), "exp-a")
    parent_id = tracking.log_pipeline(record)
    client = MlflowClient()
    children = client.search_runs([client.get_run(parent_id).info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    return record, client.get_run(parent_id), {c.data.tags["variant"]: c for c in children}


def model_of(run) -> str:
    from mlflow import MlflowClient

    found = MlflowClient().search_logged_models(experiment_ids=[run.info.experiment_id],
                                                filter_string=f"source_run_id = '{run.info.run_id}'")
    assert len(found) == 1
    return found[0].model_id


# --------------------------------------------------------------------------- #
# the clock, the source, the LoggedModel's metrics
# --------------------------------------------------------------------------- #


def test_runs_carry_the_times_of_the_computation(logged):
    from mlflow import MlflowClient

    _, parent, children = logged
    for child in children.values():
        assert (child.info.start_time, child.info.end_time) == (T0, ANALYSIS_END)
        curve = MlflowClient().get_metric_history(child.info.run_id, "train_loss")
        assert [(m.step, m.timestamp) for m in curve] == [(1, T0 + 1500), (2, T0 + 4000), (3, T0 + 5000)]
    # Every execution is fresh: the parent starts with the first of them, and ends once logged.
    assert parent.info.start_time == T0 and parent.info.end_time > ANALYSIS_END


def test_runs_say_they_ran_locally_and_keep_the_dvc_tags(logged):
    _, parent, children = logged
    for run in (parent, *children.values()):
        tags = run.data.tags
        assert tags["mlflow.source.type"] == "LOCAL"
        assert tags["dvc_experiment"] == "exp-a" and tags["mlflow.source.git.commit"] == "a" * 40


def test_logged_models_carry_the_metrics_and_rank_by_them(logged):
    import mlflow

    _, parent, children = logged
    ranked = mlflow.search_logged_models(experiment_ids=[parent.info.experiment_id], output_format="list",
                                         order_by=[{"field_name": "metrics.test_mse", "ascending": True}])
    by_run = {m.source_run_id: m for m in ranked}
    assert [by_run[c.info.run_id].model_id for c in sorted(children.values(),
            key=lambda c: c.data.metrics["test_mse"])] == [m.model_id for m in ranked if m.source_run_id in
                                                          {c.info.run_id for c in children.values()}]
    for name, child in children.items():
        metrics = {m.key: m.value for m in by_run[child.info.run_id].metrics}
        assert metrics["test_mse"] == pytest.approx(0.1 * VARIANTS[name][1])


def test_each_model_has_an_input_example_of_real_images(logged, tmp_path):
    import mlflow

    _, _, children = logged
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{model_of(children['unit_range'])}",
                                                     dst_path=str(tmp_path)))
    example = mlflow.models.Model.load(str(local)).load_input_example(str(local))
    np.testing.assert_array_equal(example, images())


def test_the_time_of_each_epoch_is_the_start_plus_the_seconds_so_far():
    assert epoch_timestamps(1000, [0.25, 0.5, 1.0]) == [1250, 1750, 2750]


# --------------------------------------------------------------------------- #
# pyfunc: images in, the checkpoint's codes out; no pickle; bad input refused
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", list(VARIANTS))
def test_pyfunc_gives_the_checkpoints_codes(logged, name, monkeypatch):
    import mlflow

    record, _, children = logged
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    model = mlflow.pyfunc.load_model(f"models:/{model_of(children[name])}")
    ckpt = load_checkpoint(next(v.checkpoint for v in record.variants if v.name == name))
    x = images(5)
    expected = encoder_fn(ckpt.build(), ckpt.input_range, torch.device("cpu"))(x[:, 0])
    codes = model.predict(x)
    assert codes.dtype == np.float32 and codes.shape == (5, VARIANTS[name][1])
    np.testing.assert_array_equal(codes, expected)


@pytest.mark.parametrize(("bad", "error"), [
    (images().astype(np.float64), "dtype of input float64 does not match expected dtype float32"),
    (images()[:, 0], r"Shape of input \(2, 28, 28\) does not match expected shape \(-1, 1, 28, 28\)"),
    (images() * 255, r"pixels must be finite and in \[0, 1\]"),
])
def test_pyfunc_refuses_bad_input_with_mlflows_error(logged, bad, error):
    import mlflow
    from mlflow.exceptions import MlflowException

    _, _, children = logged
    model = mlflow.pyfunc.load_model(f"models:/{model_of(children['unit_range'])}")
    with pytest.raises(MlflowException, match=error) as info:
        model.predict(bad)
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"


def test_a_modified_checkpoint_is_refused_by_both_loaders(logged, tmp_path):
    import mlflow

    _, _, children = logged
    uri = f"models:/{model_of(children['unit_range'])}"
    local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "copy")))
    weights = next((local / "artifacts").glob("*.pt"))
    weights.write_bytes(weights.read_bytes()[:-64] + bytes(64))
    with pytest.raises(TrackingError, match=f"{weights.name} has sha256 .* the artifact was modified"):
        mlflow.pyfunc.load_model(str(local))
    with pytest.raises(TrackingError, match=f"{weights.name} has sha256 .* the artifact was modified"):
        tracking_models.load_model(str(local))
    assert tracking_models.load_model(uri).config.latent_dim == VARIANTS["unit_range"][1]  # the store's is intact


# --------------------------------------------------------------------------- #
# the registry: one registered model per variant, the alias on the baseline
# --------------------------------------------------------------------------- #


def test_promote_registers_each_variant_and_moves_the_alias(logged, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    record, _, children = logged
    first = registry.promote(record)
    assert [(p.variant, p.name, p.version) for p in first] == [
        (name, registry.registered_name(name), 1) for name in sorted(VARIANTS)]
    assert [p.model_id for p in first] == [model_of(children[name]) for name in sorted(VARIANTS)]
    assert registry.promote(record) == first  # promoting the same run again changes nothing

    later = pipeline_record(tmp_path / "later", "exp-b", seed=1)  # another run, other weights
    tracking.log_pipeline(later)
    second = registry.promote(later)
    assert [p.version for p in second] == [2, 2]
    client = MlflowClient()
    for promoted in second:
        assert int(client.get_model_version_by_alias(promoted.name, registry.BASELINE_ALIAS).version) == 2
    baseline = mlflow.pyfunc.load_model(second[0].uri)
    ckpt = load_checkpoint(next(v.checkpoint for v in later.variants if v.name == second[0].variant))
    np.testing.assert_array_equal(baseline.predict(images()),
                                  encoder_fn(ckpt.build(), ckpt.input_range, torch.device("cpu"))(images()[:, 0]))


def test_promoting_results_no_run_recorded_names_the_fix(logged, tmp_path):
    unlogged = pipeline_record(tmp_path / "unlogged", "exp-c", seed=2)
    with pytest.raises(TrackingError, match="no finished MLflow run .* run `dvc repro`"):
        registry.promote(unlogged)


# --------------------------------------------------------------------------- #
# a training that fails
# --------------------------------------------------------------------------- #


def test_a_failed_training_is_a_failed_run_with_its_epochs(store):
    from mlflow import MlflowClient

    history = [{"epoch": 1, "train_loss": 0.9, "seconds": 2.0}, {"epoch": 2, "train_loss": 0.7, "seconds": 3.0}]
    failure = TrainingFailure(variant="v", experiment="exp-f", git_commit="b" * 40, params={"lr": "0.001"},
                              history=history, start_ms=T0, end_ms=T0 + 9_000, status="FAILED",
                              error="TrainingDivergedError: training loss became nan in epoch 3")
    run_id = tracking.log_failed_training(failure)
    client = MlflowClient()
    run = client.get_run(run_id)
    assert (run.info.status, run.info.start_time, run.info.end_time) == ("FAILED", T0, T0 + 9_000)
    assert run.data.tags["failure"] == failure.error and run.data.tags["dvc_experiment"] == "exp-f"
    assert run.data.params == {"lr": "0.001"}
    curve = client.get_metric_history(run_id, "train_loss")
    assert [(m.step, m.value, m.timestamp) for m in curve] == [(1, 0.9, T0 + 2000), (2, 0.7, T0 + 5000)]


def test_a_store_that_cannot_take_the_failure_costs_a_warning_only(monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens
    failure = TrainingFailure(variant="v", experiment="e", git_commit="c" * 40, params={}, history=[],
                              start_ms=T0, end_ms=T0, status="KILLED", error="KeyboardInterrupt")
    assert tracking.log_failed_training(failure) is None
    assert "KILLED training of v was not recorded in MLflow" in capsys.readouterr().err

