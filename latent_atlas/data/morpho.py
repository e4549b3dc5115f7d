"""Morpho-MNIST morphometrics of digit images, batched, with scikit-image.

Reproduces the six measures of Castro, Tan, Kamnitsas & Glocker (2019),
"Morpho-MNIST: Quantitative Assessment and Diagnostics for Representation
Learning", JMLR 20(178), as their reference code (github.com/dccastro/
Morpho-MNIST, `morphomnist/measure.py`) defines them, but over a whole batch
at once instead of one image at a time. Every image is first up-sampled
`scale` times (default 4) with skimage's `pyramid_expand` (cubic spline, then
a Gaussian of sigma scale/3) so stroke edges fall between pixels; a uint8
image's up-sampled grey levels are truncated back to uint8, as the reference
does. The up-sampled image is binarised at `threshold` (default 0.5) of the
way from its minimum to its maximum grey level.

- area: foreground pixels of the up-sampled mask / scale**2.
- length: length of the mask's medial axis (skimage.morphology.medial_axis):
  every pair of 8-neighbouring axis pixels adds 1 (side by side) or sqrt(2)
  (diagonal), divided by scale.
- thickness: 2 * mean over the medial axis of the Euclidean distance to the
  nearest background pixel, divided by scale. That distance reaches the
  centre of the first background pixel, so a stroke 2k up-sampled pixels
  wide reads 2k / scale exactly (a 2-pixel stroke at 4x reads 2).
- slant: atan(-mu11 / mu02) in radians from the second-order central
  moments of the up-sampled grey levels (y down the rows): 0 upright,
  positive when the top leans right, like italic text.
- width, height: sides of the bounding parallelogram. Along the slant, the
  horizontal mass distribution, and the vertical one, are cut at 1% of the
  mass on each side (linear interpolation of the cumulative mass on the
  pixel grid), so a stray pixel barely moves them; divided by scale.

bench/morpho_agreement.py compares the two (bench/README.md: equal to
rounding but for length and thickness, which agree to r >= 0.998, and much
faster than the reference's per-image loop). What differs from the reference:

- The medial axis of a batch comes from one `medial_axis` call on a strip of
  the images' cropped masks side by side, instead of one call per image
  (which spends most of its time building skimage's lookup table). Pixels
  that tie on distance and corner-ness are removed in another random order
  than the reference's per-image seed gives, so an axis can gain or lose a
  pixel here and there: the length and thickness differences above. A digit
  measured alone gets the reference's order, and its numbers.
- The strip puts background around every crop, so a stroke touching the
  image frame is measured as ending there; the reference measures distances
  only to background inside the frame (2 of the first 200 MNIST test digits
  touch it at 4x, changing their length and thickness slightly).
- An image with no grey-level contrast (e.g. all zero) measures 0 for all
  six; the reference calls its whole frame foreground.
- A shape with no vertical spread has slant 0, where the reference divides
  by zero.
- Boolean images are read as 0/1 grey levels (the reference's uint8 cast
  would make every up-sampled pixel above zero foreground).
"""

from __future__ import annotations

import functools

import numpy as np
from skimage.filters import gaussian
from skimage.morphology import medial_axis
from skimage.transform import resize

from latent_atlas.arrays import subsample
from latent_atlas.data.factors import Factors

MORPHO_NAMES = ("area", "length", "thickness", "slant", "width", "height")

# Images per batch: bounds memory (256 up-sampled 28 x 28 images at 4x are
# 26 MB of float64) while spreading medial_axis's fixed cost over many.
_CHUNK = 256
# Fraction of the mass left outside the bounding parallelogram, per axis (half on each side).
_BOUND_FRAC = 0.02
# Seed of medial_axis's tie-breaking order, as in the reference.
_MEDIAL_AXIS_SEED = 42


def _to_unit_float(images) -> tuple[np.ndarray, bool]:
    """Images as float64 in [0, 1], and whether they came as uint8 levels."""
    arr = np.asarray(images)
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"images must have shape (n, H, W) with n >= 1; got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0, True
    if arr.dtype == bool:
        return arr.astype(np.float64), False
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"images must be numeric (uint8 or float in [0, 1]); got dtype {arr.dtype}"
        )
    out = arr.astype(np.float64)
    if not np.all(np.isfinite(out)) or out.min() < 0.0 or out.max() > 1.0:
        raise ValueError(
            f"float images must lie in [0, 1] (or be uint8 0..255); "
            f"got range [{np.nanmin(out)}, {np.nanmax(out)}]"
        )
    return out, False


def _check_threshold(threshold) -> float:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float | np.integer | np.floating)
        or not 0.0 < threshold <= 1.0
    ):
        raise ValueError(f"threshold must be a number in (0, 1]; got {threshold!r}")
    return float(threshold)


def _check_scale(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, int | np.integer) or not 1 <= scale <= 16:
        raise ValueError(f"scale must be an int in 1..16; got {scale!r}")
    return int(scale)


# --------------------------------------------------------------------------- #
# up-sampling
# --------------------------------------------------------------------------- #


