"""One in-memory training loop for every variant.

The whole dataset lives on the training device as one float tensor and each
batch is gathered by index from a per-epoch permutation: no Dataset, no
DataLoader, no per-image transform. At the studies' small batches the cost of a
step is mostly fixed overhead, so the loop keeps the host out of the way: the
loss sums stay on the device (one sync per epoch), and on CUDA the whole step
(gather, forward, backward, optimizer) is captured once in a CUDA graph and
replayed. A VAE's reparameterisation noise is drawn inside the step from the
device's default generator (seeded with the run), which graph replay supports.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm  # not tqdm.auto: its notebook probe costs more to import than tqdm

from latent_atlas.config import Params, RecipeParams
from latent_atlas.errors import ConfigError, DivergedError
from latent_atlas.io import write_text
from latent_atlas.models.autoencoders import (
    Autoencoder,
    ModelConfig,
    build_model,
    count_parameters,
    model_config,
    recipe_model_config,
)
from latent_atlas.models.checkpoint import RUN_VARYING_KEYS
from latent_atlas.models.likelihood import bernoulli_nll, gaussian_kl
from latent_atlas.models.corruption import Corruption, corrupt
from latent_atlas.models.optim import ForeachAdam
from latent_atlas.plotfiles import csv_text


class TrainingDivergedError(DivergedError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    batch_size: int
    epochs: int
    lr: float
    weight_decay: float = 0.0
    optimizer: str = "adam"
    class_weight: float = 1.0
    beta: float = 1.0  # the VAEs' KL weight
    sparsity_weight: float = 0.0  # L1 on the code
    # Train on a fresh Bernoulli draw of each [0,1] image every step: "dynamically
    # binarised MNIST" (Burda et al. 2015; bench/vae_burda.py).
    binarize: bool = False
    seed: int = 42
    cuda_graph: bool = False
    compile_cpu: bool = False
    # Convolutional models train in NHWC (channels_last) on the CPU: same maths,
    # less time per step (bench/README.md, "Training").
    cpu_channels_last: bool = True
    # Intra-op threads while training on the CPU (None: torch's default). A step
    # of these small models is many tiny kernels, and splitting each over threads
    # costs more than it saves (bench/README.md, "Training").
    cpu_threads: int | None = 1
    # Denoising and masked variants: the inputs are corrupted, the targets stay clean.
    corruption: Corruption | None = None


def recipe_train_config(recipe: RecipeParams, params: Params, device: torch.device | str) -> TrainConfig:
    """How a recipe trains on `device` (a torch.device, or "cpu"/"cuda"), seeded by params.seed."""
    on_cuda = getattr(device, "type", str(device).split(":")[0]) == "cuda"
    return TrainConfig(batch_size=recipe.batch_size, epochs=recipe.epochs, lr=recipe.lr,
                       weight_decay=recipe.weight_decay, optimizer=recipe.optimizer,
                       class_weight=recipe.class_weight, beta=recipe.beta,
                       sparsity_weight=recipe.sparsity_weight, seed=params.seed, cpu_threads=recipe.cpu_threads,
                       cuda_graph=on_cuda and params.train.cuda_graph in ("auto", "on", True),
                       compile_cpu=params.train.compile_cpu,
                       corruption=Corruption.from_params(recipe.corruption, recipe.input_range))


def train_config(params: Params, name: str, device: torch.device | str) -> TrainConfig:
    """How variant `name` trains on `device` (a torch.device, or "cpu"/"cuda")."""
    return recipe_train_config(params.variant(name), params, device)


# --- data --------------------------------------------------------------------------


def to_model_input(images: np.ndarray | torch.Tensor, input_range: str) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0,1] ("unit") or [-1,1] ("symmetric")."""
    x = torch.as_tensor(images).to(torch.float32, copy=True).div_(255.0).unsqueeze(1)  # (N, 1, 28, 28)
    if input_range == "symmetric":
        x = x.sub_(0.5).div_(0.5)  # the studies' Normalize(mean=0.5, std=0.5)
    elif input_range != "unit":
        raise ValueError(f"input_range={input_range!r} is not allowed; use unit or symmetric")
    return x


def to_unit_range(x: torch.Tensor, input_range: str) -> torch.Tensor:
    """Map model-range pixels back to [0,1], so every variant's MSE is comparable."""
    return (x + 1.0) / 2.0 if input_range == "symmetric" else x


