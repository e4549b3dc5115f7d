"""Architecture facts, defined once and free of torch.

params.yaml's validation (latent_atlas.config) and the networks
(latent_atlas.models.autoencoders) both read them, so a stage that only
validates params never imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28
N_CLASSES = 10

ARCHES = ("classifier_mlp", "mlp", "sparse_mlp", "small_conv", "spatial_conv", "vae_mlp", "vae_conv")
# Built from a list of hidden widths (params: hidden); the others' layers are fixed.
MLP_ARCHES = ("classifier_mlp", "mlp", "sparse_mlp", "vae_mlp")
# A Gaussian encoder and a Bernoulli decoder on [0,1] pixels, trained on the
# ELBO; their code, for every analysis, is the posterior mean.
VARIATIONAL_ARCHES = ("vae_mlp", "vae_conv")
# With a digit classifier on the code (params: head_hidden).
CLASSIFIER_ARCHES = ("classifier_mlp",)
# The spatial conv AE's bottleneck is a 64x2x2 map: its latent size is fixed.
SPATIAL_LATENT_SHAPE = (64, 2, 2)
FIXED_LATENT_DIMS = {"spatial_conv": 64 * 2 * 2}
OUTPUT_ACTIVATIONS = ("sigmoid", "tanh")
HIDDEN_ACTIVATIONS = ("relu", "tanh")


def fixed_latent_dim(arch: str) -> int | None:
    """The latent size an architecture fixes, or None where params choose it."""
    return FIXED_LATENT_DIMS.get(arch)


def mlp_parameter_count(latent_dim: int, hidden: Sequence[int], head_hidden: Sequence[int] = (),
                        variational: bool = False) -> int:
    """Weights and biases of an MLP autoencoder (and its classifier head), as the MLP archs build it.

    A variational encoder ends in twice the code's width: a mean and a log-variance per unit.
    """
    def dense(widths: list[int]) -> int:
        return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))

    widths = [N_PIXELS, *hidden, latent_dim]
    encoder = [N_PIXELS, *hidden, 2 * latent_dim] if variational else widths
    head = dense([latent_dim, *head_hidden, N_CLASSES]) if head_hidden else 0
    return dense(encoder) + dense(widths[::-1]) + head
