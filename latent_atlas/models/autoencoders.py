"""The autoencoder variants of the studies (SPEC section 2), and the VAEs beside them, one interface.

Every model exposes `encode(x) -> z`, `decode(z) -> x_hat` and
`forward(x) -> dict` with at least "recon" and "latent". Inputs are always
(B, 1, 28, 28) in the variant's input range; outputs have the same shape.
A VAE's `encode` is its posterior mean, so every analysis reads it as a code;
its Gaussian posterior and Bernoulli logits are there for the ELBO and the
likelihood bounds (latent_atlas.models.likelihood).
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
    activation: str = "relu"  # between the MLP archs' hidden layers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        return cls(**{**d, "hidden": tuple(d.get("hidden", ())), "head_hidden": tuple(d.get("head_hidden", ()))})


def recipe_model_config(recipe: RecipeParams, latent_dim: int) -> ModelConfig:
    """The network a recipe builds at `latent_dim` (an architecture that fixes its size keeps it)."""
    return ModelConfig(arch=recipe.arch, latent_dim=fixed_latent_dim(recipe.arch) or latent_dim,
                       hidden=tuple(recipe.hidden), head_hidden=tuple(recipe.head_hidden), output=recipe.output,
                       activation=recipe.activation)


def model_config(params: Params, name: str) -> ModelConfig:
    """The network variant `name` trains: what its checkpoint stores and rebuilds."""
    return recipe_model_config(params.variant(name), params.latent_dim_of(name))


def _output_activation(name: str) -> nn.Module:
    activations = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    if name not in activations:
        raise ValueError(f"output={name!r} is not allowed; use one of {sorted(activations)}")
    return activations[name]()


_HIDDEN_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}  # arch.HIDDEN_ACTIVATIONS


def mlp(widths: list[int] | tuple[int, ...], activation: str = "relu") -> nn.Sequential:
    """Linear layers with an activation (ReLU, or Tanh as in Burda et al. 2015) between consecutive ones,
    none after the last."""
    if activation not in _HIDDEN_ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not allowed; use one of {sorted(_HIDDEN_ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        if i:
            layers.append(_HIDDEN_ACTIVATIONS[activation]())
        layers.append(nn.Linear(w_in, w_out))
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Base: subclasses build `encoder` and `decoder`; forward returns a dict."""

    has_classifier = False
    convolutional = False  # training picks the memory format by it
    variational = False  # a Gaussian posterior: trained on the ELBO with noise the loop draws

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
        self.encoder = nn.Sequential(nn.Flatten(), mlp(widths, config.activation))  # (B, 784) -> (B, z)
        self.decoder = nn.Sequential(
            mlp(widths[::-1], config.activation),
            _output_activation(config.output),
            nn.Unflatten(1, IMAGE_SHAPE),  # (B, 784) -> (B, 1, 28, 28)
        )


class SparseAutoencoder(Autoencoder):
    """784 -> hidden... -> ReLU code -> reversed hidden... -> 784: a non-negative code whose
    units are exactly zero when off, trained with an L1 penalty on it (params: sparsity_weight).

    The ReLU code with an L1 penalty is the sparse autoencoder of interpretability
    work (e.g. Bricken et al. 2023, "Towards monosemanticity"), at the classifier AE's size.
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        widths = [N_PIXELS, *config.hidden, config.latent_dim]
        self.encoder = nn.Sequential(nn.Flatten(), mlp(widths, config.activation), nn.ReLU())  # (B, z), z >= 0
        self.decoder = nn.Sequential(
            mlp(widths[::-1], config.activation),
            _output_activation(config.output),
            nn.Unflatten(1, IMAGE_SHAPE),
        )


class ClassifierAutoencoder(MLPAutoencoder):
    """MLP autoencoder with a digit classifier on the latent (log-probabilities)."""

    has_classifier = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.classifier = nn.Sequential(
            mlp([config.latent_dim, *config.head_hidden, N_CLASSES], config.activation), nn.LogSoftmax(dim=1)
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"latent": z, "recon": self.decode(z), "log_probs": self.classifier(z)}


def small_conv_encoder(out_dim: int) -> nn.Sequential:
    """The small conv AE's encoder: two conv + pool blocks, then 196 -> 64 -> out_dim."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 8, 14, 14)
        nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (B, 4, 7, 7)
        nn.Flatten(),  # (B, 196)
        nn.Linear(196, 64), nn.ReLU(), nn.Linear(64, out_dim),
    )


