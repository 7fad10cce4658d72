"""The history table's EXIT column: the exit code, or the signal that killed the run."""

from __future__ import annotations

from skyflock.classad import ClassAd
from skyflock.cli.jobtable import exit_text, history_table


def test_exit_column_shows_code_signal_or_nothing() -> None:
    assert exit_text(ClassAd({"ExitBySignal": False, "ExitCode": 3})) == "3"
    assert exit_text(ClassAd({"ExitBySignal": True, "ExitSignal": 9})) == "sig 9"
    assert exit_text(ClassAd({})) == "-"


def test_history_table_prints_the_signal() -> None:
    ad = ClassAd(
        {
            "ClusterId": 4,
            "ProcId": 0,
            "Owner": "alice",
            "JobStatus": 4,
            "QDate": 100,
            "CompletionDate": 110,
            "ExitBySignal": True,
            "ExitSignal": 9,
            "Cmd": "/bin/sh",
        }
    )
    header, _, row = history_table([ad]).splitlines()
    assert "EXIT" in header
    assert row.split()[-3:] == ["sig", "9", "sh"]
