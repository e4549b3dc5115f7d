"""latent_atlas.models.likelihood: the VAE objective's terms and the test bounds, with known answers.

A decoder that ignores z makes log p(x) the binary cross-entropy of its bias
logits, exactly; an encoder whose posterior is a chosen Gaussian makes the KL
a closed form. Together they pin the ELBO and the IWAE bound down.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from latent_atlas.models.autoencoders import ModelConfig, build_model
from latent_atlas.models.likelihood import bernoulli_nll, gaussian_kl, iwae_nll, iwae_passes, neg_elbo, likelihood_bounds


def images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def vae_with(*, latent: int = 2, mu: float, var: float, seed: int = 0):
    """A VAE whose posterior is N(mu, var) for every image and whose decoder ignores z (bias logits only)."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig("vae_mlp", latent, (8,))).eval()
    head = model.encoder[1][-1]  # the last Linear: (mu, logvar)
    first = model.decoder[0][0]  # the decoder's first Linear, from z
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor([mu] * latent + [math.log(var)] * latent))
        first.weight.zero_()
    return model


def exact_nll(model, x) -> torch.Tensor:
    """-log p(x) when the decoder ignores z: the BCE of its logits at any code."""
    with torch.no_grad():
        logits = model.decode_logits(torch.zeros(len(x), model.config.latent_dim))
    return bernoulli_nll(logits, x)


def test_gaussian_kl_closed_form():
    mu = torch.tensor([[0.0, 1.0, 0.0]])
    logvar = torch.tensor([[0.0, 0.0, 1.0]])
    # KL(N(m, s2) || N(0,1)) = (s2 + m^2 - 1 - ln s2) / 2: 0, 1/2, (e - 2) / 2
    torch.testing.assert_close(gaussian_kl(mu, logvar), torch.tensor([[0.0, 0.5, (math.e - 2) / 2]]))


def test_bernoulli_nll_is_the_summed_binary_cross_entropy_with_its_gradient():
    logits, x = 8 * torch.randn(3, 1, 28, 28, generator=generator()), images(3)
    expected = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    torch.testing.assert_close(bernoulli_nll(logits, x), expected, rtol=1e-6, atol=1e-4)
    # The gradient of BCE with logits is sigmoid(l) - x; checked against finite differences in float64.
    double = (logits[:1, :, :3, :3].double().requires_grad_(True), x[:1, :, :3, :3].double().requires_grad_(True))
    assert torch.autograd.gradcheck(bernoulli_nll, double)


def test_with_the_prior_as_posterior_every_bound_is_exact():
    model, x = vae_with(mu=0.0, var=1.0), images()
    exact = exact_nll(model, x).double().numpy()
    bounds = likelihood_bounds(model, x, k=5, seed=0)
    np.testing.assert_allclose(bounds["neg_elbo"], exact, rtol=1e-6)
    np.testing.assert_allclose(bounds["kl"], 0.0, atol=1e-12)
    np.testing.assert_allclose(bounds["nll_iwae"], exact, rtol=1e-6)


def test_the_elbo_pays_the_kl_and_the_iwae_bound_recovers_the_likelihood():
    # q = N(0.5, 1.5) is wider than p = N(0, 1), so the weights have a finite variance.
    model, x = vae_with(latent=2, mu=0.5, var=1.5), images()
    exact = exact_nll(model, x).double().numpy()
    kl_unit = (1.5 + 0.25 - 1 - math.log(1.5)) / 2  # 0.172 nats per unit
    elbo = neg_elbo(model, x, generator=generator())
    np.testing.assert_allclose(elbo["kl"], 2 * kl_unit, rtol=1e-6)
    np.testing.assert_allclose(elbo["kl_units"], kl_unit, rtol=1e-6)
    np.testing.assert_allclose(elbo["neg_elbo"], exact + 2 * kl_unit, rtol=1e-6)
    # Importance weights p(z)/q(z|x) average to 1: the bound tends to -log p(x) from above as k grows.
    few = iwae_nll(model, x, k=1, generator=generator())
    many = iwae_nll(model, x, k=4000, generator=generator())
    assert np.all(many - exact < 0.03) and np.all(many - exact > -0.03)
    assert np.mean(few - exact) > np.mean(many - exact)


def test_memory_stays_within_the_budget_and_the_answer_does_not_depend_on_it():
    model, x = vae_with(latent=3, mu=0.0, var=1.0), images(7)
    rows = []
    decode = model.decode_logits

    def recording(z):
        rows.append(len(z))
        return decode(z)

    model.decode_logits = recording
    bounded = iwae_nll(model, x, k=25, generator=generator(), max_elements=10 * 784)
    assert max(rows) <= 10 and sum(rows) == 7 * 25  # never k x N x 784 at once; every sample decoded once
    rows.clear()
    whole = iwae_nll(model, x, k=25, generator=generator(), max_elements=7 * 25 * 784)
    assert rows == [7 * 25]
    np.testing.assert_allclose(bounded, whole, rtol=1e-6)


@pytest.mark.parametrize(("n", "k", "budget", "expected"), [
    (1000, 16, 784 * 4096, (256, 16)),  # 4096 pairs: 256 images x all 16 samples
    (10, 16, 784 * 4096, (10, 16)),  # fewer images than fit
    (1000, 5000, 784 * 4096, (1, 4096)),  # more samples than fit: one image, samples in chunks
    (3, 2, 100, (1, 1)),  # a budget under one image still makes progress
])
def test_iwae_passes(n, k, budget, expected):
    assert iwae_passes(n, k, budget) == expected


def test_iwae_k_must_be_positive():
    with pytest.raises(ValueError, match="k=0"):
        iwae_passes(10, 0)


def test_the_iwae_bound_is_tighter_than_the_elbo_on_a_real_model():
    torch.manual_seed(3)
    model, x = build_model(ModelConfig("vae_mlp", 4, (16,))).eval(), images(40)
    elbo = neg_elbo(model, x, generator=generator(1))["neg_elbo"]
    iwae = iwae_nll(model, x, k=64, generator=generator(2))
    assert np.mean(iwae) < np.mean(elbo)
