"""Check: CUDA-graph training gives the same weights as the eager loop (GPU only).

Trains the same model twice from the same seed, once eager and once with the
captured step, and prints the largest weight difference and both loss curves.
"""

from __future__ import annotations

import torch

from latent_atlas.models import ModelConfig, build_model
from latent_atlas.training import TrainConfig, train_model


def run(cuda_graph: bool, x, y, cfg_kwargs):
    torch.manual_seed(0)
    model = build_model(ModelConfig("classifier_mlp", 16, (128,), (64,), "sigmoid")).cuda()
    history = train_model(model, x, y, TrainConfig(cuda_graph=cuda_graph, **cfg_kwargs), progress=False)
    return model, [round(r["train_loss"], 6) for r in history]


def main() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1000, 1, 28, 28, generator=g).cuda()
    y = torch.randint(0, 10, (1000,), generator=g).cuda()
    kwargs = dict(batch_size=64, epochs=3, lr=1e-3)  # 1000 % 64 != 0: the eager tail batch runs too
    eager, eager_losses = run(False, x, y, kwargs)
    graph, graph_losses = run(True, x, y, kwargs)
    diff = max((a - b).abs().max().item() for a, b in zip(eager.parameters(), graph.parameters(), strict=True))
    print(f"eager losses {eager_losses}\ngraph losses {graph_losses}\nmax weight difference {diff:.2e}")
    assert diff < 1e-4, "CUDA graph training diverged from the eager loop"


if __name__ == "__main__":
    main()
