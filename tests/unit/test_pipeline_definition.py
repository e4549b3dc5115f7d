"""dvc.yaml and params.yaml agree: every variant has its stages, each stage
declares the params it reads (so a change reruns exactly what depends on it),
and each stage's deps cover the code and the files that decide its outputs."""

from __future__ import annotations

import ast
import re
import shutil

import pytest
import yaml
from tests_support import PROJECT, loss_curves, pipeline_variants

from latent_atlas import paths
from latent_atlas.config import load_params, parse_params

PACKAGE = "latent_atlas"

# Modules that cannot change what a stage writes, so a stage need not rerun
# when they change.
EXEMPT_MODULES = {
    "latent_atlas/__init__.py": "empty package marker",
    "latent_atlas/cli.py": "parses --variant/--params and prints errors; computes nothing",
    "latent_atlas/errors.py": "exception classes only",
    "latent_atlas/paths.py": "where files live, not what they hold; each path is also spelled out in dvc.yaml",
    "latent_atlas/executions.py": "execution ids (fresh each run by design); nothing downstream reads them but track",
    "latent_atlas/tracking/store.py": "where the MLflow store is; the server check reads it before any work",
    "latent_atlas/tracking/server.py": "checks the tracking server before any work; writes nothing",
    "latent_atlas/tracking/runs.py": "MLflow side only, in the track stage, after every output is written",
    "latent_atlas/tracking/models.py": "MLflow side only, in the track stage, after every output is written",
    "latent_atlas/tracking/record.py": "MLflow records built from the outputs; nothing downstream reads them",
    "latent_atlas/timing.py": "wall-clock timings printed to stderr; writes no output",
}
# Paths a stage touches that are deliberately not DVC deps or outs.
UNTRACKED_PATHS = {
    str(paths.DOWNLOAD_CACHE): "the download cache: data/mnist.npz, its verified product, is the output",
}


def load_dvc_yaml() -> dict:
    return yaml.safe_load((PROJECT / "dvc.yaml").read_text())


def stage_definitions() -> dict[str, dict]:
    """Stage name -> its definition (a foreach stage's `do`, with ${key} left in)."""
    return {name: stage.get("do", stage) for name, stage in load_dvc_yaml()["stages"].items()}


def entries(stage: dict, field: str) -> list[str]:
    """Paths of deps/outs/metrics/plots, plain or with options."""
    return [next(iter(e)) if isinstance(e, dict) else e for e in stage.get(field, [])]


def script_of(stage: dict) -> str:
    match = re.fullmatch(r"python -m stages\.(\w+)(?: .*)?", stage["cmd"])
    assert match, stage["cmd"]
    return f"stages/{match[1]}.py"


# --------------------------------------------------------------------------- #
# the variant list, defined once
# --------------------------------------------------------------------------- #


def test_every_foreach_stage_reads_the_one_variant_list():
    dvc_yaml = load_dvc_yaml()
    listed = pipeline_variants(dvc_yaml)
    assert set(listed) == set(load_params(PROJECT / "params.yaml").variants)
    foreach = {name: stage["foreach"] for name, stage in dvc_yaml["stages"].items() if "foreach" in stage}
    # The one-class family is not a variant: one stage per normal digit, listed in params.yaml.
    assert foreach == {**dict.fromkeys(("train", "extract", "analyze"), "${pipeline_variants}"),
                       "oneclass": "${anomaly.digits}"}


def test_no_variant_name_appears_outside_the_list():
    dvc_yaml = load_dvc_yaml()
    names = set(pipeline_variants(dvc_yaml))
    rest = yaml.safe_dump({k: v for k, v in dvc_yaml.items() if k != "vars"})
    assert not {name for name in names if re.search(rf"\b{name}\b", rest)}


def test_the_loss_plot_reads_every_variants_history_and_nothing_else():
    # A top-level plot has no foreach, so dvc.yaml spells the files out once more.
    dvc_yaml = load_dvc_yaml()
    curves = loss_curves(dvc_yaml)
    assert sorted(curves) == sorted(str(paths.history(name)) for name in pipeline_variants(dvc_yaml))
    assert all(columns == ["train_loss", "val_loss"] for columns in curves.values())
    loss = next(entry["loss"] for entry in dvc_yaml["plots"] if "loss" in entry)
    assert loss["y"] == "${loss_curves}"


