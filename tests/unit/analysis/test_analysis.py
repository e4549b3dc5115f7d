"""The analyze stage's orchestration: every metric key and figure, on tiny fake variants,
and known answers for the parts that have them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from latent_atlas import arrays, paths
from latent_atlas.analysis import dci, noise, parts, probes, spectrum, traversal, tsne, views
from latent_atlas.analysis import variant as A
from latent_atlas.arch import VARIATIONAL_ARCHES
from latent_atlas.config import DCIParams, NoiseParams, TraversalParams, TSNEParams, parse_params
from latent_atlas.data.mnist import TEST, TRAIN, MNISTArrays, save_arrays
from latent_atlas.data.morpho import MORPHO_NAMES, measure_factors
from latent_atlas.errors import ConfigError, DamagedFileError
from latent_atlas.io import write_json, write_npz
from latent_atlas.models.autoencoders import build_model, count_parameters, model_config
from latent_atlas.models.checkpoint import Checkpoint, save_checkpoint
from latent_atlas.models.inference import run_model
from latent_atlas.models.judge import JudgeSettings, save_judge, train_judge

N_TRAIN, N_TEST = 80, 40

# Every variant gets these scalar keys (classifier variants add accuracy).
EXPECTED_KEYS = {
    "latent_dim", "n_params", "n_test", "test_mse", "final_train_loss",
    "view_knn_latent12", "view_knn_pca2", "pca2_explained",
    "tsne_points", "tsne_kl_divergence", "view_knn_tsne",
    "purity_best", "purity_mean", "purity_std", "nmi", "ari",
    "probe_linear_accuracy", "probe_knn_accuracy",
    "participation_ratio", "dims_90", "dims_95", "eigenvalues_above_threshold", "eigenvalue_max",
    "noise_latent_shift", "noise_latent_shift_rel", "noise_recon_mse", "noise_images",
    "traversal_effect_mean", "traversal_consistency_mean", "traversal_consistency_weighted",
    "traversal_n_dims", "traversal_n_images",
    "dci_single_disentanglement", "dci_single_completeness", "dci_single_informativeness",
    "dci_disentanglement", "dci_completeness", "dci_completeness_weighted", "dci_informativeness", "dci_n_train",
    *(f"dci_informativeness_{f}" for f in ("digit", "area", "length", "thickness", "slant", "width", "height")),
    # issue 16: the measurements the ledger's claims read
    "train_mse", "generalization_gap", "generalization_gap_rel", "compression_ratio", "code_min", "code_std_mean",
    "recon_sharpness", "recon_judge_accuracy", "recon_judge_confidence", "tsne_silhouette", "purity_shuffled",
    "probe_linear_train_accuracy", "precision_at_10", "noise_recon_mse_clean", "noise_knn_accuracy_clean",
    "noise_view_knn_clean", "noise_view_purity_clean", "noise_judge_accuracy_clean", "dead_dims",
    "dead_dims_image", "traversal_profile_rank_corr", "traversal_kinds", "traversal_label_dims",
    "ablation_dead_mse_increase", "dci_linear_informativeness_digit", "dci_single_informativeness_in_sample",
    "dci_importance_stability", "untrained_test_mse", "untrained_eigenvalues_above_threshold",
    "untrained_probe_linear_accuracy", "untrained_probe_knn_accuracy",
    # issue 17: disentanglement beside DCI, sparsity, samples
    "mig", "sap", "sap_n_train", "active_units_per_input", "unit_selectivity", "sparsity_threshold",
    *(f"{m}_{f}" for m in ("mig", "sap") for f in ("digit", "area", "length", "thickness", "slant", "width", "height")),
    "samples_n", "samples_reference_n",
    *(f"samples_test_{m}" for m in ("fid", "confidence", "class_entropy", "missing_classes")),
}
# The classifier AE adds what its head gives.
CLASSIFIER_KEYS = {"accuracy", "train_accuracy", "accuracy_gap", "noise_head_accuracy_clean",
                   "ablation_dead_accuracy_drop", "untrained_accuracy"}
SAMPLE_MEASURES = ("fid", "confidence", "class_entropy", "missing_classes")
# Plain autoencoders sample two densities fitted to their training codes; VAEs their prior.
PLAIN_KEYS = {f"samples_{s}_{m}" for s in ("gauss", "gmm") for m in SAMPLE_MEASURES}
VAE_KEYS = {f"samples_prior_{m}" for m in SAMPLE_MEASURES} | {
    "test_neg_elbo", "test_recon_bce", "test_kl", "test_nll_iwae", "iwae_k", "active_units", "posterior_collapse"}
EXPECTED_DETAILS = {
    "eigenvalues", "explained_ratio", "eigen_threshold", "noise_std", "noise_latent_shift", "noise_recon_mse",
    "noise_input_mse", "noise_view_std", "noise_latent_spread", "traversal_dims", "traversal_effect",
    "traversal_consistency", "traversal_values", "traversal_images", "traversal_grid_dims",
    "dci_single_importances", "dci_importance_matrix", "dci_factors",
    "noise_latent_shift_rel", "noise_knn_accuracy", "noise_view_knn", "noise_view_purity", "noise_judge_accuracy",
    "class_spread", "centroid_distance", "pair_knn_latent12", "class_view_knn_pca2", "class_knn_accuracy",
    "class_purity", "shift_pixels", "shift_code_distance_rel", "shift_knn_accuracy", "shift_recon_mse",
    "dead_dims_list", "traversal_grid_effect", "traversal_label_changes", "traversal_min_confidence",
    "traversal_confidence_change", "traversal_min_sharpness", "traversal_thickness_range", "traversal_slant_range",
    "traversal_dim_kinds", "traversal_style_dims", "ablation_dims", "ablation_mse_increase", "layer_shapes",
    "mig_mutual_information", "mig_factor_entropy", "mig_factors", "sap_scores", "sap_factors", "unit_selectivity",
    "interpolation_pairs",
}
CLASSIFIER_DETAILS = {"noise_head_accuracy", "class_head_accuracy", "confusion", "ablation_accuracy_drop"}
VAE_DETAILS = {"kl_per_unit", "posterior_mean_variance", "active_threshold"}
EXPECTED_FIGURES = {
    "reconstructions.png", "loss.png", "latent_scatter.png", "latent_pca.png", "latent_tsne.png", "scree.png",
    "noise_robustness.png", "noise_view.png", "noise_reconstructions.png", "traversal_12.png", "traversal_19.png",
    "traversal_effects.png", "dci_importance.png", "interpolations.png",
}
PLAIN_FIGURES = {"samples_gauss.png", "samples_gmm.png"}
VAE_FIGURES = {"samples_prior.png", "posterior_units.png"}
TINY_ANALYZE = {
    "kmeans_seeds": 2, "n_recon": 4, "probe_max_train": 60,
    "tsne": {"max_points": 30, "max_iter": 300},
    "noise": {"stds": [0.1, 0.5, 2.0], "view_std": 0.5, "max_images": 20},
    "traversal": {"images": [12, 19], "steps": 4, "max_rows": 3, "n_images": 5, "max_dims": 4},
    "dci": {"n_train": 50},
    "likelihood": {"iwae_k": 3},
    "samples": {"n": 30, "fit_max": 60, "gmm_components": 3, "interpolation_pairs": 2, "interpolation_steps": 3},
    "sap": {"n_train": 40},
}
TINY_ROLES = {"classifier_ae": "tiny_classifier", "vanilla_sweep": ["tiny_mlp"]}
VARIANTS = {
    "tiny_mlp": {"arch": "mlp", "latent_dim": 3, "hidden": [16]},
    "tiny_classifier": {"arch": "classifier_mlp", "latent_dim": 5, "hidden": [16], "head_hidden": [8]},
    "tiny_spatial": {"arch": "spatial_conv", "output": "tanh", "input_range": "symmetric"},
    "tiny_vae": {"arch": "vae_mlp", "latent_dim": 3, "hidden": [16]},
    "tiny_conv_vae": {"arch": "vae_conv", "latent_dim": 3},
}


def fake_mnist(seed: int = 0) -> MNISTArrays:
    """Sparse random strokes with labels cycling through the ten digits."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_TEST
    images = np.where(rng.random((n, 28, 28)) < 0.12, 255, 0).astype(np.uint8)
    images[:, 8:20, 12:15] = 200  # a bar in every image, so every morphometric has a stroke
    labels = (np.arange(n) % 10).astype(np.uint8)
    split = np.array([TRAIN] * N_TRAIN + [TEST] * N_TEST, dtype=np.uint8)
    return MNISTArrays(images, labels, split, "fake")


