"""Autoclusters: idle jobs and slots grouped by what matchmaking can tell apart.

A match between a job and a slot depends only on the attributes the
expressions involved read. So the negotiator groups idle jobs by their
*significant attributes* — every job attribute read by a slot's
Start/Requirements/Rank or by a negotiator expression, plus the job's own
Requirements, Rank, what those read from the job itself, and the resource
requests — and evaluates a match once per (job group, slot group) instead of
once per (job, slot). Slots are grouped likewise by the slot attributes the
jobs' Requirements/Rank and the negotiator's expressions read; their remaining
resources are kept apart (`core.carve`) because carving changes them during a
cycle.

Expressions are told apart structurally: two jobs whose `Requirements` print
the same belong together. Within one cycle an expression object is hashed at
most once (an id cache), which keeps grouping a million jobs linear.

Neighbours: `core.negotiate` builds the groups each cycle; `core.explain`
reports per job group; `core.carve` reads requests and resources. Pure.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skyflock.classad.ad import tables_of
from skyflock.classad.nodes import Literal
from skyflock.core import carve
from skyflock.core.carve import Resources
from skyflock.core.clauses import names_read

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd, Expr
    from skyflock.core.model import IdleBatch, Job, Slot

JOB_ALWAYS = ("requirements", "rank", *carve.REQUEST_ATTRS)
"""Job attributes that are significant whatever the slots say."""

SLOT_ALWAYS = (
    "start",
    "requirements",
    "rank",
    "clustername",
    "tier",
    "maxjobretirementtime",
    *carve.TOTAL_ATTRS,
)
"""Slot attributes that are significant whatever the jobs say (resources left are kept apart)."""

SLOT_EXPRESSIONS = ("start", "requirements", "rank")
"""The slot's own matchmaking expressions."""
JOB_EXPRESSIONS = ("requirements", "rank")


def _const_token(value: object) -> object:
    """A constant attribute value as a key part (ints and strings as they are)."""
    t = type(value)
    if t is int or t is str:
        return value
    return (t.__name__, value)


class _Tokens:
    """Turns attribute expressions into cheap hashable tokens, one structural hash per object."""

    __slots__ = ("by_id", "interned", "keep", "nonliteral")

    def __init__(self) -> None:
        self.by_id: dict[int, int] = {}
        self.interned: dict[Expr, int] = {}
        self.keep: list[Expr] = []
        self.nonliteral: list[Expr] = []

    def token(self, expr: Expr | None) -> object:
        if expr is None:
            return None
        if type(expr) is Literal:
            return expr
        tok = self.by_id.get(id(expr))
        if tok is None:
            tok = self.interned.get(expr)
            if tok is None:
                tok = self.interned[expr] = len(self.interned)
                self.nonliteral.append(expr)
            self.by_id[id(expr)] = tok
            self.keep.append(expr)  # keep the id valid for the cycle
        return tok


def classad_tables(
    ads: Iterable[ClassAd],
) -> Iterator[tuple[Mapping[str, Expr], Mapping[str, Any]]]:
    """(expressions, constant values) of each ad, both keyed by lower-case name.

    `ClassAd.tables` for many ads (`classad.ad.tables_of`, the same accessor
    without a Python call per ad): the grouping passes read the tables
    directly, because going through `ClassAd.lookup`/`eval` per attribute
    (which lower-cases the name every time) would be most of the cost of
    grouping a million jobs. The tables are only read, never changed.
    Everything else in `core` goes through this function (`attribute_table`,
    `constant_table`, the grouping passes).
    """
    return map(_TABLES, ads)


_TABLES = tables_of


def attribute_table(ad: ClassAd) -> Mapping[str, Expr]:
    """The ad's expressions keyed by lower-case name (read only)."""
    for exprs, _ in classad_tables((ad,)):
        return exprs
    raise AssertionError("unreachable")  # pragma: no cover


def constant_table(ad: ClassAd) -> Mapping[str, object]:
    """The values of the ad's constant attributes keyed by lower-case name (read only)."""
    for _, consts in classad_tables((ad,)):
        return consts
    raise AssertionError("unreachable")  # pragma: no cover


