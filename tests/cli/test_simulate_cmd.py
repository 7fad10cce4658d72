"""`skyflock simulate`: reports, JSON, the plot, and one-line errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from skyflock.cli.main import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sim"

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
