"""Tests for latent_atlas.config: the project's params.yaml, and one-line errors for bad ones."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from latent_atlas.config import ConfigError, Params, flatten, load_params, parse_params

PROJECT = Path(__file__).resolve().parents[1]
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
    with pytest.raises(ConfigError, match=r"'nope'.*allowed: classifier, classifier_z6, deep, dense"):
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
]


@pytest.mark.parametrize(("key", "value", "pattern"), BAD_VALUES,
                         ids=[f"{k}={v!r}" for k, v, _ in BAD_VALUES])
def test_bad_value_is_one_line_naming_key_and_value(raw, key, value, pattern):
    message = config_error(set_key(raw, key, value))
    assert re.search(pattern, message), message
    assert "Traceback" not in message


def test_bad_value_error_is_a_value_error(raw):
    # Stages catch ValueError as a user error; ConfigError must be one.
    with pytest.raises(ValueError, match="latent_dim=0"):
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
    del raw["variants"]["dense"]["arch"]
    message = config_error(raw)
    assert "variants.dense.arch" in message and "missing" in message


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
        "bad_latent_dim": ["--variant", "classifier", "--params", str(path)],
        "unknown_variant": ["--variant", "nonexistent", "--params", str(PARAMS_FILE)],
    }
    procs = {key: subprocess.Popen([sys.executable, "-m", "stages.train", *args], cwd=PROJECT,
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


def test_train_stage_with_unknown_variant_names_the_allowed_ones(stage_runs, raw_params):
    line = assert_one_line_error(stage_runs["unknown_variant"])
    assert "nonexistent" in line and "allowed" in line
    for name in raw_params["variants"]:
        assert name in line
