"""What a sweep's tasks clone: the refusals (dirty tree, commit not on the remote, a name taken), on real git."""

from __future__ import annotations

import pytest
from tests_support import git, pushed_clone

from latent_atlas.cluster import origin


@pytest.fixture
def pushed(tmp_path):
    return pushed_clone(tmp_path)


def test_a_pushed_clean_commit_is_what_tasks_clone(pushed):
    repo, remote = pushed
    found = origin.sweep_origin(repo, "origin", ["seed-1"])
    assert found == origin.Origin("origin", str(remote), git(repo, "rev-parse", "HEAD"))


def test_an_older_commit_of_a_remote_branch_counts_and_a_relative_url_becomes_absolute(pushed):
    repo, remote = pushed
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-q", "--allow-empty", "-m", "two")
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-q", "--detach", first)
    git(repo, "remote", "set-url", "origin", "../origin.git")
    assert origin.sweep_origin(repo, "origin", []) == origin.Origin("origin", str(remote), first)


def test_uncommitted_changes_are_refused_by_name(pushed):
    repo, _ = pushed
    (repo / "params.yaml").write_text("seed: 2\n")
    (repo / "notes.txt").write_text("new\n")
    with pytest.raises(origin.OriginError, match=r"uncommitted changes \(params.yaml, notes.txt\)"):
        origin.sweep_origin(repo, "origin", [])


def test_a_commit_not_on_the_remote_is_refused(pushed):
    repo, _ = pushed
    git(repo, "commit", "-q", "--allow-empty", "-m", "local only")
    head = git(repo, "rev-parse", "HEAD")
    with pytest.raises(origin.OriginError, match=f"commit {head[:7]} is not on the git remote 'origin'"):
        origin.sweep_origin(repo, "origin", [])
    with pytest.raises(origin.OriginError, match="no git remote 'upstream'"):
        origin.sweep_origin(repo, "upstream", [])


def test_a_name_the_remote_already_has_for_this_commit_is_refused(pushed):
    repo, remote = pushed
    head = git(repo, "rev-parse", "HEAD")
    git(remote, "update-ref", origin.experiment_ref(head, "seed-2"), head)
    with pytest.raises(origin.OriginError, match="named seed-2:"):
        origin.sweep_origin(repo, "origin", ["seed-1", "seed-2"])
    assert origin.sweep_origin(repo, "origin", ["seed-1"]).commit == head
