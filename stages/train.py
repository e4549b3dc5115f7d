"""Stage train: one autoencoder variant, in memory.

Writes models/<variant>.pt (weights + model config + params + data checksum)
and metrics/train/<variant>.{csv,json}.
"""

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TRAIN, load_arrays
from latent_atlas.executions import mark_executed
from latent_atlas.io import read_json, write_json, write_text
from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint
from latent_atlas.models.training import epoch_losses, history_csv, resolve_device, train_variant


def main(args, params):
    name = args.variant
    variant = params.variant(name)
    info = read_json(paths.MNIST_INFO)
    images, labels = load_arrays(paths.MNIST).subset(TRAIN)
    device = resolve_device(params.train.device)
    trained = train_variant(params, name, images, labels, device)
    history = trained.history
    run_params = {**variant.model_dump(), "variant": name, "seed": params.seed, "latent_dim": trained.config.latent_dim,
                  "n_params": trained.n_params, "device": device.type, "data_source": info["source"]}
    ckpt = Checkpoint(model_config=trained.config.to_dict(),
                      state_dict={k: v.cpu() for k, v in trained.model.state_dict().items()},
                      variant=name, params=run_params, input_range=variant.input_range,
                      data_checksum=info["checksum_sha256"], data_source=info["source"],
                      history=epoch_losses(history))
    save_checkpoint(paths.checkpoint(name), ckpt)
    write_text(paths.history(name), history_csv(history))
    final = {"n_params": trained.n_params, "latent_dim": trained.config.latent_dim, "train_seconds": trained.seconds,
             **{f"final_{k}": v for k, v in history[-1].items() if k not in ("epoch", "seconds")}}
    write_json(paths.train_metrics(name), final)
    mark_executed("train", name)
    print(f"{name}: {trained.n_params} parameters, {len(history)} epochs in {trained.seconds:.1f} s, "
          f"final train loss {history[-1]['train_loss']:.5f}")


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)