@functools.lru_cache(maxsize=8)
def _cubic_operator(size: int, scale: int) -> np.ndarray:
    """(size*scale, size) matrix of skimage's cubic-spline resize along one axis.

    Resizing is linear and separable, so resizing an image whose row k is all
    ones gives column k of the row operator in every output column (the
    column-wise resize of a constant row is that constant).
    """
    out = size * scale
    operator = np.empty((out, size))
    for k in range(size):
        row_k = np.zeros((size, size))
        row_k[k] = 1.0
        expanded = resize(row_k, (out, out), order=3, mode="reflect", anti_aliasing=False, clip=False)
        operator[:, k] = expanded[:, 0]
    return operator


def upsample(images: np.ndarray, scale: int) -> np.ndarray:
    """skimage.transform.pyramid_expand(image, scale, order=3) of every image in an (n, H, W) batch.

    The cubic resize is two matrix products over the whole batch; as in
    `resize`, its overshoot is clipped to each image's own grey range before
    the Gaussian smoothing.
    """
    n, h, w = images.shape
    rows, cols = _cubic_operator(h, scale), _cubic_operator(w, scale)
    wide = (images.reshape(n * h, w) @ cols.T).reshape(n, h, w * scale)  # (n, H, sW)
    tall = wide.transpose(0, 2, 1).reshape(n * w * scale, h) @ rows.T  # (n*sW, sH)
    expanded = tall.reshape(n, w * scale, h * scale).transpose(0, 2, 1)  # (n, sH, sW)
    np.maximum(expanded, images.min(axis=(1, 2))[:, None, None], out=expanded)
    np.minimum(expanded, images.max(axis=(1, 2))[:, None, None], out=expanded)
    return gaussian(expanded, sigma=2 * scale / 6.0, mode="reflect", channel_axis=0)


def _truncate_to_uint8_levels(images: np.ndarray) -> np.ndarray:
    # The reference casts 255 * image to uint8 (floor); the small offset keeps
    # round-off in the matrix products from dropping an exact level by one.
    return np.floor(images * 255.0 + 1e-9) / 255.0


# --------------------------------------------------------------------------- #
# moments: slant and the bounding parallelogram
# --------------------------------------------------------------------------- #


def _interp_each(cdf: np.ndarray, quantiles: list[float]) -> np.ndarray:
    """Pixel positions at which each row's cumulative mass reaches `quantiles`."""
    grid = np.arange(cdf.shape[1], dtype=np.float64)
    return np.array([np.interp(quantiles, row, grid) for row in cdf])


