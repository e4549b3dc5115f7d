"""The committed baseline, dvc.lock and the metrics beside it, matches params.yaml and dvc.yaml.

main commits the lock and the git-tracked outputs of a default `dvc repro` on
full MNIST (bench/make_baseline.py), so that a fresh clone's `dvc exp show`
has a baseline row and `dvc metrics diff` a reference. Changing params.yaml or
dvc.yaml without making a new baseline leaves a lock that describes another
pipeline: this test then fails, naming each difference and the fix.
"""

from __future__ import annotations

import pytest
from tests_support import PROJECT, lock_mismatches

# Until main commits the baseline, a clone has no dvc.lock and this test skips.
# The commit that adds it flips this, and from then on a missing dvc.lock fails.
BASELINE_REQUIRED = True
FIX = ("make a new baseline (python bench/make_baseline.py, which runs the default pipeline on full MNIST) "
       "and commit the files it lists with dvc.lock")


def test_the_committed_lock_matches_params_and_dvc_yaml():
    if not (PROJECT / "dvc.lock").exists():
        if BASELINE_REQUIRED:
            pytest.fail(f"dvc.lock is missing, so a clone has no baseline; {FIX}", pytrace=False)
        pytest.skip("no baseline committed yet (BASELINE_REQUIRED is False)")
    problems = lock_mismatches(PROJECT)
    assert not problems, ("dvc.lock, the committed baseline, no longer matches params.yaml and dvc.yaml:\n  "
                          + "\n  ".join(problems) + f"\n{FIX}")
