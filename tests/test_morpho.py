"""Known-answer tests for latent_atlas.morpho on drawn shapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from latent_atlas import morpho


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


def test_upright_bar_known_answers():
    out = measure(bar(3, 16))
    assert out["area"][0] == 48
    assert out["width"][0] == 3
    assert out["height"][0] == 16
    assert abs(out["slant"][0]) < 1e-12
    # Odd width: (2 * 6 up-sampled px - 1) / 4 = 2.75, within 1/scale of 3.
    assert out["thickness"][0] == pytest.approx(3.0, abs=0.25)


@pytest.mark.parametrize("angle", [0.2, 0.4, -0.3])
def test_sheared_bar_slant_sign_and_magnitude(angle):
    out = measure(bar(3, 16, angle))
    assert np.sign(out["slant"][0]) == np.sign(angle)
    assert out["slant"][0] == pytest.approx(angle, abs=0.05)
    # De-slanting brings the width back near the drawn 3 px (row rounding adds < 1).
    assert 3.0 <= out["width"][0] < 4.0
    assert out["height"][0] == 16
    assert out["area"][0] == 48


def test_mirroring_negates_slant_and_keeps_moment_measures():
    image = bar(2, 14, 0.35)
    out = measure(image, np.flip(image, axis=1))
    assert out["slant"][1] == pytest.approx(-out["slant"][0])
    for name in ("area", "width", "height"):
        assert out[name][1] == pytest.approx(out[name][0])


def test_translation_does_not_change_any_measure():
    out = measure(bar(3, 12, 0.3, top=4, left=6), bar(3, 12, 0.3, top=10, left=14))
    for name in morpho.MORPHO_NAMES:
        assert out[name][1] == pytest.approx(out[name][0]), name


def test_thicker_line_has_larger_thickness():
    out = measure(bar(1, 16), bar(3, 16), bar(5, 16), bar(3, 16, 0.4), bar(5, 16, 0.4))
    t = out["thickness"]
    assert t[0] < t[1] < t[2]
    assert t[3] < t[4]
    assert np.allclose(t[:3], [1, 3, 5], atol=0.3)


def test_longer_line_has_larger_length():
    out = measure(bar(2, 8), bar(2, 14), bar(2, 20), bar(2, 20, 0.4))
    length = out["length"]
    assert length[0] < length[1] < length[2]
    # Same thinning losses at the ends, so 6 more rows add about 6 px of length.
    assert length[2] - length[1] == pytest.approx(6.0, abs=0.5)
    # Leaning the 20-row bar makes the stroke longer (20 / cos 0.4 = 21.7).
    assert length[3] > length[2]


def test_native_scale_arc_length_of_thin_lines():
    diagonal = np.zeros((28, 28))
    diagonal[np.arange(5, 15), np.arange(5, 15)] = 1.0
    straight = np.zeros((28, 28))
    straight[10, 3:13] = 1.0
    two_strokes = np.zeros((28, 28))
    two_strokes[5, 2:7] = 1.0
    two_strokes[20, 10:15] = 1.0
    out = measure(diagonal, straight, two_strokes, scale=1)
    # 9 diagonal steps of sqrt(2) plus one pixel; 9 unit steps plus one; 2 x (4 + 1).
    assert out["length"] == pytest.approx([9 * np.sqrt(2) + 1, 10.0, 10.0])
    assert out["thickness"] == pytest.approx([1.0, 1.0, 1.0])
    # A top-left to bottom-right diagonal leans left by 45 degrees and de-slants to 1 px.
    assert out["slant"][0] == pytest.approx(-np.pi / 4)
    assert out["width"][0] == pytest.approx(1.0)


def test_uint8_matches_float_and_empty_image_is_zero():
    image = bar(3, 10, 0.2)
    as_uint8 = (image * 255).astype(np.uint8)
    a = measure(image, np.zeros((28, 28)))
    b = morpho.morphometrics(np.stack([as_uint8, np.zeros((28, 28), np.uint8)]))
    for name in morpho.MORPHO_NAMES:
        assert a[name] == pytest.approx(b[name])
        assert a[name][1] == 0.0


def test_threshold_selects_foreground():
    image = bar(3, 10) * 0.4
    image[6:16, 13] = 0.9  # only the middle column is bright
    low, high = measure(image, threshold=0.3), measure(image, threshold=0.5)
    assert low["area"][0] == 30 and low["width"][0] == 3
    assert high["area"][0] == 10 and high["width"][0] == 1


def test_matrix_columns_follow_names():
    images = np.stack([bar(3, 16), bar(1, 10, 0.3)])
    values, names = morpho.morphometrics_matrix(images)
    assert names == morpho.MORPHO_NAMES
    assert values.shape == (2, 6)
    out = morpho.morphometrics(images)
    for j, name in enumerate(names):
        assert np.array_equal(values[:, j], out[name])


def test_upsample_bilinear_matches_scipy_zoom():
    x = np.random.default_rng(0).random((3, 7, 5))
    for scale in (1, 2, 4):
        ref = ndi.zoom(x, (1, scale, scale), order=1, grid_mode=True, mode="grid-constant")
        assert np.allclose(morpho.upsample_bilinear(x, scale), ref)


def test_binarize_and_bad_arguments():
    assert morpho.binarize(np.stack([bar(3, 16)])).sum() == 48
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        morpho.morphometrics(bar(3, 16))
    with pytest.raises(ValueError, match=r"shape \(n, H, W\)"):
        morpho.morphometrics(np.zeros((2, 1, 28, 28)))
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        morpho.morphometrics(np.full((1, 28, 28), 3.0))
    with pytest.raises(ValueError, match=r"threshold must be a number in \(0, 1\]; got 1.5"):
        morpho.morphometrics(np.zeros((1, 28, 28)), threshold=1.5)
    with pytest.raises(ValueError, match="scale must be an int in 1..16; got 0"):
        morpho.morphometrics(np.zeros((1, 28, 28)), scale=0)
