"""Why an autocluster is still idle, as data, and its text for `skyflock q -analyze`.

For every job autocluster left with idle jobs after a cycle the negotiator
records an `Explanation`:

- per submitter, how many jobs wait and why the negotiator stopped: no slot
  left that matches (`no_slots`), the submitter's fair-share limit
  (`fair_share`), its ceiling (`ceiling`) or its group's quota
  (`group_quota`);
- per cluster, how the slots fall: cluster cordoned or unhealthy, rejected by
  the job's Requirements, rejected by the slot's Start/Requirements, too small
  even when empty, too few resources left now, and matching with resources
  free (then fair share or quota is the reason);
- per top-level `&&` clause of the job's Requirements, how many slots it
  rejects (evaluated against each slot as if empty, so a clause about memory
  says which machines could ever run the job);
- suggestions: one change that would make the job match, e.g. "would match
  120 slots on cluster tsystems with RequestMemory <= 8000".

Counting works on slot groups (`core.autocluster`), weighted by the number of
slots in each, so explaining costs as much as one matching pass over groups.
Neighbours: `core.negotiate` calls `explain_cycle`; the CLI renders with
`render`. Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from skyflock.core import carve, clauses
from skyflock.core.carve import Resources

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd, Expr
    from skyflock.core.autocluster import JobGroup, SlotGroup
    from skyflock.core.matchtable import MatchTable
    from skyflock.core.model import ClusterState
    from skyflock.core.pool import Pool

REASON_TEXT = {
    "no_slots": "no slot left that matches",
    "fair_share": "submitter's fair-share limit reached",
    "ceiling": "submitter's ceiling reached",
    "group_quota": "group quota reached",
}


@dataclass(frozen=True, slots=True)
class ClusterAnalysis:
    """How the slots of one cluster fall for one autocluster (counts of slots)."""

    cluster: str
    slots: int
    unavailable: str = ""
    """"cordoned" or "unhealthy" when the whole cluster is set aside, else empty."""
    rejected_by_job: int = 0
    rejected_by_slot: int = 0
    too_small: int = 0
    too_few_left: int = 0
    available: int = 0


@dataclass(frozen=True, slots=True)
class ClauseCount:
    """A top-level clause of the job's Requirements and the slots it rejects."""

    text: str
    rejected: int
    by_cluster: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Suggestion:
    cluster: str
    slots: int
    change: str

    def __str__(self) -> str:
        return (
            f"would match {_count(self.slots, 'slot')} on cluster {self.cluster} with {self.change}"
        )


@dataclass(frozen=True, slots=True)
class Explanation:
    autocluster: str
    idle: int
    request: Resources
    requirements: str
    waiting: Mapping[str, Mapping[str, int]]
    """Submitter -> reason -> idle jobs."""
    limits: Mapping[str, float]
    """Pie-spin limit of each waiting submitter (slot-weight units)."""
    group_allocations: Mapping[str, float]
    clusters: tuple[ClusterAnalysis, ...]
    clauses: tuple[ClauseCount, ...]
    suggestions: tuple[Suggestion, ...]

    def reasons(self) -> set[str]:
        """Every reason word that applies (waiting reasons and slot verdicts)."""
        out = {r for by in self.waiting.values() for r in by}
        for c in self.clusters:
            if c.unavailable:
                out.add(f"cluster_{c.unavailable}")
            for name in ("rejected_by_job", "rejected_by_slot", "too_small", "too_few_left"):
                if getattr(c, name):
                    out.add(name)
        return out


@dataclass(slots=True)
class _Tally:
    slots: int = 0
    unavailable: str = ""
    rejected_by_job: int = 0
    rejected_by_slot: int = 0
    too_small: int = 0
    too_few_left: int = 0
    available: int = 0


def _fresh(table: MatchTable, g: SlotGroup) -> ClassAd:
    return table.ad_at(g.index, g.totals) if g.partitionable else g.rep.ad


def _true(table: MatchTable, expr: Expr, my: ClassAd, target: ClassAd) -> bool:
    return table.compiled(expr)(my, target) is True


def _request_index(clause: Expr) -> int | None:
    mine, _ = clauses.names_read(clause)
    hits = [i for i, name in enumerate(carve.REQUEST_ATTRS) if name in mine]
    return hits[0] if len(hits) == 1 else None


