"""Benchmark: latent_atlas.data.morpho against Castro et al.'s Morpho-MNIST, agreement and speed.

Measures the first `--n` MNIST test digits (default 1,000) twice in one run,
on one thread: with the reference implementation (github.com/dccastro/
Morpho-MNIST, imported from the checkout given by `--reference`, never
copied), one image at a time with `morphomnist.measure.measure_image` as its
`measure_batch` does without a worker pool, and with
latent_atlas.data.morpho.morphometrics_matrix on the whole batch. Prints, per
measure, Pearson r, the median absolute difference, the thresholds of issue
10 (r >= 0.98; median |difference| <= 5% of the reference's median, or
0.02 rad for slant) and pass/fail; then both timings and their ratio (issue
10 asks for >= 10x). Exits 1 when a check fails.

    python bench/morpho_agreement.py --reference /tmp/morpho-ref [--mnist ../shared/datasets/mnist] [--n 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from latent_atlas.data.mnist import TEST
from latent_atlas.data.morpho import MORPHO_NAMES, morphometrics_matrix
from latent_atlas.data.sources import load_local

MIN_R = 0.98
MAX_MEDIAN_SHARE = 0.05  # of the reference's median, for every measure but slant
MAX_MEDIAN_SLANT = 0.02  # radians
MIN_SPEEDUP = 10.0


def import_reference(path: Path):
    """morphomnist.measure from a checkout of dccastro/Morpho-MNIST."""
    if not (path / "morphomnist" / "measure.py").is_file():
        raise SystemExit(f"--reference {path}: no morphomnist/measure.py there; "
                         "pass a checkout of github.com/dccastro/Morpho-MNIST")
    sys.path.insert(0, str(path))
    from morphomnist import measure

    return measure


def agreement(ours: np.ndarray, ref: np.ndarray) -> list[dict]:
    """Per measure: r, median |difference|, the allowed median and whether both checks pass."""
    rows = []
    for j, name in enumerate(MORPHO_NAMES):
        r = float(np.corrcoef(ours[:, j], ref[:, j])[0, 1])
        median_diff = float(np.median(np.abs(ours[:, j] - ref[:, j])))
        allowed = MAX_MEDIAN_SLANT if name == "slant" else MAX_MEDIAN_SHARE * float(np.median(ref[:, j]))
        rows.append({"name": name, "r": r, "median_diff": median_diff, "allowed": allowed,
                     "ok": r >= MIN_R and median_diff <= allowed})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="checkout of dccastro/Morpho-MNIST")
    parser.add_argument("--mnist", type=Path, default=Path("../shared/datasets/mnist"),
                        help="folder of the four MNIST IDX files")
    parser.add_argument("--n", type=int, default=1000, help="test digits to measure (>= 1000 for issue 10)")
    args = parser.parse_args()
    if not 2 <= args.n <= 10_000:
        raise SystemExit(f"--n must be in 2..10000 (the MNIST test set); got {args.n}")
    measure = import_reference(args.reference)
    images = load_local(args.mnist).subset(TEST)[0][: args.n]  # (n, 28, 28) uint8

    with threadpool_limits(1):
        start = time.perf_counter()
        ref = np.array([tuple(measure.measure_image(image, verbose=False)) for image in images])
        ref_seconds = time.perf_counter() - start
        start = time.perf_counter()
        ours, _ = morphometrics_matrix(images)
        our_seconds = time.perf_counter() - start

    print(f"{args.n} MNIST test digits, threshold 0.5, 4x up-sampling, one thread\n")
    print(f"{'measure':<10} {'r':>8} {'median |diff|':>14} {'allowed':>9}  check (r >= {MIN_R})")
    rows = agreement(ours, ref)
    for row in rows:
        verdict = "pass" if row["ok"] else "FAIL"
        print(f"{row['name']:<10} {row['r']:8.5f} {row['median_diff']:14.4f} {row['allowed']:9.4f}  {verdict}")
    speedup = ref_seconds / our_seconds
    fast = speedup >= MIN_SPEEDUP
    print(f"\nreference, per image: {ref_seconds:7.2f} s  ({1000 * ref_seconds / args.n:.2f} ms/image)")
    print(f"latent_atlas, batch:  {our_seconds:7.2f} s  ({1000 * our_seconds / args.n:.2f} ms/image)")
    print(f"speed-up: {speedup:.1f}x (needs >= {MIN_SPEEDUP:.0f}x)  {'pass' if fast else 'FAIL'}")
    return 0 if fast and all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
