"""The analysis of one variant's latent space (SPEC section 3), each picture with a number.

Every analysis is a pure function from arrays to a `Part`: `metrics` holds
scalar headline numbers (they go to metrics/analyze/<variant>.json, which DVC
compares across experiments), `details` the lists behind them (eigenvalues,
per-noise-level and per-dim values, the DCI importance matrix), which go to
the sibling metrics/analyze/<variant>.details.json (a plain output, not a DVC
metric, so `dvc exp show` stays readable), and `drawings` what to draw: a
plots function and its data per figure file. `draw` turns drawings into PNGs
in one thin step, so tests check the numbers and the figures come for free.

`analyze_arrays` runs every part on in-memory inputs (bench/analysis_speed.py
calls it too); `analyze_variant` reads the pipeline's files and calls it. The
maths is in latent_atlas.analysis.metrics, the drawing in latent_atlas.analysis.plots. Outputs
hold no timings, so identical inputs give byte-identical metrics files and
DVC reruns nothing downstream for nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from latent_atlas import paths
from latent_atlas.analysis.ablation import ablation_part
from latent_atlas.analysis.clustering import clustering_part
from latent_atlas.analysis.dci import dci_part
from latent_atlas.analysis.generalization import generalization_part
from latent_atlas.analysis.geometry import geometry_part
from latent_atlas.analysis.likelihood import likelihood_part
from latent_atlas.analysis.mig import mig_part
from latent_atlas.analysis.noise import robustness_part
from latent_atlas.analysis.parts import Drawing, Part, draw
from latent_atlas.analysis.probes import probes_part
from latent_atlas.analysis.recognizability import recognizability_part, reconstruct
from latent_atlas.analysis.samples import samples_part
from latent_atlas.analysis.sap import sap_part
from latent_atlas.analysis.sparsity import sparsity_part
from latent_atlas.analysis.spectrum import spectrum_part
from latent_atlas.analysis.translation import translation_part
from latent_atlas.analysis.traversal import traversals_part
from latent_atlas.analysis.tsne import tsne_part
from latent_atlas.analysis.untrained import ModelFunctions, untrained_part
from latent_atlas.analysis.views import (
    head_part,
    latent_views_part,
    loss_part,
    reconstructions_part,
)
from latent_atlas.arrays import subsample
from latent_atlas.config import AnalyzeParams, Params
from latent_atlas.data.factors import Factors, factor_table, load_factors
from latent_atlas.data.mnist import TEST, TRAIN, load_arrays
from latent_atlas.errors import DamagedFileError
from latent_atlas.io import read_npz
from latent_atlas.models.autoencoders import ModelConfig, layer_shapes
from latent_atlas.models.checkpoint import load_checkpoint
from latent_atlas.models.inference import classifier_fn, decoder_fn, encoder_fn
from latent_atlas.models.judge import Judge, load_judge
from latent_atlas.models.likelihood import likelihood_bounds
from latent_atlas.models.training import initial_model, resolve_device, to_model_input

LATENT_KEYS = ("z_test", "y_test", "recon_error_test", "z_train", "y_train")

HEADLINE = ("test_mse", "accuracy", "purity_best", "probe_linear_accuracy", "participation_ratio",
            "dci_disentanglement", "mig", "test_nll_iwae", "samples_prior_fid", "samples_gmm_fid")


def available_cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class VariantInputs:
    """Everything the analyses read, in memory: latents, test images, the model as two functions."""

    name: str
    z_test: np.ndarray  # (n, d)
    y_test: np.ndarray  # (n,)
    z_train: np.ndarray  # (m, d)
    y_train: np.ndarray  # (m,)
    images_test: np.ndarray  # (n, 28, 28) uint8
    recon_error_test: np.ndarray  # (n,) per-image MSE in [0,1] units
    encode: Callable[[np.ndarray], np.ndarray]  # (k, 28, 28) in [0,1] -> (k, d)
    decode: Callable[[np.ndarray], np.ndarray]  # (k, d) -> (k, 28, 28) in [0,1]
    history: list[dict] = field(default_factory=list)
    factors: Factors | None = None
    log_probs_test: np.ndarray | None = None
    # What the newer analyses read; each is skipped when its input is missing.
    classify: Callable[[np.ndarray], np.ndarray] | None = None  # (k, d) -> (k, 10) log-probs of the head
    recon_error_train: np.ndarray | None = None  # (m,)
    log_probs_train: np.ndarray | None = None  # (m, 10)
    judge: Judge | None = None  # the fixed digit classifier (models/judge.pt); it also scores samples
    initial: ModelFunctions | None = None  # the same network at its seeded initialization, untrained
    images_train: np.ndarray | None = None  # (m', 28, 28) uint8, the seeded rows the untrained probes fit on
    y_images_train: np.ndarray | None = None  # (m',)
    # A VAE: its codes are posterior means, its samples come from the prior, and
    # likelihood(k) gives per-image test bounds (models.likelihood.likelihood_bounds).
    variational: bool = False
    likelihood: Callable[[int], dict[str, np.ndarray]] | None = None


@dataclass
class AnalysisResult:
    metrics: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    # Wall time per part: printed by the stage and the bench, never written to
    # the outputs (a timing would make identical runs differ).
    seconds: dict[str, float] = field(default_factory=dict)

    def scalars(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}

    def headline(self) -> dict[str, float]:
        return {k: float(self.metrics[k]) for k in HEADLINE if k in self.metrics}


def analyze_arrays(inputs: VariantInputs, cfg: AnalyzeParams, seed: int, out_dir: Path,
                   n_jobs: int | None = None) -> AnalysisResult:
    """Run every analysis on one variant's in-memory inputs, then draw; time each step.

    `n_jobs` threads for t-SNE (default: every available core).
    """
    z, y = inputs.z_test, inputs.y_test
    images01 = inputs.images_test.astype(np.float32) / 255.0
    n_jobs = n_jobs or available_cores()
    metrics: dict[str, Any] = {
        "latent_dim": int(z.shape[1]),
        "n_test": int(len(y)),
        "test_mse": float(inputs.recon_error_test.mean()),
    }
    result = AnalysisResult(metrics)
    shown = images01[: cfg.n_recon]
    start = time.perf_counter()
    recon01 = reconstruct(inputs.encode, inputs.decode, images01)  # every test image, read by two parts
    result.seconds["reconstruct"] = time.perf_counter() - start
    parts: dict[str, Callable[[], Part]] = {
        "reconstructions": lambda: reconstructions_part(shown, recon01[: cfg.n_recon]),
        "loss": lambda: loss_part(inputs.history),
        "generalization": lambda: generalization_part(inputs.recon_error_train, inputs.recon_error_test, z,
                                                      inputs.log_probs_train, inputs.y_train, inputs.log_probs_test,
                                                      y),
        "recognizability": lambda: recognizability_part(inputs.judge, images01, recon01, y),
        "latent_views": lambda: latent_views_part(z, y, seed),
        "tsne": lambda: tsne_part(z, y, cfg.tsne, seed, n_jobs),
        "clustering": lambda: clustering_part(z, y, cfg.kmeans_seeds, seed),
        "probes": lambda: probes_part(inputs.z_train, inputs.y_train, z, y, k=cfg.knn_k, max_train=cfg.probe_max_train,
                                 seed=seed),
        "geometry": lambda: geometry_part(z, y, k=cfg.knn_k, max_queries=cfg.precision_queries, seed=seed),
        "spectrum": lambda: spectrum_part(z, cfg.eigen_threshold),
        "robustness": lambda: robustness_part(inputs.encode, inputs.decode, images01, y, cfg.noise, seed=seed,
                                         n_show=cfg.n_recon, z_train=inputs.z_train, y_train=inputs.y_train,
                                         judge=inputs.judge, classify=inputs.classify, k=cfg.knn_k),
        "translation": lambda: translation_part(inputs.encode, inputs.decode, images01, y, inputs.z_train,
                                                inputs.y_train, shifts=cfg.shift.pixels,
                                                max_images=cfg.shift.max_images, k=cfg.knn_k, seed=seed),
        "traversals": lambda: traversals_part(inputs.decode, z, images01, y, cfg.traversal, seed=seed,
                                              judge=inputs.judge, factors=inputs.factors),
        # After traversals: the dead dims it found are ablated together.
        "ablation": lambda: ablation_part(inputs.decode, inputs.classify, z, images01, y,
                                          result.details.get("dead_dims_list", []), max_dims=cfg.ablation.max_dims,
                                          max_images=cfg.ablation.max_images, seed=seed),
        "dci": lambda: dci_part(inputs.z_train, inputs.y_train, z, y, inputs.factors, cfg.dci, seed=seed),
        "mig": lambda: mig_part(z, factor_table(inputs.factors, inputs.y_train, y, n_train=None, seed=seed), cfg.mig),
        "sap": lambda: sap_part(inputs.z_train, z, factor_table(inputs.factors, inputs.y_train, y,
                                                                n_train=cfg.sap.n_train, seed=seed), cfg.sap),
        "sparsity": lambda: sparsity_part(z, y, cfg.sparsity),
    }
    if inputs.log_probs_test is not None:
        parts["head"] = lambda: head_part(inputs.log_probs_test, y)
    if inputs.initial is not None and inputs.images_train is not None:
        parts["untrained"] = lambda: untrained_part(
            inputs.initial, images01, y, inputs.images_train.astype(np.float32) / 255.0, inputs.y_images_train,
            eigen_threshold=cfg.eigen_threshold, k=cfg.knn_k, seed=seed)
    if inputs.likelihood is not None:
        parts["likelihood"] = lambda: likelihood_part(inputs.likelihood, z, cfg.likelihood)
    if inputs.judge is not None:
        parts["samples"] = lambda: samples_part(inputs.decode, inputs.z_train, z, images01, inputs.judge, cfg.samples,
                                                variational=inputs.variational, seed=seed)
    drawings: dict[str, Drawing] = {}
    for part_name, run in parts.items():
        start = time.perf_counter()
        part = run()
        result.seconds[part_name] = time.perf_counter() - start
        result.metrics.update(part.metrics)
        result.details.update(part.details)
        drawings.update(part.drawings)
    start = time.perf_counter()
    result.figures = draw(drawings, inputs.name, out_dir)
    result.seconds["drawing"] = time.perf_counter() - start
    return result


def load_inputs(name: str, params: Params) -> tuple[VariantInputs, Any]:
    """The variant's checkpoint, latents and images, the shared factors and judge, and its untrained twin."""
    ckpt = load_checkpoint(paths.checkpoint(name))
    lat = read_npz(paths.latents(name), required=LATENT_KEYS)
    data = load_arrays(paths.MNIST)
    images, labels = data.subset(TEST)
    if not np.array_equal(labels, lat["y_test"]):
        raise DamagedFileError(f"{paths.latents(name)} does not match {paths.MNIST}; rerun extract ({name})")
    train_images, train_labels = data.subset(TRAIN)
    rows = subsample(len(train_labels), params.analyze.probe_max_train, params.seed)
    device = resolve_device(params.train.device)
    model = ckpt.build().to(device).eval()
    initial = initial_model(ModelConfig.from_dict(ckpt.model_config), params.seed).to(device).eval()
    likelihood = None
    if model.variational:
        x = to_model_input(images, ckpt.input_range).to(device)
        likelihood = lambda k: likelihood_bounds(model, x, k=k, seed=params.seed)  # noqa: E731
    inputs = VariantInputs(
        name=name, z_test=lat["z_test"], y_test=lat["y_test"], z_train=lat["z_train"], y_train=lat["y_train"],
        images_test=images, recon_error_test=lat["recon_error_test"],
        encode=encoder_fn(model, ckpt.input_range, device), decode=decoder_fn(model, ckpt.input_range, device),
        history=list(ckpt.history), factors=load_factors(paths.FACTORS), log_probs_test=lat.get("log_probs_test"),
        classify=classifier_fn(model, device) if model.has_classifier else None,
        recon_error_train=lat.get("recon_error_train"), log_probs_train=lat.get("log_probs_train"),
        judge=load_judge(paths.JUDGE),
        initial=ModelFunctions(encoder_fn(initial, ckpt.input_range, device),
                               decoder_fn(initial, ckpt.input_range, device),
                               classifier_fn(initial, device) if initial.has_classifier else None),
        images_train=train_images[rows], y_images_train=train_labels[rows],
        variational=model.variational, likelihood=likelihood,
    )
    return inputs, ckpt


def analyze_variant(name: str, params: Params) -> AnalysisResult:
    inputs, ckpt = load_inputs(name, params)
    result = analyze_arrays(inputs, params.analyze, params.seed, paths.plots(name))
    result.metrics["n_params"] = int(ckpt.params["n_params"])
    result.details["layer_shapes"] = [list(shape) for shape in layer_shapes(ckpt.build())]
    return result
