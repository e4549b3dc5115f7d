"""Tests for latent_atlas.analysis.downstream: the same classifier on codes and on pixels."""

from __future__ import annotations

import numpy as np

from latent_atlas.analysis.downstream import downstream_part, timed_fit


def test_timed_fit_scores_the_test_rows():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    x = y[:, None] * 10.0 + rng.normal(size=(100, 2))
    found = timed_fit(x[::2], y[::2], x[1::2], y[1::2], seed=0, repeats=2)
    assert found["accuracy"] == 1.0 and found["features"] == 2
    flipped = timed_fit(x[::2], y[::2], x[1::2], 1 - y[1::2], seed=0)
    assert flipped["accuracy"] == 0.0


def test_downstream_part_compares_each_code_with_the_pixels_on_the_same_rows():
    rng = np.random.default_rng(0)
    y_train, y_test = np.repeat(np.arange(4), 30), np.repeat(np.arange(4), 10)
    pixels = (rng.normal(size=(120, 50)), rng.normal(size=(40, 50)))  # no signal
    codes = {"informative": (y_train[:, None] * 5.0 + rng.normal(size=(120, 2)),
                             y_test[:, None] * 5.0 + rng.normal(size=(40, 2)))}
    part = downstream_part(pixels, codes, y_train, y_test, max_train=80, seed=0, repeats=1)
    m = part.metrics
    assert (m["n_train"], m["n_test"], m["pixels"]["features"]) == (80, 40, 50)
    code = m["codes"]["informative"]
    assert code["accuracy"] == 1.0 and m["pixels"]["accuracy"] < 0.6
    assert code["accuracy_vs_pixels"] == code["accuracy"] - m["pixels"]["accuracy"]