def make_variant(name: str, spec: dict, params, data: MNISTArrays) -> None:
    torch.manual_seed(0)
    variant = params.variant(name)
    config = model_config(params, name)
    model = build_model(config).eval()
    history = [{"epoch": 1, "train_loss": 0.3}, {"epoch": 2, "train_loss": 0.2}]
    save_checkpoint(paths.checkpoint(name), Checkpoint(
        model_config=config.to_dict(), state_dict=model.state_dict(), variant=name,
        params={"n_params": count_parameters(model)}, input_range=variant.input_range, data_checksum="x",
        data_source="fake", history=history))
    arrays = {}
    for split_name, which in (("test", TEST), ("train", TRAIN)):
        images, labels = data.subset(which)
        out = run_model(model, images, variant.input_range, torch.device("cpu"))
        arrays.update({f"z_{split_name}": out["latents"], f"y_{split_name}": labels,
                       f"recon_error_{split_name}": out["recon_error"]})
        if "log_probs" in out:
            arrays[f"log_probs_{split_name}"] = out["log_probs"]
    write_npz(paths.latents(name), **arrays)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A working directory laid out like the pipeline's, with five tiny variants (two VAEs among them)."""
    root = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        params = parse_params({"seed": 0, "variants": VARIANTS, "analyze": TINY_ANALYZE, "roles": TINY_ROLES})
        data = fake_mnist()
        save_arrays(paths.MNIST, data)
        judge, _ = train_judge(data.subset(TRAIN)[0] / 255.0, data.subset(TRAIN)[1],
                               JudgeSettings(epochs=1, batch_size=16))
        save_judge(paths.JUDGE, judge, "x")
        factors = measure_factors(data.subset(TEST)[0], data.subset(TRAIN)[0], 60, seed=0, scale=2)
        write_npz(paths.FACTORS, **factors.as_arrays())
        for name, spec in VARIANTS.items():
            make_variant(name, spec, params, data)
        results = {name: A.analyze_variant(name, params) for name in VARIANTS}
    return root, params, results


