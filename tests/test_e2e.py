"""End to end: the real `dvc repro` and `dvc exp run` on tiny data in a temporary git repository."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def mlflow_runs(root, filter_string=""):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("latent-atlas")
    assert experiment is not None, "no latent-atlas experiment in the repository's mlflow.db"
    return client.search_runs([experiment.experiment_id], filter_string=filter_string, max_results=500)


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def test_repro_then_experiment(tiny_repo):
    repo, root = tiny_repo, tiny_repo.root
    first = repo.dvc("repro")
    assert ran_stages(first.stdout) >= {"download", "population", "pca", "train@classifier", "compare",
                                        "extract@classifier", "analyze@classifier", "analyze@small_conv"}

    info = json.loads((root / "metrics/data.json").read_text())
    assert info["source"] == "bundled" and info["n_train"] == 200 and info["n_test"] == 200
    with np.load(root / "data/latents/classifier.npz") as lat:
        assert lat["z_test"].shape == (200, 16)
        assert lat["z_train"].shape == (200, 16)
        assert np.all(np.isfinite(lat["recon_error_test"]))
    analysis = json.loads((root / "metrics/analyze/classifier.json").read_text())
    assert 0 <= analysis["accuracy"] <= 1 and 0 < analysis["test_mse"] < 1
    assert analysis["purity_best"] >= analysis["purity_mean"] > 0
    assert (root / "plots/classifier/reconstructions.png").stat().st_size > 1000
    pca = json.loads((root / "metrics/pca.json").read_text())
    assert pca["matches_sklearn"] and 0.5 < pca["kept_variance"] < 0.6

    # Nothing changed: nothing reruns.
    second = repo.dvc("repro")
    assert ran_stages(second.stdout) == set()
    assert "up to date" in second.stdout

    runs = mlflow_runs(root)
    variants = {r.data.tags.get("variant") for r in runs if r.data.tags.get("role") == "variant"}
    assert {"classifier", "small_conv", "pca"} <= variants
    trained = [r for r in runs if r.data.tags.get("variant") == "classifier"]
    assert trained[0].data.params["latent_dim"] == "16"
    assert "test_accuracy" in trained[0].data.metrics and "train_loss" in trained[0].data.metrics
    parents = [r for r in runs if r.data.tags.get("role") == "pipeline"]
    assert len(parents) == 1
    assert all(r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id
               for r in runs if r.data.tags.get("role") == "variant")

    # A new experiment reruns only what depends on latent_dim.
    repo.commit("first run")
    exp = repo.dvc("exp", "run", "-S", "latent_dim=3")
    assert ran_stages(exp.stdout) == {"train@classifier", "extract@classifier", "analyze@classifier", "compare"}
    with np.load(root / "data/latents/classifier.npz") as lat:
        assert lat["z_test"].shape[1] == 3
    shown = json.loads(repo.dvc("exp", "show", "--json").stdout)
    assert "analyze" in repo.dvc("exp", "show", "--no-pager").stdout or shown
    new_runs = mlflow_runs(root, "params.latent_dim = '3'")
    assert any(r.data.tags.get("variant") == "classifier" and r.data.tags.get("dvc_experiment") != "workspace"
               for r in new_runs)

    # An impossible value fails at once, naming the key.
    bad = repo.dvc("exp", "run", "-S", "latent_dim=0", check=False)
    assert bad.returncode != 0
    assert "latent_dim" in bad.stdout + bad.stderr
