"""Measures: what a claim reads from one run, with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from latent_atlas.analysis import ranks
from latent_atlas.report.curve_measures import (
    CurveGap,
    CurveRise,
    DropGrowth,
    EarlyShare,
    EpochsToReach,
)
from latent_atlas.report.digit_measures import DigitGap, DigitRank, PairGap, PairRank, PairShare
from latent_atlas.report.measures import (
    At,
    Baseline,
    ConvChain,
    Deviation,
    Dims,
    LinearParams,
    Metric,
    ParamMismatches,
    RecipeMismatches,
    ShapesMatch,
    Trend,
)
from latent_atlas.report.run_data import Missing, RunData, variant_numbers
from latent_atlas.report.sweep_measures import Across, PCAOfSize, Sweep, SweepVsPCA

SWEEP = {2: 0.060, 3: 0.050, 5: 0.040, 10: 0.025, 50: 0.020}


def sweep_run(**extra) -> RunData:
    variants = {f"v{z}": {"latent_dim": z, "test_mse": mse, "n_params": 218_643 if z == 3 else 1} for z, mse in
                SWEEP.items()}
    variants["conv"] = {"latent_dim": 256, "test_mse": 0.01}
    params = {f"variants.v{z}.hidden": [128, 64] for z in SWEEP}
    params.update({f"variants.v{z}.input_range": "symmetric" for z in SWEEP})
    return RunData(roles={"vanilla_sweep": [f"v{z}" for z in SWEEP], "spatial_conv_ae": ["conv"]},
                   variants=variants, params=params,
                   baseline={"pca": {f"k{z}": {"latent_dim": z, "test_mse": mse * 1.1} for z, mse in SWEEP.items()}},
                   **extra)


@pytest.mark.parametrize(("how", "expected"), [
    ("max_step", -0.005),  # 50 from 10: 0.020 - 0.025
    ("min_step", -0.015),  # 10 from 5
    ("spearman", -1.0),
    ("argmax", 2.0),
    ("argmin", 50.0),
    ("interior_peak", 0.0),
])
def test_sweep_statistics(how, expected):
    assert Sweep("vanilla_sweep", "test_mse", how).value(sweep_run()) == pytest.approx(expected)


def test_the_knee_is_the_size_farthest_below_the_log_chord():
    # Chord from (log 2, 0.06) to (log 50, 0.02); z=10 lies 0.0150 below it, z=5 0.0086, z=3 0.0050.
    assert Sweep("vanilla_sweep", "test_mse", "knee").value(sweep_run()) == 10.0


def test_a_list_role_is_read_by_latent_size():
    run = sweep_run()
    assert Metric("vanilla_sweep", "test_mse", z=10).value(run) == 0.025
    with pytest.raises(Missing, match="no variant with latent_dim 7"):
        Metric("vanilla_sweep", "test_mse", z=7).value(run)
    # AE minus PCA of the same size: every AE is 10% better, the worst size is the one with the smallest gap.
    assert SweepVsPCA("vanilla_sweep", "test_mse").value(run) == pytest.approx(-0.002)
    assert PCAOfSize("vanilla_sweep", "test_mse", z=3).value(run) == pytest.approx(0.055)


def test_linear_layer_parameters_of_the_vanilla_ae():
    # 784-128-64-3-64-128-784 (SPEC section 2): 100,480 8,256 195 256 8,320 101,136.
    run = sweep_run()
    counts = [LinearParams("vanilla_sweep", (i,), z=3).value(run) for i in range(6)]
    assert counts == [100_480, 8_256, 195, 256, 8_320, 101_136]
    assert LinearParams("vanilla_sweep", (0, 5), share=True, z=3).value(run) == pytest.approx(201_616 / 218_643)


def test_recipe_and_param_mismatches_count_the_differences():
    run = sweep_run()
    same = RecipeMismatches("vanilla_sweep", (("hidden", [128, 64]), ("input_range", "symmetric")))
    assert same.value(run) == 0
    # Every member of the sweep counts: 5 variants with another input range.
    assert RecipeMismatches("vanilla_sweep", (("input_range", "unit"),)).value(run) == 5
    params = RunData(roles={}, variants={}, params={"analyze.noise.stds": [0.01, 0.5, 2.0], "analyze.eigen_threshold": 10.0})
    assert ParamMismatches((("analyze.noise.stds", (0.01, 2.0)), ("analyze.eigen_threshold", 10))).value(params) == 0
    assert ParamMismatches((("analyze.noise.stds", (0.02,)), ("analyze.eigen_threshold", 9))).value(params) == 2


def test_conv_chain_and_shapes():
    assert ConvChain((28, 14, 7, 4), 3, 2, 1).value(sweep_run()) == 1.0
    assert ConvChain((28, 14, 7, 3), 3, 2, 1).value(sweep_run()) == 0.0
    run = sweep_run(details={"conv": {"layer_shapes": [[32, 10, 10], [32, 5, 5]]}})
    assert ShapesMatch("spatial_conv_ae", ((32, 10, 10), (32, 5, 5))).value(run) == 1.0
    assert ShapesMatch("spatial_conv_ae", ((32, 10, 10),)).value(run) == 0.0


def digit_run() -> RunData:
    spread = [1.0, 0.5, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]  # median 2
    distance = np.arange(100, dtype=float).reshape(10, 10)
    distance = distance + distance.T  # symmetric: pair (i, j) is 10 i + j + 10 j + i = 11 (i + j)
    confusion = np.zeros((10, 10))
    confusion[3, 8], confusion[8, 3], confusion[1, 7] = 3, 1, 4
    return RunData(roles={"r": ["a"]}, variants={"a": {}}, details={"a": {
        "class_spread": spread, "centroid_distance": distance.tolist(), "confusion": confusion.tolist(),
        "noise_std": [0.01, 0.5, 2.0], "noise_shift": [0.1, 1.0, 3.0],
        "traversal_grid_dims": [0, 1, 2, 3], "traversal_grid_effect": [0.1, 0.2, 0.3, 1.0]}})


def test_per_digit_and_pair_measures():
    run = digit_run()
    assert DigitGap("r", "class_spread", (1,)).value(run) == pytest.approx(-1.5)
    assert DigitGap("r", "class_spread", (2,)).value(run) == pytest.approx(1.0)
    assert DigitRank("r", "class_spread", (2, 1)).value(run) == 10.0  # 2 is first, 1 is last: the worst is 10
    assert DigitRank("r", "class_spread", (2, 1), worst=False).value(run) == 1.0
    # Pair (a, b) of distance[i][j] = 11 (i + j): 0-1 is the smallest of the 45 pairs, 8-9 the largest.
    assert PairRank("r", "centroid_distance", 0, 1).value(run) == 1.0
    assert PairRank("r", "centroid_distance", 8, 9).value(run) == 45.0
    median = np.median([11 * (i + j) for i in range(10) for j in range(i + 1, 10)])
    assert PairGap("r", "centroid_distance", 6, 9).value(run) == pytest.approx(11 * 15 - median)
    assert PairShare("r", "confusion", 3, 8).value(run) == pytest.approx(0.5)


def test_values_along_an_axis_and_per_dim():
    run = digit_run()
    assert At("r", "noise_shift", "noise_std", 2.0).value(run) == 3.0
    with pytest.raises(Missing, match="has no 0.02"):
        At("r", "noise_shift", "noise_std", 0.02).value(run)
    assert Trend("r", "noise_shift", "noise_std").value(run) == pytest.approx(1.0)
    assert Dims("r", "traversal_grid_effect", (3,)).value(run) == 1.0
    assert Dims("r", "traversal_grid_effect", (0,), against_median=True).value(run) == pytest.approx(0.1 - 0.25)
    with pytest.raises(Missing, match=r"dims \[7\]"):
        Dims("r", "traversal_grid_effect", (7,)).value(run)


def curve_run(losses, val=None, untrained=0.5, input_range="unit") -> RunData:
    rows = [{"epoch": i + 1, "train_loss": v, **({"val_loss": val[i]} if val else {})} for i, v in enumerate(losses)]
    return RunData(roles={"r": ["a"], "s": ["b"]},
                   variants={"a": {"untrained_test_mse": untrained}, "b": {}},
                   histories={"a": rows, "b": [{"epoch": i + 1, "train_loss": v} for i, v in
                                               enumerate([0.4, 0.2, 0.15, 0.1, 0.09])]},
                   params={"variants.a.input_range": input_range})


def test_curve_measures():
    run = curve_run([0.3, 0.2, 0.15, 0.13, 0.12], val=[0.31, 0.22, 0.16, 0.14, 0.132])
    assert CurveRise("r").value(run) == pytest.approx(-0.01)
    assert CurveRise("r", "val_loss").value(run) == pytest.approx(-0.008)
    assert CurveGap("r").value(run) == pytest.approx((0.132 - 0.12) / 0.132)
    # From the untrained 0.5 to 0.12: epoch 1 reached 0.2 of the 0.38 drop.
    assert EarlyShare("r", 1).value(run) == pytest.approx(0.2 / 0.38)
    assert EarlyShare("r", 1).value(curve_run([1.2, 0.6, 0.4], untrained=0.5, input_range="symmetric")) == \
        pytest.approx((2.0 - 1.2) / (2.0 - 0.4))  # a [-1,1] variant's losses are 4x the [0,1] MSE
    # Drops 0.1, 0.05, 0.02, 0.01: each smaller, the largest growth -0.01.
    assert DropGrowth("r").value(run) == pytest.approx(-0.01)
    # Target: the slower's final loss 0.12; a reaches it at epoch 5, b at epoch 4 (0.1).
    assert EpochsToReach(Metric("r", "x"), Metric("s", "x")).value(run) == 1.0


def test_across_variants_is_a_rank_correlation():
    run = RunData(roles={}, variants={n: {"a": i, "b": i * i, "c": -i} for i, n in enumerate("pqrst")})
    assert Across(Metric(None, "a"), Metric(None, "b")).value(run) == pytest.approx(1.0)
    assert Across(Metric(None, "a"), Metric(None, "c")).value(run) == pytest.approx(-1.0)
    few = RunData(roles={}, variants={"p": {"a": 1, "b": 2}})
    with pytest.raises(Missing, match="1 variants have both"):
        Across(Metric(None, "a"), Metric(None, "b")).value(few)


def test_files_of_the_run():
    run = RunData(roles={}, variants={}, baseline={"pixel_precision_at_10": 0.9},
                  population={"study_seed": {"eigenvalues": [1.194, 1.034, 1.023, 0.983, 0.894, 0.872]}})
    assert Baseline(("pixel_precision_at_10",)).value(run) == 0.9
    deviation = Deviation(("study_seed", "eigenvalues"), (1.19, 1.03, 1.02, 0.98, 0.89, 0.87)).value(run)
    assert deviation == pytest.approx(0.004)
    with pytest.raises(Missing, match="pca.k3 is not in this run's metrics/baseline.json"):
        Baseline(("pca", "k3")).value(run)


def test_spearman_and_ranks():
    assert ranks.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert ranks.spearman([1, 2, 3], [5, 5, 5]) == 0.0
    assert ranks.average_ranks(np.array([3.0, 1.0, 3.0])).tolist() == [2.5, 1.0, 2.5]
    # Against the textbook formula 1 - 6 sum d^2 / (n (n^2 - 1)) without ties: d = (0, -1, 1, 0, 0).
    assert ranks.spearman([1, 2, 3, 4, 5], [1, 3, 2, 4, 5]) == pytest.approx(1 - 6 * 2 / (5 * 24))
    assert ranks.rank_descending(np.array([0.5, 0.9, 0.5])).tolist() == [2, 1, 2]
    with pytest.raises(ValueError, match="equal-length"):
        ranks.spearman([1, 2], [1])


def test_variant_numbers_merge_training_then_analysis():
    merged = variant_numbers({"a": {"test_mse": 0.1, "n_params": 5}}, {"a": {"n_params": 4, "train_seconds": 2.0}})
    assert merged == {"a": {"test_mse": 0.1, "n_params": 5, "train_seconds": 2.0}}
    assert math.isfinite(merged["a"]["train_seconds"])
