"""Tests for latent_atlas.models.autoencoders: every variant of params.yaml, exact sizes, checkpoints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from latent_atlas.errors import DamagedFileError, MissingFileError
from latent_atlas.config import load_params
from latent_atlas.models.autoencoders import ModelConfig, build_model, count_parameters, layer_shapes
from latent_atlas.models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

from latent_atlas.models.autoencoders import model_config
from tests_support import PROJECT
PARAMS = load_params(PROJECT / "params.yaml")
VARIANTS = sorted(PARAMS.variants)


def variant_config(name: str) -> ModelConfig:
    return model_config(PARAMS, name)  # as stages/train.py builds it


def batch(input_range: str, n: int = 4, seed: int = 0) -> torch.Tensor:
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))  # (B, 1, 28, 28)
    return x * 2 - 1 if input_range == "symmetric" else x


@pytest.fixture(scope="module", params=VARIANTS)
def variant(request):
    name = request.param
    torch.manual_seed(0)
    model = build_model(variant_config(name)).eval()
    return name, model, batch(PARAMS.variant(name).input_range)


# --------------------------------------------------------------------------- #
# every variant
# --------------------------------------------------------------------------- #


def test_forward_shapes(variant):
    name, model, x = variant
    z_dim = PARAMS.latent_dim_of(name)
    with torch.no_grad():
        out = model(x)
    assert out["recon"].shape == x.shape == (4, 1, 28, 28)
    assert out["latent"].shape == (4, z_dim)
    assert torch.isfinite(out["recon"]).all() and torch.isfinite(out["latent"]).all()


def test_encode_decode_round_trip_shapes(variant):
    name, model, x = variant
    with torch.no_grad():
        z = model.encode(x)
        recon = model.decode(z)
        out = model(x)
    assert z.shape == (4, PARAMS.latent_dim_of(name))
    assert recon.shape == (4, 1, 28, 28)
    # forward is encode then decode.
    torch.testing.assert_close(out["latent"], z)
    torch.testing.assert_close(out["recon"], recon)


def test_output_range(variant):
    name, model, x = variant
    output = PARAMS.variant(name).output
    with torch.no_grad():
        # Large latents push the output activation to its bounds.
        recon = model.decode(100 * torch.randn(8, PARAMS.latent_dim_of(name)))
        recon_x = model(x)["recon"]
    low = 0.0 if output == "sigmoid" else -1.0
    for r in (recon, recon_x):
        assert r.min() >= low and r.max() <= 1.0
    if output == "tanh":
        assert recon.min() < 0  # can reach the negative half of [-1, 1]


def test_classifier_head(variant):
    name, model, x = variant
    with torch.no_grad():
        out = model(x)
    if PARAMS.variant(name).arch != "classifier_mlp":
        assert "log_probs" not in out and not model.has_classifier
        return
    assert model.has_classifier
    assert out["log_probs"].shape == (4, 10)
    assert (out["log_probs"] <= 0).all()
    torch.testing.assert_close(out["log_probs"].exp().sum(dim=1), torch.ones(4))


def test_batch_independence(variant):
    # No batch-coupled layers: one image alone gives what it gives in a batch.
    _, model, x = variant
    with torch.no_grad():
        whole = model(x)["latent"]
        single = model(x[1:2])["latent"]
    torch.testing.assert_close(single[0], whole[1], rtol=1e-5, atol=1e-5)


def test_a_vae_codes_with_its_posterior_mean_and_decodes_the_bernoulli_mean(variant):
    name, model, x = variant
    if not model.variational:
        return
    with torch.no_grad():
        mu, logvar = model.posterior(x)
        out = model(x)
        noise = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
        sampled = model(x, noise)
    torch.testing.assert_close(model.encode(x), mu, rtol=0, atol=0)
    torch.testing.assert_close(out["latent"], mu, rtol=0, atol=0)
    torch.testing.assert_close(out["logvar"], logvar, rtol=0, atol=0)
    # Without noise the code decoded is the mean; with it, mu + noise * sigma (the reparameterisation).
    torch.testing.assert_close(out["recon"], model.decode(mu), rtol=0, atol=0)
    torch.testing.assert_close(out["recon"], torch.sigmoid(out["recon_logits"]), rtol=0, atol=0)
    torch.testing.assert_close(sampled["recon_logits"], model.decode_logits(mu + noise * torch.exp(0.5 * logvar)))
    assert not torch.equal(sampled["recon"], out["recon"])


def test_the_sparse_code_is_non_negative_with_exact_zeros():
    torch.manual_seed(0)
    model = build_model(variant_config("sparse")).eval()
    with torch.no_grad():
        z = model.encode(batch("unit", n=64))
    assert (z >= 0).all() and (z == 0).any()


def test_mlp_hidden_layers_take_the_configured_activation():
    tanh = build_model(ModelConfig("vae_mlp", 5, (8, 8), activation="tanh"))
    kinds = {type(m) for m in tanh.modules()}
    assert torch.nn.Tanh in kinds and torch.nn.ReLU not in kinds
    with pytest.raises(ValueError, match=r"activation='gelu' is not allowed"):
        build_model(ModelConfig("mlp", 5, (8,), activation="gelu"))


def test_a_vae_refuses_a_non_bernoulli_output():
    with pytest.raises(ValueError, match=r"output='tanh' is not allowed for vae_mlp"):
        build_model(ModelConfig("vae_mlp", 4, (16,), output="tanh"))


# --------------------------------------------------------------------------- #
# exact parameter counts
# --------------------------------------------------------------------------- #

# Linear(a, b) has a*b + b parameters; Conv(i, o, k) has i*o*k*k + o.
# vanilla AE, z=3: 784*128+128 + 128*64+64 + 64*3+3 = 100480 + 8256 + 195 = 108931 (encoder)
#                  3*64+64 + 64*128+128 + 128*784+784 = 256 + 8320 + 101136 = 109712 (decoder)
#                  -> 218643 (SPEC)
# spatial conv AE: 1*32*9+32 + 32*64*9+64 = 320 + 18496 (encoder)
#                  64*32*9+32 + 32*16*25+16 + 16*1*4+1 = 18464 + 12816 + 65 (decoder) -> 50161 (SPEC)
# dense AE 784-128-32: 100480 + 128*32+32 (4128) + 32*128+128 (4224) + 101136 = 209968
# classifier AE z=16, head 64: 100480 + 128*16+16 (2064) + 16*128+128 (2176) + 101136
#                  + 16*64+64 (1088) + 64*10+10 (650) = 207594
# classifier AE z=6 (the study's retrain): 100480 + 774 + 896 + 101136 + 448 + 650 = 204384
# small conv AE z=10: 8*9+8 (80) + 4*8*9+4 (292) + 196*64+64 (12608) + 64*10+10 (650)
#                  + 10*64+64 (704) + 64*196+196 (12740) + 4*8*9+8 (296) + 8*9+1 (73) = 27443
# deep AE: 100480 + 8256 + 64*36+36 (2340) + 36*18+18 (666) + 18*9+9 (171)
#                  + 9*18+18 (180) + 18*36+36 (684) + 36*64+64 (2368) + 8320 + 101136 = 224601
EXACT_COUNTS = [
    (ModelConfig("mlp", 3, (128, 64), output="tanh"), 218_643),
    (ModelConfig("spatial_conv", 256, output="tanh"), 50_161),
    (ModelConfig("mlp", 32, (128,)), 209_968),
    (ModelConfig("classifier_mlp", 16, (128,), (64,)), 207_594),
    (ModelConfig("classifier_mlp", 6, (128,), (64,)), 204_384),
    (ModelConfig("small_conv", 10), 27_443),
    (ModelConfig("mlp", 9, (128, 64, 36, 18)), 224_601),
    # the PyTorch examples' VAE: fc1 784*400+400 (314000), fc21 and fc22 400*20+20 (8020 each, one 400->40
    # layer here), fc3 20*400+400 (8400), fc4 400*784+784 (314384) -> 652824
    (ModelConfig("vae_mlp", 20, (400,)), 652_824),
    # the small conv AE's 27443, with a second 64->10 head for the log-variances: + 64*10+10 (650)
    (ModelConfig("vae_conv", 10), 28_093),
    # 784-128-16 both ways: 100480 + 2064 + 2176 + 101136 (a ReLU has no weights)
    (ModelConfig("sparse_mlp", 16, (128,)), 205_856),
    # Burda et al. (2015)'s one-layer VAE, 784-200-200-50 with tanh: 157000 + 40200 + 200*100+100 (20100)
    # encoder; 50*200+200 (10200) + 40200 + 200*784+784 (157584) decoder -> 425284
    (ModelConfig("vae_mlp", 50, (200, 200), activation="tanh"), 425_284),
]


@pytest.mark.parametrize(("config", "expected"), EXACT_COUNTS, ids=lambda v: getattr(v, "arch", str(v)))
def test_exact_parameter_counts(config, expected):
    assert count_parameters(build_model(config)) == expected


@pytest.mark.parametrize(("name", "expected"), [("vanilla_z3", 218_643), ("spatial_conv", 50_161),
                                                ("dense", 209_968), ("classifier", 207_594),
                                                ("small_conv", 27_443), ("deep", 224_601),
                                                ("vae", 652_824), ("beta_vae", 652_824), ("conv_vae", 28_093),
                                                ("sparse", 205_856)])
def test_project_variants_have_the_recipe_sizes(name, expected):
    assert count_parameters(build_model(variant_config(name))) == expected


def test_spatial_conv_encoder_has_a_relu_after_each_conv():
    # Study 002's encoder is Conv, ReLU, MaxPool twice (CLAIMS.md Note B): the code is
    # non-negative. Without the ReLUs the parameter count is the same, so only this
    # tells the recipe apart; a random init gives negative pre-activations on any image.
    torch.manual_seed(0)
    model = build_model(ModelConfig("spatial_conv", 256, output="tanh")).eval()
    x = torch.rand(8, 1, 28, 28) * 2 - 1  # (8, 1, 28, 28) in [-1, 1]
    with torch.no_grad():
        z = model.encode(x)  # (8, 256)
        conv_out = model.encoder[0](x)  # the first conv alone: both signs
    assert z.shape == (8, 256)
    assert conv_out.min() < 0 and z.min() >= 0 and z.max() > 0
    kinds = [type(layer).__name__ for layer in model.encoder]
    assert kinds[:6] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]


def test_layer_shapes_follow_the_studies_listing():
    # Study 002: encoder 28x28x1 -> 10x10x32 -> 5x5x32 -> 3x3x64 -> 2x2x64; decoder -> 5x5x32 -> 15x15x16 -> 28x28x1.
    assert layer_shapes(build_model(ModelConfig("spatial_conv", 256, output="tanh"))) == [
        (32, 10, 10), (32, 5, 5), (64, 3, 3), (64, 2, 2), (32, 5, 5), (16, 15, 15), (1, 28, 28)]
    assert layer_shapes(build_model(ModelConfig("mlp", 3, (128, 64), output="tanh"))) == [
        (128,), (64,), (3,), (64,), (128,), (784,)]
    # A VAE's encoder ends in a mean and a log-variance per unit; its decoder reads the mean.
    assert layer_shapes(build_model(ModelConfig("vae_mlp", 20, (400,)))) == [(400,), (40,), (400,), (784,)]
    assert layer_shapes(build_model(ModelConfig("vae_conv", 10)))[4:7] == [(64,), (20,), (64,)]


def test_the_untrained_network_is_the_one_training_starts_from():
    # Study 000's z=6 model kept its initial weights (Note A): initial_model must rebuild exactly those. With
    # lr=0 and no weight decay, Adam leaves the weights where train_variant put them.
    from dataclasses import replace

    import numpy as np

    from latent_atlas.models.training import initial_model, train_config, train_variant

    params = load_params(PROJECT / "params.yaml")
    images = np.random.default_rng(0).integers(0, 256, size=(64, 28, 28), dtype=np.uint8)
    labels = np.arange(64) % 10
    cfg = replace(train_config(params, "classifier_z6", "cpu"), epochs=1, lr=0.0)
    trained = train_variant(params, "classifier_z6", images, labels, torch.device("cpu"), progress=False, cfg=cfg)
    initial = initial_model(model_config(params, "classifier_z6"), params.seed)
    for (name, a), b in zip(initial.state_dict().items(), trained.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert trained.threads == 1  # the CPU loop's one intra-op thread, recorded with the timings


def test_count_parameters_skips_frozen():
    model = build_model(ModelConfig("mlp", 3, (128, 64), output="tanh"))
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    assert count_parameters(model) == 109_712  # the decoder alone, see above


# --------------------------------------------------------------------------- #
# build_model
# --------------------------------------------------------------------------- #


def test_build_model_rejects_unknown_arch():
    with pytest.raises(ValueError, match=r"arch='transformer' is not allowed"):
        build_model(ModelConfig("transformer", 8))


def test_build_model_rejects_spatial_conv_latent_size():
    with pytest.raises(ValueError, match="latent_dim=8"):
        build_model(ModelConfig("spatial_conv", 8, output="tanh"))


def test_build_model_rejects_unknown_output():
    with pytest.raises(ValueError, match=r"output='relu' is not allowed"):
        build_model(ModelConfig("mlp", 3, (16,), output="relu"))


def test_model_config_dict_round_trip():
    config = ModelConfig("classifier_mlp", 16, (128,), (64,), "sigmoid")
    d = config.to_dict()
    d_listy = {**d, "hidden": list(d["hidden"]), "head_hidden": list(d["head_hidden"])}
    assert ModelConfig.from_dict(d_listy) == config


# --------------------------------------------------------------------------- #
# checkpoints
# --------------------------------------------------------------------------- #


def make_checkpoint(config: ModelConfig, model: torch.nn.Module) -> Checkpoint:
    return Checkpoint(model_config=config.to_dict(), state_dict=model.state_dict(), variant="test",
                      params={"lr": 0.001, "hidden": [16]}, input_range="unit", data_checksum="abc",
                      data_source="bundled", history=[{"epoch": 1, "train_loss": 0.5}])


@pytest.mark.parametrize("name", ["classifier", "small_conv", "spatial_conv", "vanilla_z3", "vae", "conv_vae",
                                  "sparse"])
def test_checkpoint_round_trip_rebuilds_identical_model(tmp_path, name):
    config = variant_config(name)
    torch.manual_seed(1)
    model = build_model(config).eval()
    path = tmp_path / "models" / f"{name}.pt"
    save_checkpoint(path, make_checkpoint(config, model))
    assert sorted(p.name for p in path.parent.iterdir()) == [f"{name}.pt"]  # no temp file left

    ckpt = load_checkpoint(path)
    assert ModelConfig.from_dict(ckpt.model_config) == config
    assert (ckpt.variant, ckpt.input_range, ckpt.data_checksum, ckpt.data_source) == (
        "test", "unit", "abc", "bundled")
    assert ckpt.history == [{"epoch": 1, "train_loss": 0.5}]
    rebuilt = ckpt.build()
    assert not rebuilt.training
    assert type(rebuilt) is type(model)
    x = batch(PARAMS.variant(name).input_range, seed=3)
    with torch.no_grad():
        expected, got = model(x), rebuilt(x)
    assert expected.keys() == got.keys()
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=0)


def test_a_different_seed_gives_a_different_model():
    # Guards the round-trip test: it would pass vacuously if every build were identical.
    config = variant_config("small_conv")
    torch.manual_seed(1)
    a = build_model(config)
    torch.manual_seed(2)
    b = build_model(config)
    x = batch("unit")
    with torch.no_grad():
        assert not torch.allclose(a(x)["recon"], b(x)["recon"])


def test_checkpoint_bytes_depend_on_content_not_on_path_or_time(tmp_path):
    # torch.save given a path names the archive's folder after the file (a random
    # temporary name here): identical checkpoints must still be identical bytes.
    config = ModelConfig("mlp", 4, (16,))
    torch.manual_seed(0)
    model = build_model(config)
    first, second = tmp_path / "a" / "model.pt", tmp_path / "b" / "other_name.pt"
    save_checkpoint(first, make_checkpoint(config, model))
    save_checkpoint(second, make_checkpoint(config, model))
    assert first.read_bytes() == second.read_bytes()
    with torch.no_grad():
        next(model.parameters())[0, 0] += 1.0
    save_checkpoint(second, make_checkpoint(config, model))
    assert first.read_bytes() != second.read_bytes()


def test_checkpoint_refuses_wall_clock_timings():
    config = ModelConfig("mlp", 4, (16,))
    with pytest.raises(ValueError, match=r"checkpoint history holds \['seconds'\].*epoch_losses"):
        Checkpoint(model_config=config.to_dict(), state_dict=build_model(config).state_dict(), variant="test",
                   params={}, input_range="unit", data_checksum="abc", data_source="bundled",
                   history=[{"epoch": 1, "train_loss": 0.5, "seconds": 0.25}])


@pytest.fixture
def saved_checkpoint(tmp_path) -> Path:
    config = ModelConfig("mlp", 4, (16,))
    path = tmp_path / "model.pt"
    save_checkpoint(path, make_checkpoint(config, build_model(config)))
    return path


def test_load_checkpoint_truncated(saved_checkpoint):
    raw = saved_checkpoint.read_bytes()
    saved_checkpoint.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DamagedFileError, match=re.escape(f"{saved_checkpoint} is not a readable latent-atlas checkpoint")):
        load_checkpoint(saved_checkpoint)


def test_load_checkpoint_random_bytes(tmp_path):
    path = tmp_path / "random.pt"
    path.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8,
                                   generator=torch.Generator().manual_seed(0)).numpy().tobytes())
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is not a readable latent-atlas checkpoint")):
        load_checkpoint(path)


def test_load_checkpoint_config_disagrees_with_weights(tmp_path):
    model = build_model(ModelConfig("mlp", 4, (16,)))
    ckpt = make_checkpoint(ModelConfig("mlp", 5, (16,)), model)  # config says z=5, weights z=4
    path = tmp_path / "mismatch.pt"
    save_checkpoint(path, ckpt)
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is not a readable")):
        load_checkpoint(path)


def test_load_checkpoint_foreign_torch_file(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(DamagedFileError, match=re.escape(f"{path} is not a readable")):
        load_checkpoint(path)


def test_load_checkpoint_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match="absent.pt does not exist"):
        load_checkpoint(tmp_path / "absent.pt")
