"""Benchmark: the analyze stage's core on a full 10k test set, per part and in total.

For each variant named (default: `classifier`, 16-dim, and `spatial_conv`,
256-dim) builds the model of params.yaml, trains it for `--epochs` epochs of
its recipe (default 1, not timed: codes of a trained model make k-means and
the probes work harder than an untrained model's; 0 keeps the initial
weights), encodes the training and test images as the extract stage does, and runs
latent_atlas.analysis.variant.analyze_arrays, the function the analyze stage runs,
printing the seconds of every part. Morphometric factors are measured once
first, as the baseline stage does once per pipeline run, and timed apart.

First, t-SNE side by side (issue 9): openTSNE, which the analysis runs,
and scikit-learn's Barnes-Hut, on the same 10,000 classifier-like codes (the
test images' top 16 principal components) with the same perplexity and
iterations, printing both times, their ratio, and both final KL divergences
computed exactly on the same affinities P (each library's own estimate is an
approximation of its own); then openTSNE once more, to check the rerun is
byte-identical.

With no MNIST folder it makes 60,000 + 10,000 random digit-like images
(blurred blobs), so the script runs anywhere.

    python bench/analysis_speed.py [--mnist ../shared/datasets/mnist] [--variants classifier,spatial_conv]
    python bench/analysis_speed.py --only tsne [--jobs 2]
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

from latent_atlas.analysis.pca import pca_directions
from latent_atlas.analysis.tsne import (
    tsne_embedding,
    tsne_kl_divergence,  # noqa: E402
)
from latent_atlas.analysis.untrained import ModelFunctions
from latent_atlas.analysis.variant import VariantInputs, analyze_arrays, available_cores
from latent_atlas.arrays import subsample
from latent_atlas.config import TSNEParams, load_params  # noqa: E402
from latent_atlas.data.mnist import TEST, TRAIN
from latent_atlas.data.morpho import measure_factors
from latent_atlas.data.sources import load_local
from latent_atlas.models.autoencoders import (
    build_model,  # noqa: E402
    model_config,
)
from latent_atlas.models.inference import classifier_fn, decoder_fn, encoder_fn, run_model  # noqa: E402
from latent_atlas.models.judge import Judge, JudgeSettings, train_judge
from latent_atlas.models.training import initial_model, to_model_input, train_config, train_model  # noqa: E402


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


# --------------------------------------------------------------------------- #
# t-SNE: openTSNE (what the analysis runs) against scikit-learn, side by side
# --------------------------------------------------------------------------- #


def classifier_like_codes(images: np.ndarray, dims: int = 16) -> np.ndarray:
    """The test images' top `dims` principal components: a stand-in for a 16-d classifier code."""
    x = images.reshape(len(images), -1).astype(np.float64) / 255.0
    mean, directions, _ = pca_directions(x, dims)
    return (x - mean) @ directions  # (n, dims)


def sklearn_tsne(x: np.ndarray, cfg: TSNEParams, seed: int, n_jobs: int) -> np.ndarray:
    """scikit-learn's Barnes-Hut t-SNE with the same schedule (250 exaggerated + the rest)."""
    from sklearn.manifold import TSNE

    return TSNE(n_components=2, perplexity=cfg.perplexity, init="pca", learning_rate="auto", max_iter=cfg.max_iter,
                random_state=seed, n_jobs=n_jobs).fit_transform(x)


