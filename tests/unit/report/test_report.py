"""The report: verdicts follow the numbers, every variant appears, the compare stage writes it all."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from latent_atlas import paths
from latent_atlas.config import parse_params
from latent_atlas.data.mnist import TEST, TRAIN, MNISTArrays, save_arrays
from latent_atlas.io import write_json
from latent_atlas.report import summary as report


def metrics(latent: int, mse: float, accuracy: float | None = None, **extra) -> dict:
    out = {"latent_dim": latent, "test_mse": mse, "purity_best": 0.6, "purity_mean": 0.55, "purity_std": 0.02,
           "nmi": 0.5, "ari": 0.4, "probe_linear_accuracy": 0.9, "probe_knn_accuracy": 0.95,
           "participation_ratio": latent / 2, "dims_90": latent // 2 + 1, "dims_95": latent // 2 + 2,
           "eigenvalues_above_threshold": min(latent, 5), "eigenvalue_max": 30.0, "pca2_explained": 0.4,
           "noise_latent_shift": 1.0, "noise_latent_shift_rel": 0.3, "noise_recon_mse": mse * 2,
           "traversal_n_dims": latent, "traversal_n_images": 100, "traversal_effect_mean": 0.01,
           "traversal_consistency_mean": 0.4, "traversal_consistency_weighted": 0.45,
           "dci_disentanglement": 0.3, "dci_completeness": 0.2, "dci_informativeness": 0.5,
           "dci_informativeness_digit": 0.9, "dci_single_disentanglement": 0.1, "dci_single_completeness": 0.2,
           "dci_single_informativeness": 1.0, "view_knn_tsne": 0.9, **extra}
    if accuracy is not None:
        out["accuracy"] = accuracy
    return out


def details(latent: int) -> dict:
    eig = list(np.geomspace(40, 0.5, latent))
    total = sum(eig)
    return {"eigenvalues": eig, "explained_ratio": [e / total for e in eig], "eigen_threshold": 10.0,
            "noise_std": [0.1, 0.5, 2.0], "noise_recon_mse": [0.02, 0.03, 0.08], "noise_view_std": 0.5,
            "noise_latent_shift": [0.1, 0.4, 1.5], "noise_input_mse": [0.01, 0.2, 0.7],
            "traversal_images": [12, 19]}


def analyses(acc16: float = 0.97, acc6: float = 0.95, mse6: float = 0.015) -> dict:
    return {"classifier": metrics(16, 0.010, acc16), "classifier_z6": metrics(6, mse6, acc6),
            "deep": metrics(9, 0.021), "vanilla_z2": metrics(2, 0.05)}


# --------------------------------------------------------------------------- #
# the eigenvalue reading and the z=6 replay: this run's numbers (verdicts are the ledger's)
# --------------------------------------------------------------------------- #


def test_eigen_reading_numbers():
    reading = report.eigen_reading(metrics(16, 0.01, 0.97), metrics(6, 0.02, 0.95, untrained_accuracy=0.11))
    assert reading["accuracy_drop"] == pytest.approx(0.02)
    assert reading["accuracy_drop_untrained"] == pytest.approx(0.86)
    assert (reading["latent_full"], reading["latent_reduced"]) == (16, 6)
    assert "accuracy_drop" not in report.eigen_reading(metrics(16, 0.01), metrics(6, 0.02))


def test_reading_section_shows_the_trained_and_the_untrained_z6():
    found = {"classifier": metrics(16, 0.010, 0.97),
             "classifier_z6": metrics(6, 0.015, 0.95, untrained_accuracy=0.11, untrained_test_mse=0.23,
                                      untrained_eigenvalues_above_threshold=0)}
    lines, numbers = report.reading_section("classifier", "classifier_z6", found, {n: details(16) for n in found})
    rows = [line for line in "\n".join(lines).splitlines() if line.startswith("| classifier")]
    assert len(rows) == 3  # z=16, z=6 trained, z=6 untrained
    assert "| 0.1100 | 0.23000 | 0 |" in rows[2]
    assert numbers["accuracy_drop_untrained"] == pytest.approx(0.86)


def test_reading_section_without_its_roles():
    lines, numbers = report.reading_section("classifier", None, {"classifier": metrics(16, 0.01)}, {})
    assert numbers is None and any("classifier_ae_reduced" in line for line in lines)


# --------------------------------------------------------------------------- #
# tables and sections
# --------------------------------------------------------------------------- #


def test_every_section_table_lists_every_variant():
    found = analyses()
    baseline = {"pca": {f"k{k}": {"latent_dim": k, "test_mse": 0.05 / k, "explained_variance": k / 20,
                                  "purity_best": 0.5, "purity_mean": 0.45} for k in (2, 6, 9, 16)}}
    sections = [report.baseline_section(baseline, found), report.clustering_section(found),
                report.spectrum_section(found, 10.0), report.robustness_section(found, 0.5),
                report.traversal_section(found, "classifier"), report.dci_section(found, "classifier"),
                report.figures_section(list(found))]
    for lines in sections:
        table_rows = [line for line in "\n".join(lines).splitlines() if line.startswith("| ")]
        for name in found:
            assert any(row.startswith(f"| {name} |") for row in table_rows), (name, lines[0])


def test_baseline_section_compares_each_autoencoder_with_pca_of_its_size():
    found = analyses()
    baseline = {"pca": {"k2": {"latent_dim": 2, "test_mse": 0.04, "explained_variance": 0.2, "purity_best": 0.5,
                               "purity_mean": 0.4},
                        "k16": {"latent_dim": 16, "test_mse": 0.02, "explained_variance": 0.6,
                                "purity_best": 0.55, "purity_mean": 0.5}}}
    text = "\n".join(report.baseline_section(baseline, found))
    # classifier (0.010 vs 0.02) beats PCA; vanilla_z2 (0.05 vs 0.04) does not.
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    assert "| 0.01000 | 0.02000 | 0.50 |" in rows["classifier"]  # AE, PCA, AE / PCA
    assert "| 0.05000 | 0.04000 | 1.25 |" in rows["vanilla_z2"]
    assert "](../plots/summary/mse_vs_latent.png)" in text


def test_summary_markdown_has_the_variant_table_and_relative_figures():
    rows = [report.summary_row(n, "mlp", m, {"train_seconds": 1.0}) for n, m in analyses().items()]
    text = report.summary_markdown(rows, {"source": "local", "n_train": 60000, "n_test": 10000,
                                          "checksum_sha256": "abc"}, ["## More", "text"])
    for name in analyses():
        assert f"| {name} | mlp |" in text
    assert text.endswith("text\n") and "](../plots/summary/sweep_grid.png)" in text
    assert all(link.startswith("../") for link in re.findall(r"\]\(([^)]+)\)", text))


# --------------------------------------------------------------------------- #
# the compare stage, on fake stage outputs
# --------------------------------------------------------------------------- #


def test_compare_stage_writes_report_summary_and_figures(tmp_path, monkeypatch):
    from stages import compare

    monkeypatch.chdir(tmp_path)
    variants = {"classifier": {"arch": "classifier_mlp", "hidden": [8], "head_hidden": [4]},
                "classifier_z6": {"arch": "classifier_mlp", "latent_dim": 6, "hidden": [8], "head_hidden": [4]},
                "deep": {"arch": "mlp", "latent_dim": 9, "hidden": [8]},
                "vanilla_z2": {"arch": "mlp", "latent_dim": 2, "hidden": [8]}}
    params = parse_params({"variants": variants, "roles": {"classifier_ae": "classifier",
                                                            "classifier_ae_reduced": "classifier_z6",
                                                            "deep_ae": "deep"}})
    rng = np.random.default_rng(0)
    save_arrays(paths.MNIST, MNISTArrays(rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
                                         np.arange(20, dtype=np.uint8) % 10,
                                         np.array([TRAIN] * 10 + [TEST] * 10, dtype=np.uint8), "fake"))
    write_json(paths.MNIST_INFO, {"source": "fake", "n_train": 10, "n_test": 10, "checksum_sha256": "0" * 64})
    for name, m in analyses().items():
        write_json(paths.analysis(name), m)
        write_json(paths.analysis_details(name), details(m["latent_dim"]))
        write_json(paths.train_metrics(name), {"train_seconds": 2.0})
    write_json(paths.BASELINE_METRICS, {"pca": {f"k{k}": {"latent_dim": k, "test_mse": 0.05 / k,
                                                    "explained_variance": k / 60, "purity_best": 0.5,
                                                    "purity_mean": 0.45} for k in (2, 6, 9, 16, 32)}})

    compare.main(argparse.Namespace(params="params.yaml"), params)

    text = paths.SUMMARY_REPORT.read_text()
    for heading in ("## Variants", "## The eigenvalue reading and the z=6 replay", "## PCA baseline vs autoencoders",
                    "## Clustering and probes", "## Effective dimension", "## Robustness to input noise",
                    "## Latent traversals", "## DCI", "## Figures per variant"):
        assert heading in text
    for figure in ("mse_vs_latent.png", "cumulative_variance.png", "noise_recon.png", "eigen_reading.png",
                   "sweep_grid.png"):
        assert (paths.SUMMARY_PLOTS / figure).stat().st_size > 1000
        assert f"](../plots/summary/{figure})" in text
    assert "](claims.md)" in text
    # The rows behind the comparison figures: every variant's noise curve and spectrum.
    assert len(json.loads(paths.NOISE_PLOT.read_text())) == 3 * len(variants)
    assert {row["variant"] for row in json.loads(paths.SPECTRA_PLOT.read_text())} == set(variants)
    headline = json.loads(paths.HEADLINE_METRICS.read_text())
    assert set(headline) == {*variants, "eigen_reading"}
    assert headline["eigen_reading"]["accuracy_drop"] == pytest.approx(0.02)
