"""Match and rank of each (job group, slot group) pair, evaluated once per cycle.

For a job autocluster and a slot group the table answers: do they match
(the job's Requirements and the slot's Start and Requirements, split into
clauses by `core.clauses`), and how does the slot rank for the job — the
tuple (pre-job rank, job Rank, post-job rank). The pre- and post-job ranks
are evaluated with MY = slot and TARGET = job, the job's Rank with MY = job.
Non-numbers rank 0 (booleans 1/0), as in HTCondor.

Evaluations are shared beyond the pair: a clause such as
`TARGET.Arch == "X86_64"`, found in the Requirements of many autoclusters, is
evaluated once per slot group and per value of the job attributes it reads.
Clauses and ranks that read a slot's remaining resources cannot be settled
per group; they are evaluated per (job group, slot group, remaining
resources) and cached (the slow path `core.negotiate` takes only when it
must).

Neighbours: `core.negotiate` (the only caller during matching),
`core.preempt` (static matches of claimed slots), `core.explain`. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from skyflock.core import carve, clauses
from skyflock.core.autocluster import attribute_table
from skyflock.core.carve import Resources

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd, Expr
    from skyflock.core.autocluster import JobGroup, SlotGroup


def as_rank(value: object) -> float:
    """A rank value as a float: numbers as they are, booleans 1/0, anything else 0."""
    t = type(value)
    if t is float or t is int:
        return float(value)  # type: ignore[arg-type]
    if t is bool:
        return 1.0 if value else 0.0
    return 0.0


@dataclass(slots=True)
class Pair:
    """A (job group, slot group) pair that matches on everything but remaining resources."""

    job: clauses.Split
    slot: clauses.Split
    ranks: tuple[float, float, float] | None
    """None when a rank reads remaining resources (see `MatchTable.ranks_at`)."""

    @property
    def dynamic(self) -> bool:
        return bool(self.job.dynamic or self.slot.dynamic)


class _Interned:
    """Structural identity of expressions and job attribute values, one hash per object."""

    def __init__(self) -> None:
        self.by_id: dict[int, int] = {}
        self.by_value: dict[object, int] = {}
        self.exprs: list[Expr] = []
        self.reads: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self.keep: list[object] = []

    def expr(self, expr: Expr) -> int:
        tok = self.by_id.get(id(expr))
        if tok is None:
            tok = self.by_value.get(expr)
            if tok is None:
                tok = self.by_value[expr] = len(self.exprs)
                self.exprs.append(expr)
                mine, theirs = clauses.names_read(expr)
                self.reads.append((tuple(sorted(mine)), tuple(sorted(theirs))))
            self.by_id[id(expr)] = tok
            self.keep.append(expr)
        return tok

    def value(self, value: object) -> object:
        """A hashable stand-in for a job attribute's expression (None when absent)."""
        if value is None:
            return None
        tok = self.by_id.get(id(value))
        if tok is None:
            tok = self.by_value.get(value)
            if tok is None:
                tok = self.by_value[value] = len(self.exprs)
                self.exprs.append(value)  # type: ignore[arg-type]
                self.reads.append(((), ()))
            self.by_id[id(value)] = tok
            self.keep.append(value)
        return tok


