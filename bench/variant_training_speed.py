"""Benchmark: every default variant's training, as the pipeline's train stages run it.

Trains each variant of params.yaml (the studies' recipes) on full MNIST with
the same code path as stages/train.py, minus MLflow and DVC bookkeeping, and
prints per-variant and total training seconds (graph capture / warm-up
included) and the per-step cost.

    python bench/variant_training_speed.py [--mnist ../shared/datasets/mnist] [--device auto] [--only a,b]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from latent_atlas.config import load_params
from latent_atlas.data.mnist import TRAIN
from latent_atlas.data.sources import load_local
from latent_atlas.models.training import resolve_device, train_config, train_variant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/datasets/mnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--only", default="", help="comma-separated variants (default: all)")
    parser.add_argument("--no-graph", action="store_true", help="disable CUDA-graph capture")
    args = parser.parse_args()
    params = load_params(args.params)
    device = resolve_device(args.device)
    images, labels = load_local(args.mnist).subset(TRAIN)
    names = [n for n in params.variants if not args.only or n in args.only.split(",")]
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'}), "
          f"torch {torch.__version__}, {len(labels)} training images")
    total_start, total_steps = time.perf_counter(), 0
    for name in names:
        variant = params.variants[name]
        start = time.perf_counter()
        cfg = train_config(params, name, device)
        trained = train_variant(params, name, images, labels, device, progress=False,
                                cfg=replace(cfg, cuda_graph=cfg.cuda_graph and not args.no_graph))
        seconds = time.perf_counter() - start
        steps = variant.epochs * -(-trained.n_train // variant.batch_size)
        total_steps += steps
        final = trained.history[-1]["train_loss"]
        print(f"{name:<14} {variant.epochs:3d} epochs {steps:7d} steps {seconds:8.1f} s "
              f"{1e3 * seconds / steps:7.3f} ms/step  final train loss {final:.5f}", flush=True)
    total = time.perf_counter() - total_start
    print(f"TOTAL          {total_steps:19d} steps {total:8.1f} s {1e3 * total / total_steps:7.3f} ms/step")


if __name__ == "__main__":
    main()
