"""Shared fixtures; the helpers behind them live in tests_support.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_support import E2E_VARIANTS, Repo, make_repo

# The team stack's fixtures (postgres_cluster, moto_s3, team_server): tests/team_stack.py;
# the loopback Slurm cluster's (slurm_cluster): tests/slurm_cluster.py.
pytest_plugins = ("team_stack", "slurm_cluster")


# Fixtures that start something expensive once per test session: the tests that use them
# run on one pytest-xdist worker (`make test` runs `-n logical --dist loadgroup`), so each
# starts once. The team stack and the Slurm cluster share one worker.
SHARED_GROUPS = {"pipeline": "pipeline", "postgres_cluster": "team", "moto_s3": "team", "team_server": "team",
                 "slurm_cluster": "team"}


def pytest_collection_modifyitems(config, items):
    """Group each test with the tests it shares a fixture with: a session fixture's users, or
    else its module (module-scoped fixtures are built once, on that module's worker)."""
    for item in items:
        group = next((SHARED_GROUPS[name] for name in item.fixturenames if name in SHARED_GROUPS),
                     item.module.__name__)
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> tuple[Repo, dict[str, str]]:
    """Every variant and every application on tiny data: `dvc repro` twice, commit, then
    `dvc exp run -n z6 -S latent_dim=6`; with what each step printed.
    Shared by the end-to-end and browser tests."""
    repo = make_repo(tmp_path_factory.mktemp("e2e") / "repo", variants=E2E_VARIANTS, applications=True)
    code_commit = repo.head()
    first = repo.dvc("repro")
    second = repo.dvc("repro")
    repo.commit("first run")
    z6 = repo.dvc("exp", "run", "-n", "z6", "-S", "latent_dim=6")
    # The commit each record ran on: the workspace's, then the experiments' baseline.
    return repo, {"first": first.stdout, "second": second.stdout, "z6": z6.stdout,
                  "workspace_commit": code_commit, "baseline_commit": repo.head()}
