"""Benchmark: the studies' DataLoader training against this project's in-memory loop.

Same model (the classifier AE), same batch size (64), same number of steps,
one process, same machine. (a) torchvision's MNIST dataset with a per-image
ToTensor transform through a DataLoader, as the study trained; (b) latent-atlas's
`train_model` (whole dataset as one tensor, batches gathered by index, loss sums
kept on the device, CUDA-graph replay on GPUs). Prints seconds per epoch and
the ratio.

--conv-formats instead times a conv variant's steps on the CPU in each memory
format (contiguous NCHW, channels_last NHWC) with oneDNN (torch.backends.mkldnn)
on and off, the four interleaved over several rounds, with the loss each reaches.

    python bench/train_speed.py [--mnist ../shared/datasets/mnist] [--device cpu|cuda] [--epochs 1]
    python bench/train_speed.py --conv-formats [--conv-variant small_conv] [--threads 1] [--images 8192] [--rounds 3]

--wait-policy times the deep AE's steps (batch 32) in fresh processes with
OpenMP's default waiting, with OMP_WAIT_POLICY=PASSIVE (what stages/ sets) and
with one thread, interleaved over the rounds.

    python bench/train_speed.py --wait-policy [--images 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

from latent_atlas.config import load_params
from latent_atlas.data.idx import IDX_FILES
from latent_atlas.data.mnist import TRAIN
from latent_atlas.data.sources import load_local
from latent_atlas.models.autoencoders import ModelConfig, build_model, model_config
from latent_atlas.models.training import TrainConfig, to_model_input, train_config, train_model

VARIANT = "classifier"  # the study's model, as params.yaml defines it


def torchvision_root(mnist_dir: Path, tmp: Path) -> Path:
    """Lay the IDX files out as torchvision's MNIST expects (root/MNIST/raw)."""
    raw = tmp / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, _ in IDX_FILES.values():
        gz = mnist_dir / f"{stem}.gz"
        if gz.exists():
            with gzip.open(gz) as src, open(raw / stem, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(mnist_dir / stem, raw / stem)
    return tmp


def study_loop(root: Path, device: torch.device, steps: int, config: ModelConfig, cfg: TrainConfig) -> float:
    """The study's way: Dataset + ToTensor per image + DataLoader; seconds for `steps` steps."""
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    loader = torch.utils.data.DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True)
    torch.manual_seed(0)
    model = build_model(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    done, start = 0, time.perf_counter()
    while done < steps:
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            out = model(x)
            loss = F.mse_loss(out["recon"], x) + F.nll_loss(out["log_probs"], y)
            loss.backward()
            optimizer.step()
            loss.item()  # the study printed/accumulated the loss every step
            done += 1
            if done == steps:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def our_loop(images, labels, device: torch.device, config: ModelConfig, cfg: TrainConfig) -> tuple[float, float]:
    torch.manual_seed(0)
    model = build_model(config).to(device)
    x = to_model_input(images, "unit").to(device)
    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    start = time.perf_counter()
    history = train_model(model, x, y, cfg, progress=False)
    total = time.perf_counter() - start
    steady = min(row["seconds"] for row in history)
    return total, steady


def conv_formats(images, labels, params, name: str, n_images: int, rounds: int,
                 threads: int | None = None) -> None:
    """A conv variant's recipe (batch, optimizer) on n_images, one epoch per run,
    each (memory format, oneDNN) setting once per round; median ms per step.
    threads: intra-op threads (default: the pipeline's TrainConfig.cpu_threads)."""
    config, cfg = model_config(params, name), train_config(params, name, "cpu")
    cfg = replace(cfg, epochs=1, cpu_threads=threads or cfg.cpu_threads)
    variant = params.variant(name)
    x = to_model_input(images[:n_images], variant.input_range)
    y = torch.as_tensor(labels[:n_images], dtype=torch.long)
    steps = -(-n_images // cfg.batch_size)
    settings = [(fmt, onednn) for fmt in ("contiguous", "channels_last") for onednn in (True, False)]
    times: dict[tuple, list[float]] = {s: [] for s in settings}
    losses: dict[tuple, float] = {}
    print(f"{name}: {n_images} images, batch {cfg.batch_size}, {steps} steps per run, {rounds} rounds, "
          f"threads {cfg.cpu_threads}")
    for _ in range(rounds):
        for fmt, onednn in settings:
            torch.manual_seed(params.seed)
            model = build_model(config)
            torch.backends.mkldnn.enabled = onednn
            history = train_model(model, x, y, replace(cfg, cpu_channels_last=fmt == "channels_last"),
                                  progress=False)
            torch.backends.mkldnn.enabled = True
            times[(fmt, onednn)].append(history[0]["seconds"])
            losses[(fmt, onednn)] = history[0]["train_loss"]
    reference = losses[settings[0]]
    for fmt, onednn in settings:
        median = sorted(times[(fmt, onednn)])[len(times[(fmt, onednn)]) // 2]
        print(f"{fmt:<14} oneDNN {'on ' if onednn else 'off'}  {1e3 * median / steps:7.3f} ms/step (median)  "
              f"loss {losses[(fmt, onednn)]:.6f}  |diff| {abs(losses[(fmt, onednn)] - reference):.1e}")


WAIT_POLICIES = {"default": {}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"}, "one thread": {"OMP_NUM_THREADS": "1"}}
DEEP_STEPS = """
import sys, torch
from dataclasses import replace
from latent_atlas.config import load_params
from latent_atlas.models.autoencoders import build_model, model_config
from latent_atlas.models.training import train_config, train_model
params, n = load_params(sys.argv[1]), int(sys.argv[2])
# cpu_threads=None: the threads come from the environment, which is what is compared.
cfg = replace(train_config(params, "deep", "cpu"), epochs=1, cpu_threads=None)
torch.manual_seed(0)
x, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
row = train_model(build_model(model_config(params, "deep")), x, y, cfg, progress=False)[0]
print(1e3 * row["seconds"] / -(-n // cfg.batch_size))
"""


def wait_policies(params_path: str, n_images: int, rounds: int) -> None:
    """ms per step of the deep AE under each OpenMP setting (env vars act only at process start)."""
    import os
    import statistics
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    times: dict[str, list[float]] = {name: [] for name in WAIT_POLICIES}
    for _ in range(rounds):
        for name, extra in WAIT_POLICIES.items():
            out = subprocess.run([sys.executable, "-c", DEEP_STEPS, params_path, str(n_images)], env={**base, **extra},
                                 capture_output=True, text=True, check=True).stdout
            times[name].append(float(out))
    print(f"deep AE, {n_images} images, batch 32, {rounds} rounds, {os.cpu_count()} CPUs")
    for name, values in times.items():
        print(f"{name:<11} {statistics.median(values):8.2f} ms/step (median of {', '.join(f'{v:.2f}' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/datasets/mnist")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=2, help="epochs of our loop (the first includes warm-up)")
    parser.add_argument("--compile-cpu", action="store_true", help="also time torch.compile on the CPU")
    parser.add_argument("--conv-formats", action="store_true",
                        help="only time small_conv on the CPU by memory format and oneDNN")
    parser.add_argument("--wait-policy", action="store_true",
                        help="only time the deep AE under OpenMP's default waiting, PASSIVE, and one thread")
    parser.add_argument("--conv-variant", default="small_conv", help="the variant --conv-formats times")
    parser.add_argument("--images", type=int, default=8192, help="images per --conv-formats run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --conv-formats")
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads for --conv-formats (default: the pipeline's, 1)")
    args = parser.parse_args()
    if args.wait_policy:
        wait_policies(args.params, args.images, args.rounds)
        return
    device = torch.device(args.device)
    images, labels = load_local(args.mnist).subset(TRAIN)
    params = load_params(args.params)
    if args.conv_formats:
        conv_formats(images, labels, params, args.conv_variant, args.images, args.rounds, args.threads)
        return
    config, cfg = model_config(params, VARIANT), train_config(params, VARIANT, device)
    steps = -(-len(labels) // cfg.batch_size)  # one epoch, last partial batch included
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"{len(labels)} images, batch {cfg.batch_size}, {steps} steps per epoch")

    with tempfile.TemporaryDirectory() as tmp:
        study = study_loop(torchvision_root(Path(args.mnist), Path(tmp)), device, steps, config, cfg)
    print(f"(a) study: DataLoader + ToTensor   {study:7.2f} s/epoch  {1e3 * study / steps:6.2f} ms/step")

    variants = [("in-memory loop", False, False)]
    if device.type == "cuda":
        variants.append(("in-memory + CUDA graph", True, False))
    if device.type == "cpu" and args.compile_cpu:
        variants.append(("in-memory + torch.compile", False, True))
    for name, graph, compiled in variants:
        total, steady = our_loop(images, labels, device, config,
                                 replace(cfg, epochs=args.epochs, cuda_graph=graph, compile_cpu=compiled))
        print(f"(b) {name:<30} {steady:7.2f} s/epoch  {1e3 * steady / steps:6.2f} ms/step  "
              f"speed-up {study / steady:5.1f}x  ({args.epochs} epochs incl. warm-up: {total:.1f} s)")


if __name__ == "__main__":
    main()