def explain_autocluster(
    jg: JobGroup,
    slot_groups: Sequence[SlotGroup],
    pool: Pool,
    table: MatchTable,
    waiting: Mapping[str, Mapping[str, int]],
    *,
    clusters: Mapping[str, ClusterState],
    usable: Sequence[bool],
    limits: Mapping[str, float],
    allocations: Mapping[str, float],
    exhausted: bool = False,
    free_cache: dict[tuple[int, Resources], int] | None = None,
) -> Explanation:
    job_ad = jg.rep.ad
    need = jg.request
    free_cache = {} if free_cache is None else free_cache
    parts = clauses.split_and(jg.requirements)
    dynamic_parts = [table.reads_resources(c, job_side=True) for c in parts]
    tallies: dict[str, _Tally] = {}
    clause_rejects: list[dict[str, int]] = [{} for _ in parts]
    # per group: (cluster, n, clause verdicts, slot ok, totals)
    seen: list[tuple[str, int, list[bool], bool, Resources]] = []
    for g in slot_groups:
        n = len(g.slots)
        if n == 0:
            continue
        tally = tallies.setdefault(g.cluster, _Tally())
        tally.slots += n
        if not usable[g.index]:
            state = clusters.get(g.cluster)
            tally.unavailable = "cordoned" if state is not None and state.cordoned else "unhealthy"
            continue
        fresh = _fresh(table, g)
        verdicts = [
            _true(table, c, job_ad, fresh)
            if dyn
            else table.clause_true(c, jg.index, g.index, job_side=True)
            for c, dyn in zip(parts, dynamic_parts, strict=True)
        ]
        for i, ok in enumerate(verdicts):
            if not ok:
                clause_rejects[i][g.cluster] = clause_rejects[i].get(g.cluster, 0) + n
        slot_ok = all(
            _true(table, c, fresh, job_ad)
            if table.reads_resources(c, job_side=False)
            else table.clause_true(c, jg.index, g.index, job_side=False)
            for e in table.slot_exprs(g.index)
            for c in clauses.split_and(e)
        )
        seen.append((g.cluster, n, verdicts, slot_ok, g.totals))
        if not all(verdicts):
            tally.rejected_by_job += n
        elif not slot_ok:
            tally.rejected_by_slot += n
        elif not carve.fits(g.totals, need):
            tally.too_small += n
        else:
            free = 0
            pair = table.pair(jg.index, g.index)
            if pair is not None and not exhausted:
                if pair.dynamic:
                    for res in pool.fitting(g.index, need):
                        if table.dynamic_ok(jg.index, g.index, res):
                            free += pool.count(g.index, res)
                else:
                    free = _free_slots(pool, g.index, need, free_cache)
            tally.available += free
            tally.too_few_left += n - free
    suggestions = _suggest(parts, need, seen)
    return Explanation(
        autocluster=jg.key,
        idle=sum(sum(by.values()) for by in waiting.values()),
        request=need,
        requirements=str(jg.requirements) if jg.requirements is not None else "true",
        waiting={s: dict(by) for s, by in sorted(waiting.items())},
        limits={s: limits[s] for s in sorted(waiting) if s in limits},
        group_allocations=dict(allocations),
        clusters=tuple(
            ClusterAnalysis(
                name,
                t.slots,
                t.unavailable,
                t.rejected_by_job,
                t.rejected_by_slot,
                t.too_small,
                t.too_few_left,
                t.available,
            )
            for name, t in sorted(tallies.items())
        ),
        clauses=tuple(
            ClauseCount(str(c), sum(r.values()), dict(sorted(r.items())))
            for c, r in zip(parts, clause_rejects, strict=True)
        ),
        suggestions=suggestions,
    )


def _free_slots(
    pool: Pool, group: int, need: Resources, cache: dict[tuple[int, Resources], int]
) -> int:
    """Slots of a group with room for `need` (shared by the autoclusters asking the same)."""
    key = (group, need)
    free = cache.get(key)
    if free is None:
        free = cache[key] = sum(pool.count(group, res) for res in pool.fitting(group, need))
    return free


def _suggest(
    parts: Sequence[Expr],
    need: Resources,
    seen: Sequence[tuple[str, int, list[bool], bool, Resources]],
) -> tuple[Suggestion, ...]:
    """Changes of one clause or one request that would make the job match some slots."""
    out: list[Suggestion] = []
    matching: dict[str, int] = {}
    for cluster, n, verdicts, slot_ok, totals in seen:
        if all(verdicts) and slot_ok and carve.fits(totals, need):
            matching[cluster] = matching.get(cluster, 0) + n
    # a smaller request: clauses that read that request are assumed to follow it
    request_clauses = {i: _request_index(c) for i, c in enumerate(parts)}
    for r, name in enumerate(carve.REQUEST_NAMES):
        per_cluster: dict[str, tuple[int, int]] = {}
        for cluster, n, verdicts, slot_ok, totals in seen:
            others_ok = all(v for i, v in enumerate(verdicts) if request_clauses[i] != r)
            if not (others_ok and slot_ok) or totals[r] >= need[r]:
                continue
            if not all(t >= q for i, (t, q) in enumerate(zip(totals, need, strict=True)) if i != r):
                continue
            count, low = per_cluster.get(cluster, (0, totals[r]))
            per_cluster[cluster] = (count + n, min(low, totals[r]))
        for cluster, (count, low) in per_cluster.items():
            out.append(Suggestion(cluster, count + matching.get(cluster, 0), f"{name} <= {low}"))
    # dropping one clause that does not read a request
    for i, clause in enumerate(parts):
        if request_clauses[i] is not None:
            continue
        gained: dict[str, int] = {}
        for cluster, n, verdicts, slot_ok, totals in seen:
            if verdicts[i] or not slot_ok or not carve.fits(totals, need):
                continue
            if all(v for j, v in enumerate(verdicts) if j != i):
                gained[cluster] = gained.get(cluster, 0) + n
        for cluster, count in gained.items():
            out.append(
                Suggestion(
                    cluster, count + matching.get(cluster, 0), f"the clause `{clause}` removed"
                )
            )
    out.sort(key=lambda s: (-s.slots, s.cluster, s.change))
    return tuple(out[:5])


