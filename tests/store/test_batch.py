"""`JobQueue.apply`: the transitions of a write pass and the log index in one transaction."""

from __future__ import annotations

import pytest

from skyflock.store import JobBatch, LogEntry, Store
from tests.store.factories import match_of, put_in_state, queue, state_of


def test_one_batch_moves_every_kind_and_indexes_logs(store: Store) -> None:
    a, b, c, d, e, f = queue(store, 6)
    for job in (a, b, c):
        put_in_state(store, job, "Idle (dispatching)")
    put_in_state(store, d, "Running")
    put_in_state(store, e, "Running")
    batch = JobBatch(
        started={a: '{"pid": 1}', b: '{"pid": 2}', c: '{"pid": 3}'},
        logs=[LogEntry(a, "stdout", "/logs/a.out", 0, "local")],
        completed={a: 0, d: 3},
        retried={"will run again": {b: 1}},
        held={("over its memory", 34, 0): [c]},
        evicted={"lost": [e]},
        matches=[match_of(f), match_of(a)],  # a is Completed by now: refused
    )
    done = store.jobs.apply(batch, now=2000.0)
    assert done.moved("start") == (a, b, c)
    assert done.moved("complete") == (a, d)
    assert done.moved("hold") == (c,) and done.moved("vacated") == (c,)
    assert done.moved("match") == (f,)
    assert [(action, job) for action, job, _ in done.refused] == [("match", a)]
    assert store.history.get(a) is not None and store.history.get(d) is not None
    assert (state_of(store, b), state_of(store, c), state_of(store, e)) == ("Idle", "Held", "Idle")
    assert state_of(store, f) == "Idle (dispatching)"
    assert [x.kind for x in store.events.for_job(a)][-2:] == ["started", "completed"]
    assert store.logs.get(a, "stdout") is not None


def test_a_bad_row_rolls_the_whole_batch_back(store: Store) -> None:
    (a,) = queue(store, 1)
    put_in_state(store, a, "Idle (dispatching)")
    bad = JobBatch(started={a: "{}"}, logs=[LogEntry(a, "nonsense", "/x", 0, "local")])
    with pytest.raises(ValueError, match="unknown stream"):
        store.jobs.apply(bad, now=2000.0)
    assert state_of(store, a) == "Idle (dispatching)"
    assert [x.kind for x in store.events.for_job(a)][-1] == "matched"
