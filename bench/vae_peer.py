"""Benchmark: the PyTorch examples' VAE (a peer program) and ours, on the same machine and data, side by side.

The peer is pytorch/examples' vae/main.py, run from a checkout you pass in
(its code never enters this project) as a subprocess on the CPU, on the same
MNIST files laid out as torchvision expects (decompressed, checked by md5).
Its lines are timestamped as they arrive:
"====> Epoch: e Average loss: ..." ends an epoch's training and
"====> Test set loss: ..." its test pass (summed BCE + KL over the 10,000 test
images / 10,000, one z sample per image).

Ours is the same recipe (params.yaml's plain VAE: 784-400-20, Adam 1e-3,
batch 128) through the project's in-memory loop (models.training.train_model);
after each epoch its test loss is computed the same way
(models.likelihood.neg_elbo: summed BCE + KL per image, one z sample, averaged).
The peer runs first, then ours, never both at once.

Printed per epoch: both test losses and their difference, seconds of training
per epoch for both and the ratio, seconds of the test pass. Targets: the
same test loss within 1 nat after 10 epochs, and at least 3x faster per epoch
on the CPU. Last, in the same run, the floor: our step's fp32 matrix products
alone, timed as plain torch.mm calls (matmul_floor), and the peer's epoch over
it, the most any fp32 loop of this recipe can gain on this CPU.

    python bench/vae_peer.py --peer /path/to/pytorch-examples --mnist ../shared/datasets/mnist [--epochs 10]
        [--threads N] [--seed 1] [--variant NAME]

--threads sets our training threads (default: the variant's training
setting, `cpu_threads`); the peer runs with torch's default threads.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from statistics import median

import torch

from latent_atlas.config import Params, load_params
from latent_atlas.data.idx import IDX_FILES, md5, read_maybe_gzip
from latent_atlas.data.mnist import TEST, TRAIN, MNISTArrays
from latent_atlas.data.sources import load_local
from latent_atlas.models.autoencoders import build_model, model_config
from latent_atlas.models.likelihood import neg_elbo
from latent_atlas.models.training import to_model_input, train_config, train_model

EPOCH_LINE = re.compile(r"====> Epoch: (\d+) Average loss: ([\d.]+)")
TEST_LINE = re.compile(r"====> Test set loss: ([\d.]+)")
FIRST_STEP_LINE = re.compile(r"Train Epoch: 1 \[0/")
TARGET_NATS, TARGET_SPEEDUP = 1.0, 3.0


def peer_data_root(mnist_dir: Path, root: Path) -> Path:
    """root/MNIST/raw/<the four decompressed IDX files>, each checked by md5: what torchvision reads."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for stem, expected in IDX_FILES.values():
        source = mnist_dir / f"{stem}.gz" if (mnist_dir / f"{stem}.gz").exists() else mnist_dir / stem
        data = read_maybe_gzip(source)
        if md5(data) != expected:
            raise SystemExit(f"{source}: md5 {md5(data)} is not MNIST's {expected}")
        (raw / stem).write_bytes(data)
    return root


def cpu_flag(script: Path) -> list[str]:
    """The peer's switch to the CPU: it was --no-cuda, then --accel, now --no-accel."""
    text = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True).stdout
    return ["--no-accel"] if "--no-accel" in text else ["--no-cuda"] if "--no-cuda" in text else []


