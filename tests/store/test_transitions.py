"""Every transition against every state: legal moves happen, the rest are refused
and change nothing; strict mode is all or nothing; a failure mid-transition
leaves no trace; concurrent transitions never move a job twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from skyflock.store import IllegalTransition, JobStatus, Store
from tests.store.factories import STATES, match_of, put_in_state, queue, state_of

ACTIONS: dict[str, Callable[[Store, list[str]], Any]] = {
    "match": lambda s, ids: s.jobs.match([match_of(i) for i in ids], now=2000),
    "unmatch": lambda s, ids: s.jobs.unmatch(ids, "backend refused", now=2000),
    "start": lambda s, ids: s.jobs.start(ids, now=2000),
    "preempt": lambda s, ids: s.jobs.preempt(ids, "priority", now=2000),
    "evict": lambda s, ids: s.jobs.evict(ids, "vacated", now=2000),
    "retry": lambda s, ids: s.jobs.retry({i: 1 for i in ids}, "exit 1", now=2000),
    "complete": lambda s, ids: s.jobs.complete({i: 0 for i in ids}, now=2000),
    "hold": lambda s, ids: s.jobs.hold(ids, "walltime exceeded", 46, 2, now=2000),
    "release": lambda s, ids: s.jobs.release(ids, now=2000),
    "remove": lambda s, ids: s.jobs.remove(ids, "by user", now=2000),
    "vacated": lambda s, ids: s.jobs.vacated(ids, now=2000),
    "edit": lambda s, ids: s.jobs.edit(ids, {"Note": '"x"'}, now=2000),
}

# (action, state before) -> state after; every pair not listed must be refused.
LEGAL: dict[tuple[str, str], str] = {
    ("match", "Idle"): "Idle (dispatching)",
    ("unmatch", "Idle (dispatching)"): "Idle",
    ("start", "Idle (dispatching)"): "Running",
    ("preempt", "Running"): "Running (vacating)",
    ("evict", "Running"): "Idle",
    ("evict", "Running (vacating)"): "Idle",
    ("retry", "Running"): "Idle",
    ("retry", "Running (vacating)"): "Idle",
    ("complete", "Running"): "Completed (in history)",
    ("complete", "Running (vacating)"): "Completed (in history)",
    ("hold", "Idle"): "Held",
    ("hold", "Idle (dispatching)"): "Held (vacating)",
    ("hold", "Running"): "Held (vacating)",
    ("hold", "Running (vacating)"): "Held (vacating)",
    ("release", "Held"): "Idle",
    ("remove", "Idle"): "Removed (in history)",
    ("remove", "Held"): "Removed (in history)",
    ("remove", "Idle (dispatching)"): "Removed (vacating)",
    ("remove", "Running"): "Removed (vacating)",
    ("remove", "Running (vacating)"): "Removed (vacating)",
    ("remove", "Held (vacating)"): "Removed (vacating)",
    ("vacated", "Held (vacating)"): "Held",
    ("vacated", "Removed (vacating)"): "Removed (in history)",
    **{
        ("edit", s): s
        for s in (
            "Idle",
            "Idle (dispatching)",
            "Running",
            "Running (vacating)",
            "Held",
            "Held (vacating)",
        )
    },
}

EVENT_OF = {
    "match": "matched",
    "unmatch": "unmatched",
    "start": "started",
    "preempt": "preempted",
    "evict": "evicted",
    "retry": "retried",
    "complete": "completed",
    "hold": "held",
    "release": "released",
    "remove": "removed",
    "vacated": "vacated",
    "edit": "edited",
}


def _jobs_in_every_state(store: Store) -> dict[str, str]:
    ids = queue(store, len(STATES))
    for job_id, state in zip(ids, STATES, strict=True):
        put_in_state(store, job_id, state)
        assert state_of(store, job_id) == state
    return dict(zip(STATES, ids, strict=True))


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_each_action_moves_exactly_the_legal_states(store: Store, action: str) -> None:
    by_state = _jobs_in_every_state(store)
    events_before = {j: len(store.events.for_job(j)) for j in by_state.values()}

    result = ACTIONS[action](store, list(by_state.values()))

    expected_moved = tuple(j for s, j in by_state.items() if (action, s) in LEGAL)
    assert result.moved == expected_moved
    refused = {r.job_id: r for r in result.refused}
    assert set(refused) == set(by_state.values()) - set(expected_moved)
    for state, job_id in by_state.items():
        events = store.events.for_job(job_id)
        if (action, state) in LEGAL:
            assert state_of(store, job_id) == LEGAL[(action, state)]
            assert len(events) == events_before[job_id] + 1
            assert events[-1].kind == EVENT_OF[action]
            assert events[-1].time == 2000
        else:
            assert state_of(store, job_id) == state, "a refused job must not change"
            assert len(events) == events_before[job_id]
            assert refused[job_id].state == state
            assert f"job {job_id} is {state}" in refused[job_id].message


def test_strict_refusal_changes_nothing(store: Store) -> None:
    idle, running = queue(store, 2)
    put_in_state(store, running, "Running")
    with pytest.raises(IllegalTransition) as err:
        store.jobs.release([idle, running], strict=True)
    assert f"job {running} is Running" in str(err.value)
    assert {r.job_id for r in err.value.refused} == {idle, running}
    with pytest.raises(IllegalTransition):
        store.jobs.hold([idle, running, "99.0"], "x", 1, strict=True)
    # hold is legal for both, but 99.0 does not exist: nothing may have changed.
    assert state_of(store, idle) == "Idle"
    assert state_of(store, running) == "Running"


def test_unknown_job_is_named(store: Store) -> None:
    result = store.jobs.remove(["42.7"])
    assert result.moved == ()
    assert result.refused[0].state is None
    assert "no job 42.7" in result.refused[0].message
    with pytest.raises(IllegalTransition, match=r"no job 42\.7"):
        result.raise_for_refusals()


def test_failure_inside_a_transition_leaves_no_trace(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    (job,) = queue(store, 1)
    put_in_state(store, job, "Running")
    events_before = len(store.events.for_job(job))

    def broken(*_args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("skyflock.store.transitions.write_events", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        store.jobs.complete({job: 0})
    monkeypatch.undo()
    assert state_of(store, job) == "Running"
    assert store.history.get(job) is None
    assert len(store.events.for_job(job)) == events_before


def test_run_bookkeeping(store: Store) -> None:
    (job,) = queue(store, 1, now=100)
    store.jobs.match([match_of(job, "slot3@n1", "local")], now=101)
    store.jobs.start([job], handles={job: "pid=42"}, now=110)
    rec = store.jobs.get(job)
    assert rec is not None
    assert (rec.num_job_starts, rec.job_start_date, rec.handle) == (1, 110, "pid=42")
    assert (rec.cluster_name, rec.slot_id, rec.claim_memory) == ("local", "slot3@n1", 128)
    assert rec.ad.eval("RemoteHost") == "slot3@n1"
    store.jobs.evict([job], "preempted", now=130)
    rec = store.jobs.get(job)
    assert rec is not None
    assert (rec.wall_clock, rec.job_current_start_date, rec.entered_status_at) == (20, None, 130)
    assert rec.ad.eval("LastRemoteHost") == "slot3@n1"
    store.jobs.match([match_of(job, "slot1@n2", "cloud")], now=140)
    store.jobs.start([job], now=150)
    store.jobs.complete({job: 3}, now=155)
    done = store.history.get(job)
    assert done is not None
    assert done.job_status is JobStatus.COMPLETED
    assert (done.num_job_starts, done.job_start_date, done.wall_clock) == (2, 110, 25)
    assert (done.exit_code, done.completion_date, done.cluster_name) == (3, 155, "cloud")
    assert done.ad.eval("ExitCode") == 3
    kinds = [e.kind for e in store.events.for_job(job)]
    assert kinds == [
        "submitted",
        "matched",
        "started",
        "evicted",
        "matched",
        "started",
        "completed",
    ]
    matched = store.events.for_job(job)[4]
    assert (matched.cluster_name, matched.slot_id) == ("cloud", "slot1@n2")


def test_hold_records_code_and_release_clears_it(store: Store) -> None:
    (job,) = queue(store, 1)
    store.jobs.hold([job], "memory limit exceeded", 34, 5, now=1200)
    rec = store.jobs.get(job)
    assert rec is not None
    assert (rec.hold_reason, rec.hold_reason_code, rec.hold_reason_subcode) == (
        "memory limit exceeded",
        34,
        5,
    )
    assert rec.ad.eval("HoldReasonCode") == 34
    held = store.events.for_job(job)[-1]
    assert (held.kind, held.code, held.subcode, held.message) == (
        "held",
        34,
        5,
        "memory limit exceeded",
    )
    store.jobs.release([job])
    rec = store.jobs.get(job)
    assert rec is not None
    assert rec.hold_reason is None and "HoldReason" not in rec.ad


def test_concurrent_starts_move_each_job_once(store: Store) -> None:
    ids = queue(store, 60)
    store.jobs.match([match_of(j) for j in ids])
    results: list[tuple[str, ...]] = []
    lock = threading.Lock()

    def worker(order: list[str]) -> None:
        moved = store.jobs.start(order).moved
        with lock:
            results.append(moved)

    threads = [
        threading.Thread(target=worker, args=(ids,)),
        threading.Thread(target=worker, args=(list(reversed(ids)),)),
        threading.Thread(target=worker, args=(ids[::2] + ids[1::2],)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    moved = [j for r in results for j in r]
    assert sorted(moved) == sorted(ids), "every job started exactly once"
    for job in ids:
        assert [e.kind for e in store.events.for_job(job)].count("started") == 1


def test_retry_and_complete_count_num_job_completions(store: Store) -> None:
    (job,) = queue(store, 1, now=100)
    for attempt in range(2):
        store.jobs.match([match_of(job)], now=101 + attempt)
        store.jobs.start([job], now=102 + attempt)
        store.jobs.retry({job: 1}, "exit 1", now=103 + attempt)
        rec = store.jobs.get(job)
        assert rec is not None
        assert rec.num_job_completions == attempt + 1
        assert rec.ad.eval("NumJobCompletions") == attempt + 1
    store.jobs.match([match_of(job)], now=110)
    store.jobs.start([job], now=111)
    store.jobs.evict([job], "preempted", now=112)  # not a completion
    rec = store.jobs.get(job)
    assert rec is not None and rec.num_job_completions == 2
    store.jobs.match([match_of(job)], now=113)
    store.jobs.start([job], now=114)
    store.jobs.complete({job: 1}, now=115)
    done = store.history.get(job)
    assert done is not None
    assert (done.num_job_completions, done.num_job_starts) == (3, 4)
    assert done.ad.eval("NumJobCompletions") == 3