@pytest.mark.parametrize("name", list(VARIANTS))
def test_analyze_variant_makes_every_metric_and_figure(project, name):
    root, params, results = project
    result = results[name]
    classifier, variational = name == "tiny_classifier", VARIANTS[name]["arch"] in VARIATIONAL_ARCHES
    expected = EXPECTED_KEYS | (CLASSIFIER_KEYS if classifier else set()) | (VAE_KEYS if variational else PLAIN_KEYS)
    assert set(result.metrics) == expected
    for key, value in result.metrics.items():
        assert isinstance(value, int | float) and not isinstance(value, bool), key
        assert math.isfinite(value), key
    # The metrics file must stay flat (scalars only) for dvc metrics / exp show.
    json.dumps(result.metrics)
    assert set(result.details) == EXPECTED_DETAILS | (CLASSIFIER_DETAILS if classifier else set()) | (
        VAE_DETAILS if variational else set())
    assert {p.name for p in result.figures} == EXPECTED_FIGURES | (VAE_FIGURES if variational else PLAIN_FIGURES)
    for figure in result.figures:
        path = root / figure
        assert path.parent == root / "plots" / name
        assert path.stat().st_size > 1000, figure
    assert result.scalars() == {k: float(v) for k, v in result.metrics.items()}
    assert set(result.seconds) == {"reconstruct", "reconstructions", "loss", "generalization", "recognizability",
                                   "latent_views", "tsne", "clustering", "probes", "geometry", "spectrum",
                                   "robustness", "translation", "traversals", "ablation", "dci", "untrained",
                                   "mig", "sap", "sparsity", "samples", "drawing"} | (
        {"head"} if classifier else set()) | ({"likelihood"} if variational else set())


