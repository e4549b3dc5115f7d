"""A VAE's objective and its test likelihood: the ELBO and the importance-weighted bound.

- The ELBO of Kingma & Welling (2014), "Auto-encoding variational Bayes", with a
  Bernoulli decoder on [0,1] pixels: log p(x|z) is minus the summed binary
  cross-entropy, and the KL to the N(0, I) prior has the closed form of their
  Appendix B. The per-image negative ELBO with one z sample is exactly the test
  loss the PyTorch examples' VAE prints (summed BCE + KL over the test set / n).
- The IWAE bound of Burda, Grosse & Salakhutdinov (2015), "Importance weighted
  autoencoders": log p(x) >= E[log (1/k) sum_s p(x, z_s) / q(z_s|x)], tighter as
  k grows; minus it is the negative log-likelihood estimate reported in nats.

Grey pixels are not binary: with them the Bernoulli "likelihood" is the usual
MNIST-in-[0,1] objective, not a normalised density, so these nats compare
across our variants and with the peer program, not with Burda et al.'s
numbers on binarised digits (bench/vae_burda.py runs their protocol).

The bounds run in passes of at most `max_elements` decoded pixels, over
chunks of images and of importance samples: memory never holds k x N x 784.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from latent_atlas.arch import N_PIXELS
from latent_atlas.models.autoencoders import VariationalAutoencoder

# Decoded pixels per pass of the bounds: 4M floats, 16 MB per tensor of that shape.
MAX_ELEMENTS = 1 << 22
_LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per unit, (B, z): Kingma & Welling (2014), Appendix B."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())


class _BernoulliNLL(torch.autograd.Function):
    """The binary cross-entropy with logits, summed per image, and its gradient sigmoid(l) - x.

    The same formula as F.binary_cross_entropy_with_logits, max(l, 0) - x l +
    log(1 + exp(-|l|)), with log where torch uses log1p: on the CPU torch's
    log1p (and so its BCE) runs element by element, 10x slower than log, and
    1 + exp(-|l|) lies in (1, 2], where log loses at most 6e-8 nats a pixel
    (bench/README.md, "Training"). It made a VAE step 0.8 ms shorter of 7.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        per_pixel = logits.clamp(min=0) - x * logits + torch.log(1 + torch.exp(-logits.abs()))
        return per_pixel.flatten(1).sum(dim=1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits, x = ctx.saved_tensors
        grad = grad.view(-1, *[1] * (logits.dim() - 1))  # (B,) -> (B, 1, ...)
        grad_x = -logits * grad if ctx.needs_input_grad[1] else None
        return (torch.sigmoid(logits) - x) * grad, grad_x


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x|z) per image, (B,): the binary cross-entropy summed over pixels (x in [0,1])."""
    return _BernoulliNLL.apply(logits, x)


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


@torch.no_grad()
def neg_elbo(model: VariationalAutoencoder, x: torch.Tensor, *, generator: torch.Generator,
             chunk: int = 4096) -> dict[str, np.ndarray]:
    """Per image: the negative ELBO with one z sample ("neg_elbo"), its two terms ("recon", the
    summed BCE, and "kl"), and the KL per unit ("kl_units", (n, z)); x is (n, 1, 28, 28) in [0,1].

    The noise comes from `generator` (a CPU generator: the same numbers on every device).
    """
    out: dict[str, list[np.ndarray]] = {"recon": [], "kl_units": []}
    for part in _chunks(len(x), chunk):
        xb = x[part]
        mu, logvar = model.posterior(xb)
        noise = torch.randn(mu.shape, generator=generator).to(mu.device)
        recon = bernoulli_nll(model.decode_logits(mu + noise * torch.exp(0.5 * logvar)), xb)
        out["recon"].append(recon.double().cpu().numpy())
        out["kl_units"].append(gaussian_kl(mu, logvar).double().cpu().numpy())
    result = {k: np.concatenate(v) for k, v in out.items()}
    result["kl"] = result["kl_units"].sum(axis=1)
    result["neg_elbo"] = result["recon"] + result["kl"]
    return result


def iwae_passes(n: int, k: int, max_elements: int = MAX_ELEMENTS) -> tuple[int, int]:
    """(images, samples) per decoder pass: as many (image, sample) pairs as fit in max_elements pixels."""
    if n < 1 or k < 1:
        raise ValueError(f"n={n} and k={k} must both be at least 1")
    pairs = max(1, max_elements // N_PIXELS)
    if k >= pairs:
        return 1, pairs
    return max(1, min(n, pairs // k)), k


@torch.no_grad()
def iwae_nll(model: VariationalAutoencoder, x: torch.Tensor, *, k: int, generator: torch.Generator,
             max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """-log p(x) per image by the IWAE bound with k importance samples from the posterior, (n,).

    log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x), and the bound is
    logsumexp_s(log w_s) - log k. One pass decodes at most max_elements
    pixels: a chunk of images times a chunk of their samples; the (images, k)
    log-weights are the only per-sample values kept. k = 1 is the ELBO with a
    sampled KL; the bound rises to log p(x) as k grows.
    """
    n_images, n_samples = iwae_passes(len(x), k, max_elements)
    out = []
    for part in _chunks(len(x), n_images):
        xb = x[part]
        c = len(xb)
        mu, logvar = model.posterior(xb)  # (c, z)
        log_w = []
        for samples in _chunks(k, n_samples):
            s = samples.stop - samples.start
            eps = torch.randn((c, s, mu.shape[1]), generator=generator).to(mu.device)  # (c, s, z)
            z = mu[:, None] + eps * torch.exp(0.5 * logvar)[:, None]
            logits = model.decode_logits(z.reshape(c * s, -1))  # (c*s, 1, 28, 28)
            targets = xb[:, None].expand(c, s, *xb.shape[1:]).reshape(c * s, *xb.shape[1:])
            log_px_z = -bernoulli_nll(logits, targets).reshape(c, s)
            log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=-1)  # (c, s)
            log_qz = -0.5 * (eps.pow(2) + logvar[:, None] + _LOG_2PI).sum(dim=-1)  # (c, s), z - mu = eps * sigma
            log_w.append((log_px_z + log_pz - log_qz).double())
        bound = torch.logsumexp(torch.cat(log_w, dim=1), dim=1) - math.log(k)
        out.append((-bound).cpu().numpy())
    return np.concatenate(out)


def likelihood_bounds(model: VariationalAutoencoder, x: torch.Tensor, *, k: int, seed: int) -> dict[str, np.ndarray]:
    """neg_elbo (and its terms) and the IWAE nll_iwae with k samples, per image of x, seeded."""
    generator = torch.Generator().manual_seed(seed)
    bounds = neg_elbo(model, x, generator=generator)
    bounds["nll_iwae"] = iwae_nll(model, x, k=k, generator=generator)
    return bounds
