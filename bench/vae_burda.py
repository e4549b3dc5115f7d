"""Benchmark (GPU): Burda et al. (2015)'s VAE protocol through this project's loop and bounds.

Burda, Grosse & Salakhutdinov (2015), "Importance weighted autoencoders",
Table 1, one stochastic layer: a VAE 784-200-200-50 with tanh hidden units,
trained on dynamically binarised MNIST (a fresh Bernoulli draw of every image
at every step) with Adam, batch 20, for 3^i epochs at learning rate
0.001 x 10^(-i/7), i = 0..7 (3,280 epochs); the test negative log-likelihood,
estimated with k = 5,000 importance samples, is 86.76 nats for the VAE (k = 1).

Here: the same network (models.autoencoders, vae_mlp with tanh), the same
data handling (TrainConfig.binarize), batch, schedule and epochs, trained by
models.training.train_model (CUDA-graph replay on a GPU); the bound is
models.likelihood.iwae_nll on the test images binarised once (seeded). Known
differences: Adam's epsilon is torch's 1e-8 (Burda et al.: 1e-4), and each
schedule stage starts a fresh Adam (moments reset), as train_model builds its
optimizer per call. --max-epochs caps the run (each stage keeps at least one
epoch) to try the bench on a CPU.

    python bench/vae_burda.py --mnist ../shared/datasets/mnist [--device auto] [--k 5000] [--max-epochs N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from latent_atlas.data.mnist import TEST, TRAIN
from latent_atlas.data.sources import load_local
from latent_atlas.models.autoencoders import ModelConfig, build_model, count_parameters
from latent_atlas.models.likelihood import iwae_nll, neg_elbo
from latent_atlas.models.training import TrainConfig, resolve_device, to_model_input, train_model

NETWORK = ModelConfig("vae_mlp", 50, (200, 200), activation="tanh")
BATCH_SIZE = 20
STAGES = 8  # i = 0..7: 3^i epochs at 1e-3 * 10^(-i/7)
PAPER_NLL = 86.76  # Table 1, VAE, one stochastic layer, k = 1


def schedule(max_epochs: int | None) -> list[tuple[int, float]]:
    """(epochs, learning rate) per stage; a cap shrinks the later stages first, one epoch each at least."""
    stages = [(3**i, 1e-3 * 10 ** (-i / 7)) for i in range(STAGES)]
    if max_epochs is None:
        return stages
    budget, out = max(max_epochs, STAGES), []
    for i, (epochs, lr) in enumerate(stages):
        take = max(1, min(epochs, budget - sum(e for e, _ in out) - (STAGES - i - 1)))
        out.append((take, lr))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/datasets/mnist")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--k", type=int, default=5000, help="importance samples of the final bound")
    parser.add_argument("--stage-k", type=int, default=100, help="importance samples after each stage")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap the 3,280 epochs (a CPU try-out)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = load_local(args.mnist)
    (train_images, labels), (test_images, _) = data.subset(TRAIN), data.subset(TEST)
    x = to_model_input(train_images, "unit").to(device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    x_test = torch.bernoulli(to_model_input(test_images, "unit"), generator=torch.Generator().manual_seed(args.seed))
    x_test = x_test.to(device)
    torch.manual_seed(args.seed)
    model = build_model(NETWORK).to(device)
    plan = schedule(args.max_epochs)
    print(f"device {device}, {count_parameters(model):,} weights, {sum(e for e, _ in plan)} epochs in "
          f"{len(plan)} stages, batch {BATCH_SIZE}", flush=True)
    done, start = 0, time.perf_counter()
    for stage, (epochs, lr) in enumerate(plan):
        cfg = TrainConfig(batch_size=BATCH_SIZE, epochs=epochs, lr=lr, seed=args.seed + stage, binarize=True,
                          cuda_graph=device.type == "cuda", cpu_threads=None)
        history = train_model(model, x, y, cfg, progress=False)
        done += epochs
        elbo = neg_elbo(model, x_test, generator=torch.Generator().manual_seed(stage))["neg_elbo"].mean()
        nll = iwae_nll(model, x_test, k=args.stage_k, generator=torch.Generator().manual_seed(stage)).mean()
        print(f"stage {stage}: {epochs} epochs at lr {lr:.2e} (total {done}), train -ELBO "
              f"{history[-1]['train_loss']:.2f}, test -ELBO {elbo:.2f}, IWAE NLL (k={args.stage_k}) {nll:.2f}, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    with torch.no_grad():
        mu = model.encode(x_test).cpu().numpy()
    active = int(np.sum(mu.var(axis=0) > 0.01))
    nll = iwae_nll(model, x_test, k=args.k, generator=torch.Generator().manual_seed(args.seed)).mean()
    print(f"after {done} epochs: test NLL {nll:.2f} nats (IWAE bound, k={args.k}); Burda et al. report "
          f"{PAPER_NLL} after 3280 epochs ({nll - PAPER_NLL:+.2f}); {active} of {NETWORK.latent_dim} units active")


if __name__ == "__main__":
    main()
