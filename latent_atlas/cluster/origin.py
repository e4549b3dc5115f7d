"""The commit a sweep's tasks clone, and the checks that the git remote can give it to them.

A task starts from nothing but the git remote: it clones it and checks out
the submitting clone's commit. So the work tree must be clean (uncommitted
changes would silently not run), the commit must be on a branch or tag of the
remote, and no experiment of that commit on the remote may already carry a
task's name (`dvc exp push` would refuse it after the whole run).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from latent_atlas.errors import UserError

GIT_TIMEOUT_S = 120  # ls-remote over a slow network


class OriginError(UserError):
    """The work tree or the git remote cannot give the tasks this commit: names which and why."""


@dataclass(frozen=True)
class Origin:
    """What every task clones: the remote's URL and the commit to check out."""

    remote: str
    url: str
    commit: str


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                                timeout=GIT_TIMEOUT_S)
    except FileNotFoundError:
        raise OriginError("git is not on PATH: the sweep reads the commit and the remote with git") from None
    if check and result.returncode != 0:
        raise OriginError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def uncommitted_paths(repo: Path) -> list[str]:
    """Paths git reports as changed or untracked (ignored files, DVC's outputs among them, are not)."""
    lines = _git(repo, "status", "--porcelain", "--untracked-files=normal").stdout.splitlines()
    return [line[3:] for line in lines if line.strip()]


def remote_url(repo: Path, remote: str) -> str:
    """The remote's URL; a local path made absolute, since tasks start elsewhere."""
    result = _git(repo, "remote", "get-url", remote, check=False)
    if result.returncode != 0:
        raise OriginError(f"no git remote {remote!r} in {repo}: the tasks clone the remote; add it "
                          f"(git remote add {remote} URL) or name another with --remote")
    url = result.stdout.strip()
    local = Path(repo, url)
    return str(local.resolve()) if "://" not in url and ":" not in url.split("/")[0] and local.exists() else url


def remote_refs(repo: Path, remote: str) -> dict[str, str]:
    """{ref: commit} of every ref the remote has, experiments' included."""
    result = _git(repo, "ls-remote", remote, check=False)
    if result.returncode != 0:
        raise OriginError(f"cannot read the git remote {remote!r}: {result.stderr.strip()}")
    return {ref: sha for sha, _, ref in (line.partition("\t") for line in result.stdout.splitlines())}


def on_remote(repo: Path, commit: str, refs: dict[str, str]) -> bool:
    """Whether a branch or tag of the remote holds `commit` (what `git clone` fetches).

    A remote tip this clone has never fetched cannot be checked; it counts as not holding it.
    """
    tips = {sha for ref, sha in refs.items() if ref.startswith(("refs/heads/", "refs/tags/"))}
    return commit in tips or any(
        _git(repo, "merge-base", "--is-ancestor", commit, tip, check=False).returncode == 0 for tip in tips)


def experiment_ref(commit: str, name: str) -> str:
    """Where DVC keeps an experiment of `commit` named `name` (dvc.repo.experiments.refs.ExpRefInfo)."""
    return f"refs/exps/{commit[:2]}/{commit[2:]}/{name}"


def sweep_origin(repo: Path, remote: str, names: Sequence[str]) -> Origin:
    """The remote and commit the tasks will clone, once every check has passed."""
    changed = uncommitted_paths(repo)
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise OriginError(f"the work tree has uncommitted changes ({shown}): the tasks clone the git "
                          f"remote {remote!r}, so commit and push them first")
    commit = _git(repo, "rev-parse", "HEAD").stdout.strip()
    url = remote_url(repo, remote)
    refs = remote_refs(repo, remote)
    if not on_remote(repo, commit, refs):
        raise OriginError(f"commit {commit[:7]} is not on the git remote {remote!r} ({url}), which the tasks "
                          f"clone: push it (git push {remote} HEAD), or git fetch {remote} if it is there")
    taken = [name for name in names if experiment_ref(commit, name) in refs]
    if taken:
        raise OriginError(f"the git remote {remote!r} already has experiments of commit {commit[:7]} named "
                          f"{', '.join(taken)}: pass --name PREFIX for new names, or drop those values")
    return Origin(remote=remote, url=url, commit=commit)
