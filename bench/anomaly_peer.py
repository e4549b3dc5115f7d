"""Benchmark: one-class MNIST, Ruff et al. (2018)'s own program against this project's stage, side by side.

Runs the paper's PyTorch implementation (a checkout of lukasruff/Deep-SVDD-PyTorch,
passed in; its code never enters the project) and this project's `oneclass`
stage on the same digits and seeds, one after the other on this machine, and
prints per digit: the peer's autoencoder AUROC (its pretraining AE, scored by
reconstruction error) and its Deep SVDD AUROC, our three scores, the published
Deep SVDD row, and each program's wall time (a fresh process per digit for both,
start-up and data loading included).

The peer runs unmodified, from a throwaway copy (so its checkout gets no
__pycache__), on this project's torch: both lr milestones are passed (click 8
rejects the default 0), and its AE AUROC is read from the first `Test set AUC`
line of its log (two decimals; the second line is Deep SVDD's, whose full
precision is in results.json). Its data folder is made from the four MNIST IDX
files (decompressed into <data>/MyMNIST/raw/, so torchvision downloads nothing).

Epochs: the paper trains 150 AE + 150 Deep SVDD epochs (lr x0.1 after 50), about
8 minutes per digit on this CPU. --epochs E cuts both programs alike: the peer
trains E AE + E Deep SVDD epochs, milestone at E/3 (the paper's proportion); our
AE trains E epochs (anomaly.model.epochs). Everything else is each program's
default: the paper's hyperparameters for the peer, params.yaml for ours (-S
overrides it as `dvc exp run -S` would).

    python bench/anomaly_peer.py --peer <Deep-SVDD-PyTorch checkout> --mnist /path/to/mnist
        [--digits 0 1 ... 9] [--seeds 0] [--epochs 10] [-S key=value ...] [--keep]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))  # this checkout's package, whichever one the environment installed

from pipeline_speed import set_param  # noqa: E402

from latent_atlas.analysis.anomaly import DEEP_SVDD_PUBLISHED  # noqa: E402
from latent_atlas.analysis.oneclass import SCORES  # noqa: E402
from latent_atlas.data.mnist import save_arrays  # noqa: E402
from latent_atlas.data.sources import load_local  # noqa: E402

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
AUC_LINE = re.compile(r"Test set AUC: ([0-9.]+)%")
# The paper's MNIST settings (Ruff et al. 2018, section 4.1; the repository's README command).
PEER_SETTINGS = ("--objective", "one-class", "--lr", "0.0001", "--batch_size", "200", "--weight_decay", "0.5e-6",
                 "--pretrain", "True", "--ae_lr", "0.0001", "--ae_batch_size", "200", "--ae_weight_decay", "0.5e-3",
                 "--device", "cpu")


def peer_data(mnist: Path, root: Path) -> Path:
    """<root>/MyMNIST/raw/ with the four decompressed IDX files: what the peer's MNIST subclass reads."""
    raw = root / "MyMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in IDX_NAMES:
        plain, packed = mnist / name, mnist / f"{name}.gz"
        data = plain.read_bytes() if plain.exists() else gzip.decompress(packed.read_bytes())
        (raw / name).write_bytes(data)
    return root