def timed(fn, *args):
    """fn(*args), its wall seconds and the CPU seconds of all this process's threads."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def compare_tsne(x: np.ndarray, cfg: TSNEParams, seed: int, n_jobs: int) -> None:
    """Both libraries on the same codes; both embeddings scored by one exact KL on the same P.

    openTSNE runs before and after scikit-learn (the second run also checks
    that a rerun is byte-identical), so load that drifts during the run shows
    as a gap between its two times. CPU seconds are printed beside wall
    seconds: on a shared machine they say more about the work done.
    """
    from openTSNE.affinity import PerplexityBasedNN

    print(f"\nt-SNE of {len(x):,} codes ({x.shape[1]} dims), perplexity {cfg.perplexity:g}, {cfg.max_iter} "
          f"iterations (250 early exaggeration), {n_jobs} threads; KL(P||Q) exact, on the same P", flush=True)
    (embedded, kl_open), open_s, open_cpu = timed(tsne_embedding, x, cfg, seed, n_jobs)
    print(f"  {'openTSNE':<20} {open_s:7.1f} s wall {open_cpu:7.1f} s CPU   KL {kl_open:.4f}", flush=True)
    embedded_sk, sk_s, sk_cpu = timed(sklearn_tsne, x, cfg, seed, n_jobs)
    # The P openTSNE fitted to (exact neighbours, the same perplexity), rebuilt to score sklearn's embedding.
    p = PerplexityBasedNN(x, perplexity=cfg.perplexity, method="exact", n_jobs=n_jobs, random_state=seed).P
    kl_sk = tsne_kl_divergence(p, embedded_sk)
    print(f"  {'scikit-learn (BH)':<20} {sk_s:7.1f} s wall {sk_cpu:7.1f} s CPU   KL {kl_sk:.4f}", flush=True)
    (again, kl_again), again_s, again_cpu = timed(tsne_embedding, x, cfg, seed, n_jobs)
    print(f"  {'openTSNE again':<20} {again_s:7.1f} s wall {again_cpu:7.1f} s CPU   KL {kl_again:.4f}", flush=True)
    best_s, best_cpu = min(open_s, again_s), min(open_cpu, again_cpu)
    print(f"  scikit-learn / openTSNE (its faster run): wall {sk_s / best_s:.2f}x, CPU {sk_cpu / best_cpu:.2f}x; "
          f"KL openTSNE - scikit-learn {kl_open - kl_sk:+.4f}; openTSNE rerun byte-identical: "
          f"{np.array_equal(embedded, again) and kl_open == kl_again}")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default="../shared/datasets/mnist")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--variants", default="classifier,spatial_conv")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs before the analysis (0: untrained)")
    parser.add_argument("--out", default=None, help="folder for the figures (default: a temporary one)")
    parser.add_argument("--only", choices=("all", "tsne", "parts"), default="all",
                        help="tsne: openTSNE against scikit-learn only; parts: the analysis parts only")
    parser.add_argument("--jobs", type=int, default=None, help="threads (default: every available core)")
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
    jobs = args.jobs or available_cores()
    if args.only in ("all", "tsne"):
        compare_tsne(classifier_like_codes(test_images), params.analyze.tsne, params.seed, jobs)
    if args.only == "tsne":
        return

    start = time.perf_counter()
    factors = measure_factors(test_images, train_images, params.baseline.factor_train_n, params.seed,
                              params.baseline.morpho_scale)
    print(f"morphometric factors (once per run, baseline stage): {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    judge_net, _ = train_judge(train_images.astype(np.float32) / 255.0, train_labels,
                               JudgeSettings(epochs=1, seed=params.seed))
    judge = Judge(judge_net)
    print(f"the judge, one epoch (once per run, judge stage): {time.perf_counter() - start:.1f} s")
    rows = subsample(len(train_labels), params.analyze.probe_max_train, params.seed)

    out_root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="analysis_speed_"))
    for name in args.variants.split(","):
        variant = params.variant(name)
        torch.manual_seed(params.seed)
        model = build_model(model_config(params, name))
        start = time.perf_counter()
        if args.epochs > 0:
            train_model(model, to_model_input(train_images, variant.input_range),
                        torch.as_tensor(train_labels, dtype=torch.long),
                        replace(train_config(params, name, "cpu"), epochs=args.epochs), progress=False)
        train_s = time.perf_counter() - start
        model = model.eval()
        initial = initial_model(model.config, params.seed).eval()
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
            classify=classifier_fn(model, device) if model.has_classifier else None,
            recon_error_train=train_out["recon_error"], log_probs_train=train_out.get("log_probs"), judge=judge,
            initial=ModelFunctions(encoder_fn(initial, variant.input_range, device),
                                   decoder_fn(initial, variant.input_range, device),
                                   classifier_fn(initial, device) if initial.has_classifier else None),
            images_train=train_images[rows], y_images_train=train_labels[rows],
        )
        start = time.perf_counter()
        result = analyze_arrays(inputs, params.analyze, params.seed, out_root / name, n_jobs=jobs)
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
