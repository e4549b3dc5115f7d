"""Off-domain images: 28x28 grey patches of photographs, for scoring MNIST-trained models on other data.

Study 002 calls an autoencoder "a learned compression scheme tailored to
specific types of data" and suggests scoring the MNIST-trained model on
another dataset. No other image dataset ships with the project or can be
downloaded offline; scikit-image's bundled photographs can. Each patch is a
seeded square window of one photograph (an even share of patches per
photograph), shrunk to 28x28 with anti-aliasing: natural-image texture and
edges, not pen strokes on black.
"""

from __future__ import annotations

import numpy as np
import skimage.data
from skimage.color import rgb2gray
from skimage.transform import resize

from latent_atlas.arrays import check_positive_int, check_seed

# scikit-image's bundled photographs (in its wheel, so no download): objects, faces, textures, the moon.
PHOTOGRAPHS = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel", "moon", "rocket")
SIDE = 28


def photograph(name: str) -> np.ndarray:
    """scikit-image's bundled photograph `name` as a grey (H, W) float64 image in [0, 1]."""
    if name not in PHOTOGRAPHS:
        raise ValueError(f"photograph {name!r} is not allowed; use one of {', '.join(PHOTOGRAPHS)}")
    image = getattr(skimage.data, name)()
    grey = rgb2gray(image) if image.ndim == 3 else image / 255.0
    return np.asarray(grey, dtype=np.float64)


def patches(image: np.ndarray, n: int, window: int, rng: np.random.Generator) -> np.ndarray:
    """n windows of window x window pixels at uniform random corners of a (H, W) image, each shrunk to 28x28."""
    height, width = image.shape
    if window > min(height, width):
        raise ValueError(f"window={window} is larger than the {height}x{width} image")
    rows = rng.integers(0, height - window + 1, size=n)
    cols = rng.integers(0, width - window + 1, size=n)
    return np.stack([resize(image[r:r + window, c:c + window], (SIDE, SIDE), anti_aliasing=True)
                     for r, c in zip(rows, cols, strict=True)]) if n else np.zeros((0, SIDE, SIDE))


def natural_patches(n: int, *, window: int, seed: int) -> np.ndarray:
    """(n, 28, 28) uint8 patches, as MNIST stores its digits, drawn evenly from PHOTOGRAPHS (the first
    n % 10 photographs give one more), seeded."""
    n = check_positive_int("n", n)
    window = check_positive_int("window", window)
    if window < SIDE:
        raise ValueError(f"window={window} is not allowed; use at least {SIDE} (patches are shrunk, never enlarged)")
    rng = np.random.default_rng(check_seed(seed))
    counts = [n // len(PHOTOGRAPHS) + (i < n % len(PHOTOGRAPHS)) for i in range(len(PHOTOGRAPHS))]
    out = np.concatenate([patches(photograph(name), count, window, rng)
                          for name, count in zip(PHOTOGRAPHS, counts, strict=True)])
    return np.round(np.clip(out, 0.0, 1.0) * 255).astype(np.uint8)