def split_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of range(n) into (train, validation) indices."""
    if not 0 <= fraction < 1:
        raise ValueError(f"val_fraction={fraction} is not allowed; use 0 <= fraction < 1")
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA device is available; use auto or cpu")
    return torch.device(name)


# --- loss --------------------------------------------------------------------------


def loss_terms(out: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """The variant's objective and its terms, each a mean over the batch.

    - A VAE (out holds "logvar"): the negative ELBO in nats per image, the
      summed binary cross-entropy of the sampled reconstruction plus beta
      times the KL to the prior (beta = 1: the ELBO; beta > 1: Higgins et al.
      2017's beta-VAE). The PyTorch examples' VAE sums the same over the batch;
      Adam's steps do not depend on that scale (but for its epsilon).
    - Otherwise the MSE reconstruction; plus the NLL of the digit where the
      model classifies (the classifier AE's study sums the two, weight 1;
      class_weight exposes the balance), plus sparsity_weight times the L1 norm
      of the code where it is positive.
    """
    if "logvar" in out:
        recon = bernoulli_nll(out["recon_logits"], x).mean()
        kl = gaussian_kl(out["latent"], out["logvar"]).sum(dim=1).mean()
        return {"loss": recon + cfg.beta * kl, "recon_bce": recon, "kl": kl}
    recon = F.mse_loss(out["recon"], x)
    terms = {"recon_mse": recon, "loss": recon}
    if "log_probs" in out:
        terms["nll"] = F.nll_loss(out["log_probs"], y)
        terms["loss"] = terms["loss"] + cfg.class_weight * terms["nll"]
    if cfg.sparsity_weight > 0:
        terms["l1"] = out["latent"].abs().sum(dim=1).mean()
        terms["loss"] = terms["loss"] + cfg.sparsity_weight * terms["l1"]
    return terms


def loss_keys(model: Autoencoder, cfg: TrainConfig) -> list[str]:
    """The terms loss_terms returns for this model and config, in a fixed order."""
    if model.variational:
        return ["loss", "recon_bce", "kl"]
    return ["loss", "recon_mse"] + (["nll"] if model.has_classifier else []) + (
        ["l1"] if cfg.sparsity_weight > 0 else [])


def model_outputs(forward: Callable[..., dict[str, torch.Tensor]], model: Autoencoder, x: torch.Tensor,
                  generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """forward(x), with the reparameterisation noise of a VAE drawn here (from `generator`, or
    the device's default generator: the one a CUDA graph's replays advance)."""
    if not model.variational:
        return forward(x)
    noise = torch.randn((len(x), model.config.latent_dim), device=x.device, dtype=x.dtype, generator=generator)
    return forward(x, noise)


OPTIMIZERS = ("adam", "adamw")


def make_optimizer(model: nn.Module, cfg: TrainConfig, capturable: bool) -> torch.optim.Optimizer | ForeachAdam:
    """The variant's optimizer; capturable (state on the device, CUDA-graph safe) only for graph capture."""
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={cfg.optimizer!r} is not allowed; use one of {list(OPTIMIZERS)}")
    decoupled = cfg.optimizer == "adamw"
    if capturable:
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                decoupled_weight_decay=decoupled, capturable=True, foreach=True)
    return ForeachAdam(model.parameters(), cfg.lr, cfg.weight_decay, decoupled)


def history_columns(first_row: dict[str, float]) -> list[str]:
    """The history file's columns, fixed by the first epoch's row: the epoch, every
    training loss term, the same terms on the validation split (empty where the
    recipe holds none out: a plot reading val_loss finds the column in every
    variant's file), then the epoch's seconds."""
    terms = [key.removeprefix("train_") for key in first_row if key.startswith("train_")]
    return ["epoch", *(f"train_{t}" for t in terms), *(f"val_{t}" for t in terms), "seconds"]


def history_csv(history: list[dict[str, float]]) -> str:
    """The per-epoch rows as CSV, the columns of history_columns (the csv module,
    not pandas: a train stage should not pay pandas' import for one table)."""
    columns = history_columns(history[0])
    return csv_text(history, columns, optional=[c for c in columns if c.startswith("val_")],
                    where="the training history")


