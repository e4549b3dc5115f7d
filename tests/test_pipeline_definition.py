"""dvc.yaml and params.yaml agree: every variant has its stages, and each stage
declares the params it reads (so a change reruns exactly what depends on it)."""

from __future__ import annotations

import yaml
from tests_support import PROJECT

from latent_atlas.config import load_params


def load_dvc_yaml() -> dict:
    return yaml.safe_load((PROJECT / "dvc.yaml").read_text())


def test_every_variant_has_train_extract_analyze_stages():
    variants = set(load_params(PROJECT / "params.yaml").variants)
    stages = load_dvc_yaml()["stages"]
    for name in ("train", "extract", "analyze"):
        assert set(stages[name]["foreach"]) == variants, name


def test_only_the_classifier_follows_the_top_level_latent_dim():
    foreach = load_dvc_yaml()["stages"]["train"]["foreach"]
    followers = {name for name, item in foreach.items() if item["latent_param"] == "latent_dim"}
    assert followers == {"classifier"}
    params = load_params(PROJECT / "params.yaml")
    for name, item in foreach.items():
        if name != "classifier":
            assert item["latent_param"] == f"variants.{name}"
            assert params.variants[name].latent_dim is not None or params.variants[name].arch == "spatial_conv"
    assert params.variants["classifier"].latent_dim is None


def test_train_stage_declares_its_variant_section():
    train = load_dvc_yaml()["stages"]["train"]["do"]
    assert "variants.${key}" in train["params"] and "${item.latent_param}" in train["params"]
    assert "seed" in train["params"] and "train" in train["params"]


def test_defaults_follow_the_spec_recipes():
    v = load_params(PROJECT / "params.yaml").variants
    assert (v["classifier"].batch_size, v["classifier"].epochs, v["classifier"].lr) == (64, 10, 1e-3)
    assert (v["dense"].latent_dim, v["dense"].batch_size, v["dense"].epochs, v["dense"].val_fraction) == (32, 256, 20, 0.2)
    assert (v["deep"].hidden, v["deep"].latent_dim, v["deep"].weight_decay, v["deep"].batch_size) == ([128, 64, 36, 18], 9, 1e-8, 32)
    assert (v["small_conv"].latent_dim, v["small_conv"].batch_size, v["small_conv"].epochs) == (10, 32, 20)
    assert (v["spatial_conv"].optimizer, v["spatial_conv"].weight_decay, v["spatial_conv"].output) == ("adamw", 1e-5, "tanh")
    sweep = sorted(v[n].latent_dim for n in v if n.startswith("vanilla_z"))
    assert sweep == [2, 3, 5, 10, 50]
    assert all(v[n].epochs == 5 and v[n].batch_size == 256 and v[n].input_range == "symmetric"
               for n in v if n.startswith("vanilla_z"))
