"""The library's imports run one way: entry points -> cluster -> tracking -> report -> analysis -> models -> data -> plumbing.

Every import counts, at module level or inside a function, so a lazy import
cannot smuggle a cycle or an upward dependency past the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests_support import PROJECT

PACKAGE = PROJECT / "latent_atlas"
# Lowest first. A module may import its own layer and any layer below it.
LAYERS = (
    "plumbing",  # the top-level modules but the entry points: config, paths, io, errors, arrays, arch, ...
    "data",
    "models",
    "analysis",
    "report",
    "tracking",
    "cluster",  # sweeps on a scheduler (Slurm): each task runs the whole pipeline, so above it all
    "entry",  # what users and stages call: cli (the stage runner), commands and the python -m shims
)
ENTRY_MODULES = {"cli", "commands", "experiments", "replicates"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[-1] == "__main__":  # `python -m latent_atlas.tracking`
        return "entry"
    if len(parts) <= 2:  # the package itself, or a top-level module
        return "entry" if parts[-1] in ENTRY_MODULES else "plumbing"
    return parts[1]


def imports_of(path: Path) -> set[str]:
    """The latent_atlas modules a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "latent_atlas":
            for alias in node.names:  # `from latent_atlas.analysis import plots` names a module
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "latent_atlas"}
    return {m for m in found if m in MODULES}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def test_every_subpackage_has_a_layer():
    assert {layer_of(m) for m in MODULES} <= set(LAYERS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module):
    rank = LAYERS.index(layer_of(module))
    upward = sorted(m for m in GRAPH[module] if LAYERS.index(layer_of(m)) > rank)
    assert not upward, f"{module} ({layer_of(module)}) imports the higher layers' {upward}"


def test_data_models_and_analysis_never_import_tracking_or_mlflow():
    for module, path in MODULES.items():
        if layer_of(module) in ("data", "models", "analysis"):
            assert not any(layer_of(m) == "tracking" for m in GRAPH[module]), module
            assert "mlflow" not in path.read_text(), module


def test_there_are_no_import_cycles():
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycle = trail[trail.index(target):] + [target] if target in trail else [module, target]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])


def test_package_init_files_are_empty():
    # Importing a subpackage must cost nothing beyond the module asked for.
    for path in PACKAGE.rglob("__init__.py"):
        assert path.read_text() == "", path


def test_the_files_that_share_the_pipeline_fixture_are_one_unit_of_work():
    """conftest.py's scheduler keeps the `pipeline` fixture's users on one pytest-xdist worker, by
    file name: a file that starts using it must join the list, or the fixture is built twice."""
    from conftest import SHARED_SESSION_FILES

    tests = Path(__file__).resolve().parents[1]
    users = set()
    for path in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and "pipeline" in [a.arg for a in node.args.args]:
                users.add(path.name)
    assert users == set(SHARED_SESSION_FILES["pipeline"])