def distinct_expressions(
    ads: Iterable[ClassAd], names: Sequence[str]
) -> list[tuple[Expr, ClassAd]]:
    """Each distinct expression of the named attributes, with one ad that holds it."""
    seen_ids: set[int] = set()
    seen: set[Expr] = set()
    out: list[tuple[Expr, ClassAd]] = []
    keep: list[Expr] = []
    keys = tuple(name.lower() for name in names)
    ads = list(ads)
    for ad, (exprs, _) in zip(ads, classad_tables(ads), strict=True):
        for expr in map(exprs.get, keys):
            if expr is None or id(expr) in seen_ids or type(expr) is Literal:
                continue
            seen_ids.add(id(expr))
            keep.append(expr)
            if expr not in seen:
                seen.add(expr)
                out.append((expr, ad))
    return out


def defined_by_all(ads: Iterable[ClassAd], names: Iterable[str]) -> set[str]:
    """Which of the (lower-case) names every ad defines."""
    left = set(names)
    for exprs, _ in classad_tables(ads):
        if not left:
            break
        left = {n for n in left if n in exprs}
    return left


def remaining_all(ads: Sequence[ClassAd]) -> list[Resources]:
    """`carve.remaining_of` of every ad, reading constant non-negative ints directly."""
    get = operator.itemgetter(*carve.RESOURCE_ATTRS)
    out: list[Resources] = []
    add = out.append
    for ad, (_, consts) in zip(ads, classad_tables(ads), strict=True):
        try:
            res = get(consts)
        except KeyError:
            add(carve.remaining_of(ad))
            continue
        c, m, d, g = res
        if (
            type(c) is int
            and type(m) is int
            and type(d) is int
            and type(g) is int
            and c >= 0
            and m >= 0
            and d >= 0
            and g >= 0
        ):
            add(res)
        else:
            add(carve.remaining_of(ad))
    return out


@dataclass(slots=True)
class JobGroup:
    """One job autocluster: jobs that every slot and expression sees alike."""

    index: int
    key: str
    """Stable name of the autocluster (a digest of its significant attributes)."""
    rep: Job
    """The first job of the group; matchmaking evaluates with its ad."""
    request: Resources
    requirements: Expr | None
    rank: Expr | None
    count: int = 0


@dataclass(slots=True)
class SlotGroup:
    """Slots alike in every significant attribute except the resources they have left."""

    index: int
    rep: Slot
    cluster: str
    partitionable: bool
    totals: Resources
    slots: list[int] = field(default_factory=list)
    """Indices into the snapshot's slots."""


def _digest(attrs: Sequence[str], ad: ClassAd, text_of: Callable[[Expr], str]) -> str:
    parts = []
    for a in attrs:
        expr = ad.lookup(a)
        if expr is not None:
            parts.append(f"{a}={text_of(expr)}")
    return hashlib.sha1("\n".join(parts).encode(), usedforsecurity=False).hexdigest()[:12]


def _closure(base: set[str], tokens: _Tokens) -> set[str]:
    """Attributes the non-literal values found so far may read from their own ad.

    What an expression reads is as significant as the expression: a job's
    `Requirements` reading `MY.Foo` makes `Foo` significant. Unscoped names are
    counted too (an extra attribute only splits groups, never merges them).
    """
    extra: set[str] = set()
    for expr in tokens.nonliteral:
        extra |= names_read(expr)[0]
    return extra - base


@dataclass(slots=True)
class JobClass:
    """Idle jobs of one submitter, one `JobPrio` and one autocluster, in snapshot order."""

    submitter: str
    prio: int | float
    group: int
    jobs: list[int]


@dataclass(slots=True)
class JobGrouping:
    """What one pass over the idle jobs finds (see `group_jobs`)."""

    groups: list[JobGroup]
    attrs: tuple[str, ...]
    """The significant attributes used."""
    classes: list[JobClass]
    """Jobs split by (submitter, JobPrio, group), in order of first appearance."""
    order_keys: list[tuple[Any, ...]] | None
    """Per job, the constant values of the `order` attributes (0 when missing or not constant);
    None when the snapshot vouched for the order and they were not read."""
    in_order: bool
    """The jobs come in non-decreasing order of `order_keys`: every class is sorted already."""
    size: int
    """How many jobs were grouped."""

    def of_job(self) -> list[int]:
        """The group index of each job, in input order."""
        out = [0] * self.size
        for cls in self.classes:
            g = cls.group
            for j in cls.jobs:
                out[j] = g
        return out


