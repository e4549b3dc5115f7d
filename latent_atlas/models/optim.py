"""Adam without torch._dynamo: the optimizer every training loop of the project steps."""

from __future__ import annotations

import torch
from torch.optim.adam import adam


class ForeachAdam:
    """Adam, or AdamW with decoupled_weight_decay, exactly as
    torch.optim.Adam(foreach=True) steps: the same functional kernel
    (torch.optim.adam.adam) with torch's default betas and eps.

    Why not torch.optim itself: in torch 2.14 every torch.optim.Optimizer method
    imports torch._dynamo on first use, which costs a train stage as much as
    importing torch (bench/README.md, "Training"). The tests check the weights
    match torch.optim's bit for bit.
    """

    def __init__(self, params, lr: float, weight_decay: float, decoupled_weight_decay: bool):
        self.params = [p for p in params if p.requires_grad]
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.tensor(0.0) for _ in self.params]  # torch.optim keeps them so unless capturable
        self.options = {"lr": lr, "weight_decay": weight_decay, "decoupled_weight_decay": decoupled_weight_decay,
                        "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "amsgrad": False, "maximize": False,
                        "foreach": True}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]  # as torch.optim skips grad-less
        adam([self.params[i] for i in live], [self.params[i].grad for i in live],
             [self.exp_avgs[i] for i in live], [self.exp_avg_sqs[i] for i in live], [],
             [self.steps[i] for i in live], **self.options)
