"""Stage train: one autoencoder variant, in memory, tracked in MLflow.

Writes models/<variant>.pt (weights + model config + params + data checksum)
and metrics/train/<variant>.{csv,json}.
"""

import json
from pathlib import Path

import pandas as pd
import torch

from latent_atlas import paths, tracking
from latent_atlas.cli import run_stage
from latent_atlas.data import TRAIN, load_arrays
from latent_atlas.io import write_json, write_text
from latent_atlas.models import (
    Checkpoint,
    ModelConfig,
    build_model,
    count_parameters,
    save_checkpoint,
)
from latent_atlas.training import (
    TrainConfig,
    resolve_device,
    split_validation,
    to_model_input,
    train_model,
)


def main(args, params):
    name = args.variant
    variant = params.variant(name)
    info = json.loads(paths.MNIST_INFO.read_text())
    images, labels = load_arrays(paths.MNIST).subset(TRAIN)
    train_idx, val_idx = split_validation(len(labels), variant.val_fraction, params.seed)
    if variant.batch_size > len(train_idx):
        raise ValueError(f"variants.{name}.batch_size={variant.batch_size} is larger than the "
                         f"{len(train_idx)} training images; use at most {len(train_idx)}")

    device = resolve_device(params.train.device)
    torch.manual_seed(params.seed)
    config = ModelConfig(arch=variant.arch, latent_dim=params.latent_dim_of(name), hidden=tuple(variant.hidden),
                         head_hidden=tuple(variant.head_hidden), output=variant.output)
    model = build_model(config).to(device)
    x = to_model_input(images, variant.input_range).to(device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    use_graph = params.train.cuda_graph in ("auto", "on", True) and device.type == "cuda"
    cfg = TrainConfig(batch_size=variant.batch_size, epochs=variant.epochs, lr=variant.lr,
                      weight_decay=variant.weight_decay, optimizer=variant.optimizer,
                      class_weight=variant.class_weight, seed=params.seed, cuda_graph=use_graph,
                      compile_cpu=params.train.compile_cpu)
    n_params = count_parameters(model)
    run_params = {**variant.model_dump(), "variant": name, "seed": params.seed, "latent_dim": config.latent_dim,
                  "n_params": n_params, "device": device.type, "data_source": info["source"]}
    params_text = Path(args.params).read_text()
    tags = {"data_source": info["source"], "data_checksum": info["checksum_sha256"], "stage": "train"}

    import mlflow

    with tracking.start_variant_run(name, params_text, tags) as run:
        tracking.log_params_flat(run_params)
        history = train_model(
            model, x[train_idx], y[train_idx], cfg,
            x_val=x[val_idx] if len(val_idx) else None, y_val=y[val_idx] if len(val_idx) else None,
            on_epoch=lambda row: mlflow.log_metrics(
                {k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"])),
        )
        train_seconds = sum(row["seconds"] for row in history)
        ckpt = Checkpoint(model_config=config.to_dict(), state_dict={k: v.cpu() for k, v in model.state_dict().items()},
                          variant=name, params=run_params, input_range=variant.input_range,
                          data_checksum=info["checksum_sha256"], data_source=info["source"], history=history,
                          train_seconds=train_seconds, mlflow_run_id=run.info.run_id)
        save_checkpoint(paths.checkpoint(name), ckpt)
        write_text(paths.history(name), pd.DataFrame(history).to_csv(index=False))
        final = {"n_params": n_params, "latent_dim": config.latent_dim, "train_seconds": train_seconds,
                 **{f"final_{k}": v for k, v in history[-1].items() if k not in ("epoch", "seconds")}}
        write_json(paths.train_metrics(name), final)
        mlflow.log_metrics({k: v for k, v in final.items() if k != "latent_dim"})
        mlflow.log_artifact(str(paths.checkpoint(name)), "checkpoint")
        mlflow.log_artifact(str(paths.history(name)), "history")
        tracking.log_model(model.cpu().eval())
    print(f"{name}: {n_params} parameters, {len(history)} epochs in {train_seconds:.1f} s, "
          f"final train loss {history[-1]['train_loss']:.5f}")


if __name__ == "__main__":
    # tracked: check MLFLOW_TRACKING_URI's server before loading data or training.
    run_stage(main, __doc__, variant=True, tracked=True)
