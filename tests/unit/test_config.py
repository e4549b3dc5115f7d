"""Tests for latent_atlas.config: the project's params.yaml, and one-line errors for bad ones."""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import subprocess
import sys

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests_support import PROJECT

from latent_atlas.analysis import clustering, spectrum
from latent_atlas.arch import ARCHES, MLP_ARCHES, VARIATIONAL_ARCHES, mlp_parameter_count
from latent_atlas.config import (
    MAX_PARAMETERS,
    MIN_ROWS_PER_SPLIT,
    NAME_PATTERN,
    RESERVED_NAMES,
    Params,
    flatten,
    load_params,
    parse_params,
)
from latent_atlas.errors import ConfigError, DivergedError
from latent_atlas.models.autoencoders import model_config
from latent_atlas.models.training import train_config

PARAMS_FILE = PROJECT / "params.yaml"


@pytest.fixture(scope="module")
def raw_params() -> dict:
    return yaml.safe_load(PARAMS_FILE.read_text())


@pytest.fixture
def raw(raw_params) -> dict:
    """A fresh, mutable copy of the project's params."""
    return copy.deepcopy(raw_params)


def set_key(mapping: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = mapping
    for part in parents:
        node = node[part]
    node[last] = value
    return mapping


def config_error(raw: dict) -> str:
    with pytest.raises(ConfigError) as info:
        parse_params(raw)
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    return message


# --------------------------------------------------------------------------- #
# the real params.yaml
# --------------------------------------------------------------------------- #


def test_project_params_are_valid(raw_params):
    params = load_params(PARAMS_FILE)
    assert isinstance(params, Params)
    # Spot-check against the file itself, and against the recipes of SPEC.md.
    assert params.seed == raw_params["seed"]
    assert params.latent_dim == raw_params["latent_dim"] == 16
    assert set(params.variants) == set(raw_params["variants"])
    assert params.pca.n_components == 3
    assert params.population.n_people == 500
    dense = params.variant("dense")
    assert (dense.arch, dense.latent_dim, dense.batch_size, dense.epochs, dense.val_fraction) == (
        "mlp", 32, 256, 20, 0.2)
    vanilla = params.variant("vanilla_z3")
    assert (vanilla.optimizer, vanilla.output, vanilla.input_range) == ("adamw", "tanh", "symmetric")
    assert parse_params(raw_params) == params


def test_params_are_frozen():
    params = load_params(PARAMS_FILE)
    with pytest.raises(ValidationError, match="frozen"):
        params.latent_dim = 3  # type: ignore[misc]


def test_empty_file_validates_as_the_defaults(tmp_path):
    # yaml.safe_load gives None for an empty file; it must be validated as {}, not
    # rejected as "not a mapping".
    path = tmp_path / "params.yaml"
    path.write_text("# only a comment\n")
    params = load_params(path)
    assert (params.seed, params.latent_dim, params.variants) == (42, 16, {})


# --------------------------------------------------------------------------- #
# latent_dim_of and flatten
# --------------------------------------------------------------------------- #


def test_latent_dim_of_follows_the_recipes(raw_params):
    params = load_params(PARAMS_FILE)
    assert params.latent_dim_of("classifier") == raw_params["latent_dim"]
    assert params.latent_dim_of("spatial_conv") == 256
    for name, variant in raw_params["variants"].items():
        if "latent_dim" in variant:
            assert params.latent_dim_of(name) == variant["latent_dim"], name
    assert params.latent_dim_of("dense") == 32
    assert params.latent_dim_of("vanilla_z50") == 50


def test_classifier_follows_the_top_level_latent_dim(raw):
    raw["latent_dim"] = 6  # the study's retrain with z=6
    params = parse_params(raw)
    assert params.latent_dim_of("classifier") == 6
    assert params.latent_dim_of("dense") == 32  # its own
    assert params.latent_dim_of("spatial_conv") == 256


def test_latent_dim_of_unknown_variant_names_the_allowed_ones():
    params = load_params(PARAMS_FILE)
    with pytest.raises(ConfigError, match=r"'nope'.*allowed: beta_vae, classifier, classifier_z6, conv_vae, deep, denoising, dense"):
        params.latent_dim_of("nope")


def test_flatten():
    nested = {"a": 1, "b": {"c": 2, "d": {"e": None}}, "f": [1, 2], "g": {}}
    assert flatten(nested) == {"a": 1, "b.c": 2, "b.d.e": None, "f": [1, 2]}
    assert flatten({"x": {"y": 1}}, prefix="p.") == {"p.x.y": 1}
    assert flatten({}) == {}


def test_flatten_of_model_dump_has_dotted_variant_keys():
    flat = flatten(load_params(PARAMS_FILE).model_dump())
    assert flat["variants.dense.latent_dim"] == 32
    assert flat["data.limit"] is None
    assert flat["variants.deep.hidden"] == [128, 64, 36, 18]


# --------------------------------------------------------------------------- #
# every kind of error: one line naming the dotted key and the bad value
# --------------------------------------------------------------------------- #

# (dotted key, bad value, regex the message must match)
BAD_VALUES = [
    # wrong types
    ("latent_dim", "16", r"latent_dim='16'"),
    ("variants.classifier.epochs", 1.5, r"variants\.classifier\.epochs=1\.5"),
    ("variants.dense.batch_size", True, r"variants\.dense\.batch_size=True"),
    ("data.limit", "5", r"data\.limit='5'"),
    ("variants.dense.lr", "fast", r"variants\.dense\.lr='fast'"),
    ("variants.dense.hidden", 128, r"variants\.dense\.hidden=128"),
    ("data", 5, r"data=5"),
    # impossible values
    ("latent_dim", 0, r"latent_dim=0"),
    ("latent_dim", -3, r"latent_dim=-3"),
    ("seed", -1, r"seed=-1"),
    ("variants.dense.epochs", -1, r"variants\.dense\.epochs=-1"),
    ("variants.dense.epochs", 0, r"variants\.dense\.epochs=0"),
    ("variants.deep.batch_size", 0, r"variants\.deep\.batch_size=0"),
    ("variants.dense.lr", 0, r"variants\.dense\.lr=0"),
    ("variants.dense.lr", -0.001, r"variants\.dense\.lr=-0\.001"),
    ("variants.dense.val_fraction", 1.0, r"variants\.dense\.val_fraction=1\.0"),
    ("variants.dense.hidden", [128, 0], r"variants\.dense\.hidden\.1=0"),
    ("variants.dense.arch", "transformer", r"variants\.dense\.arch='transformer'"),
    ("variants.dense.optimizer", "sgd", r"variants\.dense\.optimizer='sgd'"),
    ("data.source", "ftp", r"data\.source='ftp'"),
    ("data.limit", 0, r"data\.limit=0"),
    ("data.timeout_s", 0, r"data\.timeout_s=0"),
    ("population.n_people", 2, r"population\.n_people=2"),
    ("train.device", "tpu", r"train\.device='tpu'"),
    ("analyze.n_recon", 65, r"analyze\.n_recon=65"),
    # cross-field checks: the section and the offending values
    ("pca.n_components", 7, r"pca\.n_components=7"),
    ("pca.n_components", 0, r"pca\.n_components=0"),
    ("variants.spatial_conv.latent_dim", 8, r"variants\.spatial_conv.*latent_dim=8"),
    ("variants.dense.output", "tanh", r"variants\.dense.*output=tanh.*input_range=unit"),
    ("variants.vanilla_z3.input_range", "unit", r"variants\.vanilla_z3.*output=tanh.*input_range=unit"),
    ("variants.dense.hidden", [], r"variants\.dense.*hidden=\[\]"),
    # issue 11's gaps: values that passed and failed late, or silently did nothing
    ("variants.classifier.class_weight", float("inf"), r"variants\.classifier\.class_weight=inf.*finite number"),
    ("variants.classifier.class_weight", 1001.0, r"variants\.classifier\.class_weight=1001\.0"),
    ("variants.dense.lr", float("nan"), r"variants\.dense\.lr=nan is not allowed: Input should be a finite number"),
    ("recipes.vanilla.weight_decay", float("-inf"), r"recipes\.vanilla\.weight_decay=-inf.*finite number"),
    ("data.timeout_s", float("nan"), r"data\.timeout_s=nan.*finite number"),
    ("analyze.eigen_threshold", float("inf"), r"analyze\.eigen_threshold=inf.*finite number"),
    ("analyze.knn_k", 100_000, r"analyze\.knn_k=100000"),
    ("data.limit", 3, r"data\.limit=3 is not allowed.*greater than or equal to 100"),
    ("roles.classifier_ae", "nope", r"roles\.classifier_ae names \['nope'\], which are not variants"),
    ("roles.vanilla_sweep", ["vanilla_z3", "dense2"], r"roles\.vanilla_sweep names \['dense2'\]"),
    ("roles.vanilla_sweep", "vanilla_z3", r"roles\.vanilla_sweep='vanilla_z3' is not allowed"),
    ("roles.deep_ae", ["deep"], r"roles\.deep_ae=\['deep'\] is not allowed"),
    ("roles.nope_ae", "deep", r"unknown key 'roles\.nope_ae'"),
    ("variants.small_conv.hidden", [64], r"variants\.small_conv.*hidden=\[64\] is not allowed for arch small_conv"),
    ("variants.spatial_conv.hidden", [8], r"variants\.spatial_conv.*hidden=\[8\].*omit hidden"),
    ("variants.dense.head_hidden", [8], r"variants\.dense.*head_hidden=\[8\].*only classifier_mlp"),
    # encoder 784*65536+65536 + 65536*65536+65536 + 65536*32+32 = 4,348,575,776; decoder
    # 32*65536+65536 + 65536*65536+65536 + 65536*784+784 = 4,348,576,528
    ("variants.dense.hidden", [65536, 65536], r"variants\.dense.* 8,697,152,304 weights.*50,000,000 allowed"),
    ("variants.deep.recipe", "nope", r"variants\.deep\.recipe='nope'.*allowed: classifier, conv_vae, deep, dense"),
    # issue 17: the VAE family's and the sparse AE's knobs
    ("variants.beta_vae.beta", 0.0, r"variants\.beta_vae\.beta=0\.0 is not allowed: Input should be greater than 0"),
    ("variants.beta_vae.beta", -4.0, r"variants\.beta_vae\.beta=-4\.0 is not allowed: Input should be greater than 0"),
    ("analyze.likelihood.iwae_k", 0, r"analyze\.likelihood\.iwae_k=0 is not allowed: .*greater than or equal to 1"),
    ("variants.sparse.sparsity_weight", -0.1,
     r"variants\.sparse\.sparsity_weight=-0\.1 is not allowed: .*greater than or equal to 0"),
    ("variants.dense.beta", 4.0, r"variants\.dense.*beta=4\.0 is not allowed for arch mlp.*vae_mlp, vae_conv"),
    ("variants.vae.sparsity_weight", 0.1, r"variants\.vae.*sparsity_weight=0\.1 is not allowed for arch vae_mlp"),
    ("variants.vae.output", "tanh", r"variants\.vae.*output=tanh.*not allowed for arch vae_mlp.*Bernoulli"),
    ("analyze.samples.n", 5, r"analyze\.samples\.n=5"),
    ("analyze.mig.bins", 1, r"analyze\.mig\.bins=1"),
    ("variants.small_conv.activation", "tanh", r"variants\.small_conv.*activation=tanh is not allowed for arch"),
    ("variants.vae.activation", "gelu", r"variants\.vae\.activation='gelu' is not allowed"),
    # issue 18's applications: digits 0-9, a flip fraction in [0, 0.5), noise > 0, mask ratios in (0, 1)
    ("anomaly.digits", [3, 10], r"anomaly\.digits\.1=10 is not allowed: .*less than or equal to 9"),
    ("anomaly.digits", [-1], r"anomaly\.digits\.0=-1 is not allowed: .*greater than or equal to 0"),
    ("anomaly.digits", [3, 3], r"anomaly: digits=\[3, 3\] is not allowed: give distinct digits 0-9"),
    ("mislabel.flip_fraction", 0.5, r"mislabel\.flip_fraction=0\.5 is not allowed: .*less than 0\.5"),
    ("mislabel.flip_fraction", -0.01, r"mislabel\.flip_fraction=-0\.01 is not allowed: .*greater than or equal to 0"),
    ("denoise.stds", [0.1, 0], r"denoise\.stds\.1=0 is not allowed: .*greater than 0"),
    ("denoise.stds", [-0.3], r"denoise\.stds\.0=-0\.3 is not allowed: .*greater than 0"),
    ("variants.denoising.corruption.noise_std", 0, r"variants\.denoising\.corruption\.noise_std=0 is not allowed: "
                                                   r".*greater than 0"),
    ("variants.denoising.corruption.mask_ratio", 1.5, r"variants\.denoising\.corruption\.mask_ratio=1\.5 is not "
                                                     r"allowed: .*less than 1"),
    ("variants.masked.corruption.patch_mask_ratio", 0, r"variants\.masked\.corruption\.patch_mask_ratio=0 is not "
                                                      r"allowed: .*greater than 0"),
    ("variants.masked.corruption.patch_mask_ratio", 1.0, r"patch_mask_ratio=1\.0 is not allowed: .*less than 1"),
    ("variants.masked.corruption.patch_size", 5, r"variants\.masked\.corruption: patch_size=5 is not allowed: "
                                                r"it must divide 28"),
    ("variants.masked.corruption", {}, r"variants\.masked\.corruption: corruption hides nothing"),
    ("roles.denoising_ae", "nope", r"roles\.denoising_ae names \['nope'\], which are not variants; allowed: "),
    ("mislabel.max_images", 10, r"mislabel: k=10 is not allowed: it must be below max_images=10"),
    ("anomaly.model.latent_dim", None, r"anomaly: model\.latent_dim=None is not allowed for arch small_conv"),
]


@pytest.mark.parametrize(("key", "value", "pattern"), BAD_VALUES,
                         ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES])