def run_peer(src: Path, data: Path, xp: Path, digit: int, seed: int, epochs: int) -> dict[str, float]:
    """One digit in a fresh process: the peer's AE and Deep SVDD AUROC and the wall time."""
    xp.mkdir(parents=True)
    milestone = str(max(1, round(epochs / 3)))
    cmd = [sys.executable, "-W", "ignore", "main.py", "mnist", "mnist_LeNet", str(xp), str(data), *PEER_SETTINGS,
           "--n_epochs", str(epochs), "--lr_milestone", milestone, "--ae_n_epochs", str(epochs),
           "--ae_lr_milestone", milestone, "--normal_class", str(digit), "--seed", str(seed)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=src, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the peer failed on digit {digit}:\n{done.stderr[-3000:]}")
    aucs = [float(a) / 100 for a in AUC_LINE.findall((xp / "log.txt").read_text())]
    if len(aucs) != 2:
        raise SystemExit(f"expected two 'Test set AUC' lines (AE, then Deep SVDD) in {xp / 'log.txt'}, got {aucs}")
    svdd = json.loads((xp / "results.json").read_text())["test_auc"]
    return {"peer_ae": aucs[0], "peer_svdd": float(svdd), "seconds": seconds}


def our_workspace(root: Path, mnist: Path, overrides: list[str]) -> None:
    """data/mnist.npz and params.yaml in `root`: what the oneclass stage reads."""
    save_arrays(root / "data/mnist.npz", load_local(mnist))
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        set_param(params, key, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_ours(root: Path, digit: int) -> dict[str, float]:
    """The pipeline's oneclass stage for one digit, in a fresh process, as `dvc repro` runs it."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    env.pop("MLFLOW_TRACKING_URI", None)  # the stage checks a tracking server first: none here
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stages.oneclass", "--digit", str(digit)], cwd=root, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"our oneclass stage failed on digit {digit}:\n{done.stderr[-3000:]}")
    metrics = json.loads((root / f"metrics/anomaly/{digit}.json").read_text())
    return {**{name: metrics[f"auroc_{name}"] for name in SCORES}, "seconds": seconds,
            "train_seconds": metrics["train_seconds"]}


def table(rows: list[dict], seeds: list[int]) -> None:
    columns = ["peer_ae", "peer_svdd", *SCORES, "published"]
    print(f"\nAUROC per normal digit (mean over seeds {seeds}); wall seconds per digit and seed")
    print(f"{'digit':<7}" + "".join(f"{c:>11}" for c in columns) + f"{'peer s':>10}{'ours s':>10}")
    for row in rows:
        print(f"{row['digit']:<7}" + "".join(f"{row[c]:11.4f}" for c in columns)
              + f"{row['peer_seconds']:10.1f}{row['our_seconds']:10.1f}")
    means = {c: float(np.mean([r[c] for r in rows])) for c in columns}
    print(f"{'mean':<7}" + "".join(f"{means[c]:11.4f}" for c in columns)
          + f"{np.mean([r['peer_seconds'] for r in rows]):10.1f}{np.mean([r['our_seconds'] for r in rows]):10.1f}")
    best = max(SCORES, key=means.get)
    peer_wall = sum(r["peer_seconds"] for r in rows) * len(seeds)
    our_wall = sum(r["our_seconds"] for r in rows) * len(seeds)
    print(f"\nour best score: {best}, mean AUROC {means[best]:.4f}; published Deep SVDD on these digits "
          f"{means['published']:.4f}; the peer's AE in this run {means['peer_ae']:.4f}, its Deep SVDD "
          f"{means['peer_svdd']:.4f}")
    print(f"wall time, all digits and seeds: peer {peer_wall:.0f} s, ours {our_wall:.0f} s "
          f"({peer_wall / our_wall:.1f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", required=True, type=Path, help="a checkout of lukasruff/Deep-SVDD-PyTorch")
    parser.add_argument("--mnist", required=True, type=Path, help="a folder with the four MNIST IDX files (.gz or not)")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, default=10, help="AE (and the peer's Deep SVDD) epochs for both")
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE",
                        help="a params.yaml override for ours (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (its path is printed)")
    args = parser.parse_args()
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))
    if not (args.peer / "src" / "main.py").is_file():
        raise SystemExit(f"{args.peer} is not a Deep-SVDD-PyTorch checkout (no src/main.py)")

    root = Path(tempfile.mkdtemp(prefix="latent-atlas-anomaly-peer-"))
    try:
        shutil.copytree(args.peer, root / "peer", ignore=shutil.ignore_patterns(".git", "__pycache__"))
        data = peer_data(args.mnist, root / "peer-data")
        results: dict[tuple[int, int], dict] = {}
        for seed in args.seeds:
            ours = root / f"ours-seed{seed}"
            our_workspace(ours, args.mnist, [f"seed={seed}", f"anomaly.model.epochs={args.epochs}",
                                             *args.set_param])
            for digit in args.digits:
                peer = run_peer(root / "peer" / "src", data, root / f"xp-{seed}-{digit}", digit, seed, args.epochs)
                print(f"peer  digit {digit} seed {seed}: AE {peer['peer_ae']:.4f}, Deep SVDD "
                      f"{peer['peer_svdd']:.4f} in {peer['seconds']:.1f} s", flush=True)
                mine = run_ours(ours, digit)
                print(f"ours  digit {digit} seed {seed}: " + ", ".join(f"{n} {mine[n]:.4f}" for n in SCORES)
                      + f" in {mine['seconds']:.1f} s (training {mine['train_seconds']:.1f} s)", flush=True)
                results[(seed, digit)] = {**peer, **mine, "peer_seconds": peer["seconds"],
                                          "our_seconds": mine["seconds"]}
        rows = []
        for digit in args.digits:
            found = [results[(seed, digit)] for seed in args.seeds]
            rows.append({"digit": digit, "published": DEEP_SVDD_PUBLISHED[digit] / 100,
                         **{k: float(np.mean([f[k] for f in found]))
                            for k in ("peer_ae", "peer_svdd", *SCORES, "peer_seconds", "our_seconds")}})
        print("\ncommand: " + shlex.join([Path(sys.executable).name, *sys.argv]))
        print(f"epochs: peer {args.epochs} AE + {args.epochs} Deep SVDD (paper: 150 + 150); ours {args.epochs} AE")
        table(rows, args.seeds)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
