"""Selecting job records from the queue or the history table.

Both tables have the same columns, so one `Selection` serves `JobQueue.query`
and `History.query`: the hot-column filters go into SQL; a ClassAd
constraint is evaluated in Python over the rows that pass them (on the
columns alone when it reads only hot attributes, see `codec.Constraint`).

Neighbours: `store.jobs`, `store.history`; `store.codec` for constraints.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import Connection, Select, Table, select
from sqlalchemy.sql.elements import ColumnElement

from skyflock.store.records import JobRecord, job_record
from skyflock.store.schema import cluster_ads

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.store.codec import Constraint

CHUNK: Final = 500
"""Ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits."""

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique(items: Iterable[str]) -> list[str]:
    """The items once each, in their first order."""
    return list(dict.fromkeys(items))


@dataclass(frozen=True, slots=True)
class Selection:
    """Which jobs to return. Every field that is set must hold (AND)."""

    ids: Sequence[str] | None = None
    statuses: Sequence[int] | None = None
    substates: Sequence[str] | None = None
    owner: str | None = None
    submitter: str | None = None
    cluster_name: str | None = None
    workflow_id: str | None = None
    constraint: str | None = None
    """A ClassAd expression over the job ad; the job is selected when it is true."""
    limit: int | None = None

    def where(self, table: Table) -> list[ColumnElement[bool]]:
        c = table.c
        clauses: list[ColumnElement[bool]] = []
        if self.statuses is not None:
            clauses.append(c.status.in_([int(s) for s in self.statuses]))
        if self.substates is not None:
            clauses.append(c.substate.in_([str(s) for s in self.substates]))
        for name in ("owner", "submitter", "cluster_name", "workflow_id"):
            value = getattr(self, name)
            if value is not None:
                clauses.append(c[name] == value)
        return clauses


def _compiled(text: str | None) -> Constraint | None:
    if text is None or not text.strip():
        return None
    from skyflock.store.codec import Constraint

    return Constraint(text)


def _full(table: Table) -> Select[Any]:
    """Every column of `table` and the job's cluster ad (as `cluster_ad`)."""
    return select(table, cluster_ads.c.ad.label("cluster_ad")).join(
        cluster_ads, cluster_ads.c.cluster_id == table.c.cluster_id
    )


def _order(table: Table, newest_first: bool) -> list[ColumnElement[Any]]:
    c = table.c
    if newest_first:
        return [c.entered_status_at.desc(), c.cluster_id.desc(), c.proc_id.desc()]
    return [c.cluster_id.asc(), c.proc_id.asc()]


def _sort_key(newest_first: bool) -> Any:
    if newest_first:
        return lambda r: (-r.entered_status_at, -r.cluster_id, -r.proc_id)
    return lambda r: (r.cluster_id, r.proc_id)


def fetch(
    conn: Connection, table: Table, selection: Selection, *, newest_first: bool = False
) -> list[JobRecord]:
    """The records `selection` picks from `table`, by ClusterId.ProcId or newest first."""
    order = _order(table, newest_first)
    constraint = _compiled(selection.constraint)
    where = selection.where(table)
    limit = selection.limit
    if selection.ids is not None:
        return _fetch_ids(conn, table, selection, constraint, newest_first)
    if constraint is None:
        stmt = _full(table).where(*where).order_by(*order)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [job_record(r._mapping) for r in conn.execute(stmt)]
    if constraint.needs_full_ad:
        stmt = _full(table).where(*where).order_by(*order)
        return _filter(conn.execute(stmt), constraint, limit)
    # The constraint reads only columns: filter without the ad text, then fetch.
    columns = [col for col in table.c if col.name != "ad"]
    stmt_hot: Select[Any] = select(*columns).where(*where).order_by(*order)
    picked = [rec.id for rec in _filter(conn.execute(stmt_hot), constraint, limit)]
    by_id = {
        r.id: r
        for part in chunks(picked)
        for r in (
            job_record(row._mapping)
            for row in conn.execute(_full(table).where(table.c.id.in_(part)))
        )
    }
    return [by_id[i] for i in picked if i in by_id]


def _filter(rows: Iterable[Any], constraint: Constraint, limit: int | None) -> list[JobRecord]:
    out: list[JobRecord] = []
    for row in rows:
        record = job_record(row._mapping)
        if constraint.matches(record):
            out.append(record)
            if limit is not None and len(out) >= limit:
                break
    return out


def _fetch_ids(
    conn: Connection,
    table: Table,
    selection: Selection,
    constraint: Constraint | None,
    newest_first: bool,
) -> list[JobRecord]:
    assert selection.ids is not None
    where = selection.where(table)
    found: list[JobRecord] = []
    for part in chunks(unique(selection.ids)):
        stmt = _full(table).where(table.c.id.in_(part), *where)
        found.extend(job_record(r._mapping) for r in conn.execute(stmt))
    if constraint is not None:
        found = [r for r in found if constraint.matches(r)]
    found.sort(key=_sort_key(newest_first))
    return found if selection.limit is None else found[: selection.limit]
