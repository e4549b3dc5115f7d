"""The baseline check (tests_support.lock_mismatches, used by tests/unit/test_baseline_lock.py)
on a real lock: the `pipeline` repository's, which DVC wrote. It passes as DVC left
it, and names each change to params.yaml or dvc.yaml that the lock does not hold."""

from __future__ import annotations

import shutil

import pytest
import yaml
from tests_support import Repo, lock_mismatches

pytestmark = pytest.mark.e2e


@pytest.fixture
def copy(pipeline, tmp_path) -> Repo:
    """The pipeline's definition, params, lock and tracked metrics at its commit, in a fresh git repository."""
    repo, _ = pipeline
    committed = tmp_path / "committed"
    repo.run("git", "worktree", "add", "-q", "--detach", str(committed), "HEAD")
    try:
        root = tmp_path / "repo"
        shutil.copytree(committed, root, ignore=shutil.ignore_patterns(".git"))
    finally:
        repo.run("git", "worktree", "remove", "--force", str(committed))
    copied = Repo(root)
    copied.run("git", "init", "-q")
    return copied


def test_a_lock_that_dvc_wrote_matches(copy):
    assert lock_mismatches(copy.root) == []


def test_each_change_without_a_new_lock_is_named(copy):
    params = copy.params()
    params["seed"] = 7
    params["analyze"]["knn_k"] = 9
    copy.write_params(params)
    dvc_yaml = yaml.safe_load((copy.root / "dvc.yaml").read_text())
    dvc_yaml["stages"]["compare"]["cmd"] += " --quiet"
    dvc_yaml["stages"]["population"]["outs"].append("data/people.parquet")
    (copy.root / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml, sort_keys=False))
    (copy.root / "metrics" / "pca.json").write_text("{}\n")
    problems = lock_mismatches(copy.root)
    assert "stage download: params.yaml seed is 7, dvc.lock has 42 (modified)" in problems
    assert any(p.startswith("stage analyze@classifier: params.yaml analyze is {") for p in problems)
    assert any(p.startswith("stage compare: dvc.yaml runs 'python -m stages.compare --quiet'") for p in problems)
    assert "stage population: outs data/people.parquet is in dvc.yaml, not in dvc.lock" in problems
    assert "stage pca: metrics/pca.json is not the file dvc.lock records" in problems
    # Only the stages that read a param are named for it: those whose lock records it (the
    # analyses, and the stages that read all of params.yaml: claims and track).
    stages = yaml.safe_load((copy.root / "dvc.lock").read_text())["stages"]
    readers = {f"stage {name}" for name, stage in stages.items()
               if "analyze" in stage.get("params", {}).get("params.yaml", {})}
    assert {"stage analyze@classifier", "stage claims", "stage track"} <= readers
    assert {p.split(":")[0] for p in problems if "params.yaml analyze is" in p} == readers
