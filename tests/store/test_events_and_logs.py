"""The event log (order, cursor, notes) and the central log index."""

from __future__ import annotations

import pytest

from skyflock.store import LogEntry, Store
from tests.store.factories import match_of, queue


def test_events_follow_with_a_cursor(store: Store) -> None:
    a, b = queue(store, 2, now=1)
    first = store.events.since(0)
    assert [(e.job_id, e.kind) for e in first] == [(a, "submitted"), (b, "submitted")]
    store.jobs.match([match_of(b)], now=2)
    store.events.note([a], "image pull slow", now=3)
    newer = store.events.since(first[-1].seq)
    assert [(e.job_id, e.kind, e.message) for e in newer] == [
        (b, "matched", "1 cpus, 128 MiB memory, 1024 KiB disk, 0 gpus"),
        (a, "note", "image pull slow"),
    ]
    assert [e.kind for e in store.events.since(0, job_ids=[a])] == ["submitted", "note"]
    assert len(store.events.since(0, limit=1)) == 1


def test_log_index_upserts_per_stream(store: Store) -> None:
    logs = store.logs
    logs.record(
        [
            LogEntry("1.0", "stderr", "/d/logs/1/1.0.err", 0, "local"),
            LogEntry("1.0", "stdout", "/d/logs/1/1.0.out", 10, "local"),
        ],
        now=5.0,
    )
    logs.record([LogEntry("1.0", "stdout", "/d/logs/1/1.0.out", 2048, "local")], now=9.0)
    got = logs.for_job("1.0")
    assert [(e.stream, e.size, e.updated_at) for e in got] == [
        ("stdout", 2048, 9.0),
        ("stderr", 0, 5.0),
    ]
    assert logs.get("1.0", "stderr") == LogEntry(
        "1.0", "stderr", "/d/logs/1/1.0.err", 0, "local", 5.0
    )
    assert logs.get("1.0", "events") is None
    assert logs.for_job("2.0") == []


def test_log_index_refuses_unknown_stream(store: Store) -> None:
    with pytest.raises(ValueError, match=r"log of job 1\.0: unknown stream 'stdlog'"):
        store.logs.record([LogEntry("1.0", "stdlog", "/x")])
    assert store.logs.for_job("1.0") == []