def _slant_and_extent(gray: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slant, width and height of each grey-level image of an (n, H, W) batch."""
    n, h, w = gray.shape
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    mass = gray.sum(axis=(1, 2))
    has_mass = mass > 0
    safe_mass = np.where(has_mass, mass, 1.0)
    row_mass = gray.sum(axis=2)  # (n, H)
    col_mass = gray.sum(axis=1)  # (n, W)
    dy = rows - (row_mass @ rows / safe_mass)[:, None]  # (n, H)
    dx = cols - (col_mass @ cols / safe_mass)[:, None]  # (n, W)
    mu02 = (row_mass * dy**2).sum(axis=1)
    mu11 = np.einsum("nij,ni,nj->n", gray, dy, dx)
    # A shape with no vertical spread cannot shear; call it upright.
    tilted = mu02 > 1e-12
    shear = np.where(tilted, mu11 / np.where(tilted, mu02, 1.0), 0.0)

    # Cumulative mass left of each grid column t, measured along the slant: a
    # pixel at column x of row y counts once x + 1/2 < t + shear * dy, i.e.
    # from column x + shift[y] on, shift = floor(1/2 - shear * dy) + 1.
    shift = np.floor(0.5 - shear[:, None] * dy).astype(np.int64) + 1  # (n, H)
    first = np.clip(np.arange(w) + shift[:, :, None], 0, w)  # (n, H, W)
    first += (np.arange(n) * (w + 1))[:, None, None]
    per_column = np.bincount(first.ravel(), weights=gray.ravel(), minlength=n * (w + 1))
    left_cdf = np.cumsum(per_column.reshape(n, w + 1), axis=1)[:, :w] / safe_mass[:, None]
    # Cumulative mass above each row t (rows < t).
    above_cdf = np.cumsum(row_mass, axis=1) - row_mass
    above_cdf /= safe_mass[:, None]

    cut = [_BOUND_FRAC / 2, 1.0 - _BOUND_FRAC / 2]
    left, right = _interp_each(left_cdf, cut).T
    top, bottom = _interp_each(above_cdf, cut).T
    width = np.where(has_mass, (right - left) / scale, 0.0)
    height = np.where(has_mass, (bottom - top) / scale, 0.0)
    return np.where(has_mass, np.arctan(-shear), 0.0), width, height


# --------------------------------------------------------------------------- #
# medial axis: length and thickness
# --------------------------------------------------------------------------- #


def _side_by_side(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The masks cropped to their foreground and laid in one row, each after a background column.

    Returns the strip, with a background row above and below, and the first
    strip column of each image's segment. The background between crops keeps
    each crop's medial axis and distances its own.
    """
    boxes = []
    for image in mask:
        rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
        boxes.append((rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) if rows.size else (0, 0, 0, 0))
    heights = [b[1] - b[0] for b in boxes]
    widths = np.array([b[3] - b[2] for b in boxes])
    starts = np.concatenate([[0], np.cumsum(widths + 1)[:-1]])
    strip = np.zeros((max(heights) + 2, int(widths.sum() + len(boxes) + 1)), dtype=bool)
    for (r0, r1, c0, c1), start, image in zip(boxes, starts, mask, strict=True):
        strip[1 : 1 + r1 - r0, start + 1 : start + 1 + c1 - c0] = image[r0:r1, c0:c1]
    return strip, starts


def _axis_pair_length(axis: np.ndarray) -> np.ndarray:
    """Per column: 1 per side-by-side and sqrt(2) per diagonal pair of axis pixels starting there."""
    pairs = np.zeros(axis.shape)
    pairs[:, :-1] += axis[:, :-1] & axis[:, 1:]  # right
    pairs[:-1, :] += axis[:-1, :] & axis[1:, :]  # down
    pairs[:-1, :-1] += np.sqrt(2.0) * (axis[:-1, :-1] & axis[1:, 1:])  # down-right
    pairs[:-1, 1:] += np.sqrt(2.0) * (axis[:-1, 1:] & axis[1:, :-1])  # down-left
    return pairs.sum(axis=0)


def _length_and_thickness(mask: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Medial-axis length and mean thickness of each mask of an (n, H, W) batch."""
    strip, starts = _side_by_side(mask)
    axis, distance = medial_axis(strip, return_distance=True, rng=_MEDIAL_AXIS_SEED)
    # Column sums, then one sum per image segment (segments hold whole crops).
    length = np.add.reduceat(_axis_pair_length(axis), starts)
    axis_pixels = np.add.reduceat(axis.sum(axis=0), starts)
    radius_sum = np.add.reduceat(np.where(axis, distance, 0.0).sum(axis=0), starts)
    mean_radius = radius_sum / np.maximum(axis_pixels, 1)
    return length / scale, 2.0 * mean_radius / scale


# --------------------------------------------------------------------------- #
# public
# --------------------------------------------------------------------------- #


def _measure_chunk(gray: np.ndarray, uint8_levels: bool, threshold: float, scale: int) -> np.ndarray:
    """(n, 6) measures of one chunk, columns in MORPHO_NAMES order."""
    hires = upsample(gray, scale) if scale > 1 else gray
    if uint8_levels:
        hires = _truncate_to_uint8_levels(hires)
    lo, hi = hires.min(axis=(1, 2)), hires.max(axis=(1, 2))
    has_contrast = hi > lo
    level = lo + (hi - lo) * threshold
    mask = (hires >= level[:, None, None]) & has_contrast[:, None, None]
    area = mask.sum(axis=(1, 2)) / scale**2
    length, thickness = _length_and_thickness(mask, scale)
    slant, width, height = _slant_and_extent(hires, scale)
    out = np.column_stack([area, length, thickness, slant, width, height])
    return np.where(has_contrast[:, None], out, 0.0)


def morphometrics_matrix(
    images, threshold: float = 0.5, scale: int = 4
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The six measures as an (n, 6) float array, columns in MORPHO_NAMES order.

    `images` is (n, H, W), uint8 in 0..255 or float in [0, 1]. `threshold` is
    the fraction of the way from each up-sampled image's darkest to brightest
    level at which it is binarised; `scale` the up-sampling factor (1 turns it
    off). Lengths are in native pixels, slant in radians.
    """
    gray, uint8_levels = _to_unit_float(images)
    threshold, scale = _check_threshold(threshold), _check_scale(scale)
    chunks = [
        _measure_chunk(gray[start : start + _CHUNK], uint8_levels, threshold, scale)
        for start in range(0, len(gray), _CHUNK)
    ]
    return np.concatenate(chunks), MORPHO_NAMES


def morphometrics(images, threshold: float = 0.5, scale: int = 4) -> dict[str, np.ndarray]:
    """The six measures by name (MORPHO_NAMES), each a float array of shape (n,)."""
    values, names = morphometrics_matrix(images, threshold, scale)
    return {name: values[:, j] for j, name in enumerate(names)}


def measure_factors(test_images, train_images, n_train: int, seed: int, scale: int = 4) -> Factors:
    """Morphometrics of every test image and `n_train` seeded training images (sorted)."""
    n_avail = len(train_images)
    if n_avail < 1:
        raise ValueError("no training images to measure factors on")
    index = subsample(n_avail, n_train, seed)
    test, names = morphometrics_matrix(test_images, scale=scale)
    train, _ = morphometrics_matrix(train_images[index], scale=scale)
    return Factors(test, train, index.astype(np.int64), tuple(names))
