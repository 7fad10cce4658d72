"""The machinery of the queue's guarded state transitions.

`run_transition` is what every `JobQueue` transition method runs, as ONE
transaction: lock the jobs' rows, keep those whose current state is one of a
`Move`'s sources, update them with a compare-and-set on (JobStatus,
substate) in the WHERE clause, write their events, move finished ones to
`history`, and name the others in the result's refusals. The table of legal
moves is in `store.jobs`, which builds the `Move`s; this module knows nothing
of which move is legal, only how to make one safely.

Neighbours: `store.jobs` (the transitions as methods), `store.events` (the
rows written), `store.schema` (the tables).
"""

from __future__ import annotations

import contextlib
import threading
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
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import ClauseElement

from skyflock.store.events import EventKind, event_row, write_events
from skyflock.store.records import (
    IllegalTransition,
    JobStatus,
    Refusal,
    Substate,
    TransitionResult,
    describe_state,
)
from skyflock.store.schema import JOB_COLUMNS, history, jobs
from skyflock.store.selection import chunks, unique

if TYPE_CHECKING:  # pragma: no cover - typing only
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
RUNNING_ANY: Final[frozenset[State]] = frozenset({(RUNNING, NONE), (RUNNING, VACATING)})
IN_QUEUE: Final[frozenset[State]] = frozenset(
    (s, sub) for s in (IDLE, RUNNING, HELD) for sub in (NONE, DISPATCHING, VACATING)
)


@dataclass(frozen=True, slots=True)
class Move:
    """Jobs in one of `sources` go to (`status`, `substate`), then maybe to history."""

    sources: frozenset[State]
    status: int | None
    """None: the state stays (an edit)."""
    substate: str | None
    archive: bool = False


@dataclass(frozen=True, slots=True)
class Current:
    """A locked job row's state, as a transition sees it."""

    status: int
    substate: str
    cluster_name: str | None
    slot_id: str | None


def now_or_clock(now: float | None) -> float:
    return time.time() if now is None else float(now)


def run_transition(
    engine: Engine | Connection,
    action: str,
    job_ids: Iterable[str],
    moves: Sequence[Move],
    *,
    expected: str,
    now: float | None,
    strict: bool,
    event: Callable[[str, Current, float], dict[str, Any]],
    values: Mapping[str, Any] | None = None,
    per_row: PerRow | None = None,
) -> TransitionResult:
    when = now_or_clock(now)
    wanted = unique(job_ids)
    # A Connection: a transaction the caller holds (`JobQueue.apply` runs several).
    scope = engine.begin() if isinstance(engine, Engine) else contextlib.nullcontext(engine)
    with scope as conn:
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


def claim_text(match: Match) -> str:
    return f"{match.cpus} cpus, {match.memory} MiB memory, {match.disk} KiB disk, {match.gpus} gpus"


def simple_event(
    kind: EventKind,
    *,
    message: str | None = None,
    code: int | None = None,
    subcode: int | None = None,
    where: bool = False,
) -> Callable[[str, Current, float], dict[str, Any]]:
    """An event builder whose fields are the same for every job."""

    def build(job_id: str, cur: Current, when: float) -> dict[str, Any]:
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


_WHEN: Final = bindparam("t_when", type_=jobs.c.entered_status_at.type)
"""The transition's time, bound at execution: statements that read it are built once."""

_LEAVE_RUNNING: Final = {
    "wall_clock": jobs.c.wall_clock
    + case(
        (
            and_(jobs.c.status == RUNNING, jobs.c.job_current_start_date.is_not(None)),
            _WHEN - jobs.c.job_current_start_date,
        ),
        else_=0.0,
    ),
}


def leave_running(when: float) -> dict[str, Any]:
    """Column updates for a job whose run (if it was running) ends now.

    The time is the transition's own (`run_transition` binds it); the expression is
    one object, so the statements using it are cached (`_statement`)."""
    del when  # the transition's `now`, bound as `t_when` when the statement runs
    return dict(_LEAVE_RUNNING)


