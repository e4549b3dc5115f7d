"""Tests for latent_atlas.models.corruption and corrupted training: damaged inputs, clean targets."""

from __future__ import annotations

import pytest
import torch

from latent_atlas.config import load_params
from latent_atlas.errors import ConfigError
from latent_atlas.models.autoencoders import ModelConfig, build_model
from latent_atlas.models.corruption import Corruption, corrupt, patch_mask
from latent_atlas.models.training import TrainConfig, train_config, train_model, train_recipe
from tests_support import PROJECT


def gray(n: int = 64, value: float = 0.5) -> torch.Tensor:
    return torch.full((n, 1, 28, 28), value)  # (N, 1, 28, 28)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gaussian_noise_has_the_declared_std_and_stays_in_range():
    x = gray(256)
    out = corrupt(x, Corruption(noise_std=0.05), seeded())
    # Mid-gray pixels are 10 std from either bound: clamping leaves N(0, 0.05^2) intact.
    assert (out - x).std().item() == pytest.approx(0.05, rel=0.01)
    assert abs((out - x).mean().item()) < 1e-3
    assert torch.equal(x, gray(256))  # the batch itself is untouched
    clamped = corrupt(torch.zeros(8, 1, 28, 28), Corruption(noise_std=2.0), seeded())
    assert clamped.min().item() == 0.0 and clamped.max().item() == 1.0


def test_masking_noise_zeroes_the_declared_share_and_keeps_the_rest():
    x = gray(256)
    out = corrupt(x, Corruption(mask_ratio=0.3), seeded())
    hidden = out == 0
    assert hidden.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(out[~hidden], x[~hidden])


def test_patch_masks_hide_whole_patches_at_the_declared_rate():
    mask = patch_mask(512, 0.25, 7, gray(1), seeded())  # (512, 1, 28, 28)
    blocks = mask.reshape(512, 4, 7, 4, 7)  # (B, row, 7, col, 7)
    per_patch = blocks.amax(dim=(2, 4)), blocks.amin(dim=(2, 4))
    assert torch.equal(*per_patch)  # each 7x7 patch is all shown or all hidden
    assert (1 - per_patch[0]).mean().item() == pytest.approx(0.25, abs=0.02)
    out = corrupt(gray(512), Corruption(patch_mask_ratio=0.25, patch_size=7), seeded())
    assert torch.equal(out, gray(512) * mask)  # the same draws from the same seed


def test_symmetric_inputs_are_corrupted_in_pixel_units():
    unit = corrupt(gray(16, 0.5), Corruption(noise_std=0.1), seeded(3))
    symmetric = corrupt(gray(16, 0.0), Corruption(noise_std=0.1, input_range="symmetric"), seeded(3))
    torch.testing.assert_close(symmetric, unit * 2 - 1)
    hidden = corrupt(gray(16, 0.0), Corruption(mask_ratio=0.5, input_range="symmetric"), seeded())
    assert set(hidden.unique().tolist()) == {-1.0, 0.0}  # a masked pixel is black: -1 in [-1, 1]


def test_training_feeds_corrupted_inputs_and_scores_against_the_clean_images():
    # lr 0 and one full batch: the epoch loss is the MSE of the model's output on the
    # corrupted batch against the clean batch, drawn as the loop draws it.
    torch.manual_seed(0)
    model = build_model(ModelConfig("small_conv", 4))
    x = torch.rand(32, 1, 28, 28, generator=seeded(1))
    corruption = Corruption(noise_std=0.3, patch_mask_ratio=0.5, patch_size=4)
    cfg = TrainConfig(batch_size=32, epochs=1, lr=0.0, seed=5, corruption=corruption)
    order = torch.randperm(32, generator=seeded(5))
    clean = x[order]
    with torch.no_grad():
        damaged = corrupt(clean, corruption, seeded(6))
        recon = model(damaged)["recon"]
    expected = torch.nn.functional.mse_loss(recon, clean).item()
    against_damaged = torch.nn.functional.mse_loss(recon, damaged).item()
    history = train_model(model, x, torch.zeros(32, dtype=torch.long), cfg, progress=False)
    assert history[0]["train_loss"] == pytest.approx(expected, rel=1e-5)
    assert abs(expected - against_damaged) > 0.01  # so the target really is the clean batch


def test_the_project_variants_train_with_their_corruption():
    params = load_params(PROJECT / "params.yaml")
    denoising = train_config(params, params.roles.one("denoising_ae"), "cpu").corruption
    masked = train_config(params, params.roles.one("masked_ae"), "cpu").corruption
    assert denoising.noise_std == 0.3 and denoising.patch_mask_ratio is None
    assert (masked.patch_mask_ratio, masked.patch_size, masked.noise_std) == (0.25, 7, None)
    assert train_config(params, params.roles.one("small_conv_ae"), "cpu").corruption is None
    # Equal code sizes, so the probes compare like with like.
    sizes = {params.latent_dim_of(params.roles.one(r)) for r in ("small_conv_ae", "denoising_ae", "masked_ae")}
    assert sizes == {10}


def test_a_recipe_batch_larger_than_its_images_is_the_users_error():
    params = load_params(PROJECT / "params.yaml")
    with pytest.raises(ConfigError, match=r"^anomaly\.model\.batch_size=64 is larger than the 20 training images "
                                          r"of digit 3; use at most 20$"):
        train_recipe(params.anomaly.model, 32, torch.rand(20, 1, 28, 28), params, torch.device("cpu"),
                     key="anomaly.model", images="training images of digit 3")
