"""The network before training: study 000's z=6 model, as its loop left it, and a random-init baseline.

Study 000's z=6 training loop called the z=16 model, so the z=6 network it
evaluated kept its seeded initial weights (CLAIMS.md Note A). Rebuilt from
the same seed (latent_atlas.models.training.initial_model), the untrained
network replays what the study measured: its head's accuracy, its
reconstruction error and the eigenvalues it read. The same numbers for every
variant give the random-init baseline that "the codes learned something" is
measured against (probes on untrained codes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from latent_atlas.analysis.parts import Part
from latent_atlas.analysis.probes import probes_part
from latent_atlas.analysis.recognizability import reconstruct
from latent_atlas.analysis.spectrum import spectrum


@dataclass(frozen=True)
class ModelFunctions:
    """A network as numpy functions: images01 -> codes, codes -> images01, codes -> log-probs (or None)."""

    encode: Callable[[np.ndarray], np.ndarray]
    decode: Callable[[np.ndarray], np.ndarray]
    classify: Callable[[np.ndarray], np.ndarray] | None = None


def untrained_part(initial: ModelFunctions, images01: np.ndarray, labels: np.ndarray, train01: np.ndarray,
                   train_labels: np.ndarray, *, eigen_threshold: float, k: int, seed: int) -> Part:
    """untrained_*: test MSE, head accuracy, eigenvalues above the threshold, linear and kNN probes.

    train01 is the (already subsampled) training images the probes fit on.
    """
    z = np.asarray(initial.encode(images01), dtype=np.float64)
    recon = reconstruct(initial.encode, initial.decode, images01)
    eigenvalues = np.asarray(spectrum(z)["eigenvalues"])
    numbers = {"untrained_test_mse": float(np.mean((recon - images01) ** 2)),
               "untrained_eigenvalues_above_threshold": int(np.sum(eigenvalues > eigen_threshold))}
    if initial.classify is not None:
        numbers["untrained_accuracy"] = float(np.mean(initial.classify(z).argmax(axis=1) == labels))
    z_train = np.asarray(initial.encode(train01), dtype=np.float64)
    probes = probes_part(z_train, train_labels, z, labels, k=k, max_train=None, seed=seed)
    numbers.update({f"untrained_{key}": value for key, value in probes.metrics.items()
                    if key in ("probe_linear_accuracy", "probe_knn_accuracy")})
    return Part(numbers)
