"""The README's experiment table (latent_atlas.report.experiments), on `dvc exp show --json` rows."""

from __future__ import annotations

from latent_atlas.report import experiments
from latent_atlas.report.headline import HEADLINE_KEYS


def revision(name, latent_dim, accuracy, knn_k=5, rev="a" * 40):
    params = {"seed": 42, "latent_dim": latent_dim, "analyze": {"knn_k": knn_k, "tsne": {"perplexity": 30.0}},
              "variants": {"deep": {"hidden": [128, 64]}}}
    headline = {"classifier": {"test_mse": 0.02, "accuracy": accuracy}, "deep": {"test_mse": 0.021},
                "eigen_reading": {"accuracy_drop": 0.002}}
    return {"rev": rev, "name": name, "data": {
        "params": {"params.yaml": {"data": params}},
        "metrics": {"metrics/headline.json": {"data": headline}, "metrics/data.json": {"data": {"n_train": 5}}}}}


def show(*exps, workspace=None):
    baseline = revision("main", 16, 0.97)
    baseline["experiments"] = [{"name": e["name"], "executor": {"state": state}, "revs": [e]} for e, state in exps]
    rows = [baseline]
    if workspace is not None:
        rows.insert(0, {**workspace, "rev": "workspace", "name": None})
    return rows


def test_one_row_per_experiment_and_variant_with_the_params_that_differ():
    header, rows, hidden = experiments.table_rows(show((revision("z6", 6, 0.96), None),
                                                       (revision("knn7", 16, 0.97, knn_k=7), "success")))
    assert header == ["experiment", "latent_dim", "analyze.knn_k", "variant", *HEADLINE_KEYS.values()]
    assert hidden == 0
    assert [r[:4] for r in rows] == [["main", 16, 5, "classifier"], ["main", 16, 5, "deep"],
                                    ["z6", 6, 5, "classifier"], ["z6", 6, 5, "deep"],
                                    ["knn7", 16, 7, "classifier"], ["knn7", 16, 7, "deep"]]
    acc = header.index(HEADLINE_KEYS["accuracy"])
    assert rows[2][acc] == 0.96 and rows[1][acc] is None  # the deep AE has no accuracy
    assert experiments.render(header, rows).splitlines()[2].split()[-1] == "-"


def test_unfinished_experiments_and_a_repeated_workspace_are_left_out():
    rows = show((revision("queued", 8, 0.9), "queued"), (revision("z6", 6, 0.96), "success"),
                workspace=revision("z6", 6, 0.96))
    names = {r[0] for r in experiments.table_rows(rows)[1]}
    assert names == {"main", "z6"}
    changed = show((revision("z6", 6, 0.96), "success"), workspace=revision("x", 3, 0.5))
    assert {r[0] for r in experiments.table_rows(changed)[1]} == {"workspace", "main", "z6"}


def test_the_table_never_passes_forty_columns():
    many = [revision(f"e{i}", 16, 0.9) for i in range(3)]
    for i, rev in enumerate(many):
        rev["data"]["params"]["params.yaml"]["data"]["extra"] = {f"k{j}": i * j for j in range(60)}
    header, _, hidden = experiments.table_rows(show(*[(r, "success") for r in many]))
    assert len(header) == experiments.MAX_COLUMNS
    assert hidden == 60 - (experiments.MAX_COLUMNS - 3 - len(HEADLINE_KEYS))  # the commit has none of them


def test_differing_keys_compares_lists_and_nulls():
    assert experiments.differing_keys([{"a": [1, 2], "b": None, "c": 1}, {"a": [1, 2], "b": 0, "c": 1}]) == ["b"]
