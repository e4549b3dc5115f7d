"""End to end: the real `dvc repro` and `dvc exp run` on tiny data, and what a
user compares afterwards: the README's experiment table and the MLflow runs.

One repository with every variant (the `pipeline` fixture of conftest.py), in order:
1. `dvc repro`, then again: the second reruns nothing;
2. `dvc exp run -n z6 -S latent_dim=6`: only the classifier's stages rerun;
3. `dvc exp run -n knn7 -S analyze.knn_k=7`: new analyses, and no earlier
   MLflow run changes;
4. `dvc exp run -n z6-again -S latent_dim=6`: DVC's run cache restores every
   stage, and MLflow still gets a complete, restored parent.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys

import numpy as np
import pytest
from tests_support import E2E_VARIANTS

from latent_atlas.report.headline import HEADLINE_KEYS
from latent_atlas.tracking import store

pytestmark = pytest.mark.e2e



def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def mlflow_client(root):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def all_runs(root) -> list:
    client = mlflow_client(root)
    experiment = client.get_experiment_by_name(store.EXPERIMENT_NAME)
    assert experiment is not None, "no latent-atlas experiment in the repository's mlflow.db"
    return client.search_runs([experiment.experiment_id], max_results=1000)


def parent_of(runs, dvc_experiment: str):
    parents = [r for r in runs if r.data.tags.get("role") == "pipeline"
               and r.data.tags.get("dvc_experiment") == dvc_experiment]
    assert len(parents) == 1, f"{len(parents)} parent runs for {dvc_experiment}"
    return parents[0]


def children_of(runs, parent) -> dict[str, object]:
    return {r.data.tags["variant"]: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}


def snapshot(runs) -> dict[str, tuple]:
    """Everything a run records that must never change once it is written."""
    return {r.info.run_id: (r.info.status, dict(r.data.metrics), dict(r.data.params),
                            {k: v for k, v in r.data.tags.items() if k != "mlflow.log-model.history"})
            for r in runs}


def reset_workspace(repo) -> None:
    """`dvc exp run` applies its results to the workspace; go back to the commit."""
    repo.run("git", "reset", "-q", "--hard")
    repo.dvc("checkout", "--force")


def experiment_table(repo) -> list[dict[str, str]]:
    out = repo.run(sys.executable, "-m", "latent_atlas.experiments", "--csv").stdout
    return list(csv.DictReader(io.StringIO(out)))


def assert_complete(runs, parent, variants, root, commit: str) -> None:
    """A parent with every param, the headline numbers, its artifacts, and one finished child per variant."""
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["mlflow.source.git.commit"] == commit
    assert parent.data.params["seed"] == "42" and "variants.classifier.lr" in parent.data.params
    for variant in variants:
        assert f"{variant}.test_mse" in parent.data.metrics, variant
    client = mlflow_client(root)
    artifacts = {a.path for folder in ("report", "plots/summary", "config")
                 for a in client.list_artifacts(parent.info.run_id, folder)}
    assert {"report/summary.md", "config/params.yaml", "plots/summary/mse_vs_latent.png"} <= artifacts
    children = children_of(runs, parent)
    assert sorted(children) == sorted(variants)
    for name, child in children.items():
        assert child.info.status == "FINISHED", name
        assert {"train_loss", "final_train_loss", "test_mse", "purity_best"} <= set(child.data.metrics), name
        assert child.data.params["latent_dim"] == str(int(child.data.metrics["latent_dim"])), name
        assert [d.dataset.name for d in child.inputs.dataset_inputs] == [parent.inputs.dataset_inputs[0].dataset.name]


def test_repro_runs_everything_once(pipeline):
    repo, out = pipeline
    root = repo.root
    assert {f"train@{v}" for v in E2E_VARIANTS} | {"download", "compare", "claims", "track"} <= ran_stages(out["first"])
    # Nothing changed: only the download reruns (always_changed in dvc.yaml, so an
    # offline fallback is never kept); it writes the same bytes, so nothing else reruns.
    assert ran_stages(out["second"]) == {"download"}

    info = json.loads((root / "metrics/data.json").read_text())
    assert info["source"] == "bundled" and info["n_train"] == 200 and info["n_test"] == 200
    headline = json.loads((root / "metrics/headline.json").read_text())
    assert set(E2E_VARIANTS) <= set(headline)
    assert set(headline["classifier"]) == set(HEADLINE_KEYS)
    assert "accuracy" not in headline["small_conv"]  # only classifiers have one


def test_every_variant_has_samples_and_disentanglement_and_the_vaes_a_likelihood(pipeline):
    """The VAE family's numbers reach metrics/ and MLflow like the others: every variant samples and
    is scored by MIG and SAP; a VAE also has its test bounds, in nats, and its active units."""
    from latent_atlas.arch import VARIATIONAL_ARCHES
    from latent_atlas.config import load_params

    repo, _ = pipeline
    params = load_params(repo.root / "params.yaml")
    runs = all_runs(repo.root)
    children = children_of(runs, parent_of(runs, "z6"))  # the experiment whose results the workspace holds
    vaes = [name for name in E2E_VARIANTS if params.variant(name).arch in VARIATIONAL_ARCHES]
    assert vaes and len(vaes) < len(E2E_VARIANTS)
    for name in E2E_VARIANTS:
        metrics = json.loads((repo.root / f"metrics/analyze/{name}.json").read_text())
        source = "prior" if name in vaes else "gmm"
        assert 0 <= metrics["mig"] <= 1 and 0 <= metrics["sap"] <= 1, name
        assert 0 <= metrics[f"samples_{source}_class_entropy"] <= np.log(10) + 1e-9, name
        assert 0 <= metrics[f"samples_{source}_missing_classes"] <= 10, name
        assert (repo.root / f"plots/{name}/samples_{source}.png").stat().st_size > 1000, name
        if name in vaes:
            # The IWAE bound never lies above the ELBO by more than sampling noise; both are positive nats.
            assert 0 < metrics["test_nll_iwae"] <= metrics["test_neg_elbo"] + 1.0, name
            assert metrics["posterior_collapse"] == int(metrics["active_units"] == 0), name
        assert children[name].data.metrics["mig"] == pytest.approx(metrics["mig"]), name
    # The ledger reads them by role: the VAE family's claims have numbers where this run has the role's
    # variant; the sparse AE's and the beta-VAE's (left out of E2E_VARIANTS) have none.
    values = json.loads((repo.root / "metrics/claims.json").read_text())
    for cid, key in (("C001-02", "entropy"), ("C002-15", "fid")):
        assert isinstance(values[cid][key], float), (cid, values[cid])
    assert {"sparse", "beta_vae"}.isdisjoint(E2E_VARIANTS)
    assert values["C001-04"]["sparser"].startswith("missing: role sparse_ae has no variant in this run")
    assert values["C004-14"]["beta_mig"].startswith("missing: role beta_vae has no variant in this run")


def test_an_experiment_reruns_only_what_latent_dim_decides(pipeline):
    repo, out = pipeline
    # mislabel and downstream read every variant's codes, offdomain every model, the classifier's among them.
    assert ran_stages(out["z6"]) == {"download", "train@classifier", "extract@classifier", "analyze@classifier",
                                     "mislabel", "downstream", "offdomain", "compare", "claims", "track"}
    with np.load(repo.root / "data/latents/classifier.npz") as lat:
        assert lat["z_test"].shape == (200, 6)


def test_the_ledger_answers_every_claim_of_the_run(pipeline):
    """reports/claims.md and metrics/claims.json, from the real stages: one entry per catalogue ID; the
    numbers that do not depend on training (parameter counts, compression, the study's population) hold on
    tiny data too, and the experiment's z=6 classifier breaks the z=16 count."""
    from latent_atlas.report import claims
    from latent_atlas.report.ledger import CATALOGUE

    repo, _ = pipeline
    values = json.loads((repo.root / "metrics/claims.json").read_text())
    assert set(values) == {c.id for c in CATALOGUE if c.checks}
    results = {r.claim.id: r for r in claims.ledger(CATALOGUE, {"run": values})}
    for cid in ("C000-01", "C000-02", "C000-23", "C002-18", "C002-19", "C002-20", "C002-30", "C002-31",
                "C002-32", "C002-46"):
        assert results[cid].verdict == "holds", (cid, results[cid])
    # The tiny runs train one epoch of batch 32: the recipe checks see it; the parameter counts still hold and
    # the spatial conv code is non-negative (its encoder's ReLUs).
    spatial = {r.check.key: r.verdict for r in results["C002-54"].checks}
    assert spatial == {"n_params": "holds", "relu": "holds", "recipe": "does not hold"}
    assert results["C002-54"].verdict == "does not hold"
    assert results["C003-13"].verdict == "not testable"
    # A role whose variant this run leaves out (sparse_ae) leaves its claim unmeasured, saying so.
    assert results["C001-04"].verdict == "not measured in this run"
    # The VAE's and the applications' claims are measured: numbers from their metrics files.
    for cid in ("C001-02", "C001-03", "C001-05", "C001-07", "C001-08", "C002-03", "C002-04", "C002-43", "C002-44"):
        assert all(isinstance(v, float) for v in values[cid].values()), (cid, values[cid])
    # Every ID is a row of the report, with its figure where it has one.
    report = (repo.root / "reports/claims.md").read_text()
    assert sum(line.startswith(f"| {c.id} |") for c in CATALOGUE for line in report.splitlines()) == len(CATALOGUE)
    assert "](../plots/classifier/scree.png)" in report
    # The z6 experiment ran its own claims stage (read as `latent-atlas replicates` reads it): the z=16 role
    # now holds a z=6 network, so its parameter count is the z=6 one.
    from latent_atlas import paths
    from latent_atlas.report import experiments

    shown = experiments.dvc_exp_show([], repo=repo.root)
    z6 = next(rev for name, rev, _ in experiments.revisions(shown) if name == "z6")
    assert experiments.metrics_file(z6, paths.CLAIMS_METRICS)["C000-18"]["z16"] == 204_384

def test_the_applications_write_their_numbers_rows_and_reports(pipeline):
    repo, out = pipeline
    root = repo.root
    params = repo.params()
    digits = params["anomaly"]["digits"]
    assert {f"oneclass@{d}" for d in digits} | {"denoise", "anomaly", "mislabel", "downstream",
                                                "offdomain"} <= ran_stages(out["first"])
    denoise = json.loads((root / "metrics/denoise.json").read_text())
    assert set(denoise) == {"n_images", "sigma_0", *(f"sigma_{s:g}" for s in params["denoise"]["stds"])}
    assert {"psnr_input", "psnr_small_conv_ae", "psnr_denoising_ae", "psnr_nlm",
            "judge_accuracy_denoising_ae"} <= set(denoise["sigma_0.3"])
    anomaly = json.loads((root / "metrics/anomaly.json").read_text())
    for digit in digits:
        per_digit = json.loads((root / f"metrics/anomaly/{digit}.json").read_text())
        assert anomaly[f"digit_{digit}"] == {k: v for k, v in per_digit.items() if k.startswith("auroc_")}
    rows = json.loads((root / "plots/anomaly/roc_recon.json").read_text())
    assert len(rows) == len(digits) * params["anomaly"]["roc_points"] and set(rows[0]) == {"digit", "fpr", "tpr"}
    for name in ("mislabel", "downstream"):
        found = json.loads((root / f"metrics/{name}.json").read_text())
        assert set(found["codes"]) == set(E2E_VARIANTS), name
        assert (root / f"reports/applications/{name}.md").is_file()
    offdomain = json.loads((root / "metrics/offdomain.json").read_text())
    assert set(offdomain["variants"]) == set(E2E_VARIANTS)
    assert offdomain["variants"]["vae"]["code_size"] == params["variants"]["vae"]["latent_dim"]
    assert (root / "reports/applications/offdomain.md").is_file()
    assert (root / "plots/offdomain/reconstructions.png").stat().st_size > 10_000
    parent = parent_of(all_runs(root), "workspace")
    # (The vae's: the z6 experiment in this workspace retrains the classifier.)
    assert parent.data.metrics["offdomain.variants.vae.fvu_offdomain"] == pytest.approx(
        offdomain["variants"]["vae"]["fvu_offdomain"])
    assert parent.data.metrics["anomaly.mean_auroc_pixel_knn"] == pytest.approx(anomaly["mean_auroc_pixel_knn"])
    assert parent.data.metrics["denoise.sigma_0.3.psnr_nlm"] == pytest.approx(denoise["sigma_0.3"]["psnr_nlm"])


def test_the_experiment_table_fits_and_agrees_with_mlflow(pipeline):
    repo, _ = pipeline
    rows = experiment_table(repo)
    header = list(rows[0])
    assert len(header) <= 40, header
    assert header[:2] == ["experiment", "latent_dim"] and "variant" in header
    by_exp = {(r["experiment"], r["variant"]): r for r in rows}
    assert by_exp[("z6", "classifier")]["latent_dim"] == "6"
    assert by_exp[("master", "classifier")]["latent_dim"] == "16"
    runs = all_runs(repo.root)
    for exp, dvc_name in (("z6", "z6"), ("master", "workspace")):
        parent = parent_of(runs, dvc_name)
        assert parent.data.params["latent_dim"] == by_exp[(exp, "classifier")]["latent_dim"]
        shown = float(by_exp[(exp, "classifier")][HEADLINE_KEYS["accuracy"]])
        assert shown == pytest.approx(parent.data.metrics["classifier.accuracy"], abs=5e-5)


def test_one_complete_parent_per_pipeline_run(pipeline):
    repo, out = pipeline
    runs = all_runs(repo.root)
    assert len([r for r in runs if r.data.tags.get("role") == "pipeline"]) == 2
    assert_complete(runs, parent_of(runs, "workspace"), E2E_VARIANTS, repo.root, out["workspace_commit"])
    assert_complete(runs, parent_of(runs, "z6"), E2E_VARIANTS, repo.root, out["baseline_commit"])
    z6 = children_of(runs, parent_of(runs, "z6"))
    assert z6["classifier"].data.tags["restored"] == "false"
    assert z6["classifier"].data.params["latent_dim"] == "6"
    # Variants the experiment did not rerun carry the first run's numbers, and say so.
    baseline = children_of(runs, parent_of(runs, "workspace"))
    other = next(v for v in E2E_VARIANTS if v != "classifier")
    assert z6[other].data.tags["restored"] == "true"
    assert z6[other].data.tags["restored_train_from"] == baseline[other].info.run_id
    assert z6[other].data.metrics == baseline[other].data.metrics


def test_analysis_params_make_a_new_record_and_leave_old_ones_alone(pipeline):
    repo, out = pipeline
    before = snapshot(all_runs(repo.root))
    reset_workspace(repo)
    knn7 = repo.dvc("exp", "run", "-n", "knn7", "-S", "analyze.knn_k=7").stdout
    assert {f"analyze@{v}" for v in E2E_VARIANTS} <= ran_stages(knn7)
    assert not any(s.startswith("train@") for s in ran_stages(knn7))
    runs = all_runs(repo.root)
    after = snapshot(runs)
    assert {k: after[k] for k in before} == before, "a stage wrote into an earlier pipeline run"
    parent = parent_of(runs, "knn7")
    assert_complete(runs, parent, E2E_VARIANTS, repo.root, out["baseline_commit"])
    assert parent.data.params["analyze.knn_k"] == "7"
    assert all(c.data.params["analyze.knn_k"] == "7" for c in children_of(runs, parent).values())


def test_a_run_cache_hit_still_gets_a_complete_parent(pipeline):
    repo, outputs = pipeline
    reset_workspace(repo)
    out = repo.dvc("exp", "run", "-n", "z6-again", "-S", "latent_dim=6").stdout
    assert ran_stages(out) == {"download", "track"}, out[-2000:]  # download: always_changed
    assert "is cached - skipping run" in out
    runs = all_runs(repo.root)
    parent = parent_of(runs, "z6-again")
    assert_complete(runs, parent, E2E_VARIANTS, repo.root, outputs["baseline_commit"])
    assert parent.data.tags["restored"] == "true"
    first = children_of(runs, parent_of(runs, "z6"))["classifier"]
    again = children_of(runs, parent)["classifier"]
    assert again.data.tags["restored_train_from"] == first.info.run_id
    assert again.data.metrics == first.data.metrics


def test_impossible_values_fail_at_once_naming_the_key(pipeline):
    repo, _ = pipeline
    reset_workspace(repo)
    bad = repo.dvc("exp", "run", "-S", "latent_dim=0", check=False)
    assert bad.returncode != 0
    assert "latent_dim" in bad.stdout + bad.stderr


def test_the_claims_command_prints_the_runs_ledger_filtered(pipeline):
    """`latent-atlas claims` reads the run's metrics/claims.json: the verdicts the claims stage gave."""
    from latent_atlas.report import claims
    from latent_atlas.report.ledger import CATALOGUE

    repo, _ = pipeline
    values = json.loads((repo.root / "metrics/claims.json").read_text())
    expected = {r.claim.id: r.verdict for r in claims.ledger(CATALOGUE, {"run": values})}
    shown = repo.run(sys.executable, "-m", "latent_atlas.commands", "claims", "--id", "C000", "--id", "C003-13").stdout
    lines = [line for line in shown.splitlines() if re.match(r"C\d{3}-\d{2} ", line)]
    assert {line.split()[0]: line.split("] ", 1)[1].split(":")[0] for line in lines} == {
        cid: verdict for cid, verdict in expected.items() if cid.startswith("C000") or cid == "C003-13"}
    holding = repo.run(sys.executable, "-m", "latent_atlas.commands", "claims", "--verdict", "holds").stdout
    assert {line.split()[0] for line in holding.splitlines() if re.match(r"C\d{3}-\d{2} ", line)} == {
        cid for cid, verdict in expected.items() if verdict == "holds"}
    assert f"of {len(CATALOGUE)} claims" in holding