def test_bad_value_is_one_line_naming_key_and_value(raw, key, value, pattern):
    message = config_error(set_key(raw, key, value))
    assert re.search(pattern, message), message
    assert "Traceback" not in message


def test_bad_value_is_a_config_error(raw):
    # cli.run_stage prints a ConfigError as one line and exits 2.
    with pytest.raises(ConfigError, match="latent_dim=0"):
        parse_params(set_key(raw, "latent_dim", 0))


def test_bad_union_value_names_the_plain_dotted_key(raw):
    # train.cuda_graph is "auto" | "on" | "off" | bool: the message must name the key
    # as the user wrote it, not pydantic's internal union-member path.
    message = config_error(set_key(raw, "train.cuda_graph", "x"))
    assert re.search(r"train\.cuda_graph='x'", message), message


def test_mapping_given_for_a_number_names_the_value(raw):
    message = config_error(set_key(raw, "latent_dim", {"a": 1}))
    assert "latent_dim" in message and "{'a': 1}" in message, message


@pytest.mark.parametrize("key", ["lrr", "typo"])
def test_unknown_nested_key(raw, key):
    raw["variants"]["classifier"][key] = 0.01
    message = config_error(raw)
    assert f"variants.classifier.{key}" in message
    assert "unknown key" in message


@pytest.mark.parametrize(("section", "dotted"), [(None, "latent_dimm"), ("data", "data.sourc"),
                                                 ("train", "train.epochs")])
