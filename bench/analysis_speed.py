"""Benchmark: the analyze stage's core on a full 10k test set, per part and in total.

For each variant named (default: `classifier`, 16-dim, and `spatial_conv`,
256-dim) builds the model of params.yaml, trains it for `--epochs` epochs of
its recipe (default 1, not timed: codes of a trained model make k-means and
the probes work harder than an untrained model's; 0 keeps the initial
weights), encodes the training and test images as the extract stage does, and runs
latent_atlas.analysis.analyze_arrays, the function the analyze stage runs,
printing the seconds of every part. Morphometric factors are measured once
first, as the baseline stage does once per pipeline run, and timed apart.

With no MNIST folder it makes 60,000 + 10,000 random digit-like images
(blurred blobs), so the script runs anywhere.

    python bench/analysis_speed.py [--mnist ../shared/datasets/mnist] [--variants classifier,spatial_conv]
"""

from __future__ import annotations

import os

# As the analyze stage sets it (see stages/analyze.py), before OpenMP loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from latent_atlas.analysis import VariantInputs, analyze_arrays  # noqa: E402
from latent_atlas.baseline import measure_factors  # noqa: E402
from latent_atlas.config import load_params  # noqa: E402
from latent_atlas.data import TEST, TRAIN, load_local  # noqa: E402
from latent_atlas.inference import decoder_fn, encoder_fn, run_model  # noqa: E402
from latent_atlas.models import build_model  # noqa: E402
from latent_atlas.training import to_model_input, train_model  # noqa: E402


def synthetic_mnist(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random strokes: a few bright, blurred points per image, labels uniform."""
    from scipy import ndimage as ndi

    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.float32)
    for _ in range(6):
        rows, cols = rng.integers(6, 22, size=(2, n))
        images[np.arange(n), rows, cols] = 1.0
    images = ndi.gaussian_filter(images, sigma=(0, 1.5, 1.5))
    images = np.clip(images / images.max(axis=(1, 2), keepdims=True) * 1.4, 0, 1)
    return (images * 255).astype(np.uint8), rng.integers(0, 10, size=n).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/datasets/mnist")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variants", default="classifier,spatial_conv")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs before the analysis (0: untrained)")
    parser.add_argument("--out", default=None, help="folder for the figures (default: a temporary one)")
    args = parser.parse_args()
    params = load_params(args.params)
    device = torch.device("cpu")

    if Path(args.mnist).is_dir():
        data = load_local(args.mnist)
        (train_images, train_labels), (test_images, test_labels) = data.subset(TRAIN), data.subset(TEST)
        source = f"MNIST from {args.mnist}"
    else:
        train_images, train_labels = synthetic_mnist(60000, 0)
        test_images, test_labels = synthetic_mnist(10000, 1)
        source = "synthetic digit-like images (no MNIST folder)"
    print(f"{source}: {len(train_images)} train / {len(test_images)} test; torch threads "
          f"{torch.get_num_threads()}, cpus {len(os.sched_getaffinity(0))}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")

    start = time.perf_counter()
    factors = measure_factors(test_images, train_images, params.baseline.factor_train_n, params.seed,
                              params.baseline.morpho_scale)
    print(f"morphometric factors (once per run, baseline stage): {time.perf_counter() - start:.1f} s")

    out_root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="analysis_speed_"))
    for name in args.variants.split(","):
        variant = params.variant(name)
        torch.manual_seed(params.seed)
        model = build_model(params.model_config_of(name))
        start = time.perf_counter()
        if args.epochs > 0:
            train_model(model, to_model_input(train_images, variant.input_range),
                        torch.as_tensor(train_labels, dtype=torch.long),
                        replace(params.train_config_of(name, "cpu"), epochs=args.epochs), progress=False)
        train_s = time.perf_counter() - start
        model = model.eval()
        start = time.perf_counter()
        test_out = run_model(model, test_images, variant.input_range, device)
        train_out = run_model(model, train_images, variant.input_range, device)
        extract_s = time.perf_counter() - start
        inputs = VariantInputs(
            name=name, z_test=test_out["latents"], y_test=test_labels, z_train=train_out["latents"],
            y_train=train_labels, images_test=test_images, recon_error_test=test_out["recon_error"],
            encode=encoder_fn(model, variant.input_range, device),
            decode=decoder_fn(model, variant.input_range, device),
            history=[{"epoch": 1, "train_loss": 0.1}, {"epoch": 2, "train_loss": 0.05}],
            factors=factors, log_probs_test=test_out.get("log_probs"),
        )
        start = time.perf_counter()
        result = analyze_arrays(inputs, params.analyze, params.seed, out_root / name)
        total = time.perf_counter() - start
        d = inputs.z_test.shape[1]
        print(f"\n{name} ({d}-dim latent, {len(test_labels)} test codes; {args.epochs} training epochs "
              f"{train_s:.1f} s and extract {extract_s:.1f} s, not counted)")
        for part, seconds in result.seconds.items():
            print(f"  {part:<16} {seconds:6.1f} s")
        print(f"  {'total':<16} {total:6.1f} s  ({len(result.figures)} figures, {len(result.metrics)} metrics)")
    print(f"\nfigures in {out_root}")


if __name__ == "__main__":
    main()
