"""Stage train: one autoencoder variant, in memory.

Writes models/<variant>.pt (weights + model config + params + data checksum)
and metrics/train/<variant>.{csv,json}. The history CSV grows by one row per
epoch while the model trains, so DVC and its VS Code extension plot the curve
live. A training that fails or is stopped is recorded in MLflow as it ends,
with the epochs it completed; a finished one is recorded by `track`.
"""

from latent_atlas import paths
from latent_atlas.cli import Terminated, one_line, run_stage, sigterm_raises
from latent_atlas.data.mnist import TRAIN, load_arrays
from latent_atlas.executions import mark_executed, now_ms
from latent_atlas.io import read_json, write_json
from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint
from latent_atlas.models.training import LiveHistory, epoch_losses, resolve_device, train_variant


def record_failure(name, params, start_ms, exc):
    """The failed training, in MLflow: FAILED, or KILLED when stopped by a signal."""
    # MLflow's import costs about 1.8 s: only a training that fails pays it.
    from latent_atlas.tracking import record, runs

    status = "KILLED" if isinstance(exc, KeyboardInterrupt | Terminated) else "FAILED"
    failure = record.training_failure(name, params, start_ms, status, f"{type(exc).__name__}: {one_line(exc)}")
    runs.log_failed_training(failure)


def main(args, params):
    name = args.variant
    variant = params.variant(name)
    info = read_json(paths.MNIST_INFO)
    images, labels = load_arrays(paths.MNIST).subset(TRAIN)
    device = resolve_device(params.train.device)
    history = LiveHistory(paths.history(name))
    start_ms = now_ms()
    try:
        with sigterm_raises():
            trained = train_variant(params, name, images, labels, device, on_epoch=history.append)
    except BaseException as exc:
        record_failure(name, params, start_ms, exc)
        raise
    run_params = {**variant.model_dump(), "variant": name, "seed": params.seed, "latent_dim": trained.config.latent_dim,
                  "n_params": trained.n_params, "device": device.type, "data_source": info["source"]}
    ckpt = Checkpoint(model_config=trained.config.to_dict(),
                      state_dict={k: v.cpu() for k, v in trained.model.state_dict().items()},
                      variant=name, params=run_params, input_range=variant.input_range,
                      data_checksum=info["checksum_sha256"], data_source=info["source"],
                      history=epoch_losses(trained.history))
    save_checkpoint(paths.checkpoint(name), ckpt)
    last = trained.history[-1]
    # Seconds per epoch compare variants trained on the same machine (device and threads recorded beside).
    final = {"n_params": trained.n_params, "latent_dim": trained.config.latent_dim, "train_seconds": trained.seconds,
             "seconds_per_epoch": trained.seconds / len(trained.history), "device": device.type,
             "threads": trained.threads, **{f"final_{k}": v for k, v in last.items() if k not in ("epoch", "seconds")}}
    write_json(paths.train_metrics(name), final)
    mark_executed("train", name, start_ms)
    print(f"{name}: {trained.n_params} parameters, {len(trained.history)} epochs in {trained.seconds:.1f} s, "
          f"final train loss {last['train_loss']:.5f}")


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)