class LiveHistory:
    """The training history file, rewritten (atomically) after every epoch, so
    DVC and its VS Code extension plot the curve while the model trains, and a
    failed run leaves the epochs it completed."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.rows: list[dict[str, float]] = []
        self.path.unlink(missing_ok=True)  # an earlier run's history is not this one's

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(row)
        write_text(self.path, history_csv(self.rows))


def epoch_losses(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """The history without its wall-clock timings: what a checkpoint may keep."""
    return [{k: v for k, v in row.items() if k not in RUN_VARYING_KEYS} for row in history]


# --- the loop ----------------------------------------------------------------------


class _Sums:
    """Per-epoch loss sums kept on the device (no host sync per step)."""

    def __init__(self, keys: list[str], device: torch.device):
        self.values = {k: torch.zeros((), device=device) for k in keys}
        self.count = 0

    def add(self, terms: dict[str, torch.Tensor], n: int) -> None:
        for key, total in self.values.items():
            total.add_(terms[key].detach() * n)

    def read_and_reset(self) -> dict[str, float]:
        means = {k: v.item() / max(self.count, 1) for k, v in self.values.items()}
        for v in self.values.values():
            v.zero_()
        self.count = 0
        return means


class _Stepper:
    """Runs training steps: eager (optionally compiled) or replayed CUDA graph."""

    def __init__(self, model: Autoencoder, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig):
        self.model, self.x, self.y, self.cfg = model, x, y, cfg
        self.use_graph = cfg.cuda_graph and x.is_cuda
        self.optimizer = make_optimizer(model, cfg, capturable=self.use_graph)
        self.keys = loss_keys(model, cfg)
        # The corruption's own seeded stream on the CPU; a captured CUDA graph replays
        # the device's default generator (the one capture registers by itself).
        self.noise = None if self.use_graph else torch.Generator(device=x.device).manual_seed(cfg.seed + 1)
        self.sums = _Sums(self.keys, x.device)
        forward = model
        if cfg.compile_cpu and not x.is_cuda:
            forward = torch.compile(model)
        self.forward = forward
        self.graph: torch.cuda.CUDAGraph | None = None
        if self.use_graph:
            self.static_idx = torch.zeros(cfg.batch_size, dtype=torch.long, device=x.device)
            self._capture()

    def _eager(self, idx: torch.Tensor) -> None:
        xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)  # (B, 1, 28, 28), (B,)
        if self.cfg.binarize:
            xb = torch.bernoulli(xb)
        inputs = xb if self.cfg.corruption is None else corrupt(xb, self.cfg.corruption, self.noise)
        self.optimizer.zero_grad(set_to_none=True)
        terms = loss_terms(model_outputs(self.forward, self.model, inputs), xb, yb, self.cfg)  # clean targets
        terms["loss"].backward()
        self.optimizer.step()
        self.sums.add(terms, len(idx))

    def _capture(self) -> None:
        # Warm-up steps (needed before capture) change the weights; snapshot and
        # restore in place so the captured run starts from the seeded init.
        tensors = list(self.model.parameters())
        snapshot = [t.detach().clone() for t in tensors]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._eager(self.static_idx)
        torch.cuda.current_stream().wait_stream(side)
        with torch.no_grad():
            for t, saved in zip(tensors, snapshot, strict=True):
                t.copy_(saved)
            for state in self.optimizer.state.values():
                for value in state.values():
                    if torch.is_tensor(value):
                        value.zero_()  # Adam moments and step counters back to zero
        self.sums.read_and_reset()
        self.optimizer.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._eager(self.static_idx)

    def step(self, idx: torch.Tensor) -> None:
        if self.graph is not None and len(idx) == self.cfg.batch_size:
            self.static_idx.copy_(idx)
            self.graph.replay()
        else:
            self._eager(idx)  # the epoch's last, smaller batch
        self.sums.count += len(idx)


@torch.no_grad()
def evaluate(model: Autoencoder, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, chunk: int = 4096) -> dict[str, float]:
    """The objective's terms on clean held-out data (a VAE's with one z sample per image,
    seeded; a corrupted variant's validation loss is its clean reconstruction)."""
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    generator = torch.Generator(device=x.device).manual_seed(cfg.seed)
    for start in range(0, len(x), chunk):
        xb, yb = x[start : start + chunk], y[start : start + chunk]
        for key, value in loss_terms(model_outputs(model, model, xb, generator), xb, yb, cfg).items():
            totals[key] = totals.get(key, 0.0) + value.item() * len(xb)
    model.train(was_training)
    return {k: v / len(x) for k, v in totals.items()}


