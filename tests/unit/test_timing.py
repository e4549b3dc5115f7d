"""Tests for latent_atlas.timing: the per-stage timing line and its parts."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from latent_atlas import timing


def test_process_start_age_counts_from_the_process_start():
    # A child that sleeps 0.5 s before asking: its age includes the interpreter's
    # start-up and the sleep, so it is at least 0.5 s, and far from the parent's age.
    code = "import time; time.sleep(0.5); from latent_atlas import timing; print(timing.process_start_age())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    age = float(result.stdout)
    assert 0.5 <= age < 60


def test_process_start_age_grows_with_time():
    first = timing.process_start_age()
    time.sleep(0.05)
    assert timing.process_start_age() >= first + 0.04


def test_phase_adds_up_repeated_blocks(monkeypatch):
    monkeypatch.setattr(timing, "_phases", {})
    for _ in range(2):
        with timing.phase("tracking"):
            time.sleep(0.02)
    assert timing.phases()["tracking"] >= 0.04
    with pytest.raises(KeyError), timing.phase("failing"):
        raise KeyError("x")
    assert "failing" in timing.phases()  # time until the failure still counts


def test_format_and_parse_round_trip():
    line = timing.format_line("train@small_conv", 2.0, 0.5, {"tracking": 0.25})
    assert line == ("latent-atlas timing stage=train@small_conv imports=2.000 work=0.500 total=2.500 "
                    "tracking=0.250")
    assert timing.parse_line(line) == ("train@small_conv",
                                       {"imports": 2.0, "work": 0.5, "total": 2.5, "tracking": 0.25})
    assert timing.parse_line("INFO something else") is None


def test_stage_timer_prints_one_line_with_the_work_time(monkeypatch):
    monkeypatch.setattr(timing, "_phases", {})
    stream = io.StringIO()
    with timing.stage_timer("compare", stream):
        time.sleep(0.05)
    stage, fields = timing.parse_line(stream.getvalue().strip())
    assert stage == "compare"
    assert 0.05 <= fields["work"] < 10
    assert fields["imports"] > 0 and fields["total"] == pytest.approx(fields["imports"] + fields["work"], abs=2e-3)


def test_stage_timer_prints_nothing_when_the_stage_fails():
    stream = io.StringIO()
    with pytest.raises(RuntimeError), timing.stage_timer("train", stream):
        raise RuntimeError("boom")
    assert stream.getvalue() == ""


def test_stage_name_is_the_script_with_the_variant():
    assert timing.stage_name(test_stage_name_is_the_script_with_the_variant) == "test_timing"
    assert timing.stage_name(test_stage_name_is_the_script_with_the_variant, "dense") == "test_timing@dense"


def test_every_stage_prints_its_timing_line(tmp_path):
    # Through cli.run_stage, on the cheapest stage (no torch).
    import os

    import yaml
    from tests_support import PROJECT, tiny_params

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    result = subprocess.run([sys.executable, "-m", "stages.population"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [timing.parse_line(line) for line in result.stderr.splitlines()]
    stage, fields = next(parsed for parsed in lines if parsed)
    assert stage == "population"
    assert set(fields) == {"imports", "work", "total"} and fields["imports"] > 0