def test_unknown_key_top_level_and_in_sections(raw, section, dotted):
    leaf = dotted.split(".")[-1]
    (raw if section is None else raw[section])[leaf] = 1
    message = config_error(raw)
    assert re.search(rf"unknown key '{re.escape(dotted)}'", message), message


def test_missing_required_key_is_named(raw):
    del raw["recipes"]["dense"]["arch"]
    message = config_error(raw)
    assert "recipes.dense.arch" in message and "missing" in message


def test_invalid_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 42\nvariants: [1, 2\nlatent_dim: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML") as info:
        load_params(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "kind"), [("- 1\n- 2\n", "list"), ("just a sentence\n", "str"),
                                            ("42\n", "int")])
def test_non_mapping_file(tmp_path, text, kind):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=rf"must be a mapping.*got {kind}") as info:
        load_params(path)
    assert "\n" not in str(info.value)


def test_non_mapping_object():
    with pytest.raises(ConfigError, match="mapping"):
        parse_params([("seed", 1)])


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere" / "params.yaml"
    with pytest.raises(ConfigError, match=re.escape(str(path)) + " not found") as info:
        load_params(path)
    assert "\n" not in str(info.value)


def test_load_params_reads_a_modified_file(tmp_path, raw):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(set_key(raw, "variants.dense.epochs", 3)))
    assert load_params(path).variant("dense").epochs == 3
    path.write_text(yaml.safe_dump(set_key(raw, "variants.dense.epochs", 0)))
    with pytest.raises(ConfigError, match=r"variants\.dense\.epochs=0"):
        load_params(path)


