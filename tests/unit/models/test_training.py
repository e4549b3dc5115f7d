"""Tests for latent_atlas.models.training on tiny in-memory data (CPU)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_atlas.models.autoencoders import ModelConfig, build_model
from latent_atlas.models.optim import ForeachAdam
from latent_atlas.models.training import LiveHistory, TrainConfig, TrainingDivergedError, epoch_losses, history_columns, history_csv, loss_terms, make_optimizer, split_validation, to_model_input, to_unit_range, train_model

DEVICE = torch.device("cpu")
from tests_support import PROJECT


def tiny_mlp(seed: int = 0, latent: int = 4, arch: str = "mlp", output: str = "sigmoid"):
    torch.manual_seed(seed)
    return build_model(ModelConfig(arch, latent, (32,), (8,), output))


def random_data(n: int = 256, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g)  # (N, 1, 28, 28)
    y = torch.randint(0, 10, (n,), generator=g)
    return x, y


def learnable_data(n: int = 256, seed: int = 0):
    """Four fixed templates (the label decides which): an AE can learn them quickly."""
    g = torch.Generator().manual_seed(seed)
    templates = (torch.rand(4, 1, 28, 28, generator=g) > 0.5).float()
    y = torch.randint(0, 4, (n,), generator=g)
    return templates[y], y


def quiet_train(model, x, y, cfg, **kw):
    return train_model(model, x, y, cfg, progress=False, **kw)


# --------------------------------------------------------------------------- #
# inputs
# --------------------------------------------------------------------------- #


def test_to_model_input_unit_range():
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    images[0, 0, 1], images[0, 0, 2] = 128, 255
    x = to_model_input(images, "unit")
    assert x.shape == (2, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert x[0, 0, 0, 1].item() == pytest.approx(128 / 255)


def test_to_model_input_symmetric_range():
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    images[1] = 255
    images[2] = 51
    x = to_model_input(images, "symmetric")
    assert x.shape == (3, 1, 28, 28)
    assert (x[0] == -1).all() and (x[1] == 1).all()
    torch.testing.assert_close(x[2], torch.full((1, 28, 28), 51 / 255 * 2 - 1))


def test_to_model_input_accepts_tensors_and_rejects_unknown_range():
    images = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    assert (to_model_input(images, "unit") == 1).all()
    with pytest.raises(ValueError, match="input_range='zero_one'"):
        to_model_input(images, "zero_one")


def test_to_model_input_does_not_modify_its_input():
    images = np.full((2, 28, 28), 200, dtype=np.uint8)
    to_model_input(images, "symmetric")
    assert (images == 200).all()


def test_to_unit_range_inverts_symmetric():
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    unit = to_model_input(images, "unit")
    torch.testing.assert_close(to_unit_range(to_model_input(images, "symmetric"), "symmetric"), unit)
    assert to_unit_range(unit, "unit") is unit


# --------------------------------------------------------------------------- #
# split_validation
# --------------------------------------------------------------------------- #


def test_split_validation_sizes_disjoint_and_complete():
    train, val = split_validation(1000, 0.2, seed=42)
    assert len(train) == 800 and len(val) == 200
    assert not set(train) & set(val)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val])), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)  # sorted


def test_split_validation_is_seeded():
    a = split_validation(500, 0.2, seed=1)
    b = split_validation(500, 0.2, seed=1)
    c = split_validation(500, 0.2, seed=2)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    # A random split, not the last 20%.
    assert not np.array_equal(a[1], np.arange(400, 500))


def test_split_validation_zero_fraction():
    train, val = split_validation(10, 0.0, seed=0)
    np.testing.assert_array_equal(train, np.arange(10))
    assert len(val) == 0


@pytest.mark.parametrize("fraction", [1.0, -0.1, 1.5])
def test_split_validation_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match=f"val_fraction={fraction}"):
        split_validation(10, fraction, seed=0)


# --------------------------------------------------------------------------- #
# make_optimizer
# --------------------------------------------------------------------------- #


def test_make_optimizer_kinds():
    model = tiny_mlp()
    adam = make_optimizer(model, TrainConfig(8, 1, 0.01, weight_decay=0.1, optimizer="adam"), False)
    adamw = make_optimizer(model, TrainConfig(8, 1, 0.01, optimizer="adamw"), False)
    assert type(adam) is ForeachAdam and type(adamw) is ForeachAdam
    assert adam.options["lr"] == 0.01 and adam.options["weight_decay"] == 0.1
    assert not adam.options["decoupled_weight_decay"] and adamw.options["decoupled_weight_decay"]
    graph_safe = make_optimizer(model, TrainConfig(8, 1, 0.01, optimizer="adamw"), capturable=True)
    assert type(graph_safe) is torch.optim.Adam
    assert graph_safe.defaults["capturable"] and graph_safe.defaults["decoupled_weight_decay"]


@pytest.mark.parametrize(("kind", "reference"), [("adam", torch.optim.Adam), ("adamw", torch.optim.AdamW)])
def test_foreach_adam_steps_exactly_like_torch_optim(kind, reference):
    # Same kernel, same defaults: the weights agree bit for bit after several
    # steps, with weight decay (coupled for Adam, decoupled for AdamW).
    x, _ = random_data(16)
    models = [tiny_mlp(seed=5), tiny_mlp(seed=5)]
    ours = make_optimizer(models[0], TrainConfig(8, 1, 0.01, weight_decay=0.1, optimizer=kind), False)
    theirs = reference(models[1].parameters(), lr=0.01, weight_decay=0.1, foreach=True)
    for _ in range(5):
        for model, optimizer in zip(models, (ours, theirs), strict=True):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x)["recon"], x).backward()
            optimizer.step()
    for mine, ref in zip(models[0].parameters(), models[1].parameters(), strict=True):
        torch.testing.assert_close(mine, ref, rtol=0, atol=0)
    assert not torch.equal(next(models[0].parameters()), next(tiny_mlp(seed=5).parameters()))  # they moved


@pytest.mark.parametrize("reference", [None, torch.optim.AdamW])
def test_the_studies_adamw_decay_changes_no_float32_weight(reference):
    # Study 002's recipe: AdamW, lr 1e-3, weight decay 1e-5. The decoupled decay multiplies each weight by
    # 1 - 1e-8, which rounds to 1 in float32 (its spacing below 1 is 6e-8): with zero gradients (so Adam's own
    # update is 0) the weights stay bit for bit what they were. Claim C002-48 rests on this.
    model = tiny_mlp(seed=2)
    before = [p.detach().clone() for p in model.parameters()]
    if reference is None:
        optimizer = make_optimizer(model, TrainConfig(8, 1, 1e-3, weight_decay=1e-5, optimizer="adamw"), False)
    else:
        optimizer = reference(model.parameters(), lr=1e-3, weight_decay=1e-5, foreach=True)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    for _ in range(100):
        optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # At 1e-2 the same decay does move them: the rounding, not the optimizer, hides it.
    stronger = make_optimizer(model, TrainConfig(8, 1, 1e-3, weight_decay=1e-2, optimizer="adamw"), False)
    stronger.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_foreach_adam_leaves_parameters_without_gradient_alone():
    model = tiny_mlp(arch="classifier_mlp")
    optimizer = make_optimizer(model, TrainConfig(8, 1, 0.01, optimizer="adam"), False)
    head = [p.detach().clone() for p in model.classifier.parameters()]
    x, _ = random_data(8)
    torch.nn.functional.mse_loss(model(x)["recon"], x).backward()  # no loss through the head
    for p in model.classifier.parameters():
        p.grad = None
    optimizer.step()
    assert all(torch.equal(a, b) for a, b in zip(head, model.classifier.parameters(), strict=True))


def test_training_on_the_cpu_does_not_import_torch_dynamo():
    # torch._dynamo costs as long to import as torch: a train stage must not pay it.
    code = ("import sys, torch\n"
            "from latent_atlas.models.autoencoders import ModelConfig, build_model\n"
            "from latent_atlas.models.training import TrainConfig, train_model\n"
            "for arch, kind in (('classifier_mlp', 'adam'), ('small_conv', 'adamw')):\n"
            "    model = build_model(ModelConfig(arch, 4, (8,), (8,)))\n"
            "    x = torch.rand(8, 1, 28, 28)\n"
            "    train_model(model, x, torch.zeros(8, dtype=torch.long), TrainConfig(4, 1, 1e-3, optimizer=kind),\n"
            "                progress=False)\n"
            "print(sorted(m for m in sys.modules if m.startswith('torch._dynamo')))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_make_optimizer_rejects_unknown():
    with pytest.raises(ValueError, match=r"optimizer='sgd' is not allowed; use one of \['adam', 'adamw'\]"):
        make_optimizer(tiny_mlp(), TrainConfig(8, 1, 0.01, optimizer="sgd"), capturable=False)


# --------------------------------------------------------------------------- #
# train_model
# --------------------------------------------------------------------------- #


def test_train_model_rows_per_epoch_with_finite_losses():
    x, y = random_data(256)
    history = quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=2, lr=1e-3))
    assert [row["epoch"] for row in history] == [1, 2]
    for row in history:
        assert set(row) == {"epoch", "train_loss", "train_recon_mse", "seconds"}
        assert math.isfinite(row["train_loss"]) and row["train_loss"] > 0
        assert row["train_loss"] == row["train_recon_mse"]  # no classifier: loss is the MSE


def test_train_model_reduces_the_loss_on_a_learnable_problem():
    x, y = learnable_data(256)
    model = tiny_mlp()
    before = torch.nn.functional.mse_loss(model(x)["recon"], x).item()
    history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=5, lr=3e-3))
    losses = [row["train_loss"] for row in history]
    assert losses[-1] < 0.5 * losses[0]
    assert losses[-1] < 0.5 * before
    with torch.no_grad():
        after = torch.nn.functional.mse_loss(model(x)["recon"], x).item()
    assert after < 0.5 * before
    assert not model.training  # left in eval mode


def test_train_model_changes_the_weights_in_place():
    x, y = random_data(64)
    model = tiny_mlp()
    before = [p.detach().clone() for p in model.parameters()]
    quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=1, lr=1e-3))
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_train_model_is_deterministic_on_cpu():
    x, y = random_data(128)
    cfg = TrainConfig(batch_size=32, epochs=2, lr=1e-3, seed=7)
    runs = []
    for _ in range(2):
        model = tiny_mlp(seed=3)
        history = quiet_train(model, x, y, cfg)
        runs.append(([{k: v for k, v in r.items() if k != "seconds"} for r in history], model.state_dict()))
    assert runs[0][0] == runs[1][0]
    for key in runs[0][1]:
        torch.testing.assert_close(runs[0][1][key], runs[1][1][key], rtol=0, atol=0)
    # ... and the batch order follows cfg.seed.
    other = quiet_train(tiny_mlp(seed=3), x, y, TrainConfig(batch_size=32, epochs=2, lr=1e-3, seed=8))
    assert [r["train_loss"] for r in other] != [r["train_loss"] for r in runs[0][0]]


def test_classifier_records_train_nll():
    x, y = learnable_data(128)
    model = tiny_mlp(arch="classifier_mlp")
    history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=3, lr=3e-3, class_weight=1.0))
    for row in history:
        assert {"train_loss", "train_recon_mse", "train_nll"} <= set(row)
        assert math.isfinite(row["train_nll"]) and row["train_nll"] > 0
        # loss = mse + class_weight * nll, averaged over the same images.
        assert row["train_loss"] == pytest.approx(row["train_recon_mse"] + row["train_nll"], rel=1e-5)
    assert history[-1]["train_nll"] < history[0]["train_nll"]


def test_class_weight_scales_the_nll_term():
    x, y = learnable_data(64)
    history = quiet_train(tiny_mlp(arch="classifier_mlp"), x, y,
                          TrainConfig(batch_size=32, epochs=1, lr=1e-3, class_weight=0.0))
    assert history[0]["train_loss"] == pytest.approx(history[0]["train_recon_mse"], rel=1e-6)


def test_last_partial_batch_is_trained_and_counted():
    # 100 = 3 * 32 + 4: the last batch has 4 images.
    x, y = learnable_data(100)
    model = tiny_mlp()
    steps = []
    model.register_forward_hook(lambda module, inputs, output: steps.append(len(inputs[0])))
    history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=2, lr=1e-3))
    assert steps == [32, 32, 32, 4] * 2
    assert len(history) == 2 and all(math.isfinite(r["train_loss"]) for r in history)


def test_epoch_loss_is_the_mean_over_images_not_batches():
    # With lr=0 the weights never move, so the epoch loss must equal the full-data MSE
    # (a mean over the 100 images, weighting the last, smaller batch by its size).
    x, y = random_data(100)
    model = tiny_mlp()
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(model(x)["recon"], x).item()
    history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=1, lr=0.0))
    assert history[0]["train_loss"] == pytest.approx(expected, rel=1e-5)


def test_batch_size_larger_than_data_raises():
    x, y = random_data(16)
    with pytest.raises(ValueError, match=r"batch_size=32 is larger than the 16 training images"):
        quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=1, lr=1e-3))


def test_batch_size_equal_to_data_is_fine():
    x, y = random_data(16)
    history = quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=16, epochs=1, lr=1e-3))
    assert len(history) == 1


def test_huge_learning_rate_raises_diverged():
    x, y = random_data(256)
    torch.manual_seed(0)
    model = build_model(ModelConfig("small_conv", 4))
    with pytest.raises(TrainingDivergedError, match=r"epoch 1\b.*lower the learning rate"):
        quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=3, lr=1e6))


def test_nan_in_the_data_raises_diverged():
    x, y = random_data(64)
    x[5, 0, 3, 3] = float("nan")
    with pytest.raises(TrainingDivergedError, match=r"became nan in epoch 1\b"):
        quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=2, lr=1e-3))


def test_divergence_names_the_epoch_it_happens_in():
    x, y = random_data(64)
    seen = []

    def poison_after_first_epoch(row):
        seen.append(row["epoch"])
        x[0, 0, 0, 0] = float("inf")  # x is the training tensor itself

    with pytest.raises(TrainingDivergedError, match=r"in epoch 2\b"):
        quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=4, lr=1e-3),
                    on_epoch=poison_after_first_epoch)
    assert seen == [1]


def test_validation_rows_present_with_x_val():
    x, y = learnable_data(160)
    x_val, y_val = x[128:], y[128:]
    history = quiet_train(tiny_mlp(arch="classifier_mlp"), x[:128], y[:128],
                          TrainConfig(batch_size=32, epochs=2, lr=1e-3), x_val=x_val, y_val=y_val)
    for row in history:
        assert {"val_loss", "val_recon_mse", "val_nll"} <= set(row)
        assert all(math.isfinite(row[k]) for k in ("val_loss", "val_recon_mse", "val_nll"))


def test_validation_loss_is_computed_on_the_validation_data():
    x, y = learnable_data(96)
    model = tiny_mlp()
    history = quiet_train(model, x[:64], y[:64], TrainConfig(batch_size=32, epochs=1, lr=1e-3),
                          x_val=x[64:], y_val=y[64:])
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(model(x[64:])["recon"], x[64:]).item()
    assert history[-1]["val_recon_mse"] == pytest.approx(expected, rel=1e-5)


def test_no_validation_rows_without_x_val():
    x, y = random_data(64)
    history = quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=1, lr=1e-3),
                          x_val=x[:0], y_val=y[:0])
    assert not any(k.startswith("val_") for k in history[0])


def test_on_epoch_gets_every_row():
    x, y = random_data(64)
    rows = []
    history = quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=3, lr=1e-3),
                          on_epoch=rows.append)
    assert rows == history


def test_history_csv_reads_back_as_the_rows():
    import csv
    import io

    history = [{"epoch": 1, "train_loss": 0.08512139320373535, "seconds": 1e-05},
               {"epoch": 2, "train_loss": 0.5, "seconds": 2.0}]
    text = history_csv(history)
    # The validation column is always there, empty without a validation split: a plot
    # reading val_loss over every variant's file finds it in each.
    assert text.splitlines()[0] == "epoch,train_loss,val_loss,seconds"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row.pop("val_loss") for row in rows] == ["", ""]
    assert [{k: float(v) for k, v in row.items()} for row in rows] == history  # floats round-trip exactly


def test_history_columns_follow_the_loss_terms():
    row = {"epoch": 1, "train_loss": 1.0, "train_recon_mse": 0.5, "train_nll": 0.5, "seconds": 0.1}
    assert history_columns(row) == ["epoch", "train_loss", "train_recon_mse", "train_nll", "val_loss",
                                    "val_recon_mse", "val_nll", "seconds"]


def test_history_csv_names_a_missing_column():
    with pytest.raises(ValueError, match="row 2 has no value in column 'train_loss'"):
        history_csv([{"epoch": 1, "train_loss": 0.5, "seconds": 1.0}, {"epoch": 2, "seconds": 1.0}])


def test_live_history_holds_every_finished_epoch_when_training_fails(tmp_path):
    """The file grows an epoch at a time; a training that dies keeps the epochs it finished."""
    import csv

    x, y = random_data(64)
    path = tmp_path / "history.csv"
    live = LiveHistory(path)
    seen = []

    def watch_then_fail(row):
        live.append(row)
        with open(path, newline="") as fh:
            seen.append(len(list(csv.DictReader(fh))))
        if row["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quiet_train(tiny_mlp(), x, y, TrainConfig(batch_size=32, epochs=10, lr=1e-3), on_epoch=watch_then_fail)
    assert seen == [1, 2, 3]
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["train_loss"]) for r in rows] == [r["train_loss"] for r in live.rows]
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary left


def test_epoch_losses_drop_the_timings_only():
    history = [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.6, "seconds": 1.25}]
    assert epoch_losses(history) == [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.6}]
    assert history[0]["seconds"] == 1.25  # the caller's rows are left as they were


# --------------------------------------------------------------------------- #
# memory format
# --------------------------------------------------------------------------- #


def test_channels_last_trains_to_the_same_loss_as_contiguous():
    # A memory format changes how convolutions run, not what they compute: the
    # same seed gives the same losses and weights to float rounding.
    x, y = learnable_data(96)
    runs = {}
    for nhwc in (False, True):
        torch.manual_seed(0)
        model = build_model(ModelConfig("small_conv", 4))
        history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=2, lr=1e-3, cpu_channels_last=nhwc))
        runs[nhwc] = [row["train_loss"] for row in history], model
    assert runs[False][0] == pytest.approx(runs[True][0], rel=1e-4)
    assert runs[False][0][1] != runs[False][0][0]  # it trained
    for a, b in zip(runs[False][1].parameters(), runs[True][1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert b.is_contiguous()  # handed back in the usual layout, as checkpoints store it


def test_channels_last_is_used_for_conv_models_on_the_cpu():
    seen = []
    for arch in ("small_conv", "mlp"):
        model = build_model(ModelConfig(arch, 4, (8,) if arch == "mlp" else ()))
        # A layer with several input channels: with one, both layouts have the same strides.
        layer = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1
                     or isinstance(m, torch.nn.Linear))
        layer.register_forward_pre_hook(lambda module, inputs: seen.append(
            module.weight.dim() == 4 and module.weight.is_contiguous(memory_format=torch.channels_last)
            and not module.weight.is_contiguous()))
        x, y = random_data(8)
        quiet_train(model, x, y, TrainConfig(batch_size=8, epochs=1, lr=1e-3))
    assert seen == [True, False]


# --------------------------------------------------------------------------- #
# the train stage: identical inputs, identical checkpoint bytes
# --------------------------------------------------------------------------- #


def tiny_workspace(root, variant: str):
    """data/mnist.npz of random digits, metrics/data.json, params.yaml: what the train stage reads."""
    import yaml
    from tests_support import tiny_params

    from latent_atlas import paths
    from latent_atlas.config import load_params
    from latent_atlas.data.mnist import TEST, TRAIN, MNISTArrays, save_arrays
    from latent_atlas.io import write_json

    rng = np.random.default_rng(0)
    split = np.array([TRAIN] * 64 + [TEST] * 16, dtype=np.uint8)
    data = MNISTArrays(rng.integers(0, 256, (80, 28, 28), dtype=np.uint8),
                       rng.integers(0, 10, 80, dtype=np.uint8), split, "random")
    checksum = save_arrays(root / paths.MNIST, data)
    write_json(root / paths.MNIST_INFO, {"source": "random", "checksum_sha256": checksum})
    (root / "params.yaml").write_text(yaml.safe_dump(tiny_params((variant,))))
    return load_params(root / "params.yaml")


@pytest.mark.parametrize("variant", ["classifier", "small_conv"])
def test_train_stage_twice_gives_byte_identical_checkpoints(tmp_path, monkeypatch, variant):
    import argparse

    from latent_atlas import paths

    monkeypatch.syspath_prepend(str(PROJECT))  # the stage scripts' package
    from stages import train

    monkeypatch.chdir(tmp_path)
    params = tiny_workspace(tmp_path, variant)
    args = argparse.Namespace(variant=variant, params="params.yaml")
    train.main(args, params)
    first = paths.checkpoint(variant).read_bytes()
    train.main(args, params)
    assert paths.checkpoint(variant).read_bytes() == first
    # The wall-clock time is kept, in the metrics file rather than the checkpoint.
    assert json.loads(paths.train_metrics(variant).read_text())["train_seconds"] > 0


def test_cpu_training_uses_the_configured_threads_and_restores_them():
    x, y = random_data(16)
    before = torch.get_num_threads()
    for threads, expected in ((1, 1), (None, before)):
        seen = []
        model = tiny_mlp()
        model.register_forward_pre_hook(lambda module, inputs, seen=seen: seen.append(torch.get_num_threads()))
        quiet_train(model, x, y, TrainConfig(batch_size=8, epochs=1, lr=1e-3, cpu_threads=threads))
        assert set(seen) == {expected}
        assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- #
# the VAE objective and the sparse penalty
# --------------------------------------------------------------------------- #


def tiny_vae(seed: int = 0, latent: int = 3, arch: str = "vae_mlp"):
    torch.manual_seed(seed)
    return build_model(ModelConfig(arch, latent, (32,) if arch == "vae_mlp" else ()))


def test_vae_loss_terms_are_the_summed_bce_plus_beta_kl_per_image():
    x = random_data(4)[0]
    logits = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    mu, logvar = torch.tensor([[0.0, 1.0]] * 4), torch.tensor([[0.0, 0.0]] * 4)  # KL 0 + 0.5 per image
    out = {"latent": mu, "logvar": logvar, "recon_logits": logits, "recon": torch.sigmoid(logits)}
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum") / 4
    terms = loss_terms(out, x, torch.zeros(4, dtype=torch.long), TrainConfig(8, 1, 1e-3, beta=4.0))
    torch.testing.assert_close(terms["recon_bce"], bce)
    torch.testing.assert_close(terms["kl"], torch.tensor(0.5))
    torch.testing.assert_close(terms["loss"], bce + 4.0 * 0.5)


@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_a_vae_trains_on_the_elbo_with_seeded_noise(beta):
    x, y = learnable_data(128)
    cfg = TrainConfig(batch_size=32, epochs=6, lr=1e-2, beta=beta, seed=5)
    runs = []
    for _ in range(2):
        model = tiny_vae()
        torch.manual_seed(11)  # the reparameterisation noise comes from the default generator
        runs.append((quiet_train(model, x, y, cfg), model))
    history = runs[0][0]
    for row in history:
        assert set(row) == {"epoch", "train_loss", "train_recon_bce", "train_kl", "seconds"}
        assert row["train_loss"] == pytest.approx(row["train_recon_bce"] + beta * row["train_kl"], rel=1e-5)
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    for a, b in zip(runs[0][1].parameters(), runs[1][1].parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)  # same seeds, same noise, same weights


def test_a_vae_whose_posterior_collapses_still_finishes_with_no_active_unit():
    from latent_atlas.analysis.likelihood import likelihood_metrics
    from latent_atlas.models.likelihood import likelihood_bounds

    x, y = random_data(64)
    model = tiny_vae()
    # A KL weight this large drives every unit to the prior: KL -> 0 on every unit.
    history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=10, lr=1e-2, beta=1e4))
    assert history[-1]["train_kl"] < 0.01 * history[0]["train_kl"]
    with torch.no_grad():
        mu = model.encode(x).numpy()
    metrics, _ = likelihood_metrics(likelihood_bounds(model, x, k=2, seed=0), mu, k=2, threshold=0.01)
    assert (metrics["active_units"], metrics["posterior_collapse"]) == (0, 1)
    assert math.isfinite(metrics["test_nll_iwae"]) and math.isfinite(metrics["test_neg_elbo"])


def test_the_sparse_penalty_is_added_to_the_reconstruction_and_shrinks_the_code():
    x, y = learnable_data(64)
    codes = {}
    for weight in (0.0, 3e-4):
        torch.manual_seed(0)
        model = build_model(ModelConfig("sparse_mlp", 6, (32,)))
        history = quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=3, lr=1e-3, sparsity_weight=weight))
        for row in history:
            if weight:
                assert set(row) == {"epoch", "train_loss", "train_recon_mse", "train_l1", "seconds"}
                assert row["train_loss"] == pytest.approx(row["train_recon_mse"] + weight * row["train_l1"], rel=1e-5)
            else:
                assert "train_l1" not in row
        with torch.no_grad():
            codes[weight] = model.encode(x).abs().sum(dim=1).mean().item()
    assert 0 < codes[3e-4] < codes[0.0]


def test_a_diverging_vae_names_the_variant_and_the_epoch():
    import dataclasses

    from tests_support import tiny_params

    from latent_atlas.config import parse_params
    from latent_atlas.models.training import train_variant

    raw = tiny_params(("vae",))
    raw["variants"]["vae"]["lr"] = 10.0
    params = parse_params(raw)
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    cfg = dataclasses.replace(TrainConfig(batch_size=32, epochs=3, lr=10.0), seed=0)
    with pytest.raises(TrainingDivergedError, match=r"^variant vae: training loss became (nan|inf) in epoch \d.*"
                                                    r"variants\.vae\.lr"):
        train_variant(params, "vae", images, np.zeros(64, dtype=np.int64), torch.device("cpu"), progress=False,
                      cfg=cfg)


def test_binarize_trains_on_a_fresh_bernoulli_draw_each_step():
    x, y = random_data(64)
    seen = []
    model = tiny_vae()
    model.encoder.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].clone()))
    quiet_train(model, x, y, TrainConfig(batch_size=32, epochs=2, lr=1e-3, binarize=True))
    assert len(seen) == 4 and all(set(batch.unique().tolist()) == {0.0, 1.0} for batch in seen)
    # Each image's pixels are 1 with its grey level as the probability.
    assert abs(torch.cat(seen).mean().item() - x.mean().item()) < 0.01