def train_model(
    model: Autoencoder,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    cfg: TrainConfig,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train in place; return one row of losses per epoch.

    x_train/y_train are already on the training device, in the model's input
    range. Raises TrainingDivergedError as soon as an epoch's loss is not finite.
    """
    n = len(x_train)
    if cfg.batch_size > n:
        raise ValueError(f"batch_size={cfg.batch_size} is larger than the {n} training images; use at most {n}")
    device = x_train.device
    nhwc = cfg.cpu_channels_last and model.convolutional and device.type == "cpu"
    if nhwc:
        model.to(memory_format=torch.channels_last)
    threads = torch.get_num_threads()
    if device.type == "cpu" and cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    model.train()
    stepper = _Stepper(model, x_train, y_train, cfg)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    history: list[dict[str, float]] = []
    epochs = tqdm(range(1, cfg.epochs + 1), desc="epochs", unit="epoch", disable=not progress)
    for epoch in epochs:
        start = time.perf_counter()
        order = torch.randperm(n, device=device, generator=generator)
        for first in range(0, n, cfg.batch_size):
            stepper.step(order[first : first + cfg.batch_size])
        row = {"epoch": epoch, **{f"train_{k}": v for k, v in stepper.sums.read_and_reset().items()}}
        if not math.isfinite(row["train_loss"]):
            raise TrainingDivergedError(
                f"training loss became {row['train_loss']} in epoch {epoch}; "
                "lower the learning rate (variants.<name>.lr) or check the data"
            )
        if x_val is not None and len(x_val):
            row.update({f"val_{k}": v for k, v in evaluate(model, x_val, y_val, cfg).items()})
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        epochs.set_postfix(loss=f"{row['train_loss']:.4f}")
        if on_epoch is not None:
            on_epoch(row)
    if nhwc:
        model.to(memory_format=torch.contiguous_format)  # checkpoints keep the usual layout
    torch.set_num_threads(threads)
    model.eval()
    return history


# --- one variant, as the pipeline trains it -------------------------------------------


def initial_model(config: ModelConfig, seed: int) -> Autoencoder:
    """The network train_variant starts from: seeded, before any step.

    Also study 000's z=6 model as its training loop left it: that loop
    stepped another model, so this one kept these weights (CLAIMS.md Note A).
    """
    torch.manual_seed(seed)
    return build_model(config)


def check_batch_fits(key: str, batch_size: int, n_images: int, images: str = "training images") -> None:
    """A recipe's batch larger than its training set is the user's to fix: say so in one line."""
    if batch_size > n_images:
        raise ConfigError(f"{key}.batch_size={batch_size} is larger than the {n_images} {images}; "
                          f"use at most {n_images}")


@dataclass
class TrainedVariant:
    model: Autoencoder
    config: ModelConfig
    history: list[dict[str, float]]  # one row per epoch, wall-clock "seconds" included
    n_params: int
    n_train: int  # images trained on (after the validation split)
    threads: int  # intra-op threads the loop trained on

    @property
    def seconds(self) -> float:
        return sum(row["seconds"] for row in self.history)


def train_variant(params: Params, name: str, images: np.ndarray, labels: np.ndarray, device: torch.device, *,
                  progress: bool = True, on_epoch: Callable[[dict[str, float]], None] | None = None,
                  cfg: TrainConfig | None = None) -> TrainedVariant:
    """Train variant `name` of params on uint8 training images, seeded, as the train stage does.

    The validation split, the seed, the model and its optimizer settings all
    come from params; `cfg` overrides the training settings (benchmarks change
    epochs or the CUDA graph), never the recipe's network.
    """
    variant = params.variant(name)
    train_idx, val_idx = split_validation(len(labels), variant.val_fraction, params.seed)
    check_batch_fits(f"variants.{name}", variant.batch_size, len(train_idx))
    config = model_config(params, name)
    model = initial_model(config, params.seed).to(device)
    x = to_model_input(images, variant.input_range).to(device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    has_val = len(val_idx) > 0
    cfg = cfg or train_config(params, name, device)
    threads = cfg.cpu_threads if device.type == "cpu" and cfg.cpu_threads else torch.get_num_threads()
    try:
        history = train_model(model, x[train_idx], y[train_idx], cfg,
                              x_val=x[val_idx] if has_val else None, y_val=y[val_idx] if has_val else None,
                              on_epoch=on_epoch, progress=progress)
    except TrainingDivergedError as exc:
        raise TrainingDivergedError(f"variant {name}: {str(exc).replace('<name>', name)}") from None
    return TrainedVariant(model, config, history, count_parameters(model), len(train_idx), threads)


def train_recipe(recipe: RecipeParams, latent_dim: int, x: torch.Tensor, params: Params, device: torch.device, *,
                 key: str, images: str = "training images", progress: bool = False) -> TrainedVariant:
    """Train a recipe's network on images already in its input range, (N, 1, 28, 28), seeded by params.seed.

    For models that are not pipeline variants (one per normal digit in the
    one-class protocol); `key` is the recipe's dotted key in params.yaml and
    `images` names the training set, for the error a too-large batch gives.
    """
    check_batch_fits(key, recipe.batch_size, len(x), images)
    config = recipe_model_config(recipe, latent_dim)
    model = initial_model(config, params.seed).to(device)
    x = x.to(device)
    y = torch.zeros(len(x), dtype=torch.long, device=device)  # no labels: reconstruction only
    cfg = recipe_train_config(recipe, params, device)
    threads = cfg.cpu_threads if device.type == "cpu" and cfg.cpu_threads else torch.get_num_threads()
    history = train_model(model, x, y, cfg, progress=progress)
    return TrainedVariant(model, config, history, count_parameters(model), len(x), threads)
