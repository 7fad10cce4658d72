"""`skyflock classad eval|format`: values, forms, one-message errors with exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyflock.cli.main import app

runner = CliRunner()


@pytest.fixture
def ads(tmp_path: Path) -> dict[str, Path]:
    job = tmp_path / "job.ad"
    job.write_text("[ RequestMemory = 2048; Requirements = TARGET.Memory >= RequestMemory ]\n")
    slot = tmp_path / "slot.ad"
    slot.write_text('Memory = 4096\nArch = "X86_64"\n')
    bad = tmp_path / "bad.ad"
    bad.write_text('Memory = 4096\nArch = "X86_64\n')
    return {"job": job, "slot": slot, "bad": bad}


@pytest.mark.parametrize(
    ("expr", "out"),
    [
        ("1 + 2", "3"),
        ('strcat("a", "b")', '"ab"'),
        ("{1, [a = 2]}", "{ 1, [ a = 2 ] }"),
        ("undefined", "undefined"),
        ("1 / 0", "error"),
        ("7.0 / 2", "3.5"),
    ],
)
def test_eval_prints_the_value(expr: str, out: str) -> None:
    result = runner.invoke(app, ["classad", "eval", expr])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == out


def test_eval_against_two_ads(ads: dict[str, Path]) -> None:
    result = runner.invoke(
        app,
        [
            "classad",
            "eval",
            'Requirements && TARGET.Arch == "x86_64"',
            "--my",
            str(ads["job"]),
            "--target",
            str(ads["slot"]),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "true"


def test_eval_time_and_random_from_options() -> None:
    assert (
        runner.invoke(app, ["classad", "eval", "time()", "--now", "1234"]).stdout.strip() == "1234"
    )
    a = runner.invoke(app, ["classad", "eval", "random(1000)", "--seed", "3"]).stdout
    b = runner.invoke(app, ["classad", "eval", "random(1000)", "--seed", "3"]).stdout
    assert a == b and 0 <= int(a) < 1000


def test_syntax_error_is_one_message_and_exit_1() -> None:
    result = runner.invoke(app, ["classad", "eval", "a + * b"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: <expression>: line 1, column 5: unexpected '*': expected an expression\n"
        "a + * b\n"
        "    ^\n"
    )
    assert "Traceback" not in result.output


def test_syntax_error_in_an_ad_file_names_the_file(ads: dict[str, Path]) -> None:
    result = runner.invoke(app, ["classad", "eval", "1", "--my", str(ads["bad"])])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {ads['bad']}: line 2, column 8: unterminated string")
    assert "Traceback" not in result.output


def test_missing_file_is_one_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["classad", "format", str(tmp_path / "nope.ad")])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr and "Traceback" not in result.output


def test_unknown_function_warns_and_evaluates_to_error() -> None:
    result = runner.invoke(app, ["classad", "eval", "frobnicate(1) + 1"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "error"
    assert "unknown function frobnicate()" in result.stderr


@pytest.mark.parametrize("form", ["new", "old", "json"])
def test_format_converts_and_round_trips(ads: dict[str, Path], tmp_path: Path, form: str) -> None:
    result = runner.invoke(app, ["classad", "format", str(ads["job"]), "--to", form])
    assert result.exit_code == 0, result.output
    out = tmp_path / f"out.{form}"
    out.write_text(result.stdout)
    again = runner.invoke(app, ["classad", "format", str(out), "--to", "json"])
    assert json.loads(again.stdout) == {
        "RequestMemory": 2048,
        "Requirements": "/Expr(TARGET.Memory >= RequestMemory)/",
    }


def test_format_rejects_unknown_form(ads: dict[str, Path]) -> None:
    result = runner.invoke(app, ["classad", "format", str(ads["job"]), "--to", "xml"])
    assert result.exit_code == 1
    assert "--to must be one of new, old, json" in result.stderr