def test_metric_values_are_in_range(project):
    _, _, results = project
    for name, result in results.items():
        m = result.metrics
        assert m["n_test"] == N_TEST
        assert len(result.details["traversal_effect"]) == min(m["latent_dim"], TINY_ANALYZE["traversal"]["max_dims"])
        assert 0 <= m["purity_mean"] <= m["purity_best"] <= 1
        for key in ("probe_linear_accuracy", "probe_knn_accuracy", "view_knn_tsne", "dci_completeness",
                    "dci_completeness_weighted", "dci_disentanglement", "dci_informativeness",
                    "dci_single_informativeness", "mig", "sap", "samples_test_confidence"):
            assert 0 <= m[key] <= 1, (name, key)
        assert m["tsne_points"] == TINY_ANALYZE["tsne"]["max_points"]
        assert m["noise_images"] == TINY_ANALYZE["noise"]["max_images"]
        assert m["traversal_n_images"] == TINY_ANALYZE["traversal"]["n_images"]
        assert result.details["noise_std"] == TINY_ANALYZE["noise"]["stds"]
        # The study's single-factor numbers read the digit column of the full, held-out DCI.
        assert m["dci_single_informativeness"] == m["dci_informativeness_digit"]
        assert len(result.details["eigenvalues"]) == m["latent_dim"]


def test_wide_codes_are_capped_and_say_so(project):
    _, _, results = project
    spatial = results["tiny_spatial"]
    assert spatial.metrics["latent_dim"] == 256
    assert spatial.metrics["traversal_n_dims"] == TINY_ANALYZE["traversal"]["max_dims"]
    assert len(spatial.details["traversal_grid_dims"]) == TINY_ANALYZE["traversal"]["max_rows"]
    narrow = results["tiny_mlp"]
    assert narrow.metrics["traversal_n_dims"] == 3 and narrow.details["traversal_grid_dims"] == [0, 1, 2]


def test_every_variant_fits_dci_on_the_same_number_of_rows(project):
    _, _, results = project
    # 3, 5 and 256 dims alike: n_train rows of the 60 with factors, whatever the width.
    assert {r.metrics["dci_n_train"] for r in results.values()} == {TINY_ANALYZE["dci"]["n_train"]}
    assert {r.metrics["sap_n_train"] for r in results.values()} == {TINY_ANALYZE["sap"]["n_train"]}


def test_identical_inputs_give_byte_identical_outputs(project, tmp_path):
    """DVC compares hashes: a rerun on the same inputs must not change a byte of the metrics files.

    The 256-dim variant takes every path: PCA before t-SNE, threaded tree
    ensembles on a wide code, capped traversals.
    """
    root, params, results = project
    for name in ("tiny_spatial", "tiny_vae"):  # the VAE: its likelihood bounds and prior samples are seeded
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(root)
            again = A.analyze_variant(name, params)
        for label, first, second in (("metrics", results[name].metrics, again.metrics),
                                     ("details", results[name].details, again.details)):
            a, b = write_json(tmp_path / f"a_{label}.json", first), write_json(tmp_path / f"b_{label}.json", second)
            assert a.read_bytes() == b.read_bytes(), (name, label)


def test_classifier_accuracy_comes_from_the_log_probs():
    log_probs = np.log(np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    assert views.classification_accuracy(log_probs, np.array([0, 1, 1])) == pytest.approx(2 / 3)


def test_the_confusion_matrix_counts_actual_by_predicted():
    log_probs = np.log(np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]]))
    # actual 0 -> predicted 0; actual 1 -> 1; actual 1 -> 0; actual 2 -> 2
    assert views.confusion_counts(log_probs, np.array([0, 1, 1, 2])) == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]


