"""latent_atlas.report.plot_data: the rows behind the comparison figures, with known answers."""

from __future__ import annotations

import json

import pytest
from tests_support import PROJECT

from latent_atlas import paths
from latent_atlas.config import load_params
from latent_atlas.errors import DamagedFileError
from latent_atlas.report import plot_data

PARAMS = load_params(PROJECT / "params.yaml")
# Two variants on one recipe (the latent-size sweep's) and one on another.
SWEEP = [name for name in PARAMS.variants if PARAMS.variant(name).recipe == PARAMS.variant(
    PARAMS.roles.vanilla_sweep[0]).recipe][:2]
OTHER = next(name for name in PARAMS.variants if PARAMS.variant(name).recipe != PARAMS.variant(SWEEP[0]).recipe)


def details(eigenvalues=(3.0, 2.0, 1.0), ratios=(0.5, 0.3, 0.2)):
    return {"eigenvalues": list(eigenvalues), "explained_ratio": list(ratios), "noise_std": [0.1, 1.0],
            "noise_recon_mse": [0.02, 0.2], "noise_latent_shift": [0.5, 2.0], "noise_input_mse": [0.01, 0.1]}


def test_spectrum_rows_rank_each_eigenvalue_and_add_up_the_shares():
    rows = plot_data.spectrum_rows({OTHER: details()})
    assert [(r["rank"], r["eigenvalue"]) for r in rows] == [(1, 3.0), (2, 2.0), (3, 1.0)]
    assert [r["cumulative_ratio"] for r in rows] == pytest.approx([0.5, 0.8, 1.0])
    assert {r["series"] for r in rows} == {OTHER}


def test_the_sweep_is_one_line_and_pca_another():
    analyses = {SWEEP[0]: {"latent_dim": 2, "test_mse": 0.06}, SWEEP[1]: {"latent_dim": 3, "test_mse": 0.05},
                OTHER: {"latent_dim": 16, "test_mse": 0.02}}
    baseline = {"pca": {"k5": {"latent_dim": 5, "test_mse": 0.04}, "k2": {"latent_dim": 2, "test_mse": 0.07}}}
    rows = plot_data.mse_vs_latent_rows(PARAMS, analyses, baseline)
    by_series = {}
    for row in rows:
        by_series.setdefault(row["series"], []).append((row["latent_dim"], row["test_mse"]))
    assert by_series[plot_data.PCA_SERIES] == [(2, 0.07), (5, 0.04)]
    assert by_series[PARAMS.variant(SWEEP[0]).recipe] == [(2, 0.06), (3, 0.05)]
    assert by_series[PARAMS.variant(OTHER).recipe] == [(16, 0.02)]


def test_noise_rows_pair_each_level_with_its_errors():
    rows = plot_data.noise_rows({OTHER: details()})
    assert [(r["noise_std"], r["recon_mse"], r["latent_shift"], r["input_mse"]) for r in rows] == [
        (0.1, 0.02, 0.5, 0.01), (1.0, 0.2, 2.0, 0.1)]


def test_confusion_rows_cover_every_cell_of_the_classifiers_only():
    counts = [[3, 1], [0, 4]]
    rows = plot_data.confusion_rows({OTHER: {"confusion": counts}, SWEEP[0]: details()})
    assert [(r["actual"], r["predicted"], r["count"]) for r in rows] == [(0, 0, 3), (0, 1, 1), (1, 0, 0), (1, 1, 4)]
    assert {r["variant"] for r in rows} == {OTHER}


def test_a_stale_details_file_names_itself_and_the_missing_list():
    stale = details()
    del stale["noise_input_mse"]
    with pytest.raises(DamagedFileError, match=f"{paths.analysis_details(OTHER)} has no list 'noise_input_mse'"):
        plot_data.noise_rows({OTHER: stale})


def test_every_figure_file_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    analyses = {OTHER: {"latent_dim": 3, "test_mse": 0.02}}
    written = plot_data.write_plot_data(PARAMS, analyses, {OTHER: {**details(), "confusion": [[1, 0], [0, 1]]}},
                                        {"pca": {"k2": {"latent_dim": 2, "test_mse": 0.07}}})
    assert written == [paths.MSE_VS_LATENT_PLOT, paths.NOISE_PLOT, paths.SPECTRA_PLOT, paths.CONFUSION_PLOT]
    assert [len(json.loads(p.read_text())) for p in written] == [2, 2, 3, 4]
