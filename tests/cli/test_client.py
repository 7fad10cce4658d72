"""The CLI client's pure parts: the default address, selectors, and the -af/totals formatting."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAd
from skyflock.cli import client
from skyflock.cli.jobtable import autoformat, duration, totals, totals_line
from skyflock.cli.selectors import Chosen, SelectorError, selection
from skyflock.manager import settings


def test_default_address_is_the_servers() -> None:
    assert client.DEFAULT_HOST == settings.DEFAULT_HOST
    assert client.DEFAULT_PORT == settings.DEFAULT_PORT
    assert client.DEFAULT_DATA_DIR == settings.DEFAULT_DATA_DIR
    assert client.server_url.__module__ == "skyflock.cli.client"


def test_server_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYFLOCK_URL", raising=False)
    assert client.server_url() == "http://127.0.0.1:8642"
    monkeypatch.setenv("SKYFLOCK_URL", "http://example.org:9000/")
    assert client.server_url() == "http://example.org:9000"


@pytest.mark.parametrize(
    ("selectors", "constraint", "expected"),
    [
        (["12.0", "12.1"], None, Chosen(ids=("12.0", "12.1"))),
        (["12"], None, Chosen(constraint="ClusterId == 12")),
        (["alice"], None, Chosen(constraint='Owner == "alice"')),
        (
            ["12.0", "13"],
            None,
            Chosen(constraint="((ClusterId == 12 && ProcId == 0) || ClusterId == 13)"),
        ),
        (["12"], "JobStatus == 1", Chosen(constraint="ClusterId == 12 && (JobStatus == 1)")),
        ([], "true", Chosen(constraint="(true)")),
        ([], None, Chosen()),
    ],
)
def test_selection(selectors: list[str], constraint: str | None, expected: Chosen) -> None:
    assert selection(selectors, constraint) == expected


@pytest.mark.parametrize(
    ("selectors", "constraint", "message"),
    [
        (["a b"], None, "'a b': not a job id"),
        (["1.x"], None, "'1.x': not a job id"),
        ([], " ", "-constraint: the expression is empty"),
        (["12"], "Owner == = 1", "-constraint: line 1, column 10: "),
    ],
)
def test_bad_selectors(selectors: list[str], constraint: str | None, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        selection(selectors, constraint)
    assert str(caught.value).startswith(message)
    if constraint and constraint.strip():
        # the caret points into the constraint as typed
        assert str(caught.value).splitlines()[1:] == [constraint, " " * 9 + "^"]


def test_autoformat_and_totals() -> None:
    ads = [
        ClassAd.parse('[ClusterId = 3; ProcId = 0; JobStatus = 2; Name = "x"; D = ProcId + 5]'),
        ClassAd.parse("[ClusterId = 3; ProcId = 1; JobStatus = 5; B = true]"),
    ]
    assert autoformat(ads, ["ProcId", "Name", "D", "B"]) == [
        "0 x 5 undefined",
        "1 undefined undefined true",
    ]
    with pytest.raises(ValueError, match="-af 1 \\+"):
        autoformat(ads, ["1 +"])
    assert totals_line(ads) == (
        "Total for query: 2 jobs; 0 completed, 0 removed, 0 idle, 1 running, 1 held, 0 suspended"
    )
    assert totals("all users", {1: 4, 2: 1, 5: 2}) == (
        "Total for all users: 7 jobs; 0 completed, 0 removed, 4 idle, 1 running, 2 held, "
        "0 suspended"
    )
    assert duration(90061) == "1+01:01:01"