def test_factors_that_do_not_match_the_latents_are_refused(tmp_path):
    from latent_atlas.data.factors import Factors

    z = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2
    factors = Factors(np.zeros((19, 6)), np.zeros((5, 6)), np.arange(5), MORPHO_NAMES)
    with pytest.raises(DamagedFileError, match="do not match the latents"):
        dci.dci_part(z, y, z, y, factors, DCIParams(), seed=0)


# --------------------------------------------------------------------------- #
# parts with known answers
# --------------------------------------------------------------------------- #


def test_subsample_and_top_variance_dims():
    assert arrays.subsample(5, None, 0).tolist() == [0, 1, 2, 3, 4]
    assert arrays.subsample(5, 9, 0).tolist() == [0, 1, 2, 3, 4]
    idx = arrays.subsample(100, 10, 3)
    assert len(idx) == 10 and len(set(idx)) == 10 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, arrays.subsample(100, 10, 3))
    z = np.random.default_rng(0).normal(size=(500, 4)) * np.array([1.0, 5.0, 0.1, 3.0])
    assert traversal.top_variance_dims(z, 2) == [1, 3]
    assert traversal.top_variance_dims(z, 4) == [0, 1, 2, 3]


def test_view_knn_accuracy_separated_and_mixed():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]])
    assert probes.view_knn_accuracy(centres[y] + rng.normal(scale=0.1, size=(200, 2)), y, seed=0) == 1.0
    assert probes.view_knn_accuracy(rng.normal(size=(200, 2)), y, seed=0) < 0.5


def test_spectrum_counts_eigenvalues_above_the_threshold():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(20000, 4)) * np.sqrt([40.0, 20.0, 5.0, 1.0])
    part = spectrum.spectrum_part(z, threshold=10.0)
    assert part.metrics["eigenvalues_above_threshold"] == 2
    assert part.metrics["eigenvalue_max"] == pytest.approx(40.0, rel=0.05)
    assert part.details["eigen_threshold"] == 10.0
    # What to draw is data: the scree gets the same eigenvalues and the threshold line.
    scree = part.drawings["scree.png"]
    assert scree.data["eigenvalues"].tolist() == pytest.approx(part.details["eigenvalues"])
    assert scree.data["threshold"] == 10.0


def test_draw_saves_each_drawing_under_its_file_name(tmp_path):
    part = spectrum.spectrum_part(np.random.default_rng(0).normal(size=(50, 3)), threshold=1.0)
    figures = parts.draw(part.drawings, "toy", tmp_path)
    assert figures == [tmp_path / "scree.png"] and figures[0].stat().st_size > 1000


def identity_codec():
    """An autoencoder that copies its input: codes are the pixels."""

    def encode(images01):
        return np.asarray(images01, dtype=np.float64).reshape(len(images01), -1)

    def decode(codes):
        return np.asarray(codes).reshape(len(codes), 28, 28)

    return encode, decode


def test_robustness_of_the_identity_is_the_noise_itself():
    encode, decode = identity_codec()
    images = np.random.default_rng(0).random((30, 28, 28)) * 0.5 + 0.25
    cfg = NoiseParams(stds=[0.05, 0.2], view_std=0.2)
    part = noise.robustness_part(encode, decode, images, np.arange(30) % 10, cfg, seed=0, n_show=3)
    # The reconstruction is the noisy input, so its error is exactly the input's.
    assert part.details["noise_recon_mse"] == pytest.approx(part.details["noise_input_mse"])
    assert part.metrics["noise_recon_mse"] == part.details["noise_recon_mse"][1]
    # ||noise|| over 784 pixels ~ std * sqrt(784) (no clamping in [0.25, 0.75] at std 0.05).
    assert part.details["noise_latent_shift"][0] == pytest.approx(0.05 * 28, rel=0.05)
    assert part.metrics["noise_latent_shift_rel"] == pytest.approx(
        part.metrics["noise_latent_shift"] / part.details["noise_latent_spread"])
    assert set(part.drawings) == {"noise_robustness.png", "noise_view.png", "noise_reconstructions.png"}
    # Three images shown, in four rows: clean, noisy and both reconstructions.
    rows = part.drawings["noise_reconstructions.png"].data["rows"]
    assert [len(r) for r in rows] == [3, 3, 3, 3]
    np.testing.assert_array_equal(rows[0], images[:3])


