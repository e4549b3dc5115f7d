"""Gathering replicates from DVC's experiment table: grouping, intervals, the report, bad input.

The fake tables have the shape `dvc exp show --json` prints (DVC 3.x, checked
on a real repository): a row per commit (and one for the workspace), each with
`experiments`, whose `revs` carry params and metrics by file path and whose
`executor` says whether a queued run finished. One test runs real DVC.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from latent_atlas import commands
from latent_atlas.report import experiments, replicates

PARAMS = {"latent_dim": 16, "variants": {"classifier": {"lr": 0.001}, "classifier_z6": {"lr": 0.001}},
          "recipes": {"vanilla": {"weight_decay": 1.0e-5}},
          "roles": {"classifier_ae": "classifier", "classifier_ae_reduced": "classifier_z6"}}


def revision(name: str, seed: int, acc6: float, lr: float = 0.001, with_metrics: bool = True,
             weight_decay: float = 1.0e-5, gap: float = 0.001) -> dict:
    params = json.loads(json.dumps(PARAMS))
    params["variants"]["classifier"]["lr"] = lr
    params["recipes"]["vanilla"]["weight_decay"] = weight_decay
    # metrics/claims.json as the claims stage writes it: each check's number in this run, or why it has none.
    claims = {"C000-19": {"trained": 0.972 - acc6, "untrained": 0.87},
              "C002-48": {"gap": gap}, "C003-03": {"mse": "missing: role deep_ae has no variant in this run"}}
    metrics = {
        "metrics/analyze/classifier.json": {"data": {"latent_dim": 16, "test_mse": 0.020, "accuracy": 0.972}},
        "metrics/analyze/classifier_z6.json": {"data": {"latent_dim": 6, "test_mse": 0.035, "accuracy": acc6}},
        "metrics/train/classifier.json": {"data": {"final_train_loss": 0.05}},
        "metrics/claims.json": {"data": claims},
    } if with_metrics else {}
    return {"rev": f"{seed:040d}", "name": name,
            "data": {"rev": f"{seed:040d}", "timestamp": "2026-11-23T21:09:38",
                     "params": {"params.yaml": {"data": {"seed": seed, **params}}},
                     "metrics": metrics, "deps": {}, "outs": {}, "meta": {}},
            "error": None, "experiments": None}


def experiment(rev: dict, state: str | None = None) -> dict:
    executor = None if state is None else {"state": state, "name": "dvc-task", "local": {}}
    return {"revs": [rev], "executor": executor, "name": rev["name"]}


def table(*experiments: dict, baseline: dict | None = None) -> list[dict]:
    """`dvc exp show --json`: the workspace row, then the commit with its experiments."""
    base = baseline or revision("main", 42, 0.970)
    workspace = {**base, "rev": "workspace", "name": None}
    return [workspace, {**base, "experiments": list(experiments)}]


def five_seeds(**kw) -> list[dict]:
    # classifier 0.972 on every seed; classifier_z6 0.952, 0.952, 0.951, 0.953, 0.952 (seeds 42, 1, 2, 3, 4).
    return table(*(experiment(revision(f"exp-{s}", s, acc, **kw))
                   for s, acc in zip((1, 2, 3, 4), (0.952, 0.951, 0.953, 0.952), strict=True)),
                 baseline=revision("main", 42, 0.952))


def test_gather_takes_the_commit_and_finished_experiments_and_skips_the_rest():
    rows = table(experiment(revision("done", 1, 0.95)), experiment(revision("queued-run", 2, 0.95), "queued"),
                 experiment(revision("ok-run", 3, 0.95), "success"), experiment(revision("broken", 4, 0.95), "failed"),
                 experiment(revision("empty", 5, 0.95, with_metrics=False)))
    runs, skipped = replicates.gather_runs(rows)
    assert [(r.name, r.seed) for r in runs] == [("main", 42), ("done", 1), ("ok-run", 3)]
    assert skipped == ["queued-run: not finished (queued)", "broken: not finished (failed)",
                       "empty: no params with a seed or no metrics/analyze files"]
    main = runs[0]
    assert "seed" not in main.params and main.variants["classifier"]["final_train_loss"] == 0.05
    assert main.claims["C000-19"]["untrained"] == 0.87


def test_groups_by_every_param_but_seed_and_keeps_one_run_per_seed():
    rows = table(experiment(revision("a1", 1, 0.95)), experiment(revision("a2", 2, 0.95)),
                 experiment(revision("b1", 1, 0.95, lr=0.01)), experiment(revision("a1-again", 1, 0.96)))
    groups, duplicates = replicates.group_runs(replicates.gather_runs(rows)[0])
    assert [[r.name for r in g.runs] for g in groups] == [["main", "a1", "a2"], ["b1"]]
    assert duplicates == ["a1-again: seed 1 repeats a1 with the same params"]
    assert replicates.differing_params(groups) == [{"variants.classifier.lr": 0.001},
                                                  {"variants.classifier.lr": 0.01}]


def test_metric_table_gives_n_mean_sd_and_the_t_interval():
    groups, _ = replicates.group_runs(replicates.gather_runs(five_seeds())[0])
    rows = {(r["variant"], r["metric"]): r for r in replicates.metric_table(groups[0], ["accuracy", "test_mse"])}
    same = rows[("classifier", "accuracy")]
    assert (same["n"], same["mean"], same["sd"]) == (5, pytest.approx(0.972), pytest.approx(0, abs=1e-12))
    assert same["ci_low"] == pytest.approx(same["ci_high"])
    z6 = rows[("classifier_z6", "accuracy")]  # 0.952, 0.952, 0.951, 0.953, 0.952: sd sqrt(0.5e-6)
    assert z6["mean"] == pytest.approx(0.952) and z6["sd"] == pytest.approx(0.000707107, rel=1e-5)
    half = 2.776445 * 0.000707107 / 5 ** 0.5
    assert (z6["ci_low"], z6["ci_high"]) == (pytest.approx(0.952 - half), pytest.approx(0.952 + half))


def verdicts(data: dict, group: int = 0) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in data["groups"][group]["claims"]}


def test_report_draws_verdicts_from_the_replicates():
    groups, _ = replicates.group_runs(replicates.gather_runs(five_seeds())[0])
    text, data = replicates.replicate_report(groups, ["x: not finished (queued)"], ["accuracy"])
    assert "## the only configuration" in text and "5 seeds: 1 (exp-1), 2 (exp-2), 3 (exp-3), 4 (exp-4), 42 (main)." in text
    found = verdicts(data)
    # The trained z=6 loses 0.020 +- 0.0009 points on every seed, beyond the 0.005 margin.
    assert found["C000-19"] == "holds"
    checks = {c["key"]: c for c in data["groups"][0]["claims"][[c["id"] for c in data["groups"][0]["claims"]]
                                                             .index("C000-19")]["checks"]}
    assert checks["trained"]["interval"]["n"] == 5 and checks["trained"]["interval"]["mean"] == pytest.approx(0.020)
    assert checks["untrained"]["verdict"] == "holds" and not checks["untrained"]["decides"]
    assert found["C003-03"] == "not measured in this run"
    # Without the weight-decay experiment beside it, C002-48 waits for it.
    assert found["C002-48"] == "not measured in this run"
    assert found["C003-13"] == "not testable"
    assert data["groups"][0]["verdicts"]["holds"] >= 1
    assert "- x: not finished (queued)" in text and data["skipped"] == ["x: not finished (queued)"]
    assert data["groups"][0]["seeds"] == [1, 2, 3, 4, 42]


def test_a_recipe_experiment_is_paired_by_seed_with_the_default_group():
    # The default runs: gap 0.001 on seeds 1-3; the same seeds without weight decay: 0.003, 0.0031, 0.0029.
    default = [experiment(revision(f"d{s}", s, 0.95)) for s in (1, 2, 3)]
    no_decay = [experiment(revision(f"w{s}", s, 0.95, weight_decay=0, gap=g)) for s, g in ((1, 0.003), (2, 0.0031),
                                                                                              (3, 0.0029))]
    groups, _ = replicates.group_runs(replicates.gather_runs(table(*default, *no_decay))[0])
    _, data = replicates.replicate_report(groups, [], ["accuracy"])
    by_decay = {g["params_differing"]["recipes.vanilla.weight_decay"]: g for g in data["groups"]}
    result = next(c for c in by_decay[1.0e-5]["claims"] if c["id"] == "C002-48")
    gap = result["checks"][0]
    # Paired differences (no decay - decay) 0.002, 0.0021, 0.0019 on the three common seeds (42 has no
    # partner): sd 0.0001, half-width 4.303 * 0.0001 / sqrt(3) = 0.00025, all above 0.
    assert gap["interval"]["n"] == 3 and gap["interval"]["mean"] == pytest.approx(0.002)
    assert gap["verdict"] == "holds" and result["verdict"] == "holds"
    # The experiment's own group has no experiment of its own to pair with.
    assert next(c for c in by_decay[0]["claims"] if c["id"] == "C002-48")["verdict"] == "not measured in this run"


def run_main(monkeypatch, tmp_path, rows, *args):
    monkeypatch.setattr(experiments, "dvc_exp_show", lambda args, repo: rows)
    return commands.main(["replicates", "--out", str(tmp_path / "r.md"), "--json", str(tmp_path / "r.json"), *args])


@pytest.mark.parametrize(("rows", "args", "message"), [
    (table(baseline={**revision("main", 42, 0.95, with_metrics=False)}), [], "no finished experiments"),
    (five_seeds(), ["--metric", "acuracy"], "unknown metric 'acuracy'; the runs have: accuracy, "),
])
def test_bad_input_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys, rows, args, message):
    assert run_main(monkeypatch, tmp_path, rows, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "r.md").exists()


def test_main_writes_the_report_and_its_json(monkeypatch, tmp_path, capsys):
    run_main(monkeypatch, tmp_path, five_seeds(), "--metric", "accuracy")
    assert "5 runs in 1 group(s), largest with 5 seeds" in capsys.readouterr().out
    assert "# latent-atlas: replicates" in (tmp_path / "r.md").read_text()
    assert json.loads((tmp_path / "r.json").read_text())["groups"][0]["metrics"][0]["n"] == 5


# A stage that writes what the pipeline's analyze and train stages would, from the seed alone.
FAKE_STAGE = """\
import json, os, yaml
p = yaml.safe_load(open('params.yaml'))
os.makedirs('metrics/analyze', exist_ok=True)
for name, z, acc in (('classifier', 16, 0.97), ('classifier_z6', 6, 0.95)):
    json.dump({'latent_dim': z, 'test_mse': 0.02 + p['seed'] / 1000, 'accuracy': acc + p['seed'] / 1000},
              open(f'metrics/analyze/{name}.json', 'w'))