# --------------------------------------------------------------------------- #
# a stage fails with one line and exit code 2
# --------------------------------------------------------------------------- #


@pytest.fixture(scope="module")
def stage_runs(tmp_path_factory, raw_params) -> dict[str, subprocess.CompletedProcess]:
    """Both failing stage runs, started together: each pays seconds of imports."""
    bad = copy.deepcopy(raw_params)
    bad["latent_dim"] = 0
    path = tmp_path_factory.mktemp("params") / "params.yaml"
    path.write_text(yaml.safe_dump(bad))
    commands = {
        "bad_latent_dim": ["stages.train", "--variant", "classifier", "--params", str(path)],
        "unknown_variant": ["stages.train", "--variant", "nonexistent", "--params", str(PARAMS_FILE)],
        "bad_digit": ["stages.oneclass", "--digit", "12", "--params", str(PARAMS_FILE)],
    }
    procs = {key: subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for key, args in commands.items()}
    results = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        results[key] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return results


def assert_one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_train_stage_with_bad_params_exits_2_with_one_line(stage_runs):
    line = assert_one_line_error(stage_runs["bad_latent_dim"])
    assert re.search(r"latent_dim=0\b", line), line


def test_oneclass_stage_with_a_digit_outside_0_9_names_it_and_the_allowed_ones(stage_runs):
    line = assert_one_line_error(stage_runs["bad_digit"])
    assert line == "error: --digit 12 is not allowed: use a digit 0-9"