def test_the_listed_recipe_is_the_one_params_yaml_names():
    params = load_params(PROJECT / "params.yaml")
    for name, item in pipeline_variants(load_dvc_yaml()).items():
        assert item["recipe"] == params.variant(name).recipe, name
        assert item["recipe"] in params.recipes


def test_only_the_classifier_follows_the_top_level_latent_dim():
    listed = pipeline_variants(load_dvc_yaml())
    assert {name for name, item in listed.items() if item["latent_param"] == "latent_dim"} == {"classifier"}
    params = load_params(PROJECT / "params.yaml")
    for name, item in listed.items():
        if name != "classifier":
            assert item["latent_param"] == f"variants.{name}"
            assert params.variants[name].latent_dim is not None or params.variants[name].arch == "spatial_conv"
    assert params.variants["classifier"].latent_dim is None


def test_train_stage_declares_its_variant_and_recipe():
    train = stage_definitions()["train"]
    assert {"seed", "train", "variants.${key}", "recipes.${item.recipe}", "${item.latent_param}"} == set(
        train["params"])


def test_dvc_resolves_each_variant_to_its_own_params():
    from dvc.repo import Repo

    with Repo(str(PROJECT)) as repo:
        declared = {stage.addressing: {key for dep in stage.deps if hasattr(dep, "params") for key in dep.params}
                    for stage in repo.index.stages if stage.addressing.startswith("train@")}
    assert declared["train@vanilla_z3"] == {"seed", "train", "variants.vanilla_z3", "recipes.vanilla"}
    assert declared["train@classifier"] == {"seed", "train", "variants.classifier", "recipes.classifier",
                                            "latent_dim"}
    assert declared["train@classifier_z6"] == {"seed", "train", "variants.classifier_z6", "recipes.classifier"}


def test_each_normal_digit_is_its_own_stage_with_its_own_outputs():
    from dvc.repo import Repo

    with Repo(str(PROJECT)) as repo:
        stages = {stage.addressing: stage for stage in repo.index.stages if stage.addressing.startswith("oneclass@")}
    digits = load_params(PROJECT / "params.yaml").anomaly.digits
    assert sorted(stages) == sorted(f"oneclass@{d}" for d in digits)
    outs = {name: sorted(str(out.def_path) for out in stage.outs) for name, stage in stages.items()}
    assert outs["oneclass@3"] == ["data/anomaly/3.npz", "metrics/anomaly/3.json"]
    assert f"--digit {digits[-1]}" in stages[f"oneclass@{digits[-1]}"].cmd


def test_set_param_overrides_reach_one_variant_or_a_whole_recipe(tmp_path):
    # What `dvc exp run -S ...` does to params.yaml before it reruns the stages.
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    shutil.copy(PROJECT / "params.yaml", path)
    apply_overrides(str(path), ["++variants.vanilla_z3.epochs=6", "variants.vanilla_z5.latent_dim=4"])
    params = parse_params(yaml.safe_load(path.read_text()))
    assert {n: params.variant(n).epochs for n in ("vanilla_z2", "vanilla_z3", "vanilla_z5")} == {
        "vanilla_z2": 5, "vanilla_z3": 6, "vanilla_z5": 5}
    assert params.latent_dim_of("vanilla_z5") == 4
    apply_overrides(str(path), ["recipes.vanilla.epochs=7"])
    params = parse_params(yaml.safe_load(path.read_text()))
    assert {n: params.variant(n).epochs for n in ("vanilla_z2", "vanilla_z3", "dense")} == {
        "vanilla_z2": 7, "vanilla_z3": 6, "dense": 20}


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
    # The PyTorch examples' VAE, the peer bench/vae_peer.py runs beside it.
    assert (v["vae"].arch, v["vae"].hidden, v["vae"].latent_dim, v["vae"].batch_size, v["vae"].epochs, v["vae"].lr,
            v["vae"].beta, v["vae"].input_range) == ("vae_mlp", [400], 20, 128, 10, 1e-3, 1.0, "unit")
    assert v["beta_vae"].model_dump(exclude={"beta"}) == v["vae"].model_dump(exclude={"beta"}) and v["beta_vae"].beta == 4
    assert (v["conv_vae"].arch, v["conv_vae"].latent_dim) == ("vae_conv", v["small_conv"].latent_dim)
    assert (v["sparse"].arch, v["sparse"].hidden, v["sparse"].latent_dim) == (
        "sparse_mlp", v["classifier"].hidden, load_params(PROJECT / "params.yaml").latent_dim)