class MatchTable:
    """Lazily filled: nothing is evaluated until the negotiator asks."""

    def __init__(
        self,
        jobs: Sequence[JobGroup],
        slots: Sequence[SlotGroup],
        *,
        pre_job_rank: Expr,
        post_job_rank: Expr,
        tainted: set[str],
    ) -> None:
        self.jobs = jobs
        self.slots = slots
        self.tainted = tainted
        self._pre_expr = pre_job_rank
        self._post_expr = post_job_rank
        pre_mine, _ = clauses.names_read(pre_job_rank)
        post_mine, _ = clauses.names_read(post_job_rank)
        self._config_rank_dynamic = bool((pre_mine | post_mine) & tainted)
        self._intern = _Interned()
        self._pairs: dict[tuple[int, int], Pair | None] = {}
        self._job_split: dict[int, clauses.Split] = {}
        self._slot_split: dict[tuple[int, int], clauses.Split] = {}
        self._verdicts: dict[tuple[object, ...], object] = {}
        self._values: dict[tuple[int, int, bool], tuple[object, ...]] = {}
        self._slot_dynamic: dict[int, bool] = {}
        self._dyn: dict[tuple[int, int, Resources], bool] = {}
        self._ranks: dict[tuple[int, int, Resources], tuple[float, float, float]] = {}
        self._ads: dict[tuple[int, Resources], ClassAd] = {}
        self.evaluations = 0
        """Expression evaluations done (for the benchmark and tests)."""

    def slot_exprs(self, g: int) -> list[Expr]:
        ad = self.slots[g].rep.ad
        return [e for e in (ad.lookup("start"), ad.lookup("requirements")) if e is not None]

    # -- shared evaluation ---------------------------------------------------
    def _eval(self, expr: Expr, a: int, g: int, *, job_is_my: bool) -> object:
        """Evaluate against the group representatives, shared by equal job values."""
        tok = self._intern.expr(expr)
        jad = self.jobs[a].rep.ad
        vk = self._values.get((tok, a, job_is_my))
        if vk is None:
            vk = self._values[(tok, a, job_is_my)] = self._job_values(tok, jad, job_is_my)
        key = (tok, g, job_is_my, vk)
        if key in self._verdicts:
            return self._verdicts[key]
        self.evaluations += 1
        shared = self._intern.exprs[tok]
        sad = self.slots[g].rep.ad
        result = shared.compile()(jad, sad) if job_is_my else shared.compile()(sad, jad)
        self._verdicts[key] = result
        return result

    def _job_values(self, tok: int, jad: ClassAd, job_is_my: bool) -> tuple[object, ...]:
        """The job's values of every attribute the expression may read, transitively."""
        mine, theirs = self._intern.reads[tok]
        todo = list(mine if job_is_my else theirs)
        table = attribute_table(jad)
        seen: set[str] = set()
        out: list[object] = []
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            expr = table.get(name)
            out.append((name, self._intern.value(expr)))
            if expr is not None and expr.__class__.__name__ != "Literal":
                todo.extend(clauses.names_read(expr)[0])
        return tuple(sorted(out, key=lambda item: item[0]))  # type: ignore[index]

    def split_of_job(self, a: int) -> clauses.Split:
        split = self._job_split.get(a)
        if split is None:
            job = self.jobs[a]
            split = self._job_split[a] = clauses.split_job(
                job.requirements, job=job.rep.ad, request=job.request, tainted=self.tainted
            )
        return split

    def compiled(self, expr: Expr) -> Callable[[ClassAd | None, ClassAd | None], object]:
        """The compiled code of an expression, compiled once per distinct structure."""
        return self._intern.exprs[self._intern.expr(expr)].compile()

    def slot_reads_resources(self, g: int) -> bool:
        """Whether the slot group's Start/Requirements read what is left (cached)."""
        flag = self._slot_dynamic.get(g)
        if flag is None:
            reads: set[str] = set()
            for e in self.slot_exprs(g):
                reads |= clauses.names_read(e)[0]
            flag = self._slot_dynamic[g] = bool(reads & self.tainted)
        return flag

    def reads_resources(self, clause: Expr, *, job_side: bool) -> bool:
        """Whether a clause reads the slot's remaining resources (cached per expression)."""
        mine, theirs = self._intern.reads[self._intern.expr(clause)]
        return bool(set(theirs if job_side else mine) & self.tainted)

    def split_of_slot(self, a: int, g: int) -> clauses.Split:
        exprs = self.slot_exprs(g)
        key = (a if self.slot_reads_resources(g) else -1, g)
        split = self._slot_split.get(key)
        if split is None:
            job = self.jobs[a]
            split = self._slot_split[key] = clauses.split_slot(
                exprs,
                job=job.rep.ad,
                slot=self.slots[g].rep.ad,
                request=job.request,
                tainted=self.tainted,
            )
        return split

    def pair(self, a: int, g: int) -> Pair | None:
        """The pair's static verdict (None: no match whatever is left) and ranks."""
        key = (a, g)
        if key in self._pairs:
            return self._pairs[key]
        js = self.split_of_job(a)
        ss = self.split_of_slot(a, g)
        result: Pair | None = None
        if all(self._eval(c, a, g, job_is_my=True) is True for c in js.static) and all(
            self._eval(c, a, g, job_is_my=False) is True for c in ss.static
        ):
            ranks: tuple[float, float, float] | None = None
            if not self._rank_dynamic(self.jobs[a]):
                ranks = self._static_ranks(a, g)
            result = Pair(js, ss, ranks)
        self._pairs[key] = result
        return result

    def clause_true(self, clause: Expr, a: int, g: int, *, job_side: bool) -> bool:
        """A clause of the job (job_side) or of the slot, against the group representatives."""
        return self._eval(clause, a, g, job_is_my=job_side) is True

    def _rank_dynamic(self, job: JobGroup) -> bool:
        if self._config_rank_dynamic:
            return True
        if job.rank is None:
            return False
        _, theirs = clauses.names_read(job.rank)
        return bool(theirs & self.tainted)

    def _static_ranks(self, a: int, g: int) -> tuple[float, float, float]:
        job = self.jobs[a]
        jr = as_rank(self._eval(job.rank, a, g, job_is_my=True)) if job.rank is not None else 0.0
        return (
            as_rank(self._eval(self._pre_expr, a, g, job_is_my=False)),
            jr,
            as_rank(self._eval(self._post_expr, a, g, job_is_my=False)),
        )

    def _evaluate_ranks(self, job: JobGroup, slot_ad: ClassAd) -> tuple[float, float, float]:
        jad = job.rep.ad
        job_rank = as_rank(job.rank.compile()(jad, slot_ad)) if job.rank is not None else 0.0
        return (
            as_rank(self._pre_expr.compile()(slot_ad, jad)),
            job_rank,
            as_rank(self._post_expr.compile()(slot_ad, jad)),
        )

    # -- per remaining resources ----------------------------------------------
    def ad_at(self, g: int, res: Resources) -> ClassAd:
        """The group's representative slot ad advertising `res` left."""
        key = (g, res)
        ad = self._ads.get(key)
        if ad is None:
            ad = self._ads[key] = carve.with_resources(self.slots[g].rep.ad, res)
        return ad

    def dynamic_ok(self, a: int, g: int, res: Resources) -> bool:
        """The resource-reading clauses of a matching pair, at these remaining resources."""
        pair = self._pairs.get((a, g))
        if pair is None or not pair.dynamic:
            return pair is not None
        key = (a, g, res)
        ok = self._dyn.get(key)
        if ok is None:
            self.evaluations += 1
            jad = self.jobs[a].rep.ad
            sad = self.ad_at(g, res)
            ok = clauses.all_true(pair.job.dynamic, jad, sad) and clauses.all_true(
                pair.slot.dynamic, sad, jad
            )
            self._dyn[key] = ok
        return ok

    def ranks_at(self, a: int, g: int, res: Resources) -> tuple[float, float, float]:
        """The rank tuple of a pair at these remaining resources."""
        pair = self._pairs.get((a, g))
        if pair is not None and pair.ranks is not None:
            return pair.ranks
        key = (a, g, res)
        ranks = self._ranks.get(key)
        if ranks is None:
            self.evaluations += 1
            ranks = self._ranks[key] = self._evaluate_ranks(self.jobs[a], self.ad_at(g, res))
        return ranks