def test_train_stage_with_unknown_variant_names_the_allowed_ones(stage_runs, raw_params):
    line = assert_one_line_error(stage_runs["unknown_variant"])
    assert "nonexistent" in line and "allowed" in line
    for name in raw_params["variants"]:
        assert name in line


# --------------------------------------------------------------------------- #
# recipes: each variant = its recipe's keys, then its own
# --------------------------------------------------------------------------- #


def test_variants_inherit_their_recipe_and_their_own_keys_win(raw):
    set_key(raw, "recipes.vanilla.epochs", 7)
    raw["variants"]["vanilla_z3"]["epochs"] = 2
    params = parse_params(raw)
    assert params.variant("vanilla_z2").epochs == 7
    assert params.variant("vanilla_z3").epochs == 2
    assert params.variant("vanilla_z3").recipe == "vanilla"
    assert params.variant("dense").epochs == 20  # another recipe: untouched


def test_a_variant_without_a_recipe_stands_alone(raw):
    raw["variants"]["tiny"] = {"arch": "mlp", "hidden": [8], "latent_dim": 2}
    tiny = parse_params(raw).variant("tiny")
    assert (tiny.recipe, tiny.hidden, tiny.batch_size) == (None, [8], 64)


def test_a_recipe_cannot_name_a_recipe(raw):
    raw["recipes"]["vanilla"]["recipe"] = "dense"
    assert "unknown key 'recipes.vanilla.recipe'" in config_error(raw)


def test_a_bad_recipe_value_is_named_where_it_is_written(raw):
    # Every vanilla_z* variant inherits it, but the user wrote it once, in the recipe.
    message = config_error(set_key(raw, "recipes.vanilla.lr", -1.0))
    assert message.startswith("params.yaml: recipes.vanilla.lr=-1.0 is not allowed"), message


@pytest.mark.parametrize("name", ["a/b", "../x", "1st", "", "x y", "é", "a" * 65, "eigen_reading", "pca_baseline"])
def test_unsafe_or_reserved_variant_names_are_rejected(raw, name):
    raw["variants"][name] = {"recipe": "dense", "latent_dim": 4}
    message = config_error(raw)
    assert f"variants.{name!r} is not allowed as a name" in message and "eigen_reading" in message


def test_recipe_names_follow_the_same_rule(raw):
    raw["recipes"]["bad-name"] = raw["recipes"]["dense"]
    assert "recipes.'bad-name' is not allowed as a name" in config_error(raw)


