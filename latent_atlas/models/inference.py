"""Batched inference with a trained model: latents, reconstructions, errors."""

from __future__ import annotations

import numpy as np
import torch

from latent_atlas.models.autoencoders import Autoencoder
from latent_atlas.models.training import to_model_input, to_unit_range


@torch.no_grad()
def run_model(model: Autoencoder, images: np.ndarray, input_range: str, device: torch.device,
              chunk: int = 2048) -> dict[str, np.ndarray]:
    """uint8 (N, 28, 28) images -> latents (N, z), recon_error (N,) in [0,1]
    pixel units, reconstructions (N, 28, 28) in [0,1], and log_probs where the
    model classifies."""
    model = model.to(device).eval()
    parts: dict[str, list[np.ndarray]] = {"latents": [], "recon_error": [], "reconstructions": []}
    if model.has_classifier:
        parts["log_probs"] = []
    for start in range(0, len(images), chunk):
        x = to_model_input(images[start : start + chunk], input_range).to(device)  # (B, 1, 28, 28)
        out = model(x)
        recon01 = to_unit_range(out["recon"], input_range)
        x01 = to_unit_range(x, input_range)
        parts["latents"].append(out["latent"].flatten(1).cpu().numpy())
        parts["recon_error"].append(((recon01 - x01) ** 2).mean(dim=(1, 2, 3)).cpu().numpy())
        parts["reconstructions"].append(recon01[:, 0].cpu().numpy())
        if model.has_classifier:
            parts["log_probs"].append(out["log_probs"].cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def encoder_fn(model: Autoencoder, input_range: str, device: torch.device):
    """numpy (n, 28, 28) in [0,1] -> (n, z) latents; for analyses that perturb inputs."""

    @torch.no_grad()
    def encode(images01: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(images01, dtype=torch.float32, device=device).unsqueeze(1)  # (n, 1, 28, 28)
        if input_range == "symmetric":
            x = x * 2 - 1
        return model.encode(x).flatten(1).cpu().numpy()

    return encode


def decoder_fn(model: Autoencoder, input_range: str, device: torch.device):
    """numpy (n, z) latents -> (n, 28, 28) images in [0,1]."""

    @torch.no_grad()
    def decode(latents: np.ndarray) -> np.ndarray:
        z = torch.as_tensor(latents, dtype=torch.float32, device=device)
        return to_unit_range(model.decode(z), input_range)[:, 0].cpu().numpy()

    return decode


def classifier_fn(model: Autoencoder, device: torch.device):
    """numpy (n, z) latents -> (n, 10) log-probabilities of the model's classifier head."""

    @torch.no_grad()
    def classify(latents: np.ndarray) -> np.ndarray:
        return model.classifier(torch.as_tensor(latents, dtype=torch.float32, device=device)).cpu().numpy()

    return classify


@torch.no_grad()
def codes_and_errors(model: Autoencoder, x: torch.Tensor, device: torch.device,
                     chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Inputs already in the model's range, (N, 1, 28, 28) -> latents (N, z) and per-image
    reconstruction MSE (N,) in the same units as the inputs."""
    model = model.to(device).eval()
    codes, errors = [], []
    for start in range(0, len(x), chunk):
        xb = x[start : start + chunk].to(device)
        out = model(xb)
        codes.append(out["latent"].flatten(1).cpu().numpy())
        errors.append(((out["recon"] - xb) ** 2).mean(dim=(1, 2, 3)).cpu().numpy())
    return np.concatenate(codes), np.concatenate(errors)
