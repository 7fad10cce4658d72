"""Reading the queue and the history: filters in SQL, constraints in Python,
history newest first, queue totals."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAdSyntaxError
from skyflock.store import Selection, Store
from tests.store.factories import match_of, queue


@pytest.fixture
def populated(store: Store) -> Store:
    a = queue(store, 3, owner="alice", RequestCpus=1, now=10)  # 1.0 1.1 1.2
    b = queue(store, 2, owner="bob", RequestCpus=4, AccountingGroup="cms.bob", now=20)  # 2.x
    store.jobs.match([match_of(a[0]), match_of(b[0])], now=30)
    store.jobs.start([a[0], b[0]], now=31)
    store.jobs.hold([a[1]], "by user", 1, now=32)
    return store


def ids(records: list) -> list[str]:  # type: ignore[type-arg]
    return [r.id for r in records]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["1.0", "1.1", "1.2", "2.0", "2.1"]),
        ({"statuses": [1]}, ["1.2", "2.1"]),
        ({"statuses": [2, 5]}, ["1.0", "1.1", "2.0"]),
        ({"owner": "bob"}, ["2.0", "2.1"]),
        ({"submitter": "cms.bob"}, ["2.0", "2.1"]),
        ({"cluster_name": "local", "statuses": [2]}, ["1.0", "2.0"]),
        ({"ids": ["2.1", "1.0", "9.9", "1.0"]}, ["1.0", "2.1"]),
        ({"constraint": 'JobStatus == 1 && Owner == "alice"'}, ["1.2"]),
        ({"constraint": "RequestCpus > 2"}, ["2.0", "2.1"]),
        ({"constraint": "RequestCpus > 2", "statuses": [1]}, ["2.1"]),
        ({"constraint": "HoldReasonCode == 1"}, ["1.1"]),
        ({"constraint": "RemoteHost =!= undefined"}, ["1.0", "2.0"]),
        ({"constraint": "   "}, ["1.0", "1.1", "1.2", "2.0", "2.1"]),
        ({"limit": 2}, ["1.0", "1.1"]),
        ({"constraint": "RequestCpus >= 1", "limit": 3}, ["1.0", "1.1", "1.2"]),
        ({"constraint": 'Owner == "alice"', "limit": 1}, ["1.0"]),
    ],
)
def test_queue_query(populated: Store, filters: dict, expected: list[str]) -> None:  # type: ignore[type-arg]
    assert ids(populated.jobs.query(**filters)) == expected
    assert ids(populated.jobs.query(Selection(**filters))) == expected


def test_constraint_syntax_error_names_the_place(populated: Store) -> None:
    with pytest.raises(ClassAdSyntaxError):
        populated.jobs.query(constraint="Owner ==")


def test_stats_count_by_status_and_submitter(populated: Store) -> None:
    stats = populated.stats()
    assert stats.by_status == {1: 2, 2: 2, 3: 0, 4: 0, 5: 1}
    assert stats.by_submitter == {"alice": {1: 1, 2: 1, 5: 1}, "cms.bob": {1: 1, 2: 1}}
    assert stats.total == 5
    populated.jobs.match([match_of("1.2")])
    populated.jobs.preempt(["1.0"], "rank")
    stats = populated.stats()
    assert (stats.dispatching, stats.vacating) == (1, 1)


def test_history_newest_first_with_filters(populated: Store) -> None:
    store = populated
    store.jobs.complete({"2.0": 0}, now=100)
    store.jobs.complete({"1.0": 1}, now=200)
    store.jobs.remove(["2.1"], "no longer needed", now=150)
    assert ids(store.history.query()) == ["1.0", "2.1", "2.0"]
    assert ids(store.history.query(owner="bob")) == ["2.1", "2.0"]
    assert ids(store.history.query(constraint="ExitCode != 0")) == ["1.0"]
    assert ids(store.history.query(constraint="JobStatus == 3")) == ["2.1"]
    assert ids(store.history.query(limit=1)) == ["1.0"]
    assert ids(store.history.query(ids=["2.0", "1.0"])) == ["1.0", "2.0"]
    assert store.history.count() == 3
    assert store.jobs.count() == 2
    assert store.job("2.1") is not None and store.job("1.2") is not None
    assert store.job("7.7") is None