def small_conv_decoder(latent_dim: int) -> list[nn.Module]:
    """The small conv AE's decoder up to its output activation: z -> (B, 1, 28, 28) pre-activations."""
    return [
        nn.Linear(latent_dim, 64), nn.ReLU(), nn.Linear(64, 196),
        nn.Unflatten(1, (4, 7, 7)),
        nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),  # (B, 8, 14, 14)
        nn.ConvTranspose2d(8, 1, 3, stride=2, padding=1, output_padding=1),  # (B, 1, 28, 28)
    ]


class SmallConvAutoencoder(Autoencoder):
    """Two conv+pool blocks to a dense latent, mirrored with transposed convs."""

    convolutional = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder = small_conv_encoder(config.latent_dim)
        self.decoder = nn.Sequential(*small_conv_decoder(config.latent_dim), _output_activation(config.output))


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


class VariationalAutoencoder(Autoencoder):
    """Base of the VAEs (Kingma & Welling 2014): a Gaussian posterior N(mu, diag exp(logvar))
    and a Bernoulli decoder whose logits `decoder` returns; `decode` is its mean, sigmoid(logits).

    Subclasses build `encoder` (x -> (B, 2z): means, then log-variances) and
    `decoder` (z -> (B, 1, 28, 28) logits). The noise of the reparameterisation
    is drawn by the caller (the training loop, the likelihood bounds), so the
    model holds no random state and its forward pass is deterministic without it.
    """

    variational = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        if config.output != "sigmoid":
            raise ValueError(f"output={config.output!r} is not allowed for {config.arch}: "
                             "its Bernoulli decoder's mean is a sigmoid")

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)  # (B, z), (B, z)
        return mu, logvar

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Decodes the posterior mean, or mu + noise * sigma (the reparameterisation) when noise is given."""
        mu, logvar = self.posterior(x)
        z = mu if noise is None else mu + noise * torch.exp(0.5 * logvar)
        logits = self.decoder(z)
        return {"latent": mu, "logvar": logvar, "recon_logits": logits, "recon": torch.sigmoid(logits)}


class MLPVariationalAutoencoder(VariationalAutoencoder):
    """784 -> hidden... -> (mu, logvar) of z; z -> reversed hidden... -> 784 Bernoulli logits.

    At hidden [400] and z = 20 it is the PyTorch examples' VAE, whose two
    400 -> 20 heads are one 400 -> 40 layer here (the same weights, one kernel).
    """

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        widths = [N_PIXELS, *config.hidden, config.latent_dim]
        self.encoder = nn.Sequential(nn.Flatten(), mlp([*widths[:-1], 2 * config.latent_dim], config.activation))
        self.decoder = nn.Sequential(mlp(widths[::-1], config.activation), nn.Unflatten(1, IMAGE_SHAPE))  # logits


class ConvVariationalAutoencoder(VariationalAutoencoder):
    """The small conv AE's layers as a VAE: its encoder ends in (mu, logvar), its decoder in logits."""

    convolutional = True

    def __init__(self, config: ModelConfig):
        super().__init__(config)
        self.encoder = small_conv_encoder(2 * config.latent_dim)  # (B, 2z)
        self.decoder = nn.Sequential(*small_conv_decoder(config.latent_dim))  # (B, 1, 28, 28) logits


REGISTRY: dict[str, type[Autoencoder]] = {
    "mlp": MLPAutoencoder,
    "classifier_mlp": ClassifierAutoencoder,
    "sparse_mlp": SparseAutoencoder,
    "small_conv": SmallConvAutoencoder,
    "spatial_conv": SpatialConvAutoencoder,
    "vae_mlp": MLPVariationalAutoencoder,
    "vae_conv": ConvVariationalAutoencoder,
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
    encoder, then of the decoder, for one blank image. A VAE's decoder reads the posterior mean, the
    first half of its encoder's output."""
    shapes: list[tuple[int, ...]] = []
    x = torch.zeros(1, *IMAGE_SHAPE)  # (1, 1, 28, 28)
    for part in (model.encoder, model.decoder):
        if part is model.decoder and model.variational:
            x = x.chunk(2, dim=1)[0]  # (1, 2z) -> (1, z)
        for layer in part.modules():
            if isinstance(layer, nn.Sequential):
                continue
            x = layer(x)
            if isinstance(layer, SHAPED_LAYERS):
                shapes.append(tuple(x.shape[1:]))
    return shapes


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
