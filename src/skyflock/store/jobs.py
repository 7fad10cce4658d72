"""The job queue: submit, the guarded state transitions, and queue reads.

Every transition is one method taking many jobs and running as ONE
transaction: it locks the jobs' rows, keeps those whose current state allows
the move, updates them with a compare-and-set on (JobStatus, substate) in
the WHERE clause, writes their events, and (for Completed and Removed jobs)
moves them to `history` — all or nothing. Jobs that may not move are left
untouched and named, with their state, in the result's `refused`; with
``strict=True`` a refusal raises `IllegalTransition` and nothing changes.

The legal moves (status/substate, see `records.Substate`):

| method     | from                                        | to                        |
|------------|---------------------------------------------|---------------------------|
| `match`    | Idle                                        | Idle/dispatching          |
| `unmatch`  | Idle/dispatching                            | Idle                      |
| `start`    | Idle/dispatching                            | Running                   |
| `preempt`  | Running                                     | Running/vacating          |
| `evict`    | Running, Running/vacating                   | Idle                      |
| `retry`    | Running, Running/vacating                   | Idle (exit code kept)     |
| `complete` | Running, Running/vacating                   | Completed → history       |
| `hold`     | Idle / Idle/dispatching, Running(/vacating) | Held / Held/vacating      |
| `release`  | Held                                        | Idle                      |
| `remove`   | Idle, Held / dispatching, Running, vacating | Removed → history / Removed/vacating |
| `vacated`  | Held/vacating / Removed/vacating            | Held / Removed → history  |
| `edit`     | Idle, Running, Held (any substate)          | (same; the ad changes)    |

Neighbours: `store.events` (rows written here), `store.history` (reads of
finished jobs), `store.selection` (query building), `store.codec` (ClassAds).
No scheduling decisions are made here: the manager decides, the store records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from skyflock.store.engine import bulk_insert, read_options
from skyflock.store.events import EventKind, event_row, write_events
from skyflock.store.records import (
    IllegalTransition,
    JobRecord,
    JobStatus,
    NewJob,
    QueueStats,
    Refusal,
    Submitted,
    Substate,
    TransitionResult,
    describe_state,
)
from skyflock.store.schema import JOB_COLUMNS, cluster_ads, counters, history, jobs
from skyflock.store.schema import events as events_table
from skyflock.store.selection import Selection, chunks, fetch, unique

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd
    from skyflock.core.model import Match

# Plain ints and strs for the SQL parameters (drivers may adapt enums by name).
IDLE: Final = int(JobStatus.IDLE)
RUNNING: Final = int(JobStatus.RUNNING)
REMOVED: Final = int(JobStatus.REMOVED)
COMPLETED: Final = int(JobStatus.COMPLETED)
HELD: Final = int(JobStatus.HELD)
NONE: Final = Substate.NONE.value
DISPATCHING: Final = Substate.DISPATCHING.value
VACATING: Final = Substate.VACATING.value

State = tuple[int, str]
PerRow = (
    Mapping[str, Mapping[str, Any]]
    | Callable[[Connection, Sequence[str]], Mapping[str, Mapping[str, Any]]]
)
"""Column values per job, or a function computing them under the transition's lock."""
_RUNNING_ANY: Final[frozenset[State]] = frozenset({(RUNNING, NONE), (RUNNING, VACATING)})
_IN_QUEUE: Final[frozenset[State]] = frozenset(
    (s, sub) for s in (IDLE, RUNNING, HELD) for sub in (NONE, DISPATCHING, VACATING)
)

_SUBMIT_COLUMNS: Final = (
    "id",
    "cluster_id",
    "proc_id",
    "status",
    "substate",
    "owner",
    "submitter",
    "acct_group",
    "job_prio",
    "q_date",
    "workflow_id",
    "step_name",
    "num_job_starts",
    "wall_clock",
    "entered_status_at",
    "ad",
)

INSERT_BATCH: Final = 20_000
"""Rows per executemany of a submit (bounds the memory of one statement)."""


@dataclass(frozen=True, slots=True)
class _Move:
    """Jobs in one of `sources` go to (`status`, `substate`), then maybe to history."""

    sources: frozenset[State]
    status: int | None
    """None: the state stays (an edit)."""
    substate: str | None
    archive: bool = False


@dataclass(frozen=True, slots=True)
class _Current:
    """A locked job row's state, as a transition sees it."""

    status: int
    substate: str
    cluster_name: str | None
    slot_id: str | None


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