# --------------------------------------------------------------------------- #
# deps: the code and the files that decide each stage's outputs
# --------------------------------------------------------------------------- #


def imported_modules(path: str) -> set[str]:
    """latent_atlas modules a file imports anywhere (module level or in a function), as file paths."""
    found = set()
    for node in ast.walk(ast.parse((PROJECT / path).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            base = node.module.replace(".", "/")
            candidates = [f"{base}.py"] + [f"{base}/{alias.name}.py" for alias in node.names]
        elif isinstance(node, ast.Import):
            candidates = [f"{alias.name.replace('.', '/')}.py" for alias in node.names
                          if alias.name.split(".")[0] == PACKAGE]
        else:
            continue
        found |= {c for c in candidates if (PROJECT / c).is_file()}
    return found


def import_closure(script: str) -> set[str]:
    """Every latent_atlas module a stage script can run, following imports
    transitively (not into tracking/'s: they serve MLflow alone)."""
    seen, todo = set(), [script]
    while todo:
        current = todo.pop()
        for module in imported_modules(current) - seen:
            seen.add(module)
            if not module.startswith("latent_atlas/tracking/"):
                todo.append(module)
    return seen


def test_exemptions_name_real_modules():
    for module in EXEMPT_MODULES:
        assert (PROJECT / module).is_file(), module


@pytest.mark.parametrize("name", [n for n, s in stage_definitions().items() if s.get("outs")])
def test_stage_code_deps_are_its_import_closure(name):
    stage = stage_definitions()[name]
    script = script_of(stage)
    expected = {script} | (import_closure(script) - set(EXEMPT_MODULES))
    declared = {d for d in entries(stage, "deps") if d.endswith(".py")}
    assert declared == expected, (f"{name}: missing {sorted(expected - declared)}, "
                                  f"not imported {sorted(declared - expected)}")


def referenced_paths(path: str, placeholder: str) -> set[str]:
    """Files a module names through latent_atlas.paths: constants, and the per-variant functions."""
    found = set()
    for node in ast.walk(ast.parse((PROJECT / path).read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "paths":
            value = getattr(paths, node.attr)
            if callable(value):
                n_args = value.__code__.co_argcount
                # execution(stage, variant): the stage is this module's stage
                args = (re.sub(r"^stages/(\w+)\.py$", r"\1", path), placeholder)[-n_args:]
                value = value(*args)
            # A tuple of paths (e.g. every application's metrics file) names each of them.
            found.update(str(v) for v in (value if isinstance(value, tuple) else (value,)))
    return found


def covered(path: str, declared: list[str]) -> bool:
    """Whether a declared path (or a folder above it) is `path`; a declared ${...} (a foreach item, a
    role's variant from params.yaml) stands for any one name."""
    def pattern(d: str) -> str:
        return "".join(".+" if part.startswith("${") else re.escape(part) for part in re.split(r"(\$\{[^}]+\})", d))

    return any(re.fullmatch(pattern(d.rstrip("/")) + "(/.*)?", path) for d in declared)


@pytest.mark.parametrize("name", [n for n, s in stage_definitions().items() if s.get("outs")])
def test_every_file_a_stage_reads_or_writes_is_a_dep_or_an_out(name):
    stage = stage_definitions()[name]
    script = script_of(stage)
    placeholder = "${key}" if "${key}" in stage["cmd"] else "VARIANT"
    modules = {script} | (import_closure(script) - set(EXEMPT_MODULES))
    touched = set().union(*(referenced_paths(m, placeholder) for m in modules)) - set(UNTRACKED_PATHS)
    declared = [p for field in ("deps", "outs", "metrics", "plots") for p in entries(stage, field)]
    missing = sorted(p for p in touched if not covered(p, declared))
    assert not missing, f"{name} touches {missing}, which dvc.yaml does not list"