_LOCK: Final = (
    select(jobs.c.id, jobs.c.status, jobs.c.substate, jobs.c.cluster_name, jobs.c.slot_id)
    .where(jobs.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(jobs.c.id)
    .with_for_update()
)
"""Built once: a statement object SQLAlchemy need not build and hash again per call."""


def _lock(conn: Connection, ids: Sequence[str]) -> dict[str, Current]:
    """The current state of these jobs, with their rows locked (PostgreSQL) or the
    database write-locked (SQLite's BEGIN IMMEDIATE) until the transaction ends."""
    found: dict[str, Current] = {}
    for part in chunks(ids):
        for row in conn.execute(_LOCK, {"ids": list(part)}):
            found[row.id] = Current(row.status, row.substate, row.cluster_name, row.slot_id)
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
    move: Move,
    ids: Sequence[str],
    when: float,
    values: Mapping[str, Any],
    per_row: Mapping[str, Mapping[str, Any]] | None,
) -> None:
    """Update the rows, with a compare-and-set on their state in the WHERE clause.

    The rows are already locked by `_lock`, so the guard cannot fail; it is
    there so that a statement can never move a job from a state it must not.
    """
    keys = () if per_row is None else tuple(sorted({k for j in ids for k in per_row.get(j, {})}))
    stmt, scalars = _statement(move, values, keys, per_row is not None)
    shared = {"t_when": when, **{f"v_{k}": values[k] for k in scalars}}
    if per_row is None:
        for part in chunks(ids):
            conn.execute(stmt, {"t_ids": list(part), **shared})
        return
    params = [
        {"p_id": job_id, **shared, **{f"p_{k}": per_row.get(job_id, {}).get(k) for k in keys}}
        for job_id in ids
    ]
    conn.execute(stmt, params)


_STATEMENTS: dict[tuple[Any, ...], tuple[Any, tuple[str, ...], tuple[Any, ...]]] = {}
"""Built guarded UPDATEs by shape: the move, which values are SQL expressions (by
identity: the entry holds them, so an id cannot be reused while it is cached), the
per-row columns. The time and plain values are bound parameters, so a transition
does not build, and SQLAlchemy does not hash, the same statement again."""
_STATEMENTS_MAX: Final = 64
_STATEMENTS_LOCK: Final = threading.Lock()


def _statement(
    move: Move, values: Mapping[str, Any], keys: tuple[str, ...], by_row: bool
) -> tuple[Any, tuple[str, ...]]:
    """The UPDATE for this shape, and the names of `values` it binds as `v_<name>`."""
    shape = tuple(
        (k, id(v) if isinstance(v, ClauseElement) else None) for k, v in sorted(values.items())
    )
    cache_key = (move, shape, keys, by_row)
    hit = _STATEMENTS.get(cache_key)
    if hit is not None:
        return hit[0], hit[1]
    c = jobs.c
    sets: dict[str, Any] = {}
    scalars: list[str] = []
    held: list[Any] = []
    for k, v in values.items():
        if isinstance(v, ClauseElement):
            sets[k] = v
            held.append(v)
        else:
            sets[k] = bindparam(f"v_{k}")
            scalars.append(k)
    if move.status is not None:
        sets["status"] = move.status
        sets["substate"] = move.substate
        sets["entered_status_at"] = case(
            (c.status != move.status, _WHEN), else_=c.entered_status_at
        )
        if move.status != RUNNING:
            sets.setdefault("job_current_start_date", None)
    guard = or_(*(and_(c.status == st, c.substate == sub) for st, sub in sorted(move.sources)))
    for key in keys:
        sets[key] = bindparam(f"p_{key}")
    where = c.id == bindparam("p_id") if by_row else c.id.in_(bindparam("t_ids", expanding=True))
    stmt = update(jobs).where(where, guard).values(sets)
    with _STATEMENTS_LOCK:  # transitions run in worker threads
        while len(_STATEMENTS) >= _STATEMENTS_MAX:
            del _STATEMENTS[next(iter(_STATEMENTS))]
        _STATEMENTS[cache_key] = (stmt, tuple(scalars), tuple(held))
    return stmt, tuple(scalars)


def _archive(conn: Connection, ids: Sequence[str]) -> None:
    """Move these rows from the queue to the history (same transaction)."""
    for part in chunks(ids):
        params = {"ids": list(part)}
        conn.execute(_TO_HISTORY, params)
        conn.execute(_FROM_QUEUE, params)


_TO_HISTORY: Final = insert(history).from_select(
    list(JOB_COLUMNS),
    select(*[jobs.c[n] for n in JOB_COLUMNS]).where(
        jobs.c.id.in_(bindparam("ids", expanding=True))
    ),
)
_FROM_QUEUE: Final = delete(jobs).where(jobs.c.id.in_(bindparam("ids", expanding=True)))