class JobQueue:
    """The queue of jobs not yet finished. Thread-safe; every method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ submit

    def new_cluster_id(self) -> int:
        """Reserve the next ClusterId (for a submit file that uses `$(Cluster)`).

        Pass it to `submit*` as `cluster_id`; an id reserved and never used
        stays unused, as in HTCondor.
        """
        with self._engine.begin() as conn:
            return _next_cluster_id(conn)

    def submit(
        self,
        ads: Sequence[ClassAd],
        *,
        cluster_id: int | None = None,
        now: float | None = None,
    ) -> Submitted:
        """Queue full job ads as one new cluster: ProcIds 0..N-1, all Idle, one transaction.

        Attributes whose expression is the same object in every ad are stored
        once, in the cluster ad. `cluster_id`: one from `new_cluster_id`
        (default: the next one). Raises ValueError when there is no ad, an ad
        has no Owner, or `cluster_id` was not reserved or is already used.
        """
        from skyflock.store.codec import encode_ads

        cluster_text, prepared = encode_ads(ads)
        return self.submit_encoded(cluster_text, prepared, cluster_id=cluster_id, now=now)

    def submit_cluster(
        self,
        cluster_ad: ClassAd,
        procs: Sequence[Mapping[str, Any]],
        *,
        cluster_id: int | None = None,
        now: float | None = None,
    ) -> Submitted:
        """Queue one job per entry of `procs`: job i's ad is `cluster_ad` with
        ``procs[i]``'s attributes (plain values or `Expr`s) set over it.

        The cluster ad is serialised once. Raises like `submit`.
        """
        from skyflock.store.codec import encode_cluster

        cluster_text, prepared = encode_cluster(cluster_ad, procs)
        return self.submit_encoded(cluster_text, prepared, cluster_id=cluster_id, now=now)

    def submit_encoded(
        self,
        cluster_ad_text: str,
        new_jobs: Sequence[NewJob],
        *,
        cluster_id: int | None = None,
        now: float | None = None,
    ) -> Submitted:
        """Queue already serialised jobs (see `store.codec`); raises like `submit`."""
        if not new_jobs:
            raise ValueError("nothing to submit: no job ads")
        prepared = new_jobs
        when = _now(now)
        with self._engine.begin() as conn:
            if cluster_id is None:
                cluster_id = _next_cluster_id(conn)
            else:
                _check_reserved(conn, cluster_id)
            conn.execute(insert(cluster_ads).values(cluster_id=cluster_id, ad=cluster_ad_text))
            ids = tuple(f"{cluster_id}.{proc}" for proc in range(len(prepared)))
            rows = [
                (
                    job_id,
                    cluster_id,
                    proc,
                    IDLE,
                    NONE,
                    job.owner,
                    job.submitter,
                    job.acct_group,
                    job.job_prio,
                    when if job.q_date is None else job.q_date,
                    job.workflow_id,
                    job.step_name,
                    0,
                    0.0,
                    when,
                    job.ad_text,
                )
                for proc, (job_id, job) in enumerate(zip(ids, prepared, strict=True))
            ]
            for part in chunks(rows, INSERT_BATCH):
                bulk_insert(conn, jobs, _SUBMIT_COLUMNS, part)
            submitted = str(EventKind.SUBMITTED)
            events = [(job_id, when, submitted) for job_id in ids]
            for chunk in chunks(events, INSERT_BATCH):
                bulk_insert(conn, events_table, ("job_id", "time", "kind"), chunk)
        return Submitted(cluster_id, ids)

    # ------------------------------------------------------------- transitions

    def match(
        self, matches: Sequence[Match], *, now: float | None = None, strict: bool = False
    ) -> TransitionResult:
        """Idle jobs were matched to slots and are being handed to their clusters."""
        by_job = {m.job_id: m for m in matches}
        per_row = {
            job_id: {
                "cluster_name": m.cluster,
                "slot_id": m.slot_id,
                "claim_cpus": m.cpus,
                "claim_memory": m.memory,
                "claim_disk": m.disk,
                "claim_gpus": m.gpus,
            }
            for job_id, m in by_job.items()
        }
        return self._transition(
            "match",
            list(by_job),
            [_Move(frozenset({(IDLE, NONE)}), IDLE, DISPATCHING)],
            expected="only Idle jobs waiting for a match can be matched",
            now=now,
            strict=strict,
            per_row=per_row,
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.MATCHED,
                t,
                cluster_name=by_job[job_id].cluster,
                slot_id=by_job[job_id].slot_id,
                message=_claim_text(by_job[job_id]),
            ),
        )

    def unmatch(
        self,
        job_ids: Sequence[str],
        reason: str,
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """A dispatch failed before the job started: the job waits for a new match."""
        return self._transition(
            "unmatch",
            job_ids,
            [_Move(frozenset({(IDLE, DISPATCHING)}), IDLE, NONE)],
            expected="only jobs being dispatched can be unmatched",
            now=now,
            strict=strict,
            event=_simple(EventKind.UNMATCHED, message=reason),
        )

    def start(
        self,
        job_ids: Sequence[str],
        *,
        handles: Mapping[str, str] | None = None,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Matched jobs started on their slots; `handles` are the backends' process ids."""
        when = _now(now)
        values = {
            "num_job_starts": jobs.c.num_job_starts + 1,
            "job_start_date": func.coalesce(jobs.c.job_start_date, when),
            "job_current_start_date": when,
        }
        per_row = None
        if handles is not None:
            per_row = {job_id: {"handle": handles.get(job_id)} for job_id in job_ids}
        return self._transition(
            "start",
            job_ids,
            [_Move(frozenset({(IDLE, DISPATCHING)}), RUNNING, NONE)],
            expected="only matched jobs can start",
            now=when,
            strict=strict,
            values=values,
            per_row=per_row,
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.STARTED,
                t,
                cluster_name=cur.cluster_name,
                slot_id=cur.slot_id,
                message=(handles or {}).get(job_id),
            ),
        )

    def preempt(
        self,
        job_ids: Sequence[str],
        reason: str,
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Running jobs are to be vacated (for priority or rank); they stay Running meanwhile."""
        return self._transition(
            "preempt",
            job_ids,
            [_Move(frozenset({(RUNNING, NONE)}), RUNNING, VACATING)],
            expected="only Running jobs can be preempted",
            now=now,
            strict=strict,
            event=_simple(EventKind.PREEMPTED, message=reason, where=True),
        )

    def evict(
        self,
        job_ids: Sequence[str],
        reason: str,
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Running jobs stopped without finishing (vacated, cluster lost): back to Idle."""
        when = _now(now)
        return self._transition(
            "evict",
            job_ids,
            [_Move(_RUNNING_ANY, IDLE, NONE)],
            expected="only Running jobs can be evicted",
            now=when,
            strict=strict,
            values=_leave_running(when),
            event=_simple(EventKind.EVICTED, message=reason, where=True),
        )

    def retry(
        self,
        exit_codes: Mapping[str, int],
        reason: str,
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Running jobs exited and will run again (max_retries not reached): back to Idle."""
        when = _now(now)
        return self._transition(
            "retry",
            list(exit_codes),
            [_Move(_RUNNING_ANY, IDLE, NONE)],
            expected="only Running jobs can be retried",
            now=when,
            strict=strict,
            values=_leave_running(when),
            per_row={j: {"exit_code": int(c)} for j, c in exit_codes.items()},
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.RETRIED,
                t,
                cluster_name=cur.cluster_name,
                slot_id=cur.slot_id,
                code=int(exit_codes[job_id]),
                message=reason,
            ),
        )

    def complete(
        self,
        exit_codes: Mapping[str, int],
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Running jobs finished with these exit codes: Completed, moved to the history."""
        when = _now(now)
        return self._transition(
            "complete",
            list(exit_codes),
            [_Move(_RUNNING_ANY, COMPLETED, NONE, archive=True)],
            expected="only Running jobs can complete",
            now=when,
            strict=strict,
            values={**_leave_running(when), "completion_date": when},
            per_row={j: {"exit_code": int(c)} for j, c in exit_codes.items()},
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.COMPLETED,
                t,
                cluster_name=cur.cluster_name,
                slot_id=cur.slot_id,
                code=int(exit_codes[job_id]),
            ),
        )

    def hold(
        self,
        job_ids: Sequence[str],
        reason: str,
        code: int,
        subcode: int = 0,
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Hold jobs with HTCondor's HoldReasonCode; a running one must then be vacated."""
        when = _now(now)
        return self._transition(
            "hold",
            job_ids,
            [
                _Move(frozenset({(IDLE, NONE)}), HELD, NONE),
                _Move(_RUNNING_ANY | {(IDLE, DISPATCHING)}, HELD, VACATING),
            ],
            expected="only Idle or Running jobs can be held",
            now=when,
            strict=strict,
            values={
                **_leave_running(when),
                "hold_reason": reason,
                "hold_reason_code": int(code),
                "hold_reason_subcode": int(subcode),
            },
            event=_simple(EventKind.HELD, message=reason, code=code, subcode=subcode),
        )

    def release(
        self, job_ids: Sequence[str], *, now: float | None = None, strict: bool = False
    ) -> TransitionResult:
        """Held jobs (whose process, if any, has stopped) go back to Idle."""
        return self._transition(
            "release",
            job_ids,
            [_Move(frozenset({(HELD, NONE)}), IDLE, NONE)],
            expected="only Held jobs can be released, once their process has stopped",
            now=now,
            strict=strict,
            values={"hold_reason": None, "hold_reason_code": None, "hold_reason_subcode": None},
            event=_simple(EventKind.RELEASED),
        )

    def remove(
        self,
        job_ids: Sequence[str],
        reason: str = "",
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Remove jobs. Those with no process go to the history at once; the others
        stay Removed/vacating until `vacated` says their process is gone."""
        when = _now(now)
        return self._transition(
            "remove",
            job_ids,
            [
                _Move(frozenset({(IDLE, NONE), (HELD, NONE)}), REMOVED, NONE, archive=True),
                _Move(_RUNNING_ANY | {(IDLE, DISPATCHING), (HELD, VACATING)}, REMOVED, VACATING),
            ],
            expected="only jobs in the queue that are not already removed can be removed",
            now=when,
            strict=strict,
            values=_leave_running(when),
            event=_simple(EventKind.REMOVED, message=reason or None),
        )

    def vacated(
        self, job_ids: Sequence[str], *, now: float | None = None, strict: bool = False
    ) -> TransitionResult:
        """The process of a held or removed job is gone (removed jobs go to the history)."""
        return self._transition(
            "vacated",
            job_ids,
            [
                _Move(frozenset({(HELD, VACATING)}), HELD, NONE),
                _Move(frozenset({(REMOVED, VACATING)}), REMOVED, NONE, archive=True),
            ],
            expected="only held or removed jobs whose process is stopping can be vacated",
            now=now,
            strict=strict,
            values={"handle": None},
            event=_simple(EventKind.VACATED, where=True),
        )

    def edit(
        self,
        job_ids: Sequence[str],
        changes: Mapping[str, str],
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Set attributes of queued jobs (`qedit`): each value is ClassAd expression text.

        Raises ValueError (store-managed attribute) or `ClassAdSyntaxError`
        (bad value) before anything is changed.
        """
        from skyflock.classad import parse
        from skyflock.store.codec import MANAGED_ATTRIBUTES, edited_proc_text

        if not changes:
            raise ValueError("nothing to edit: no attributes given")
        for name, text in changes.items():
            if name.lower() in MANAGED_ATTRIBUTES:
                raise ValueError(f"{name} is set by skyflock and cannot be edited")
            parse(text)

        def rewrite(conn: Connection, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
            # Read under the transition's lock, so no other edit can interleave.
            out: dict[str, dict[str, Any]] = {}
            for part in chunks(ids):
                stmt = (
                    select(jobs.c.id, jobs.c.ad, cluster_ads.c.ad.label("cluster_ad"))
                    .join(cluster_ads, cluster_ads.c.cluster_id == jobs.c.cluster_id)
                    .where(jobs.c.id.in_(part))
                )
                for job_id, text, cluster_text in conn.execute(stmt):
                    hot = edited_proc_text(cluster_text, text, changes)
                    out[job_id] = {
                        "ad": hot.ad_text,
                        "acct_group": hot.acct_group,
                        "submitter": hot.submitter,
                        "job_prio": hot.job_prio,
                        "workflow_id": hot.workflow_id,
                        "step_name": hot.step_name,
                    }
            return out

        summary = "; ".join(f"{name} = {text}" for name, text in changes.items())
        return self._transition(
            "edit",
            job_ids,
            [_Move(_IN_QUEUE, None, None)],
            expected="only jobs in the queue (not removed) can be edited",
            now=now,
            strict=strict,
            per_row=rewrite,
            event=_simple(EventKind.EDITED, message=summary),
        )

    # ------------------------------------------------------------------ reads

    def get(self, job_id: str) -> JobRecord | None:
        found = self.query(Selection(ids=[job_id]))
        return found[0] if found else None

    def query(self, selection: Selection | None = None, **filters: Any) -> list[JobRecord]:
        """Jobs in the queue, by ClusterId.ProcId. Pass a `Selection` or its fields:
        ``query(statuses=[1], owner="alice", constraint='RequestCpus > 1', limit=10)``.

        A constraint that does not parse raises the language's `ClassAdSyntaxError`.
        """
        sel = selection if selection is not None else Selection(**filters)
        with self._engine.connect().execution_options(**read_options) as conn:
            return fetch(conn, jobs, sel)

    def count(self) -> int:
        with self._engine.connect().execution_options(**read_options) as conn:
            return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())

    def stats(self) -> QueueStats:
        """Counts by JobStatus and by submitter (the `condor_q` totals line)."""
        stmt = select(
            jobs.c.status, jobs.c.substate, jobs.c.submitter, func.count().label("n")
        ).group_by(jobs.c.status, jobs.c.substate, jobs.c.submitter)
        by_status = {int(s): 0 for s in JobStatus}
        by_submitter: dict[str, dict[int, int]] = {}
        dispatching = vacating = 0
        with self._engine.connect().execution_options(**read_options) as conn:
            for status, substate, submitter, n in conn.execute(stmt):
                by_status[int(status)] = by_status.get(int(status), 0) + n
                counts = by_submitter.setdefault(submitter, {})
                counts[int(status)] = counts.get(int(status), 0) + n
                if substate == DISPATCHING:
                    dispatching += n
                elif substate == VACATING:
                    vacating += n
        return QueueStats(by_status, by_submitter, dispatching, vacating)

    # -------------------------------------------------------------- machinery

    def _transition(
        self,
        action: str,
        job_ids: Iterable[str],
        moves: Sequence[_Move],
        *,
        expected: str,
        now: float | None,
        strict: bool,
        event: Callable[[str, _Current, float], dict[str, Any]],
        values: Mapping[str, Any] | None = None,
        per_row: PerRow | None = None,
    ) -> TransitionResult:
        when = _now(now)
        wanted = unique(job_ids)
        with self._engine.begin() as conn:
            current = _lock(conn, wanted)
            groups: dict[int, list[str]] = {}
            refused: list[Refusal] = []
            missing: list[str] = []
            for job_id in wanted:
                cur = current.get(job_id)
                if cur is None:
                    missing.append(job_id)
                    continue
                state = (cur.status, cur.substate)
                index = next((i for i, m in enumerate(moves) if state in m.sources), None)
                if index is None:
                    refused.append(_refusal(job_id, describe_state(*state), expected))
                else:
                    groups.setdefault(index, []).append(job_id)
            refused.extend(_refusals_for_missing(conn, missing, expected))
            if strict and refused:
                raise IllegalTransition(action, refused)
            moved: list[str] = []
            for index, ids in groups.items():
                move = moves[index]
                rows = per_row(conn, ids) if callable(per_row) else per_row
                _apply(conn, move, ids, when, values or {}, rows)
                if move.archive:
                    _archive(conn, ids)
                write_events(conn, [event(j, current[j], when) for j in ids])
                moved.extend(ids)
            order = {job_id: i for i, job_id in enumerate(wanted)}
            moved.sort(key=order.__getitem__)
        return TransitionResult(action, tuple(moved), tuple(refused))


def _next_cluster_id(conn: Connection) -> int:
    """Allocate a ClusterId: an atomic increment of the counter row."""
    stmt = (
        update(counters)
        .where(counters.c.name == "cluster_id")
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    )
    return int(conn.execute(stmt).scalar_one())


def _check_reserved(conn: Connection, cluster_id: int) -> None:
    last = conn.execute(
        select(counters.c.value).where(counters.c.name == "cluster_id").with_for_update()
    ).scalar_one()
    if not 0 < cluster_id <= last:
        raise ValueError(f"cluster {cluster_id} was not reserved with new_cluster_id()")
    used = conn.execute(
        select(cluster_ads.c.cluster_id).where(cluster_ads.c.cluster_id == cluster_id)
    ).one_or_none()
    if used is not None:
        raise ValueError(f"cluster {cluster_id} has already been submitted")


def _claim_text(match: Match) -> str:
    return f"{match.cpus} cpus, {match.memory} MiB memory, {match.disk} KiB disk, {match.gpus} gpus"


def _simple(
    kind: EventKind,
    *,
    message: str | None = None,
    code: int | None = None,
    subcode: int | None = None,
    where: bool = False,
) -> Callable[[str, _Current, float], dict[str, Any]]:
    """An event builder whose fields are the same for every job."""

    def build(job_id: str, cur: _Current, when: float) -> dict[str, Any]:
        return event_row(
            job_id,
            kind,
            when,
            cluster_name=cur.cluster_name if where else None,
            slot_id=cur.slot_id if where else None,
            code=code,
            subcode=subcode,
            message=message,
        )

    return build


def _leave_running(when: float) -> dict[str, Any]:
    """Column updates for a job whose run (if it was running) ends now."""
    was_running = and_(jobs.c.status == RUNNING, jobs.c.job_current_start_date.is_not(None))
    return {
        "wall_clock": jobs.c.wall_clock
        + case((was_running, when - jobs.c.job_current_start_date), else_=0.0),
    }


def _lock(conn: Connection, ids: Sequence[str]) -> dict[str, _Current]:
    """The current state of these jobs, with their rows locked (PostgreSQL) or the
    database write-locked (SQLite's BEGIN IMMEDIATE) until the transaction ends."""
    found: dict[str, _Current] = {}
    c = jobs.c
    for part in chunks(ids):
        stmt = (
            select(c.id, c.status, c.substate, c.cluster_name, c.slot_id)
            .where(c.id.in_(part))
            .order_by(c.id)
            .with_for_update()
        )
        for row in conn.execute(stmt):
            found[row.id] = _Current(row.status, row.substate, row.cluster_name, row.slot_id)
    return found


def _refusal(job_id: str, state: str, expected: str) -> Refusal:
    return Refusal(job_id, state, f"job {job_id} is {state}; {expected}")


def _refusals_for_missing(conn: Connection, ids: Sequence[str], expected: str) -> list[Refusal]:
    finished: dict[str, int] = {}
    for part in chunks(ids):
        stmt = select(history.c.id, history.c.status).where(history.c.id.in_(part))
        finished.update((r.id, r.status) for r in conn.execute(stmt))
    out = []
    for job_id in ids:
        if job_id in finished:
            state = f"{describe_state(finished[job_id], '')} (in history)"
            out.append(_refusal(job_id, state, expected))
        else:
            out.append(Refusal(job_id, None, f"no job {job_id} in the queue or the history"))
    return out


def _apply(
    conn: Connection,
    move: _Move,
    ids: Sequence[str],
    when: float,
    values: Mapping[str, Any],
    per_row: Mapping[str, Mapping[str, Any]] | None,
) -> None:
    """Update the rows, with a compare-and-set on their state in the WHERE clause.

    The rows are already locked by `_lock`, so the guard cannot fail; it is
    there so that a statement can never move a job from a state it must not.
    """
    c = jobs.c
    sets: dict[str, Any] = dict(values)
    if move.status is not None:
        sets["status"] = move.status
        sets["substate"] = move.substate
        sets["entered_status_at"] = case((c.status != move.status, when), else_=c.entered_status_at)
        if move.status != RUNNING:
            sets.setdefault("job_current_start_date", None)
    guard = or_(*(and_(c.status == st, c.substate == sub) for st, sub in sorted(move.sources)))
    if per_row is None:
        for part in chunks(ids):
            conn.execute(update(jobs).where(c.id.in_(part), guard).values(sets))
        return
    keys = sorted({k for job_id in ids for k in per_row.get(job_id, {})})
    for key in keys:
        sets[key] = bindparam(f"p_{key}")
    params = [
        {"p_id": job_id, **{f"p_{k}": per_row.get(job_id, {}).get(k) for k in keys}}
        for job_id in ids
    ]
    stmt = update(jobs).where(c.id == bindparam("p_id"), guard).values(sets)
    conn.execute(stmt, params)


def _archive(conn: Connection, ids: Sequence[str]) -> None:
    """Move these rows from the queue to the history (same transaction)."""
    for part in chunks(ids):
        conn.execute(
            insert(history).from_select(
                list(JOB_COLUMNS),
                select(*[jobs.c[n] for n in JOB_COLUMNS]).where(jobs.c.id.in_(part)),
            )
        )
        conn.execute(delete(jobs).where(jobs.c.id.in_(part)))
