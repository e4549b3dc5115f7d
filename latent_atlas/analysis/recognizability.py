"""What reconstructions look like, in numbers: the fixed judge's accuracy on them, and their sharpness.

"Barely recognizable", "blurry", "sharp": the judge (latent_atlas.models.judge,
one pixel-space classifier trained once per run on clean digits) reads each
reconstruction, and sharpness compares its image-gradient energy with the
original's (1: as sharp; a blur lowers it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from latent_atlas.analysis.parts import Part

# Images per judge and decode call: bounds the memory of a 10k-image pass.
CHUNK = 2048


def gradient_energy(images: np.ndarray) -> np.ndarray:
    """Per image: the sum of squared finite differences along both axes. (n, H, W) -> (n,)."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"images must have shape (n, H, W); got {x.shape}")
    return (np.diff(x, axis=1) ** 2).sum(axis=(1, 2)) + (np.diff(x, axis=2) ** 2).sum(axis=(1, 2))


def sharpness(recon01: np.ndarray, images01: np.ndarray) -> float:
    """Mean over images of gradient_energy(recon) / gradient_energy(original); blank originals are left out."""
    recon, orig = gradient_energy(recon01), gradient_energy(images01)
    if recon.shape != orig.shape:
        raise ValueError(f"recon01 and images01 must hold as many images; got {recon.shape} and {orig.shape}")
    used = orig > 0
    if not used.any():
        raise ValueError("every original is blank: sharpness is undefined")
    return float(np.mean(recon[used] / orig[used]))


def judged(judge, images01: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The judge's accuracy on images, and its mean confidence (max probability)."""
    probs = judge.probabilities(images01)  # batched by the judge
    return {"accuracy": float(np.mean(probs.argmax(axis=1) == labels)), "confidence": float(probs.max(axis=1).mean())}


def reconstruct(encode: Callable, decode: Callable, images01: np.ndarray) -> np.ndarray:
    """decode(encode(x)) in chunks: (n, 28, 28) in [0,1] -> (n, 28, 28) in [0,1]."""
    return np.concatenate([decode(encode(images01[i : i + CHUNK])) for i in range(0, len(images01), CHUNK)])


def recognizability_part(judge, images01: np.ndarray, recon01: np.ndarray, labels: np.ndarray) -> Part:
    """The judge's accuracy and confidence on the reconstructions of the test images; their sharpness."""
    numbers = {"recon_sharpness": sharpness(recon01, images01)}
    if judge is not None:
        found = judged(judge, recon01, labels)
        numbers.update(recon_judge_accuracy=found["accuracy"], recon_judge_confidence=found["confidence"])
    return Part(numbers)
