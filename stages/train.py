"""Stage train: one autoencoder variant, in memory.

Writes models/<variant>.pt (weights + model config + params + data checksum)
and metrics/train/<variant>.{csv,json}.
"""

import torch

from latent_atlas import paths
from latent_atlas.cli import run_stage
from latent_atlas.data.mnist import TRAIN, load_arrays
from latent_atlas.errors import ConfigError
from latent_atlas.executions import mark_executed
from latent_atlas.io import read_json, write_json, write_text
from latent_atlas.models.autoencoders import build_model, count_parameters
from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint
from latent_atlas.models.training import (
    epoch_losses,
    history_csv,
    resolve_device,
    split_validation,
    to_model_input,
    train_model,
)


def main(args, params):
    name = args.variant
    variant = params.variant(name)
    info = read_json(paths.MNIST_INFO)
    images, labels = load_arrays(paths.MNIST).subset(TRAIN)
    train_idx, val_idx = split_validation(len(labels), variant.val_fraction, params.seed)
    if variant.batch_size > len(train_idx):
        raise ConfigError(f"variants.{name}.batch_size={variant.batch_size} is larger than the "
                         f"{len(train_idx)} training images; use at most {len(train_idx)}")

    device = resolve_device(params.train.device)
    torch.manual_seed(params.seed)
    config = params.model_config_of(name)
    model = build_model(config).to(device)
    x = to_model_input(images, variant.input_range).to(device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    cfg = params.train_config_of(name, device)
    n_params = count_parameters(model)
    run_params = {**variant.model_dump(), "variant": name, "seed": params.seed, "latent_dim": config.latent_dim,
                  "n_params": n_params, "device": device.type, "data_source": info["source"]}
    history = train_model(
        model, x[train_idx], y[train_idx], cfg,
        x_val=x[val_idx] if len(val_idx) else None, y_val=y[val_idx] if len(val_idx) else None,
    )
    train_seconds = sum(row["seconds"] for row in history)
    ckpt = Checkpoint(model_config=config.to_dict(), state_dict={k: v.cpu() for k, v in model.state_dict().items()},
                      variant=name, params=run_params, input_range=variant.input_range,
                      data_checksum=info["checksum_sha256"], data_source=info["source"],
                      history=epoch_losses(history))
    save_checkpoint(paths.checkpoint(name), ckpt)
    write_text(paths.history(name), history_csv(history))
    final = {"n_params": n_params, "latent_dim": config.latent_dim, "train_seconds": train_seconds,
             **{f"final_{k}": v for k, v in history[-1].items() if k not in ("epoch", "seconds")}}
    write_json(paths.train_metrics(name), final)
    mark_executed("train", name)
    print(f"{name}: {n_params} parameters, {len(history)} epochs in {train_seconds:.1f} s, "
          f"final train loss {history[-1]['train_loss']:.5f}")


if __name__ == "__main__":
    run_stage(main, __doc__, variant=True)
