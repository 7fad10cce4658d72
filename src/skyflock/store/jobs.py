"""The job queue: submit, the guarded state transitions, and queue reads.

Every transition is one method taking many jobs and running as ONE
transaction: it locks the jobs' rows, keeps those whose current state allows
the move, updates them with a compare-and-set on (JobStatus, substate) in
the WHERE clause, writes their events, and (for Completed and Removed jobs)
moves them to `history` — all or nothing. Jobs that may not move are left
untouched and named, with their state, in the result's `refused`; with
``strict=True`` a refusal raises `IllegalTransition` and nothing changes.
`retry` and `complete` also count the run in `NumJobCompletions`, which the
manager's `max_retries` policy reads back after a restart.

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

Neighbours: `store.transitions` (how a transition is made safely),
`store.submitting` (the insert of a submit), `store.events` (rows written
here), `store.history` (reads of finished jobs), `store.selection` (query
building), `store.codec` and `store.submit_codec` (ClassAds).
No scheduling decisions are made here: the manager decides, the store records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Engine, func, select

from skyflock.store.batch import BatchResult, JobBatch
from skyflock.store.engine import read_options
from skyflock.store.events import EventKind, event_row, exit_message, started_message
from skyflock.store.logs import LogIndex
from skyflock.store.records import (
    ExitStatus,
    JobRecord,
    JobStatus,
    NewJob,
    QueueStats,
    Submitted,
    TransitionResult,
    split_exit,
)
from skyflock.store.schema import cluster_ads, jobs
from skyflock.store.selection import Selection, chunks, fetch
from skyflock.store.submitting import check_reserved, insert_cluster, next_cluster_id
from skyflock.store.transitions import (
    COMPLETED,
    DISPATCHING,
    HELD,
    IDLE,
    IN_QUEUE,
    NONE,
    REMOVED,
    RUNNING,
    RUNNING_ANY,
    VACATING,
    Move,
    claim_text,
    leave_running,
    now_or_clock,
    run_transition,
    simple_event,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd
    from skyflock.core.model import Match

_COMPLETIONS_PLUS_ONE = jobs.c.num_job_completions + 1
"""A run ended on its own (`retry`, `complete`): one more `NumJobCompletions`."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What a transition may do: its name, its moves (from which states to which), and
    the sentence a refused job gets."""

    action: str
    moves: tuple[Move, ...]
    expected: str


_MATCH: Final = Rule(
    "match",
    (Move(frozenset({(IDLE, NONE)}), IDLE, DISPATCHING),),
    "only Idle jobs waiting for a match can be matched",
)


_UNMATCH: Final = Rule(
    "unmatch",
    (Move(frozenset({(IDLE, DISPATCHING)}), IDLE, NONE),),
    "only jobs being dispatched can be unmatched",
)


_START: Final = Rule(
    "start",
    (Move(frozenset({(IDLE, DISPATCHING)}), RUNNING, NONE),),
    "only matched jobs can start",
)


_PREEMPT: Final = Rule(
    "preempt",
    (Move(frozenset({(RUNNING, NONE)}), RUNNING, VACATING),),
    "only Running jobs can be preempted",
)


_EVICT: Final = Rule(
    "evict",
    (Move(RUNNING_ANY, IDLE, NONE),),
    "only Running jobs can be evicted",
)


_RETRY: Final = Rule(
    "retry",
    (Move(RUNNING_ANY, IDLE, NONE),),
    "only Running jobs can be retried",
)


_COMPLETE: Final = Rule(
    "complete",
    (Move(RUNNING_ANY, COMPLETED, NONE, archive=True),),
    "only Running jobs can complete",
)


_HOLD: Final = Rule(
    "hold",
    (
        Move(frozenset({(IDLE, NONE)}), HELD, NONE),
        Move(RUNNING_ANY | {(IDLE, DISPATCHING)}, HELD, VACATING),
    ),
    "only Idle or Running jobs can be held",
)


_RELEASE: Final = Rule(
    "release",
    (Move(frozenset({(HELD, NONE)}), IDLE, NONE),),
    "only Held jobs can be released, once their process has stopped",
)


_REMOVE: Final = Rule(
    "remove",
    (
        Move(frozenset({(IDLE, NONE), (HELD, NONE)}), REMOVED, NONE, archive=True),
        Move(RUNNING_ANY | {(IDLE, DISPATCHING), (HELD, VACATING)}, REMOVED, VACATING),
    ),
    "only jobs in the queue that are not already removed can be removed",
)


_VACATED: Final = Rule(
    "vacated",
    (
        Move(frozenset({(HELD, VACATING)}), HELD, NONE),
        Move(frozenset({(REMOVED, VACATING)}), REMOVED, NONE, archive=True),
    ),
    "only held or removed jobs whose process is stopping can be vacated",
)


_EDIT: Final = Rule(
    "edit",
    (Move(IN_QUEUE, None, None),),
    "only jobs in the queue (not removed) can be edited",
)


class JobQueue:
    """The queue of jobs not yet finished. Thread-safe; every method is one transaction."""

    def __init__(self, engine: Engine, conn: Connection | None = None) -> None:
        self._engine = engine
        self._target: Engine | Connection = engine if conn is None else conn
        """Where transitions run: the engine (a transaction each), or the
        connection of the one transaction `apply` holds."""

    def apply(self, batch: JobBatch, *, now: float | None = None) -> BatchResult:
        """Commit every transition of `batch`, and its log index rows, in ONE
        transaction (see `store.batch`); refusals are reported, never raised."""
        when = now_or_clock(now)
        out: list[TransitionResult] = []
        with self._engine.begin() as conn:
            q = JobQueue(self._engine, conn)
            if batch.started:
                out.append(q.start(list(batch.started), handles=batch.started, now=when))
            if batch.logs:
                LogIndex.record_on(conn, batch.logs, when)
            if batch.completed:
                out.append(q.complete(batch.completed, now=when))
            for reason, codes in batch.retried.items():
                out.append(q.retry(codes, reason, now=when))
            for (reason, code, subcode), ids in batch.held.items():
                held = q.hold(ids, reason, code, subcode, now=when)
                out.append(held)
                if held.moved:
                    out.append(q.vacated(list(held.moved), now=when))
            for reason, ids in batch.evicted.items():
                out.append(q.evict(ids, reason, now=when))
            for reason, ids in batch.unmatched.items():
                out.append(q.unmatch(ids, reason, now=when))
            if batch.vacated:
                out.append(q.vacated(batch.vacated, now=when))
            if batch.matches:
                out.append(q.match(batch.matches, now=when))
        return BatchResult(tuple(out))

    # ------------------------------------------------------------------ submit

    def new_cluster_id(self) -> int:
        """Reserve the next ClusterId (for a submit file that uses `$(Cluster)`).

        Pass it to `submit*` as `cluster_id`; an id reserved and never used
        stays unused, as in HTCondor.
        """
        with self._engine.begin() as conn:
            return next_cluster_id(conn)

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
        For a submit description, `submit_cluster` with the shape
        `skyflock.submit.parse_submit_cluster` returns is several times faster.
        """
        from skyflock.store.submit_codec import encode_ads

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

        The cluster ad is serialised and its hot values read once; each proc
        costs the text of its own values. ClusterId and ProcId are the store's
        (an attribute of that name in the ads is overridden when read).
        Raises like `submit`.
        """
        from skyflock.store.submit_codec import encode_submit

        if not procs:
            raise ValueError("nothing to submit: no job ads")
        encoded = encode_submit(cluster_ad, procs)
        return self._insert(
            encoded.cluster_text, encoded.texts, encoded.hot, cluster_id=cluster_id, now=now
        )

    def submit_encoded(
        self,
        cluster_ad_text: str,
        new_jobs: Sequence[NewJob],
        *,
        cluster_id: int | None = None,
        now: float | None = None,
    ) -> Submitted:
        """Queue already serialised jobs (see `store.submit_codec`); raises like `submit`."""
        if not new_jobs:
            raise ValueError("nothing to submit: no job ads")
        texts = [job.ad_text for job in new_jobs]
        return self._insert(cluster_ad_text, texts, new_jobs, cluster_id=cluster_id, now=now)

    def _insert(
        self,
        cluster_text: str,
        texts: Sequence[str],
        hot: NewJob | Sequence[NewJob],
        *,
        cluster_id: int | None,
        now: float | None,
    ) -> Submitted:
        when = now_or_clock(now)
        with self._engine.begin() as conn:
            if cluster_id is None:
                cluster_id = next_cluster_id(conn)
            else:
                check_reserved(conn, cluster_id)
            ids = insert_cluster(conn, cluster_id, cluster_text, texts, hot, when)
        return Submitted(cluster_id, ids)

    # ------------------------------------------------------------- transitions

    def _run(self, rule: Rule, job_ids: Sequence[str], **kw: Any) -> TransitionResult:
        """One guarded transition of `rule` (see `store.transitions.run_transition`)."""
        return run_transition(
            self._target, rule.action, job_ids, rule.moves, expected=rule.expected, **kw
        )

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
        return self._run(
            _MATCH,
            list(by_job),
            now=now,
            strict=strict,
            per_row=per_row,
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.MATCHED,
                t,
                cluster_name=by_job[job_id].cluster,
                slot_id=by_job[job_id].slot_id,
                message=claim_text(by_job[job_id]),
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
        return self._run(
            _UNMATCH,
            job_ids,
            now=now,
            strict=strict,
            event=simple_event(EventKind.UNMATCHED, message=reason),
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
        when = now_or_clock(now)
        values = {
            "num_job_starts": jobs.c.num_job_starts + 1,
            "job_start_date": func.coalesce(jobs.c.job_start_date, when),
            "job_current_start_date": when,
        }
        per_row = None
        if handles is not None:
            per_row = {job_id: {"handle": handles.get(job_id)} for job_id in job_ids}
        return self._run(
            _START,
            job_ids,
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
                message=started_message((handles or {}).get(job_id)),
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
        return self._run(
            _PREEMPT,
            job_ids,
            now=now,
            strict=strict,
            event=simple_event(EventKind.PREEMPTED, message=reason, where=True),
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
        when = now_or_clock(now)
        return self._run(
            _EVICT,
            job_ids,
            now=when,
            strict=strict,
            values=leave_running(when),
            event=simple_event(EventKind.EVICTED, message=reason, where=True),
        )

    def retry(
        self,
        exit_codes: Mapping[str, ExitStatus],
        reason: str,
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Running jobs exited and will run again (max_retries not reached): back to Idle.

        Each value is an exit code, or a (code, signal) pair (see `split_exit`)."""
        when = now_or_clock(now)
        ends = {j: split_exit(v) for j, v in exit_codes.items()}
        return self._run(
            _RETRY,
            list(ends),
            now=when,
            strict=strict,
            values={**leave_running(when), "num_job_completions": _COMPLETIONS_PLUS_ONE},
            per_row={j: {"exit_code": c, "exit_signal": s} for j, (c, s) in ends.items()},
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.RETRIED,
                t,
                cluster_name=cur.cluster_name,
                slot_id=cur.slot_id,
                code=ends[job_id][0],
                message=exit_message(ends[job_id][1], reason),
            ),
        )

    def complete(
        self,
        exit_codes: Mapping[str, ExitStatus],
        *,
        now: float | None = None,
        strict: bool = False,
    ) -> TransitionResult:
        """Running jobs finished with these exit codes: Completed, moved to the history.

        Each value is an exit code, or a (code, signal) pair (see `split_exit`)."""
        when = now_or_clock(now)
        ends = {j: split_exit(v) for j, v in exit_codes.items()}
        return self._run(
            _COMPLETE,
            list(ends),
            now=when,
            strict=strict,
            values={
                **leave_running(when),
                "completion_date": when,
                "num_job_completions": _COMPLETIONS_PLUS_ONE,
            },
            per_row={j: {"exit_code": c, "exit_signal": s} for j, (c, s) in ends.items()},
            event=lambda job_id, cur, t: event_row(
                job_id,
                EventKind.COMPLETED,
                t,
                cluster_name=cur.cluster_name,
                slot_id=cur.slot_id,
                code=ends[job_id][0],
                message=exit_message(ends[job_id][1]),
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
        when = now_or_clock(now)
        return self._run(
            _HOLD,
            job_ids,
            now=when,
            strict=strict,
            values={
                **leave_running(when),
                "hold_reason": reason,
                "hold_reason_code": int(code),
                "hold_reason_subcode": int(subcode),
            },
            event=simple_event(EventKind.HELD, message=reason, code=code, subcode=subcode),
        )

    def release(
        self, job_ids: Sequence[str], *, now: float | None = None, strict: bool = False
    ) -> TransitionResult:
        """Held jobs (whose process, if any, has stopped) go back to Idle."""
        return self._run(
            _RELEASE,
            job_ids,
            now=now,
            strict=strict,
            values={"hold_reason": None, "hold_reason_code": None, "hold_reason_subcode": None},
            event=simple_event(EventKind.RELEASED),
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
        when = now_or_clock(now)
        return self._run(
            _REMOVE,
            job_ids,
            now=when,
            strict=strict,
            values=leave_running(when),
            event=simple_event(EventKind.REMOVED, message=reason or None),
        )

    def vacated(
        self, job_ids: Sequence[str], *, now: float | None = None, strict: bool = False
    ) -> TransitionResult:
        """The process of a held or removed job is gone (removed jobs go to the history)."""
        return self._run(
            _VACATED,
            job_ids,
            now=now,
            strict=strict,
            values={"handle": None},
            event=simple_event(EventKind.VACATED, where=True),
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
        return self._run(
            _EDIT,
            job_ids,
            now=now,
            strict=strict,
            per_row=rewrite,
            event=simple_event(EventKind.EDITED, message=summary),
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
