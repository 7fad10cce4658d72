"""Match and rank of each (job group, slot group) pair, evaluated once per cycle.

For a job autocluster and a slot group the table answers: do they match
(the job's Requirements and the slot's Start and Requirements, split into
clauses by `core.clauses`), and how does the slot rank for the job — the
tuple (pre-job rank, job Rank, post-job rank). The pre- and post-job ranks
are evaluated with MY = slot and TARGET = job, the job's Rank with MY = job.
Non-numbers rank 0 (booleans 1/0), as in HTCondor.

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
from skyflock.core.carve import Resources

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd, Expr
    from skyflock.core.autocluster import JobGroup, SlotGroup

Compiled = Callable[["ClassAd | None", "ClassAd | None"], object]


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

    split: clauses.SplitMatch
    ranks: tuple[float, float, float] | None
    """None when a rank reads remaining resources (see `MatchTable.ranks_at`)."""


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
        self._pre = pre_job_rank.compile()
        self._post = post_job_rank.compile()
        pre_mine, _ = clauses.names_read(pre_job_rank)
        post_mine, _ = clauses.names_read(post_job_rank)
        self._config_rank_dynamic = bool((pre_mine | post_mine) & tainted)
        self._pairs: dict[tuple[int, int], Pair | None] = {}
        self._dyn: dict[tuple[int, int, Resources], bool] = {}
        self._ranks: dict[tuple[int, int, Resources], tuple[float, float, float]] = {}
        self._ads: dict[tuple[int, Resources], ClassAd] = {}
        self.evaluations = 0
        """Pair evaluations done (for the benchmark and tests)."""

    def slot_exprs(self, g: int) -> list[Expr]:
        ad = self.slots[g].rep.ad
        return [e for e in (ad.lookup("start"), ad.lookup("requirements")) if e is not None]

    def pair(self, a: int, g: int) -> Pair | None:
        """The pair's static verdict (None: no match whatever is left) and ranks."""
        key = (a, g)
        if key in self._pairs:
            return self._pairs[key]
        self.evaluations += 1
        job = self.jobs[a]
        slot_ad = self.slots[g].rep.ad
        split = clauses.split_match(
            job.requirements,
            self.slot_exprs(g),
            job=job.rep.ad,
            slot=slot_ad,
            request=job.request,
            tainted=self.tainted,
        )
        result: Pair | None = None
        if clauses.all_true(split.static_job, job.rep.ad, slot_ad) and clauses.all_true(
            split.static_slot, slot_ad, job.rep.ad
        ):
            ranks: tuple[float, float, float] | None = None
            if not self._rank_dynamic(job):
                ranks = self._evaluate_ranks(job, slot_ad)
            result = Pair(split, ranks)
        self._pairs[key] = result
        return result

    def _rank_dynamic(self, job: JobGroup) -> bool:
        if self._config_rank_dynamic:
            return True
        if job.rank is None:
            return False
        _, theirs = clauses.names_read(job.rank)
        return bool(theirs & self.tainted)

    def _evaluate_ranks(self, job: JobGroup, slot_ad: ClassAd) -> tuple[float, float, float]:
        jad = job.rep.ad
        job_rank = as_rank(job.rank.compile()(jad, slot_ad)) if job.rank is not None else 0.0
        return (as_rank(self._pre(slot_ad, jad)), job_rank, as_rank(self._post(slot_ad, jad)))

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
        if pair is None or not pair.split.dynamic:
            return pair is not None
        key = (a, g, res)
        ok = self._dyn.get(key)
        if ok is None:
            self.evaluations += 1
            jad = self.jobs[a].rep.ad
            sad = self.ad_at(g, res)
            ok = clauses.all_true(pair.split.dynamic_job, jad, sad) and clauses.all_true(
                pair.split.dynamic_slot, sad, jad
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
