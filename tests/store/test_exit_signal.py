"""How a run ended, kept as condor_history shows it: an exit code, or the
signal that killed the run (ExitBySignal, ExitSignal, no ExitCode); the
completed/retried events say so in words; the started event names the pid."""

from __future__ import annotations

import pytest

from skyflock.classad import UNDEFINED
from skyflock.store import JobBatch, Selection, Store
from skyflock.store.events import exit_message, signal_text, started_message
from skyflock.store.records import split_exit
from tests.store.factories import match_of, queue

HANDLE = '{"pid":4321,"pgid":4321,"started_at":101.0,"process_start":100.5,"boot_id":"b"}'


def running(store: Store, n: int = 1) -> list[str]:
    ids = queue(store, n, now=100)
    store.jobs.match([match_of(j) for j in ids], now=101)
    store.jobs.start(ids, handles={j: HANDLE for j in ids}, now=102)
    return ids


def test_split_exit_keeps_codes_and_drops_the_code_of_a_signal_death() -> None:
    assert split_exit(3) == (3, None)
    assert split_exit((3, None)) == (3, None)
    assert split_exit((None, 9)) == (None, 9)
    assert split_exit((137, 9)) == (None, 9)
    assert split_exit((None, None)) == (0, None)


def test_signal_names_in_messages() -> None:
    assert signal_text(9) == "signal 9 (SIGKILL)"
    assert signal_text(15) == "signal 15 (SIGTERM)"
    assert signal_text(200) == "signal 200"
    assert exit_message(9) == "killed by signal 9 (SIGKILL)"
    assert exit_message(9, "will run again") == "killed by signal 9 (SIGKILL); will run again"
    assert exit_message(None, "will run again") == "will run again"
    assert exit_message(None) is None


def test_started_message_names_the_process_not_the_handle() -> None:
    assert started_message(HANDLE) == "pid 4321"
    assert started_message('{"pid":0,"pgid":0}') is None  # found ended after a restart
    assert started_message("pod-abc") == "pod-abc"
    assert started_message(None) is None
    assert started_message("") is None


def test_a_signal_death_reaches_the_history_as_condor_history_shows_it(store: Store) -> None:
    killed, exited = running(store, 2)
    result = store.jobs.complete({killed: (None, 9), exited: 3}, now=110)
    assert set(result.moved) == {killed, exited}
    rec = store.history.get(killed)
    assert rec is not None
    assert (rec.exit_code, rec.exit_signal) == (None, 9)
    assert rec.ad.eval("ExitBySignal") is True
    assert rec.ad.eval("ExitSignal") == 9
    assert rec.ad.eval("ExitCode") is UNDEFINED
    rec = store.history.get(exited)
    assert rec is not None
    assert (rec.exit_code, rec.exit_signal) == (3, None)
    assert rec.ad.eval("ExitBySignal") is False
    assert rec.ad.eval("ExitSignal") is UNDEFINED
    assert rec.ad.eval("ExitCode") == 3
    # a constraint on them reads the columns
    found = store.history.query(Selection(constraint="ExitBySignal && ExitSignal == 9"))
    assert [r.id for r in found] == [killed]
    found = store.history.query(Selection(constraint="ExitCode == 3"))
    assert [r.id for r in found] == [exited]


def test_completed_events_say_killed_by_signal_without_a_made_up_code(store: Store) -> None:
    killed, exited = running(store, 2)
    store.jobs.complete({killed: (None, 9), exited: 0}, now=110)
    (ev,) = [e for e in store.events.for_job(killed) if e.kind == "completed"]
    assert (ev.code, ev.message) == (None, "killed by signal 9 (SIGKILL)")
    (ev,) = [e for e in store.events.for_job(exited) if e.kind == "completed"]
    assert (ev.code, ev.message) == (0, None)


def test_started_event_message_is_readable_and_the_handle_is_kept(store: Store) -> None:
    (job,) = running(store)
    (ev,) = [e for e in store.events.for_job(job) if e.kind == "started"]
    assert ev.message == "pid 4321"
    assert (ev.slot_id, ev.cluster_name) == ("slot1@node1", "local")
    rec = store.jobs.get(job)
    assert rec is not None and rec.handle == HANDLE  # what recovery reads


def test_retry_after_a_signal_then_an_exit_keeps_only_the_last_end(store: Store) -> None:
    (job,) = running(store)
    store.jobs.retry({job: (None, 15)}, "will run again", now=110)
    rec = store.jobs.get(job)
    assert rec is not None
    assert (rec.exit_code, rec.exit_signal) == (None, 15)
    assert rec.ad.eval("ExitBySignal") is True
    assert rec.ad.eval("ExitSignal") == 15
    assert rec.ad.eval("ExitCode") is UNDEFINED
    (ev,) = [e for e in store.events.for_job(job) if e.kind == "retried"]
    assert (ev.code, ev.message) == (None, "killed by signal 15 (SIGTERM); will run again")
    store.jobs.match([match_of(job)], now=111)
    store.jobs.start([job], now=112)
    store.jobs.complete({job: 0}, now=113)
    done = store.history.get(job)
    assert done is not None
    assert (done.exit_code, done.exit_signal) == (0, None)
    assert done.ad.eval("ExitBySignal") is False
    assert done.ad.eval("ExitSignal") is UNDEFINED
    assert done.ad.eval("ExitCode") == 0


def test_a_job_that_never_ended_has_no_exit_attributes(store: Store) -> None:
    (job,) = queue(store, 1, now=100)
    rec = store.jobs.get(job)
    assert rec is not None
    for name in ("ExitBySignal", "ExitSignal", "ExitCode"):
        assert rec.ad.eval(name) is UNDEFINED


def test_the_batch_carries_signals_too(store: Store) -> None:
    a, b, c = running(store, 3)
    done = store.jobs.apply(
        JobBatch(completed={a: (None, 6), b: 1}, retried={"again": {c: (None, 9)}}), now=110
    )
    assert done.refused == []
    ra, rb = store.history.get(a), store.history.get(b)
    rc = store.jobs.get(c)
    assert ra is not None and rb is not None and rc is not None
    assert (ra.exit_code, ra.exit_signal) == (None, 6)
    assert (rb.exit_code, rb.exit_signal) == (1, None)
    assert (rc.exit_code, rc.exit_signal) == (None, 9)


@pytest.mark.parametrize("name", ["ExitBySignal", "ExitSignal"])
def test_exit_attributes_cannot_be_edited(store: Store, name: str) -> None:
    (job,) = queue(store, 1, now=100)
    with pytest.raises(ValueError, match=f"{name} is set by skyflock"):
        store.jobs.edit([job], {name: "1"}, now=101)
