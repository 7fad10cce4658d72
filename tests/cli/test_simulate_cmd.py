"""`skyflock simulate`: reports, JSON, the plot, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyflock.cli.main import app

runner = CliRunner()


def test_a_bad_scenario_gives_one_line_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "duration: 1d\nclusters:\n  - name: a\n    machines: -2\n    cpus: 4\n    memory: 4G\nworkload: []\n"
    )
    result = runner.invoke(app, ["simulate", str(bad)])
    assert result.exit_code == 1
    assert result.output.strip() == f"{bad}:4: clusters[0].machines: must be at least 1, got -2"
    assert "Traceback" not in result.output


def test_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: cannot read" in result.output


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    assert "--json" in result.output and "--plot" in result.output


SMALL = """
duration: 2h
cycle_interval: 5m
groups:
  physics: {quota: 8, accept_surplus: true}
clusters:
  - {name: c1, tier: 1, machines: 2, cpus: 8, memory: 32G}
  - {name: c2, tier: 2, machines: 1, cpus: 8, memory: 32G}
submitters:
  - {name: alice, group: physics}
  - {name: bob}
workload:
  - {submitter: alice, count: 40, runtime: 30m}
  - {submitter: bob, count: 40, runtime: 30m, spread: 1h}
"""


def test_json_report_has_the_documented_shape(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    result = runner.invoke(app, ["simulate", str(scenario), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data["submitters"]) == {"physics.alice", "bob"}
    assert set(data["groups"]) == {"physics", "<none>"}
    for row in [*data["submitters"].values(), *data["groups"].values()]:
        assert {"core_seconds", "share", "mean_wait_s", "p95_wait_s", "jobs_completed"} <= set(row)
    assert sum(row["share"] for row in data["submitters"].values()) == pytest.approx(1.0, abs=1e-5)
    assert set(data["clusters"]) == {"c1", "c2"}
    assert 0 < data["clusters"]["c1"]["utilization"] <= 1
    assert data["cycles"] == 25 and data["preemptions"] >= 0


def test_text_report_and_plot(tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(SMALL)
    png = tmp_path / "out.png"
    result = runner.invoke(app, ["simulate", str(scenario), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "physics.alice" in result.output and "utilisation" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