def test_batch_size_must_fit_the_limited_training_split(raw):
    set_key(raw, "data.limit", 250)  # dense keeps 80%: 200 training images for a batch of 256
    message = config_error(raw)
    assert "variants.dense.batch_size=256" in message and "data.limit=250" in message
    set_key(raw, "data.limit", 320)  # 256 training images: every recipe fits
    assert parse_params(raw).data.limit == 320


def test_default_recipes_are_the_spec_recipes_resolved(raw_params):
    # The same values as the variants spelled out field by field before recipes existed.
    v = load_params(PARAMS_FILE).variants
    assert {n: v[n].latent_dim for n in v} == {
        "classifier": None, "classifier_z6": 6, "dense": 32, "deep": 9, "small_conv": 10, "spatial_conv": None,
        "vanilla_z2": 2, "vanilla_z3": 3, "vanilla_z5": 5, "vanilla_z10": 10, "vanilla_z50": 50,
        "vae": 20, "beta_vae": 20, "conv_vae": 10, "sparse": 16, "denoising": 10, "masked": 10}
    for name in ("vanilla_z2", "vanilla_z50"):
        assert v[name].model_dump(exclude={"latent_dim"}) == {
            "arch": "mlp", "hidden": [128, 64], "head_hidden": [], "output": "tanh", "input_range": "symmetric",
            "optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-5, "batch_size": 256, "epochs": 5,
            "val_fraction": 0.0, "class_weight": 1.0, "beta": 1.0, "sparsity_weight": 0.0, "cpu_threads": 1,
            "corruption": None, "activation": "relu", "recipe": "vanilla"}
    assert v["classifier_z6"].model_dump(exclude={"latent_dim"}) == v["classifier"].model_dump(exclude={"latent_dim"})


# --------------------------------------------------------------------------- #
# a variant's model and training configs, built in one place
# --------------------------------------------------------------------------- #


def test_model_config_of_is_the_recipe_network():
    from latent_atlas.models.autoencoders import ModelConfig

    params = load_params(PARAMS_FILE)
    assert model_config(params, "classifier") == ModelConfig("classifier_mlp", 16, (128,), (64,), "sigmoid")
    assert model_config(params, "vae") == ModelConfig("vae_mlp", 20, (400,), (), "sigmoid", "relu")
    assert model_config(params, "vanilla_z3") == ModelConfig("mlp", 3, (128, 64), (), "tanh")
    assert model_config(params, "spatial_conv") == ModelConfig("spatial_conv", 256, (), (), "tanh")


def test_train_config_of_uses_the_recipe_and_the_device(raw):
    from latent_atlas.models.training import TrainConfig

    params = parse_params(set_key(raw, "train.compile_cpu", True))
    assert train_config(params, "deep", "cpu") == TrainConfig(
        batch_size=32, epochs=20, lr=1e-3, weight_decay=1e-8, optimizer="adam", class_weight=1.0, seed=42,
        cuda_graph=False, compile_cpu=True)
    assert train_config(params, "deep", "cuda:0").cuda_graph  # cuda_graph: auto
    off = parse_params(set_key(raw, "train.cuda_graph", "off"))
    assert not train_config(off, "deep", "cuda").cuda_graph


def test_reading_params_does_not_import_torch():
    # Every stage validates params first; download and population never need torch.
    code = "import sys; from latent_atlas.config import load_params; load_params('params.yaml'); " \
           "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("config", [((128,), (64,), 16), ((128, 64), (), 3), ((128, 64, 36, 18), (), 9),
                                    ((7, 5), (3, 2), 4)])
def test_mlp_parameter_count_matches_the_built_model(config):
    from latent_atlas.models.autoencoders import ModelConfig, build_model, count_parameters

    hidden, head, z = config
    arch = "classifier_mlp" if head else "mlp"
    model = build_model(ModelConfig(arch, z, hidden, head))
    assert mlp_parameter_count(z, list(hidden), list(head)) == count_parameters(model)
    if not head:  # the same widths as a VAE (the encoder ends in a mean and a log-variance) and a sparse AE
        vae = build_model(ModelConfig("vae_mlp", z, hidden))
        assert mlp_parameter_count(z, list(hidden), variational=True) == count_parameters(vae)
        assert mlp_parameter_count(z, list(hidden)) == count_parameters(build_model(ModelConfig("sparse_mlp", z, hidden)))


