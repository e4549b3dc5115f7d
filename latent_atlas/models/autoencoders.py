"""The autoencoder variants of the studies (SPEC section 2), one interface.

Every model exposes `encode(x) -> z`, `decode(z) -> x_hat` and
`forward(x) -> dict` with at least "recon" and "latent". Inputs are always
(B, 1, 28, 28) in the variant's input range; outputs have the same shape.
A `ModelConfig` fully describes a model, and checkpoints store it beside the
weights (latent_atlas.models.checkpoint) so any later stage rebuilds the exact
network from the file alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from latent_atlas.arch import (
    IMAGE_SHAPE,
    N_CLASSES,
    N_PIXELS,
    SPATIAL_LATENT_SHAPE,
    fixed_latent_dim,
)
from latent_atlas.config import Params, RecipeParams


@dataclass(frozen=True)
class ModelConfig:
    arch: str
    latent_dim: int
    hidden: tuple[int, ...] = ()
    head_hidden: tuple[int, ...] = ()
    output: str = "sigmoid"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(**{**d, "hidden": tuple(d.get("hidden", ())), "head_hidden": tuple(d.get("head_hidden", ()))})


def recipe_model_config(recipe: RecipeParams, latent_dim: int) -> ModelConfig:
    """The network a recipe builds at `latent_dim` (an architecture that fixes its size keeps it)."""
    return ModelConfig(arch=recipe.arch, latent_dim=fixed_latent_dim(recipe.arch) or latent_dim,
                       hidden=tuple(recipe.hidden), head_hidden=tuple(recipe.head_hidden), output=recipe.output)


def model_config(params: Params, name: str) -> ModelConfig:
    """The network variant `name` trains: what its checkpoint stores and rebuilds."""
    return recipe_model_config(params.variant(name), params.latent_dim_of(name))


def _output_activation(name: str) -> nn.Module:
    activations = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    if name not in activations:
        raise ValueError(f"output={name!r} is not allowed; use one of {sorted(activations)}")
    return activations[name]()


def mlp(widths: list[int] | tuple[int, ...]) -> nn.Sequential:
    """Linear layers with a ReLU between consecutive ones, none after the last."""
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(w_in, w_out))
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Base: subclasses build `encoder` and `decoder`; forward returns a dict."""

    has_classifier = False
    convolutional = False  # training picks the memory format by it

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"latent": z, "recon": self.decode(z)}


class MLPAutoencoder(Autoencoder):
    """784 -> hidden... -> z -> reversed hidden... -> 784, output activation."""

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        widths = [N_PIXELS, *config.hidden, config.latent_dim]
        self.encoder = nn.Sequential(nn.Flatten(), mlp(widths))  # (B, 784) -> (B, z)
        self.decoder = nn.Sequential(
            mlp(widths[::-1]),
            _output_activation(config.output),
            nn.Unflatten(1, IMAGE_SHAPE),  # (B, 784) -> (B, 1, 28, 28)
        )


class ClassifierAutoencoder(MLPAutoencoder):
    """MLP autoencoder with a digit classifier on the latent (log-probabilities)."""

    has_classifier = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.classifier = nn.Sequential(
            mlp([config.latent_dim, *config.head_hidden, N_CLASSES]), nn.LogSoftmax(dim=1)
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"latent": z, "recon": self.decode(z), "log_probs": self.classifier(z)}


class SmallConvAutoencoder(Autoencoder):
    """Two conv+pool blocks to a dense latent, mirrored with transposed convs."""

    convolutional = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 8, 14, 14)
            nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 4, 7, 7)
            nn.Flatten(),  # (B, 196)
            nn.Linear(196, 64), nn.ReLU(), nn.Linear(64, config.latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, 64), nn.ReLU(), nn.Linear(64, 196),
            nn.Unflatten(1, (4, 7, 7)),
            nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # (B, 8, 14, 14)
            nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1),  # (B, 1, 28, 28)
            _output_activation(config.output),
        )


class SpatialConvAutoencoder(Autoencoder):
    """Convolutional encoder to a 64x2x2 spatial bottleneck (latent size 256).

    Study 002's encoder has a ReLU after each Conv2d (Conv, ReLU, MaxPool,
    twice), so the code is non-negative; a ReLU has no parameters, so only
    that sign, not the parameter count (50,161), tells the recipe apart from
    one without them. The latent is the flattened 64x2x2 map so every analysis
    sees (B, 256) like the dense variants.
    """

    convolutional = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=3, padding=1), nn.ReLU(),  # (B, 32, 10, 10)
            nn.MaxPool2d(2, stride=2),  # (B, 32, 5, 5)
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),  # (B, 64, 3, 3)
            nn.MaxPool2d(2, stride=1),  # (B, 64, 2, 2)
            nn.Flatten(),  # (B, 256)
        )
        self.decoder = nn.Sequential(
            nn.Unflatten(1, SPATIAL_LATENT_SHAPE),
            nn.ConvTranspose2d(64, 32, 3, stride=2), nn.ReLU(),  # (B, 32, 5, 5)
            nn.ConvTranspose2d(32, 16, 5, stride=3, padding=1), nn.ReLU(),  # (B, 16, 15, 15)
            nn.ConvTranspose2d(16, 1, 2, stride=2, padding=1),  # (B, 1, 28, 28)
            _output_activation(config.output),
        )


REGISTRY: dict[str, type[Autoencoder]] = {
    "mlp": MLPAutoencoder,
    "classifier_mlp": ClassifierAutoencoder,
    "small_conv": SmallConvAutoencoder,
    "spatial_conv": SpatialConvAutoencoder,
}


def build_model(config: ModelConfig) -> Autoencoder:
    if config.arch not in REGISTRY:
        raise ValueError(f"arch={config.arch!r} is not allowed; use one of {sorted(REGISTRY)}")
    fixed = fixed_latent_dim(config.arch)
    if fixed is not None and config.latent_dim != fixed:
        raise ValueError(f"latent_dim={config.latent_dim} is not allowed for {config.arch}; it is fixed at {fixed}")
    return REGISTRY[config.arch](config)


# The layers whose output shapes describe an architecture (the studies list them).
SHAPED_LAYERS = (nn.Conv2d, nn.MaxPool2d, nn.ConvTranspose2d, nn.Linear)


@torch.no_grad()
def layer_shapes(model: Autoencoder) -> list[tuple[int, ...]]:
    """Output shape (without the batch) of each conv, pool, transposed-conv and linear layer of the
    encoder, then of the decoder, for one blank image."""
    shapes: list[tuple[int, ...]] = []
    x = torch.zeros(1, *IMAGE_SHAPE)  # (1, 1, 28, 28)
    for part in (model.encoder, model.decoder):
        for layer in part.modules():
            if isinstance(layer, nn.Sequential):
                continue
            x = layer(x)
            if isinstance(layer, SHAPED_LAYERS):
                shapes.append(tuple(x.shape[1:]))
    return shapes


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
