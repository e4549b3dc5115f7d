"""`latent-atlas claims`: what it refuses (the ledger it prints is checked on a real run, tests/e2e)."""

from __future__ import annotations

import pytest

from latent_atlas import commands


def test_a_workspace_without_a_run_names_the_file_and_the_fix(tmp_path, capsys):
    assert commands.main(["claims", "--repo", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}/metrics/claims.json does not exist" in err and "dvc repro" in err


def test_an_unknown_verdict_is_refused_naming_the_allowed_ones(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        commands.main(["claims", "--repo", str(tmp_path), "--verdict", "maybe"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'maybe'" in err and "'holds'" in err and "'not testable'" in err


def test_a_damaged_ledger_file_names_itself(tmp_path, capsys):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/claims.json").write_text("{not json")
    assert commands.main(["claims", "--repo", str(tmp_path)]) == 2
    assert "metrics/claims.json is not valid JSON" in capsys.readouterr().err
