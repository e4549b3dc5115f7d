"""Benchmark companion: every variant's final metrics from two pipeline runs, side by side (GPU against CPU).

Reads the metrics of two runs of the same commit and params, each from a
folder holding its metrics/ (say, this checkout's committed full-MNIST
baseline on this CPU, and a GPU run's metrics.tgz from bench/gpu_pipeline.sh
unpacked), and prints per variant its training device, final
training loss, test MSE, accuracy (the classifier head's, where it has one)
and training seconds per epoch in both runs, with the difference relative to the first. The two are close
but not bitwise equal (README, "Determinism: CPU and GPU").

    python bench/device_metrics.py . /path/to/unpacked/gpu/run
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from latent_atlas import paths

COLUMNS = (("train", "final_train_loss"), ("analyze", "test_mse"), ("analyze", "accuracy"),
           ("train", "seconds_per_epoch"))


def read_run(root: Path) -> dict[str, dict[str, float | str]]:
    """{variant: {"device": ..., "final_train_loss": ..., ...}} of the run whose metrics/ is under `root`."""
    out: dict[str, dict[str, float | str]] = {}
    for name in sorted(path.stem for path in (root / paths.train_metrics("any")).parent.glob("*.json")):
        train = json.loads((root / paths.train_metrics(name)).read_text())
        analyze_path = root / paths.analysis(name)
        analyze = json.loads(analyze_path.read_text()) if analyze_path.exists() else {}
        row: dict[str, float | str] = {"device": train.get("device", "?")}
        for source, key in COLUMNS:
            value = (train if source == "train" else analyze).get(key)
            if isinstance(value, int | float):
                row[key] = float(value)
        out[name] = row
    return out


def relative(a: float, b: float) -> str:
    return "-" if a == 0 else f"{(b - a) / abs(a):+.2%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", type=Path, help="the folder holding a run's metrics/ (the reference)")
    parser.add_argument("second", type=Path, help="the folder holding another run's metrics/")
    args = parser.parse_args()
    first, second = read_run(args.first), read_run(args.second)
    if not first or not second:
        raise SystemExit(f"no {paths.train_metrics('*')} in {args.first if not first else args.second}")
    print(f"{'variant':<15}{'devices':>12}" + "".join(f"{key:>34}" for _, key in COLUMNS))
    for name in sorted(set(first) & set(second)):
        a, b = first[name], second[name]
        cells = []
        for _, key in COLUMNS:
            if key in a and key in b:
                cells.append(f"{a[key]:.5g} -> {b[key]:.5g} ({relative(a[key], b[key])})".rjust(34))
            else:
                cells.append("-".rjust(34))
        print(f"{name:<15}{a['device'] + '/' + b['device']:>12}" + "".join(cells))
    missing = sorted(set(first) ^ set(second))
    if missing:
        print(f"in one run only: {', '.join(missing)}")


if __name__ == "__main__":
    main()
