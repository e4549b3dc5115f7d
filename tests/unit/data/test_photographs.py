"""Tests for latent_atlas.data.offdomain: photograph patches, the off-domain images."""

from __future__ import annotations

import numpy as np
import pytest

from latent_atlas.data.offdomain import PHOTOGRAPHS, natural_patches, patches, photograph


def test_patches_are_windows_of_the_image_shrunk_to_28():
    image = np.arange(100 * 120, dtype=np.float64).reshape(100, 120) / (100 * 120)
    found = patches(image, 5, 28, np.random.default_rng(0))  # a 28-px window is kept as it is
    assert found.shape == (5, 28, 28)
    for patch in found:
        row, col = divmod(round(patch[0, 0] * 100 * 120), 120)
        np.testing.assert_allclose(patch, image[row:row + 28, col:col + 28], atol=1e-12)
    shrunk = patches(image, 3, 56, np.random.default_rng(0))
    assert shrunk.shape == (3, 28, 28)
    with pytest.raises(ValueError, match="window=200 is larger than the 100x120 image"):
        patches(image, 1, 200, np.random.default_rng(0))


def test_natural_patches_are_seeded_uint8_images_of_every_photograph():
    first, again, other = (natural_patches(20, window=56, seed=s) for s in (0, 0, 1))
    assert first.shape == (20, 28, 28) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 10  # texture, not blank
    grey = photograph("camera")
    assert grey.ndim == 2 and grey.min() >= 0 and grey.max() <= 1
    assert photograph("astronaut").ndim == 2  # colour photographs are made grey


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 0, "window": 56, "seed": 0}, "n must be a positive int; got 0"),
    ({"n": 10, "window": 20, "seed": 0}, "window=20 is not allowed; use at least 28"),
    ({"n": 10, "window": 56, "seed": -1}, "seed must be a non-negative int"),
])
def test_natural_patches_reject_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        natural_patches(**kwargs)


def test_an_unknown_photograph_names_the_allowed_ones():
    with pytest.raises(ValueError, match=f"photograph 'lena' is not allowed; use one of {PHOTOGRAPHS[0]}"):
        photograph("lena")
