"""Input corruption for training: the model sees a damaged image, the loss compares with the clean one.

Two uses, one mechanism:
- denoising autoencoders (Vincent et al. 2008, "Extracting and composing
  robust features with denoising autoencoders"; 2010, JMLR): additive
  Gaussian noise and masking noise, which sets a random share of the pixels
  to 0;
- masked pre-training (He et al. 2022, "Masked autoencoders are scalable
  vision learners"): whole square patches hidden, the whole image the target.

Corruption is drawn per batch on the training device, in [0,1] pixel units
whatever the model's input range, so a noise level means the same for every
variant.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from latent_atlas.arch import IMAGE_SHAPE


@dataclass(frozen=True)
class Corruption:
    noise_std: float | None = None  # Gaussian noise on [0,1] pixels, clamped back to [0,1]
    mask_ratio: float | None = None  # each pixel set to 0 with this probability
    patch_mask_ratio: float | None = None  # each patch_size x patch_size patch set to 0 with this probability
    patch_size: int = 4
    input_range: str = "unit"  # the model's: "unit" [0,1] or "symmetric" [-1,1]

    @classmethod
    def from_params(cls, params, input_range: str) -> Corruption | None:
        """From a config.CorruptionParams (None: no corruption)."""
        if params is None:
            return None
        return cls(noise_std=params.noise_std, mask_ratio=params.mask_ratio,
                   patch_mask_ratio=params.patch_mask_ratio, patch_size=params.patch_size,
                   input_range=input_range)


def _keep(shape: tuple[int, ...], drop: float, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """1.0 where kept, 0.0 where dropped (probability `drop`), as `like`'s dtype and device."""
    return (torch.rand(shape, generator=generator, device=like.device) >= drop).to(like.dtype)


def patch_mask(batch: int, ratio: float, patch: int, like: torch.Tensor,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 1, 28, 28) of 1.0 (shown) and 0.0 (hidden), constant on each patch x patch square."""
    _, height, width = IMAGE_SHAPE
    keep = _keep((batch, 1, height // patch, width // patch), ratio, like, generator)  # (B, 1, 28/p, 28/p)
    return keep.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)  # (B, 1, 28, 28)


def corrupt(x: torch.Tensor, corruption: Corruption, generator: torch.Generator | None = None) -> torch.Tensor:
    """A corrupted copy of a batch (B, 1, 28, 28) in the model's input range.

    generator None draws from torch's default generator of x's device: the
    one a captured CUDA graph can replay.
    """
    symmetric = corruption.input_range == "symmetric"
    out = x * 0.5 + 0.5 if symmetric else x.clone()  # [0,1] pixels
    if corruption.noise_std is not None:
        noise = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
        out = (out + corruption.noise_std * noise).clamp_(0.0, 1.0)
    if corruption.mask_ratio is not None:
        out = out * _keep(tuple(out.shape), corruption.mask_ratio, out, generator)
    if corruption.patch_mask_ratio is not None:
        out = out * patch_mask(len(out), corruption.patch_mask_ratio, corruption.patch_size, out, generator)
    return out * 2.0 - 1.0 if symmetric else out