"""


@pytest.mark.e2e
def test_real_dvc_experiments_are_gathered(tmp_path):
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "DVC_NO_ANALYTICS": "1", "HOME": str(tmp_path),
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}

    def run(*cmd):
        result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(cmd)}: {result.stderr[-2000:]}"

    (tmp_path / "fake_stage.py").write_text(FAKE_STAGE)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"seed": 42, **PARAMS}))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"fake": {
        "cmd": f"{sys.executable} fake_stage.py", "deps": ["fake_stage.py"], "params": ["seed", "variants"],
        "metrics": [{f"metrics/analyze/{v}.json": {"cache": False}} for v in PARAMS["variants"]]}}}))
    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    run(sys.executable, "-m", "dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "fake pipeline")
    for seed in (1, 2):
        run(sys.executable, "-m", "dvc", "exp", "run", "-q", "-S", f"seed={seed}")
    run(sys.executable, "-m", "latent_atlas.replicates", "--repo", ".")

    data = json.loads((tmp_path / "reports/replicates.json").read_text())
    assert data["groups"][0]["seeds"] == [1, 2, 42]
    rows = {(r["variant"], r["metric"]): r for r in data["groups"][0]["metrics"]}
    assert rows[("classifier", "test_mse")]["mean"] == pytest.approx(0.02 + 45 / 3000)
    assert "### Ledger: the studies' claims" in (tmp_path / "reports/replicates.md").read_text()