# --------------------------------------------------------------------------- #
# fuzz: any number anywhere, any variant name
# --------------------------------------------------------------------------- #

# FUZZ_EXAMPLES=1000 for the full search (it found nothing in 1,000); CI runs a quick one.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))


def numeric_paths(node, prefix=()) -> list[tuple]:
    """Every path to a number (or a null that stands for one) in the real params."""
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in numeric_paths(v, (*prefix, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in numeric_paths(v, (*prefix, i))]
    return [prefix] if isinstance(node, int | float) and not isinstance(node, bool) or node is None else []


REAL = yaml.safe_load(PARAMS_FILE.read_text())
# Optional numeric keys a variant may add on top of its recipe.
NUMERIC_PATHS = sorted({*numeric_paths(REAL), *((("variants", n, k),) for n in REAL["variants"]
                                               for k in ("epochs", "batch_size", "lr", "class_weight"))},
                       key=str)
numbers = st.one_of(
    st.integers(-3, 3), st.integers(), st.integers(2**31 - 5, 2**31 + 5), st.floats(allow_nan=True),
    st.sampled_from([0, 1, 2, 10, 99, 100, 255, 256, 784, 65536, 65537, 2**32, 1e-300, 0.5, -0.0]),
    st.none(),
)


def real_value(path: tuple):
    node = REAL
    for part in path:
        node = node[part] if not isinstance(node, dict) or part in node else None
    return node


def near_the_real_value(path: tuple):
    """Numbers of the scale the key already has: the real one scaled, nudged, or made non-finite."""
    value = real_value(path)
    if not isinstance(value, int | float):
        return numbers
    scaled = [value * k for k in (-1, 0, 0.5, 2, 10, 100, 512, 1000, 10**6)] + [value + 1, value - 1]
    kind = int if isinstance(value, int) else float
    return st.sampled_from([kind(v) for v in scaled] + [float("nan"), float("inf"), -float("inf")]) | numbers


change = st.sampled_from(NUMERIC_PATHS).flatmap(lambda path: st.tuples(st.just(path), near_the_real_value(path)))
# Layer sizes decide memory: wide ones often enough to reach the parameter cap.
SIZE_PATHS = [p for p in NUMERIC_PATHS if "hidden" in p or "head_hidden" in p or p[-1] == "latent_dim"]
size_change = st.tuples(st.sampled_from(SIZE_PATHS), st.sampled_from([1, 4096, 12800, 32768, 65536]))
names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=70) | st.sampled_from(
    ["eigen_reading", "pca", "headline", "a_b1", "_x", "x" * 64, "x" * 65])


def put(raw: dict, path: tuple, value) -> None:
    node = raw
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def check_valid(params: Params) -> None:
    """What a params file that validates promises the stages."""
    from latent_atlas.models.training import split_validation

    for name, variant in params.variants.items():
        assert NAME_PATTERN.fullmatch(name) and name not in RESERVED_NAMES
        for value in (variant.lr, variant.weight_decay, variant.val_fraction, variant.class_weight):
            assert math.isfinite(value)
        size = params.latent_dim_of(name)
        assert 1 <= size <= 65536
        if variant.arch in MLP_ARCHES:
            assert mlp_parameter_count(size, variant.hidden, variant.head_hidden,
                                       variational=variant.arch in VARIATIONAL_ARCHES) <= MAX_PARAMETERS
        else:
            assert not variant.hidden
        if params.data.limit is not None:
            assert params.data.limit >= MIN_ROWS_PER_SPLIT
            train_rows, _ = split_validation(params.data.limit, variant.val_fraction, params.seed)
            assert variant.batch_size <= len(train_rows)  # what the train stage will have
    assert {v for names in params.roles.assigned().values() for v in names} <= set(params.variants)
    for value in flatten(params.model_dump()).values():
        for item in value if isinstance(value, list) else [value]:
            assert not isinstance(item, float) or math.isfinite(item)


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(change | size_change, min_size=1, max_size=4),
       st.lists(st.tuples(st.sampled_from(sorted(REAL["variants"])), names), max_size=2))