def explain_cycle(
    job_groups: Sequence[JobGroup],
    slot_groups: Sequence[SlotGroup],
    pool: Pool,
    table: MatchTable,
    waiting: Mapping[int, Mapping[str, Mapping[str, int]]],
    *,
    clusters: Mapping[str, ClusterState],
    usable: Sequence[bool],
    limits: Mapping[str, float],
    allocations: Mapping[str, float],
    exhausted: Collection[int] = (),
) -> dict[str, Explanation]:
    """An explanation for every job group with idle jobs left (`waiting` by group index)."""
    out: dict[str, Explanation] = {}
    free_cache: dict[tuple[int, Resources], int] = {}
    for a in sorted(waiting):
        jg = job_groups[a]
        out[jg.key] = explain_autocluster(
            jg,
            slot_groups,
            pool,
            table,
            waiting[a],
            clusters=clusters,
            usable=usable,
            limits=limits,
            allocations=allocations,
            exhausted=a in exhausted,
            free_cache=free_cache,
        )
    return out


# ---------------------------------------------------------------------------
# text


def _count(n: int, noun: str) -> str:
    """`1 slot`, `3 slots`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _size(value: float, unit_kib: int) -> str:
    """A memory or disk size for people: `64 MiB`, `4 TiB`, `1.5 GiB`.

    `unit_kib` is the size of one unit of `value` in KiB (1024 for MiB, 1 for KiB).
    """
    kib = float(value) * unit_kib
    for name, scale in (("TiB", 1024**3), ("GiB", 1024**2), ("MiB", 1024)):
        if kib >= scale:
            return f"{kib / scale:.4g} {name}"
    return f"{kib:.4g} KiB"


def render(explanation: Explanation, job_id: str | None = None) -> str:
    """The text `skyflock q -analyze` prints for one idle job or autocluster."""
    e = explanation
    lines: list[str] = []
    head = f"Job {job_id}" if job_id else f"Autocluster {e.autocluster}"
    cpus, memory, disk, gpus = e.request
    lines.append(f"{head}: {e.idle} idle job(s) in autocluster {e.autocluster}")
    lines.append(
        f"  requests {_count(cpus, 'CPU')}, {_size(memory, 1024)} memory,"
        f" {_size(disk, 1)} disk, {_count(gpus, 'GPU')};"
        f" Requirements = {e.requirements}"
    )
    lines.append("")
    lines.append("Why idle:")
    could_run = sum(c.too_few_left + c.available for c in e.clusters)
    for who, by in e.waiting.items():
        for reason, count in sorted(by.items()):
            text = REASON_TEXT.get(reason, reason)
            if reason == "no_slots":
                text = (
                    "every slot that could run it is busy"
                    if could_run
                    else "no usable slot can run it (see below)"
                )
            extra = ""
            if reason in ("fair_share", "ceiling", "group_quota") and who in e.limits:
                extra = f" (may hold {e.limits[who]:.1f} slot-weight units this cycle)"
            lines.append(f"  {count} job(s) of {who}: {text}{extra}")
    lines.append("")
    header = (
        "cluster",
        "slots",
        "rejected by job",
        "rejected by slot",
        "too small",
        "busy",
        "free",
    )
    rows = [header]
    for c in e.clusters:
        if c.unavailable:
            rows.append((c.cluster, str(c.slots), f"cluster {c.unavailable}", "", "", "", ""))
            continue
        rows.append(
            (
                c.cluster,
                str(c.slots),
                str(c.rejected_by_job),
                str(c.rejected_by_slot),
                str(c.too_small),
                str(c.too_few_left),
                str(c.available),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines.append("Slots per cluster:")
    for row in rows:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        lines.append(("  " + cells).rstrip())
    if e.clauses:
        lines.append("")
        lines.append("Clauses of the job's Requirements (slots each one rejects):")
        for i, clause in enumerate(e.clauses, 1):
            where = ", ".join(f"{k} {v}" for k, v in clause.by_cluster.items())
            text = f"  [{i}] {clause.rejected:>7}  {clause.text}"
            lines.append(text + (f"  ({where})" if where else ""))
    if e.suggestions:
        lines.append("")
        lines.append("Suggestions:")
        for s in e.suggestions:
            lines.append(f"  {s}")
    return "\n".join(lines) + "\n"