def job_prio(value: object) -> int | float:
    """A `JobPrio` constant as a number: ints and floats as they are, anything else 0."""
    t = type(value)
    if t is int:
        return value  # type: ignore[return-value]
    if t is float:
        return value  # type: ignore[return-value]
    return 0.0


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """`operator.itemgetter` that returns a tuple whatever the number of names."""
    if len(names) == 1:
        one = names[0]
        return lambda table: (table[one],)
    if not names:
        return lambda table: ()
    return operator.itemgetter(*names)


def group_jobs(
    jobs: Sequence[Job],
    significant: Iterable[str],
    quantum: int,
    *,
    order: Sequence[str] = (),
    batches: Sequence[IdleBatch] | None = None,
    ordered: bool = False,
) -> JobGrouping:
    """Group idle jobs into autoclusters, and split them by submitter and JobPrio.

    One pass over the jobs does everything a cycle needs per job: the group,
    the (submitter, JobPrio, group) class, and the constant values of the
    `order` attributes (and whether the jobs already come in that order). A job is looked up by the identity of its significant
    expression objects (jobs of one submission share them); only the first
    job with a new combination of objects is compared structurally.

    With `batches` (`Snapshot.batches`) the pass reads one ad per batch
    instead (`_group_batches`), and with `ordered` as well
    (`Snapshot.in_submission_order`) it reads no job's `order` attributes at
    all: the grouping is the same as the one-job-at-a-time pass would give.
    """
    attrs = set(significant) | set(JOB_ALWAYS)
    wanted = tuple(name.lower() for name in order)
    if batches is not None:
        return _group_batches(jobs, batches, attrs, quantum, wanted, ordered)
    order_of = _getter(wanted)
    while True:
        names = tuple(sorted(attrs))
        sig = _getter(names)
        tokens = _Tokens()
        tok = tokens.token
        index: dict[tuple[object, ...], int] = {}
        by_ids: dict[tuple[object, ...], tuple[int, Callable[[int], None]]] = {}
        by_objects: dict[tuple[object, ...], int] = {}
        classes: dict[tuple[str, int | float, int], JobClass] = {}
        order_keys: list[tuple[Any, ...]] = []
        add_key = order_keys.append
        reps: list[Job] = []
        in_order = True
        last: tuple[Any, ...] = ()
        tables = classad_tables(map(_AD, jobs))
        for i, (job, (exprs, consts)) in enumerate(zip(jobs, tables, strict=True)):
            try:
                values = sig(exprs)
            except KeyError:
                values = tuple(map(exprs.get, names))
            try:
                keys = order_of(consts)
            except KeyError:
                keys = tuple([consts.get(a, 0) for a in wanted])
            add_key(keys)
            try:
                if keys < last:
                    in_order = False
            except TypeError:
                in_order = False
            last = keys
            prio = consts.get("jobprio", 0)
            if type(prio) is not int:
                prio = job_prio(prio)
            submitter = job.submitter
            # the ads hold these objects for the whole pass, so their ids are stable
            ids = (submitter, prio, *map(id, values))
            hit = by_ids.get(ids)
            if hit is None:
                gi = by_objects.get(ids[2:])
                if gi is None:
                    # first time these very objects are seen: compare structurally
                    key = tuple([tok(v) for v in values])
                    gi = index.get(key)
                    if gi is None:
                        gi = index[key] = len(reps)
                        reps.append(job)
                    by_objects[ids[2:]] = gi
                ck = (submitter, prio, gi)
                cls = classes.get(ck)
                if cls is None:
                    cls = classes[ck] = JobClass(submitter, prio, gi, [])
                hit = by_ids[ids] = (gi, cls.jobs.append)
            hit[1](i)
        more = _closure(attrs, tokens)
        if not more:
            break
        attrs |= more
    return _grouping(jobs, names, tokens, reps, classes, order_keys, in_order, quantum)


