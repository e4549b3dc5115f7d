"""Shared fixtures: a tiny, real copy of the project in a temporary git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a clone carries: everything a stage needs, nothing generated.
PROJECT_FILES = ("dvc.yaml", "params.yaml", "pyproject.toml", ".dvcignore", ".gitignore", "stages", "latent_atlas")
FAST_VARIANTS = ("classifier", "small_conv")


def tiny_params(variants: tuple[str, ...] = FAST_VARIANTS) -> dict:
    """The project's params, shrunk: bundled digits, 200 per split, one epoch."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"].update(source="bundled", limit=200)
    params["variants"] = {k: v for k, v in params["variants"].items() if k in variants}
    for variant in params["variants"].values():
        variant.update(epochs=1, batch_size=min(variant["batch_size"], 32))
    # Keep every analysis, on a few points: the e2e test checks wiring, not statistics.
    analyze = params["analyze"]
    analyze.update(kmeans_seeds=2, probe_max_train=200)
    analyze["tsne"].update(max_points=100, max_iter=300)
    analyze["noise"].update(max_images=50)
    analyze["traversal"].update(n_images=10, max_dims=4, max_rows=4)
    analyze["dci"].update(n_train=100)
    params["baseline"].update(ks=[2, 5], kmeans_seeds=1, factor_train_n=100, morpho_scale=2)
    params["compare"]["sweep"] = [v for v in params["compare"]["sweep"] if v in variants] or [variants[-1]]
    return params


def restrict_pipeline(dvc_yaml: dict, variants: tuple[str, ...]) -> dict:
    """Keep only the given variants in every foreach stage (and the plots naming them)."""
    for stage in dvc_yaml["stages"].values():
        if "foreach" in stage:
            stage["foreach"] = {k: v for k, v in stage["foreach"].items() if k in variants}
    return dvc_yaml


class Repo:
    def __init__(self, root: Path):
        self.root = root
        self.env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
                    "MLFLOW_TRACKING_URI": "", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "DVC_NO_ANALYTICS": "1"}
        self.env.pop("MLFLOW_TRACKING_URI")

    def run(self, *cmd: str, check: bool = True, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(cmd, cwd=self.root, env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def dvc(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run(str(BIN / "dvc"), *args, **kw)

    def commit(self, message: str = "update") -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-qm", message, "--allow-empty")

    def params(self) -> dict:
        return yaml.safe_load((self.root / "params.yaml").read_text())

    def write_params(self, params: dict) -> None:
        (self.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_repo(root: Path, variants: tuple[str, ...] = FAST_VARIANTS) -> Repo:
    root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = PROJECT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / name)
    dvc_yaml = restrict_pipeline(yaml.safe_load((PROJECT / "dvc.yaml").read_text()), variants)
    dvc_yaml.pop("plots", None)  # names every variant's history file
    (root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    repo = Repo(root)
    repo.write_params(tiny_params(variants))
    repo.run("git", "init", "-q")
    repo.dvc("init", "-q")
    repo.dvc("config", "core.analytics", "false")
    repo.commit("tiny latent-atlas")
    return repo


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")
