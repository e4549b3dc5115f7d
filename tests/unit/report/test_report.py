"""The report: verdicts follow the numbers, every variant appears, the compare stage writes it all."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pytest

from latent_atlas import paths
from latent_atlas.config import CompareParams, ReadingParams, parse_params
from latent_atlas.data.mnist import TEST, TRAIN, MNISTArrays, save_arrays
from latent_atlas.io import write_json
from latent_atlas.report import claims
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
# the eigenvalue-reading verdict
# --------------------------------------------------------------------------- #


READING = ReadingParams(full="classifier", reduced="classifier_z6", accuracy_tolerance=0.005)


def reading_text(runs=None, **kw) -> str:
    found = analyses(**kw)
    lines, _ = report.reading_section(READING, found, {n: details(m["latent_dim"]) for n, m in found.items()}, runs)
    return "\n".join(lines)


def replicates(acc6: list[float], acc16: float = 0.97, mse6: float = 0.015) -> dict:
    """seed -> variant -> metrics: classifier fixed, classifier_z6 at the given accuracies."""
    return {seed: {"classifier": metrics(16, 0.010, acc16), "classifier_z6": metrics(6, mse6, acc)}
            for seed, acc in enumerate(acc6)}


def test_one_seed_states_the_change_and_draws_no_verdict():
    text = reading_text(acc16=0.97, acc6=0.95, mse6=0.015)
    assert "**One seed: no verdict.**" in text and "Verdict:" not in text
    assert "dropped by 2.00 points (0.9700 -> 0.9500)" in text
    assert "test MSE rose by 50% (0.01000 -> 0.01500)" in text
    assert "0.5-point margin" in text and "seed-to-seed spread" in text
    assert "| classifier_z6 loses accuracy against classifier | drops | 0.0200 (one seed) |" in text


def test_a_loss_beyond_the_margin_on_every_seed_means_the_reading_did_not_hold():
    text = reading_text(replicates([0.95, 0.951, 0.949]))
    assert "**Verdict: classifier_z6 loses accuracy: holds, so the reading did not hold**" in text
    # The paired losses are 0.020, 0.019, 0.021: mean 0.02, sd 0.001, half-width 4.303 * 0.001 / sqrt(3).
    assert "0.0200 ± 0.0025 [0.0175, 0.0225], n=3" in text


def test_a_loss_confidently_below_the_margin_means_the_reading_held():
    text = reading_text(replicates([0.969, 0.969, 0.969, 0.969]))
    assert "**Verdict: classifier_z6 loses accuracy: does not hold, so the reading held**" in text


def test_a_loss_whose_interval_straddles_the_margin_is_inconclusive():
    text = reading_text(replicates([0.96, 0.975, 0.962]))
    assert "**Verdict: classifier_z6 loses accuracy: inconclusive with 3 seeds**" in text


def test_eigen_reading_numbers():
    reading = report.eigen_reading(metrics(16, 0.01, 0.97), metrics(6, 0.02, 0.95))
    assert reading["accuracy_drop"] == pytest.approx(0.02)
    assert (reading["latent_full"], reading["latent_reduced"]) == (16, 6)
    assert "accuracy_drop" not in report.eigen_reading(metrics(16, 0.01), metrics(6, 0.02))


def test_the_spectrum_sentence_reads_this_runs_numbers():
    text = reading_text()
    # details(16): eigenvalues from 40 down to 0.5, 5 above 10 in metrics(16).
    assert "has 5 eigenvalues above 10, so the study's rule would suggest 5 dims (the study read 6)" in text
    assert "90% of its variance lies in 9 principal directions and 95% in 10" in text
    assert re.search(r"The top 6 directions hold \d+\.\d% of it", text)


def test_reading_without_the_variants_or_without_accuracy():
    lines, reading = report.reading_section(READING, {"classifier": metrics(16, 0.01)}, {})
    assert reading is None and "this run has no variant classifier_z6" in "\n".join(lines)
    found = {"a": metrics(16, 0.01), "b": metrics(6, 0.02)}
    lines, reading = report.reading_section(ReadingParams(full="a", reduced="b"), found, {})
    assert "accuracy_drop" not in reading and "cannot tell" in "\n".join(lines)


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
    assert "In this run 1 of 2 autoencoders have a lower test MSE than PCA of the same size: classifier." in text
    assert "Not lower: vanilla_z2." in text
    assert ("| classifier reconstructs better than PCA with k=16 | - | 0.01000 (one seed) | "
            "test_mse: pca_k16 − classifier > 0 | no verdict (one seed) |") in text
    assert "One seed: no verdict" in text
    assert "No PCA of the same size for: classifier_z6, deep" in text
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
# the ledger: one row per claim, intervals over seeds
# --------------------------------------------------------------------------- #


def test_seed_metrics_merges_training_numbers_adds_the_curve_gap_and_names_pca_by_size():
    found = claims.seed_metrics({"dense": metrics(32, 0.008)},
                                {"dense": {"final_train_loss": 0.010, "final_val_loss": 0.011, "train_seconds": 3.0}},
                                {"pca": {"k32": {"latent_dim": 32, "test_mse": 0.017}}})
    assert found["dense"]["val_train_gap"] == pytest.approx(0.1)
    assert found["dense"]["train_seconds"] == 3.0 and found["pca_k32"]["test_mse"] == 0.017


def sweep_seed(seed: int, mses: dict[int, float]) -> dict:
    return {f"vanilla_z{z}": metrics(z, mse + 0.001 * seed) for z, mse in mses.items()}


def ledger(runs, sweep=("vanilla_z10", "vanilla_z2", "vanilla_z3")) -> dict[str, dict]:
    compare = CompareParams(sweep=list(sweep), reading=ReadingParams(full="classifier", reduced="classifier_z6",
                                                                      accuracy_tolerance=0.005))
    checked = claims.ledger_claims(runs, compare)
    return {row["claim"]: row for row in claims.claims_json(checked, runs)}


def test_sweep_claims_follow_latent_size_and_pair_by_seed():
    # Every seed shifts all MSEs together; within a seed the MSE falls 2 -> 3 but rises 3 -> 10.
    runs = {seed: sweep_seed(seed, {2: 0.05, 3: 0.04, 10: 0.045}) for seed in range(4)}
    rows = ledger(runs)
    falls23, falls310 = rows["vanilla test MSE falls from z=2 to z=3"], rows["vanilla test MSE falls from z=3 to z=10"]
    assert falls23["verdict"] == "holds" and falls23["interval"]["mean"] == pytest.approx(0.01)
    assert falls310["verdict"] == "does not hold" and falls310["interval"]["sd"] == pytest.approx(0.0, abs=1e-12)
    assert falls23["seeds"] == ["0", "1", "2", "3"]


def test_study_numbers_are_reproduced_within_the_declared_margin():
    near = {seed: {"deep": metrics(9, 0.0213 + 0.0001 * seed)} for seed in range(3)}
    far = {seed: {"deep": metrics(9, 0.030 + 0.0001 * seed)} for seed in range(3)}
    assert ledger(near)["deep AE test MSE"]["verdict"] == "holds"
    assert ledger(far)["deep AE test MSE"]["verdict"] == "does not hold"
    assert ledger(near)["deep AE test MSE"]["holds_when"] == "in [0.01922, 0.02349]"  # 0.021359 ± 10%


def test_claims_without_their_variants_say_so_and_one_seed_gives_no_verdict():
    rows = ledger({42: {"classifier": metrics(16, 0.01, 0.972)}})
    assert rows["classifier AE reaches about 97% test accuracy"]["verdict"] == "no verdict (one seed)"
    assert rows["small conv clusters better than deep"]["verdict"] == "not measured in this run"
    assert rows["small conv clusters better than deep"]["interval"] is None


def test_a_non_finite_number_names_the_claim_it_breaks():
    runs = {1: {"deep": metrics(9, float("nan"))}, 2: {"deep": metrics(9, 0.02)}}
    with pytest.raises(ValueError, match=r"test_mse: deep by seed \{1: nan, 2: 0.02\}: values must be finite"):
        ledger(runs)


def test_ledger_section_lists_every_claim_and_asks_for_replicates_on_one_seed():
    runs = {42: {**analyses(), "dense": {**metrics(32, 0.008), "val_train_gap": 0.02}}}
    text = "\n".join(claims.ledger_section(runs, CompareParams(sweep=["vanilla_z2"], reading=READING)))
    for claim in ("about 97% test accuracy", "about 6 eigenvalues above 10", "classifier_z6 loses accuracy",
                  "deep AE test MSE", "deep AE k-means purity", "small conv AE test MSE",
                  "small conv AE k-means purity", "curves stay together"):
        assert claim in text
    assert "| +0.020 (one seed) |" in text and "measured on 1 seed:" in text
    assert "One seed: the numbers are this run's" in text and "dvc exp run --queue -S seed=1,2,3,4,5" in text


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
    params = parse_params({"variants": variants, "compare": {"sweep": []}})
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
    for heading in ("## Variants", "## Ledger: the studies' claims", "## Did the eigenvalue reading hold?",
                    "## PCA baseline vs autoencoders",
                    "## Clustering and probes", "## Effective dimension", "## Robustness to input noise",
                    "## Latent traversals", "## DCI", "## Figures per variant"):
        assert heading in text
    for figure in ("mse_vs_latent.png", "cumulative_variance.png", "noise_recon.png", "eigen_reading.png",
                   "sweep_grid.png"):
        assert (paths.SUMMARY_PLOTS / figure).stat().st_size > 1000
        assert f"](../plots/summary/{figure})" in text
    assert "## Ledger: the studies' claims" in text and "**One seed: no verdict.**" in text
    # The rows behind the comparison figures: every variant's noise curve and spectrum.
    assert len(json.loads(paths.NOISE_PLOT.read_text())) == 3 * len(variants)
    assert {row["variant"] for row in json.loads(paths.SPECTRA_PLOT.read_text())} == set(variants)
    headline = json.loads(paths.HEADLINE_METRICS.read_text())
    assert set(headline) == {*variants, "eigen_reading"}
    assert headline["eigen_reading"]["accuracy_drop"] == pytest.approx(0.02)