def _grouping(
    jobs: Sequence[Job],
    names: tuple[str, ...],
    tokens: _Tokens,
    reps: list[Job],
    classes: dict[tuple[str, int | float, int], JobClass],
    order_keys: list[tuple[Any, ...]] | None,
    in_order: bool,
    quantum: int,
) -> JobGrouping:
    """The groups of a finished pass: keys, requests and counts from each group's first job."""
    counts = [0] * len(reps)
    for cls in classes.values():
        counts[cls.group] += len(cls.jobs)
    texts: dict[object, str] = {}

    def text_of(expr: Expr) -> str:
        """Source text, printed once per structurally distinct expression."""
        key = tokens.token(expr)
        text = texts.get(key)
        if text is None:
            text = texts[key] = str(expr)
        return text

    groups = [
        JobGroup(
            index=i,
            key="ac-" + _digest(names, rep.ad, text_of),
            rep=rep,
            request=carve.request_of(rep.ad, quantum),
            requirements=rep.ad.lookup("requirements"),
            rank=rep.ad.lookup("rank"),
            count=counts[i],
        )
        for i, rep in enumerate(reps)
    ]
    return JobGrouping(groups, names, list(classes.values()), order_keys, in_order, len(jobs))


_AD = operator.attrgetter("ad")


def _first(unit: tuple[int, Sequence[int]]) -> int:
    return unit[0]


def _group_batches(
    jobs: Sequence[Job],
    batches: Sequence[IdleBatch],
    attrs: set[str],
    quantum: int,
    wanted: tuple[str, ...],
    ordered: bool,
) -> JobGrouping:
    """`group_jobs` over batches of alike jobs: one ad read per batch.

    A batch whose `varying` attributes include a significant one (or
    `JobPrio`) is taken apart and its jobs placed one by one. Batches and
    single jobs are placed in order of their first job, so every group and
    every class is found at the same job as in the one-job-at-a-time pass
    (same representative, same numbering); a class that several batches add
    to is sorted back into snapshot order.
    """
    while True:
        names = tuple(sorted(attrs))
        needed = {*names, "jobprio"}
        sig = _getter(names)
        tokens = _Tokens()
        tok = tokens.token
        units: list[tuple[int, Sequence[int]]] = []
        for batch in batches:
            members = batch.jobs
            if not members:
                continue
            if needed.isdisjoint(batch.varying):
                units.append((members[0], members))
            else:
                units.extend((i, (i,)) for i in members)
        units.sort(key=_first)
        index: dict[tuple[object, ...], int] = {}
        by_objects: dict[tuple[int, ...], int] = {}
        classes: dict[tuple[str, int | float, int], JobClass] = {}
        merged: set[tuple[str, int | float, int]] = set()
        reps: list[Job] = []
        for first, members in units:
            rep = jobs[first]
            for exprs, consts in classad_tables((rep.ad,)):
                try:
                    values = sig(exprs)
                except KeyError:
                    values = tuple(map(exprs.get, names))
                # the ads hold these objects for the whole pass, so their ids are stable
                ids = tuple(map(id, values))
                gi = by_objects.get(ids)
                if gi is None:
                    key = tuple([tok(v) for v in values])
                    gi = index.get(key)
                    if gi is None:
                        gi = index[key] = len(reps)
                        reps.append(rep)
                    by_objects[ids] = gi
                ck = (rep.submitter, job_prio(consts.get("jobprio", 0)), gi)
                cls = classes.get(ck)
                if cls is None:
                    classes[ck] = JobClass(ck[0], ck[1], gi, list(members))
                else:
                    cls.jobs.extend(members)
                    merged.add(ck)
        more = _closure(attrs, tokens)
        if not more:
            break
        attrs |= more
    for ck in merged:
        classes[ck].jobs.sort()
    if ordered:
        order_keys: list[tuple[Any, ...]] | None = None
        in_order = True
    else:
        order_keys, in_order = _order_keys(jobs, wanted)
    return _grouping(jobs, names, tokens, reps, classes, order_keys, in_order, quantum)


def _order_keys(jobs: Sequence[Job], wanted: tuple[str, ...]) -> tuple[list[tuple[Any, ...]], bool]:
    """The constant values of the `wanted` attributes of every job, and whether they are in order."""
    order_of = _getter(wanted)
    order_keys: list[tuple[Any, ...]] = []
    add_key = order_keys.append
    in_order = True
    last: tuple[Any, ...] = ()
    for _, consts in classad_tables(map(_AD, jobs)):
        try:
            keys = order_of(consts)
        except KeyError:
            keys = tuple([consts.get(a, 0) for a in wanted])
        add_key(keys)
        if in_order:
            try:
                if keys < last:
                    in_order = False
            except TypeError:
                in_order = False
        last = keys
    return order_keys, in_order