def test_traversal_grid_sets_one_coordinate_per_row():
    def decode(codes):  # the code's first two coordinates, painted into two pixels
        out = np.zeros((len(codes), 28, 28))
        out[:, 0, 0], out[:, 0, 1] = codes[:, 0], codes[:, 1]
        return out

    grid = traversal.traversal_grid(decode, np.array([5.0, 7.0, 9.0]), [1, 0], np.array([-1.0, 1.0]))
    assert grid.shape == (2, 2, 28, 28)
    assert grid[0, :, 0, 1].tolist() == [-1.0, 1.0] and grid[0, :, 0, 0].tolist() == [5.0, 5.0]  # row: dim 1
    assert grid[1, :, 0, 0].tolist() == [-1.0, 1.0] and grid[1, :, 0, 1].tolist() == [7.0, 7.0]  # row: dim 0


def test_traversals_of_a_linear_decoder_are_fully_consistent():
    rng = np.random.default_rng(0)
    weights = rng.normal(scale=0.01, size=(3, 784))

    def decode(codes):
        return (np.asarray(codes) @ weights).reshape(len(codes), 28, 28) + 0.5

    z = rng.normal(size=(25, 3))
    cfg = TraversalParams(images=[12, 30], range=3.0, steps=4, max_rows=2, n_images=10, max_dims=3)
    part = traversal.traversals_part(decode, z, np.zeros((25, 28, 28)), np.arange(25) % 10, cfg, seed=0)
    step = 2.0  # values -3, -1, 1, 3
    assert part.details["traversal_effect"] == pytest.approx(list(np.abs(weights).mean(axis=1) * step))
    assert part.metrics["traversal_consistency_mean"] == pytest.approx(1.0)
    assert part.metrics["traversal_n_dims"] == 3 and part.metrics["traversal_n_images"] == 10
    assert len(part.details["traversal_grid_dims"]) == 2
    # Image 30 is beyond the 25 test codes: skipped, not an error.
    assert part.details["traversal_images"] == [12]
    assert set(part.drawings) == {"traversal_12.png", "traversal_effects.png"}


def test_dci_without_factors_gives_the_single_factor_numbers():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 40)
    z = np.column_stack([y + rng.normal(scale=0.05, size=120), rng.normal(size=120)])
    part = dci.dci_part(z, y, z, y, None, DCIParams(n_train=100), seed=0)
    assert set(part.metrics) == {"dci_single_disentanglement", "dci_single_completeness",
                                 "dci_single_informativeness", "dci_n_train", "dci_linear_informativeness_digit",
                                 "dci_single_informativeness_in_sample", "dci_importance_stability"}
    assert part.metrics["dci_n_train"] == 100
    # Linearly separable in code 0: the logistic regression reads it too; the trees fit their rows perfectly;
    # both halves of the rows put the digit in code 0 (two codes: ranks agree, Spearman 1).
    assert part.metrics["dci_linear_informativeness_digit"] == 1.0
    assert part.metrics["dci_single_informativeness_in_sample"] == 1.0
    assert part.metrics["dci_importance_stability"] == pytest.approx(1.0)
    # The digit is in code 0 alone: its importance dominates.
    assert part.metrics["dci_single_completeness"] > 0.8
    assert part.metrics["dci_single_informativeness"] == 1.0
    assert part.drawings == {}