def test_fuzz_any_number_or_name_validates_or_fails_in_one_line(changes, renames):
    raw = copy.deepcopy(REAL)
    for path, value in changes:
        put(raw, path, value)
    for old, new in renames:
        if old in raw["variants"] and new not in raw["variants"]:
            raw["variants"][new] = raw["variants"].pop(old)
    try:
        params = parse_params(raw)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("params.yaml: "), message
        assert "Traceback" not in message and "Value error" not in message, message
        if re.search(r"=-?(nan|inf)\b", message) and "valid integer" not in message:  # not "nan should be <= 10"
            assert "finite number" in message, message
        return
    check_valid(params)


# --------------------------------------------------------------------------- #
# a generated valid params file really runs: a training step and an analysis part
# --------------------------------------------------------------------------- #

mlp_widths = st.lists(st.integers(1, 32), min_size=1, max_size=3)


@st.composite
def runnable_variant(draw) -> dict:
    arch = draw(st.sampled_from(ARCHES))
    variational = arch in VARIATIONAL_ARCHES
    symmetric = not variational and draw(st.booleans())  # a VAE's Bernoulli decoder takes [0,1] pixels
    entry = {"arch": arch, "output": "tanh" if symmetric else "sigmoid",
             "input_range": "symmetric" if symmetric else "unit",
             "optimizer": draw(st.sampled_from(["adam", "adamw"])),
             "lr": draw(st.floats(1e-6, 10)), "weight_decay": draw(st.floats(0, 1)),
             "batch_size": draw(st.integers(1, 24)), "epochs": draw(st.integers(1, 100_000)),
             "val_fraction": draw(st.floats(0, 0.9)), "class_weight": draw(st.floats(0, 1000))}
    if variational:
        entry["beta"] = draw(st.floats(1e-3, 1e6))
    else:
        entry["sparsity_weight"] = draw(st.floats(0, 1e6))
    if arch != "spatial_conv":
        entry["latent_dim"] = draw(st.integers(1, 8))
    if arch in MLP_ARCHES:
        entry["hidden"] = draw(mlp_widths)
    if arch == "classifier_mlp":
        entry["head_hidden"] = draw(mlp_widths)
    return entry


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(runnable_variant(), st.integers(0, 2**32 - 1), st.floats(0, 1e6), st.integers(1, 3))
def test_generated_valid_params_train_a_step_and_run_an_analysis_part(entry, seed, threshold, kmeans_seeds):
    import numpy as np
    import torch

    from latent_atlas.models.autoencoders import build_model
    from latent_atlas.models.training import to_model_input, train_model

    raw = copy.deepcopy(REAL)
    raw.update(seed=seed, variants={"generated": entry})
    raw["roles"] = {"classifier_ae": "generated", "vanilla_sweep": ["generated"]}
    raw["analyze"].update(eigen_threshold=threshold, kmeans_seeds=kmeans_seeds)
    params = parse_params(raw)  # the generator only makes valid files
    check_valid(params)

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(24, 28, 28), dtype=np.uint8)
    labels = np.arange(24) % 10
    variant = params.variant("generated")
    torch.manual_seed(seed)
    model = build_model(model_config(params, "generated"))
    x = to_model_input(images, variant.input_range)
    cfg = dataclasses.replace(train_config(params, "generated", "cpu"), epochs=1)  # one epoch: >= 1 step
    try:
        history = train_model(model, x, torch.as_tensor(labels), cfg, progress=False)
    except DivergedError as exc:  # a valid but wild recipe (lr up to 10) may diverge: then it says where
        assert "in epoch 1" in str(exc) and "variants.<name>.lr" in str(exc)
        return
    assert len(history) == 1 and "train_loss" in history[0]

    with torch.no_grad():
        z = model.eval().encode(x).numpy()  # (24, latent)
    assert z.shape == (24, params.latent_dim_of("generated"))
    part = spectrum.spectrum_part(z, params.analyze.eigen_threshold)
    assert 0 <= part.metrics["eigenvalues_above_threshold"] <= z.shape[1]
    clusters = clustering.clustering_part(z, labels, params.analyze.kmeans_seeds, params.seed)
    assert 0.1 <= clusters.metrics["purity_best"] <= 1.0