_PATTERNS = 8
"""At most this many patterns of constant attributes for the slots' fast keys."""


class _SlotPattern:
    """Which significant slot attributes are constants in some slot, and the fast keys found."""

    __slots__ = ("fast", "get_const", "other_names")

    def __init__(self, order: tuple[str, ...], consts: Mapping[str, Any]) -> None:
        const_names = tuple(a for a in order if a in consts)
        self.other_names = tuple(a for a in order if a not in consts)
        self.get_const = _getter(const_names)
        self.fast: dict[tuple[object, ...], int] = {}


def group_slots(
    slots: Sequence[Slot],
    significant: Iterable[str],
    own: Sequence[tuple[Expr, ClassAd]] | None = None,
) -> tuple[list[SlotGroup], tuple[str, ...]]:
    """Group slots by their significant attributes (remaining resources excluded).

    `own` is `distinct_expressions(slot ads, SLOT_EXPRESSIONS)` when the caller
    has it already.
    """
    attrs = (set(significant) | set(SLOT_ALWAYS)) - set(carve.RESOURCE_ATTRS)
    if own is None:
        own = distinct_expressions((s.ad for s in slots), SLOT_EXPRESSIONS)
    for expr, _holder in own:
        attrs |= names_read(expr)[0]
    attrs -= set(carve.RESOURCE_ATTRS)
    while True:
        order = tuple(sorted(attrs))
        tokens = _Tokens()
        tok = tokens.token
        index: dict[tuple[object, ...], int] = {}
        groups: list[SlotGroup] = []
        # A fast key per slot: the values of the attributes that are constants in
        # a pattern slot (and their types), and for the others the token of their
        # expression object when it has been seen (absent counts as seen). The
        # first slot is a pattern, and so is each slot (up to _PATTERNS) that
        # differs from every pattern in which attributes are constants. A slot
        # that fits no pattern, or holds an expression object not seen yet,
        # misses and is keyed structurally.
        known = tokens.by_id
        known[id(None)] = -1
        ads = [slot.ad for slot in slots]
        patterns: list[_SlotPattern] = []
        for i, (slot, (exprs, consts)) in enumerate(zip(slots, classad_tables(ads), strict=True)):
            fkey = None
            for pattern in patterns:
                try:
                    values = pattern.get_const(consts)
                except KeyError:
                    continue
                held = tuple(map(exprs.get, pattern.other_names))
                fkey = (
                    slot.partitionable,
                    values,
                    tuple(map(type, values)),
                    tuple(map(known.get, map(id, held))),
                )
                break
            if fkey is not None:
                gi = pattern.fast.get(fkey)
                if gi is not None:
                    groups[gi].slots.append(i)
                    continue
            elif len(patterns) < _PATTERNS:
                pattern = _SlotPattern(order, consts)
                patterns.append(pattern)
                values = pattern.get_const(consts)
                held = tuple(map(exprs.get, pattern.other_names))
                fkey = (slot.partitionable, values, tuple(map(type, values)), ())
            key = (
                slot.partitionable,
                *[_const_token(consts[a]) if a in consts else tok(exprs.get(a)) for a in order],
            )
            gi = index.get(key)
            if gi is None:
                gi = index[key] = len(groups)
                cluster = slot.ad.eval("ClusterName")
                groups.append(
                    SlotGroup(
                        index=gi,
                        rep=slot,
                        cluster=cluster if isinstance(cluster, str) else "",
                        partitionable=slot.partitionable,
                        totals=carve.totals_of(slot.ad),
                    )
                )
            groups[gi].slots.append(i)
            if fkey is not None:
                toks = tuple(map(known.get, map(id, held)))
                if None not in toks:  # a constant among the others: no fast key
                    pattern.fast[(*fkey[:3], toks)] = gi
        more = _closure(attrs, tokens) - set(carve.RESOURCE_ATTRS)
        if not more:
            break
        attrs |= more
    return groups, order
