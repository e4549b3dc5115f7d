"""A sweep's parameter sets (DVC's -S sweep syntax) and the names of its experiments."""

from __future__ import annotations

import pytest

from latent_atlas.cluster import sweep


def test_comma_lists_give_the_cartesian_product_in_dvcs_order():
    sets = sweep.param_sets(["latent_dim=4,6", "seed=1,2", "data.limit=100"])
    assert sets == [("latent_dim=4", "seed=1", "data.limit=100"), ("latent_dim=4", "seed=2", "data.limit=100"),
                    ("latent_dim=6", "seed=1", "data.limit=100"), ("latent_dim=6", "seed=2", "data.limit=100")]


def test_range_choice_lists_and_other_params_files():
    assert sweep.param_sets(["seed=range(1,4)"]) == [("seed=1",), ("seed=2",), ("seed=3",)]
    # A list value is one value; a quoted comma is not a sweep.
    assert sweep.param_sets(["baseline.ks=[2,5]", "note='a,b'"]) == [("baseline.ks=[2,5]", "note='a,b'")]
    assert sweep.param_sets(["seed=choice(7,8)", "other.yaml:lr=1,2"]) == [
        ("seed=7", "other.yaml:lr=1"), ("seed=7", "other.yaml:lr=2"),
        ("seed=8", "other.yaml:lr=1"), ("seed=8", "other.yaml:lr=2")]


def test_names_say_the_values_that_differ():
    names = [e.name for e in sweep.experiments(sweep.param_sets(["latent_dim=4,6", "seed=1,2", "data.limit=100"]))]
    assert names == ["latent_dim-4-seed-1", "latent_dim-4-seed-2", "latent_dim-6-seed-1", "latent_dim-6-seed-2"]
    assert [e.name for e in sweep.experiments(sweep.param_sets(["seed=1,-1"]), "rep")] == ["rep-seed-1", "rep-seed--1"]
    # One set: every key names it. Characters a git ref cannot hold become '_'.
    [only] = sweep.experiments(sweep.param_sets(["baseline.ks=[2,5]", "seed=3"]))
    assert only == sweep.Experiment("baseline.ks-2_5-seed-3", ("baseline.ks=[2,5]", "seed=3"))


@pytest.mark.parametrize(("overrides", "named"), [
    ([], "-S"),
    (["seed"], "'seed'"),
    (["seed=1,,2"], "'seed=1,,2'"),
    (["seed=range(3,1)"], "'seed=range(3,1)'"),
    (["=3"], "'=3'"),
    (["data.source=glob(*)"], "'data.source=glob(*)'"),
])
def test_an_override_that_is_no_sweep_is_named(overrides, named):
    with pytest.raises(sweep.SweepError, match="-S") as info:
        sweep.param_sets(overrides)
    assert named in str(info.value) and "\n" not in str(info.value)


def test_names_that_would_collide_or_a_bad_prefix_are_refused():
    with pytest.raises(sweep.SweepError, match="'note-a_b'"):
        sweep.experiments(sweep.param_sets(["note='a b','a/b'"]))
    with pytest.raises(sweep.SweepError, match="--name 'my run'"):
        sweep.experiments(sweep.param_sets(["seed=1,2"]), "my run")
