"""`skyflock submit`: dry-run JSON and summary, warnings on stderr, one-line
errors with exit 1 for every malformed file, exit 2 without a server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyflock.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "batch"
MALFORMED = ROOT / "tests" / "submit" / "malformed"

runner = CliRunner()


def test_dry_run_json_prints_the_ads() -> None:
    result = runner.invoke(app, ["submit", str(EXAMPLES / "atlas_scan.sub"), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    jobs = json.loads(result.stdout)
    assert len(jobs) == 200
    first = jobs[0]
    assert first["Cmd"] == str(EXAMPLES / "scan.sh")
    assert first["Arguments"] == "90 1.0"
    assert first["AccountingGroup"] == "atlas.alice"
    assert first["RequestMemory"] == 64
    assert first["RequestDisk"] == 10240
    assert first["Iwd"] == str(EXAMPLES)
    assert [j["ProcId"] for j in jobs[:3]] == [0, 1, 2]
    assert first["Requirements"].startswith("/Expr(")


def test_dry_run_summary_is_readable() -> None:
    result = runner.invoke(app, ["submit", str(EXAMPLES / "cms_scan.sub"), "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith("cms_scan.sub: 50 jobs in cluster 1")
    assert "1.0" in lines[1] and "scan.sh 91 3.0" in lines[1]
    assert "... and 30 more" in result.stdout
    assert "AccountingGroup: cms.bob" in result.stdout


def test_warnings_go_to_stderr(tmp_path: Path) -> None:
    sub = tmp_path / "w.sub"
    sub.write_text("executable = /bin/true\nfrobnicate = 1\nqueue\n")
    result = runner.invoke(app, ["submit", str(sub), "--dry-run", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)[0]["Cmd"] == "/bin/true"
    assert (
        result.stderr.strip() == f"warning: {sub}:2: unknown submit command 'frobnicate' (ignored)"
    )


def test_without_a_server_it_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "j.sub"
    sub.write_text("executable = /bin/true\nqueue\n")
    monkeypatch.setenv("SKYFLOCK_URL", "http://127.0.0.1:9")
    result = runner.invoke(app, ["submit", str(sub)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "cannot reach the skyflock server at http://127.0.0.1:9: start it with `skyflock server`"
    )


def test_a_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["submit", str(tmp_path / "nope.sub"), "--dry-run"])
    assert result.exit_code == 1
    assert "nope.sub: cannot read" in result.stderr
    assert "Traceback" not in result.output


CASES = sorted(MALFORMED.glob("*.sub"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_malformed_file_is_one_line_and_exit_1(path: Path, tmp_path: Path) -> None:
    for other in MALFORMED.iterdir():
        shutil.copy(other, tmp_path / other.name)
    header = path.read_text().splitlines()[0].removeprefix("# error: ")
    where, _, text = header.partition(": ")
    result = runner.invoke(app, ["submit", str(tmp_path / path.name), "--dry-run", "--json"])
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.stderr.strip()
    assert "\n" not in message and "Traceback" not in message
    assert f"{where}: " in message and text in message, message


def test_include_and_queue_from_read_the_real_files(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "common.inc").write_text("request_cpus = 2\n")
    (tmp_path / "items.txt").write_text("a 1\nb 2\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.dat").write_text("")
    sub = tmp_path / "j.sub"
    sub.write_text(
        "executable = /bin/echo\ninclude : conf/common.inc\narguments = $(n) $(v)\n"
        "queue n, v from items.txt\narguments = $(f)\nqueue f matching files data/*.dat\n"
    )
    result = runner.invoke(app, ["submit", str(sub), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    jobs = json.loads(result.stdout)
    assert [j["Args"] for j in jobs] == ["a 1", "b 2", "data/x.dat"]
    assert {j["RequestCpus"] for j in jobs} == {2}