def test_single_factor_informativeness_is_held_out():
    """Codes of pure noise say nothing about the digit: held-out accuracy is near chance (10%).

    Scored on the rows it was fitted on, a 256-dim code memorises them (the study's I = 1).
    """
    rng = np.random.default_rng(0)
    z_train, z_test = rng.normal(size=(500, 256)), rng.normal(size=(500, 256))
    y_train, y_test = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    part = dci.dci_part(z_train, y_train, z_test, y_test, None, DCIParams(n_train=500), seed=0)
    assert part.metrics["dci_single_informativeness"] < 0.2


def test_tsne_is_seeded_and_caps_points():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    z = np.eye(3)[y] * 10 + rng.normal(scale=0.1, size=(90, 3))
    cfg = TSNEParams(max_points=60, perplexity=10.0, max_iter=300)
    first, second = tsne.tsne_part(z, y, cfg, seed=0, n_jobs=1), tsne.tsne_part(z, y, cfg, seed=0, n_jobs=2)
    # Byte-identical on another thread count, so DVC sees an unchanged output.
    points = [part.drawings["latent_tsne.png"].data["points"] for part in (first, second)]
    assert points[0].tobytes() == points[1].tobytes()
    assert first.metrics == second.metrics and first.metrics["tsne_points"] == 60
    # Three tight clusters stay three islands in the picture.
    assert first.metrics["view_knn_tsne"] == 1.0
    assert first.drawings["latent_tsne.png"].data["points"].shape == (60, 2)


def test_probes_skip_a_single_class_training_set(caplog):
    z = np.random.default_rng(0).normal(size=(20, 2))
    part = probes.probes_part(z, np.zeros(20, dtype=int), z, np.arange(20) % 2, k=5, max_train=None, seed=0)
    assert part.metrics == {} and "single digit" in caplog.text


def test_details_sit_beside_the_metrics_file():
    assert paths.analysis_details("classifier") == Path("metrics/analyze/classifier.details.json")


@pytest.mark.parametrize(("change", "pattern"), [
    ({"noise": {"view_std": 0.3, "stds": [0.1]}}, r"view_std=0\.3 .*stds"),
    ({"noise": {"stds": []}}, r"stds=\[\]"),
    ({"noise": {"stds": [0.1, float("inf")]}}, r"analyze\.noise\.stds\.1=inf .*finite"),
    ({"tsne": {"max_iter": 250}}, r"analyze\.tsne\.max_iter=250"),
    ({"tsne": {"max_points": 5}}, r"analyze\.tsne\.max_points=5"),
    ({"tsne": {"perplexity": float("nan")}}, r"analyze\.tsne\.perplexity=nan .*finite"),
    ({"traversal": {"steps": 1}}, r"analyze\.traversal\.steps=1"),
    ({"traversal": {"range": float("inf")}}, r"analyze\.traversal\.range=inf .*finite"),
    ({"eigen_threshold": float("nan")}, r"analyze\.eigen_threshold=nan .*finite"),
    ({"knn_k": 5000}, r"analyze\.knn_k=5000 .*less than or equal to 1000"),
    ({"knn_k": 100, "probe_max_train": 60}, r"knn_k=100 .*probe_max_train=60"),
    ({"dci": {"n_train": 5}}, r"analyze\.dci\.n_train=5"),
    ({"tsne_max_points": 100}, r"unknown key 'analyze\.tsne_max_points'"),
])
def test_bad_analyze_params_are_one_line(change, pattern):
    import re

    with pytest.raises(ConfigError) as info:
        parse_params({"analyze": {**TINY_ANALYZE, **change}})
    assert re.search(pattern, str(info.value)), str(info.value)
    assert "\n" not in str(info.value)


def test_yaml_infinity_is_refused_by_key(tmp_path):
    """YAML's .inf reaches the params as a float: it must be refused up front, naming the key."""
    from latent_atlas.config import load_params

    path = tmp_path / "params.yaml"
    path.write_text("analyze:\n  traversal:\n    range: .inf\n")
    with pytest.raises(ConfigError, match=r"analyze\.traversal\.range=inf"):
        load_params(path)