def run_peer(checkout: Path, mnist_dir: Path, work: Path, epochs: int, seed: int, batch_size: int) -> list[dict]:
    """The peer's test loss and wall times per epoch, from its own printed lines, timestamped on arrival."""
    script = checkout / "vae" / "main.py"
    if not script.is_file():
        raise SystemExit(f"{script} not found: --peer must be a checkout of pytorch/examples")
    peer_data_root(mnist_dir, work / "data")
    run_dir = work / "run"
    (run_dir / "results").mkdir(parents=True)  # it saves sample images to results/, reads ../data
    cmd = [sys.executable, "-u", str(script), "--epochs", str(epochs), "--seed", str(seed),
           "--batch-size", str(batch_size), "--log-interval", "10", *cpu_flag(script)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    rows: list[dict] = []
    started = None  # when the current epoch's training began
    with subprocess.Popen(cmd, cwd=run_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:
        for line in proc.stdout:
            now = time.perf_counter()
            if started is None and FIRST_STEP_LINE.search(line):
                started = now  # the first progress line comes after epoch 1's first step
            elif found := EPOCH_LINE.search(line):
                rows.append({"epoch": int(found[1]), "train_loss": float(found[2]), "train_s": now - started})
                trained = now
            elif found := TEST_LINE.search(line):
                rows[-1].update(test_loss=float(found[1]), test_s=now - trained)
                started = now
    if proc.returncode or len(rows) != epochs:
        raise SystemExit(f"the peer exited with {proc.returncode} after {len(rows)} of {epochs} epochs: {cmd}")
    return rows


def plain_vae(params: Params) -> str:
    """The first VAE of params.yaml with an MLP encoder and beta 1: the peer's recipe."""
    for name, variant in params.variants.items():
        if variant.arch == "vae_mlp" and variant.beta == 1.0:
            return name
    raise SystemExit("params.yaml has no vae_mlp variant with beta 1")


def run_ours(params: Params, name: str, data: MNISTArrays, epochs: int, seed: int, threads: int | None) -> list[dict]:
    """Our loop on the same data; after each epoch the peer's test loss, computed the same way."""
    (train_images, train_labels), (test_images, _) = data.subset(TRAIN), data.subset(TEST)
    device = torch.device("cpu")
    cfg = replace(train_config(params, name, device), epochs=epochs, seed=seed)
    if threads is not None:
        cfg = replace(cfg, cpu_threads=threads)
    torch.manual_seed(seed)
    model = build_model(model_config(params, name))
    x = to_model_input(train_images, params.variant(name).input_range)
    x_test = to_model_input(test_images, params.variant(name).input_range)
    rows: list[dict] = []

    def on_epoch(row: dict) -> None:
        start = time.perf_counter()
        model.eval()
        loss = neg_elbo(model, x_test, generator=torch.Generator().manual_seed(seed + row["epoch"]))["neg_elbo"]
        model.train()
        rows.append({"epoch": row["epoch"], "train_loss": row["train_loss"], "train_s": row["seconds"],
                     "test_loss": float(loss.mean()), "test_s": time.perf_counter() - start})

    train_model(model, x, torch.as_tensor(train_labels, dtype=torch.long), cfg, on_epoch=on_epoch, progress=False)
    return rows


def matmul_floor(params: Params, name: str, n_images: int, threads: int, repeats: int = 3) -> float:
    """Seconds per epoch of our training step's fp32 matrix products alone, timed as plain torch.mm calls.

    Every nn.Linear of the variant costs, per step, its forward product, its
    weight gradient and (all but the first, which sees the images) its input
    gradient: the least any fp32 loop of this recipe spends per epoch on this
    CPU, whatever else it does. The median of `repeats` epochs."""
    torch.set_num_threads(threads)
    batch = params.variant(name).batch_size
    linears = [m for m in build_model(model_config(params, name)).modules() if isinstance(m, torch.nn.Linear)]
    products = []
    for i, layer in enumerate(linears):
        n_in, n_out = layer.in_features, layer.out_features
        products += [(batch, n_in, n_out), (n_out, batch, n_in)] + ([(batch, n_out, n_in)] if i else [])
    operands = [(torch.randn(m, k), torch.randn(k, n)) for m, k, n in products]
    steps = -(-n_images // batch)
    times = []
    for _ in range(repeats + 1):  # the first epoch warms the BLAS up
        start = time.perf_counter()
        for _ in range(steps):
            for a, b in operands:
                torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, type=Path, help="a checkout of pytorch/examples")
    parser.add_argument("--mnist", default="../shared/datasets/mnist", type=Path)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variant", default=None, help="default: the plain MLP VAE of params.yaml")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="our training threads (default: the recipe's)")
    args = parser.parse_args()
    params = load_params(args.params)
    name = args.variant or plain_vae(params)
    batch_size = params.variant(name).batch_size
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, peer threads {torch.get_num_threads()} (torch's "
          f"default), ours {args.threads or train_config(params, name, 'cpu').cpu_threads}; variant {name}, "
          f"batch {batch_size}, {args.epochs} epochs", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        peer = run_peer(args.peer.resolve(), args.mnist.resolve(), Path(tmp), args.epochs, args.seed, batch_size)
    data = load_local(args.mnist)
    ours = run_ours(params, name, data, args.epochs, args.seed, args.threads)
    threads = args.threads or train_config(params, name, "cpu").cpu_threads
    floor_s = matmul_floor(params, name, len(data.subset(TRAIN)[0]), threads)
    print(f"{'epoch':>5} {'peer test':>10} {'ours test':>10} {'diff':>7} {'peer s':>8} {'ours s':>8} {'ratio':>6} "
          f"{'peer test s':>11} {'ours test s':>11}")
    for p, o in zip(peer, ours, strict=True):
        print(f"{p['epoch']:5d} {p['test_loss']:10.4f} {o['test_loss']:10.4f} {o['test_loss'] - p['test_loss']:+7.3f} "
              f"{p['train_s']:8.2f} {o['train_s']:8.2f} {p['train_s'] / o['train_s']:5.2f}x "
              f"{p['test_s']:11.2f} {o['test_s']:11.2f}")
    # Epoch 1 of the peer starts at its first progress line (one step in); the medians skip it.
    later = slice(1, None) if len(peer) > 1 else slice(None)
    peer_s, ours_s = median(r["train_s"] for r in peer[later]), median(r["train_s"] for r in ours[later])
    gap = ours[-1]["test_loss"] - peer[-1]["test_loss"]
    print(f"after {args.epochs} epochs: test loss {peer[-1]['test_loss']:.4f} (peer) vs {ours[-1]['test_loss']:.4f} "
          f"(ours), {gap:+.3f} nats: {'within' if abs(gap) <= TARGET_NATS else 'outside'} the {TARGET_NATS:g}-nat "
          f"target")
    print(f"median training seconds per epoch (epochs 2+): peer {peer_s:.2f}, ours {ours_s:.2f}: "
          f"{peer_s / ours_s:.2f}x ({'meets' if peer_s / ours_s >= TARGET_SPEEDUP else 'misses'} the "
          f"{TARGET_SPEEDUP:g}x target)")
    print(f"our step's fp32 matrix products alone ({threads} threads): {floor_s:.2f} s per epoch, "
          f"{floor_s / ours_s:.0%} of ours; the peer's epoch over them: {peer_s / floor_s:.2f}x, the most any "
          f"fp32 loop of this recipe can reach here")


if __name__ == "__main__":
    main()
