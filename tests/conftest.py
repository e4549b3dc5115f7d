"""Shared fixtures; the helpers behind them live in tests_support.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_support import E2E_VARIANTS, Repo, make_repo

# The team stack's fixtures (postgres_cluster, moto_s3, team_server): tests/team_stack.py;
# the loopback Slurm cluster's (slurm_cluster): tests/slurm_cluster.py.
pytest_plugins = ("team_stack", "slurm_cluster")


# Under pytest-xdist (`make test`: a worker per CPU) each test file is one unit of work,
# except that files sharing a session fixture that starts something expensive form one
# unit, so that it starts once: the tiny pipeline's repository (`pipeline`, below), the
# team stack and the Slurm cluster. tests/unit/test_layout.py holds the first list to
# the files that use `pipeline`.
SHARED_SESSION_FILES = {
    "pipeline": ("test_lock_check.py", "test_pipeline_e2e.py", "test_plots_diff.py", "test_served_model.py",
                 "test_ui.py"),
    "team stack": ("test_slurm_sweep.py", "test_team_stack.py"),
}


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    group_of = {name: group for group, names in SHARED_SESSION_FILES.items() for name in names}

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return group_of.get(path.rsplit("/", 1)[-1], path)

    return SharedFixtureScheduling(config, log)


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> tuple[Repo, dict[str, str]]:
    """The end-to-end variants (E2E_VARIANTS) and every application on tiny data: `dvc repro` twice, commit, then
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

