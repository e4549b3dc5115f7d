"""Tests for latent_atlas.data.latents: a variant's codes, checked against the labels they claim."""

from __future__ import annotations

import numpy as np
import pytest

from latent_atlas import paths
from latent_atlas.data.latents import read_codes
from latent_atlas.errors import DamagedFileError, MissingFileError
from latent_atlas.io import write_npz


def test_codes_come_back_by_split_and_stale_ones_are_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    y_train, y_test = np.array([1, 2, 3]), np.array([4, 5])
    z_train, z_test = np.arange(6.0).reshape(3, 2), np.ones((2, 2))
    write_npz(paths.latents("v"), z_train=z_train, y_train=y_train, z_test=z_test, y_test=y_test)
    found = read_codes("v", train=y_train, test=y_test)
    np.testing.assert_array_equal(found["train"], z_train)
    np.testing.assert_array_equal(found["test"], z_test)
    assert list(read_codes("v", test=y_test)) == ["test"]
    with pytest.raises(DamagedFileError, match=r"data/latents/v\.npz does not match .*rerun extract \(v\)"):
        read_codes("v", train=np.array([1, 2, 4]))
    with pytest.raises(MissingFileError, match="latents/w.npz"):
        read_codes("w", train=y_train)
