"""One negotiation cycle: `negotiate(snapshot, config, now, seed) -> Plan`.

The cycle, in the order it runs (docs/negotiation.md tells it in prose):

1. Slots of cordoned or unhealthy clusters are set aside. Idle jobs are
   grouped into autoclusters and slots into slot groups
   (`core.autocluster`); each slot group is split into buckets of identical
   remaining resources (`core.pool`).
2. Within a submitter, jobs of one autocluster and one `JobPrio` form a
   *request*, negotiated together in submission order (`QDate`, `ClusterId`,
   `ProcId`); requests go by `JobPrio` (higher first), then by their oldest
   job — HTCondor's resource-request lists.
3. The pie spin: group allocations (`core.groups`), then within each group,
   in starvation order, the submitters' limits (`core.fairshare`, slot-weight
   units); each submitter, best effective priority first, matches requests up
   to its limit. Submitters whose jobs found no slots give their share back
   and the pie is spun again until a spin matches nothing; a last spin lets
   each submitter still under its limit round up by one job.
4. A job goes to the best slot of the best slot group: pre-job rank, then
   best fit (least remaining resources), then the job's Rank, then the
   post-job rank, then a tie order drawn from `seed`. A partitionable slot is
   carved k jobs at a time (`core.carve`), so the work grows with the number
   of slots filled, not with jobs x slots.
5. A request that found no free slot may preempt (`core.preempt`).
6. Every autocluster left with idle jobs gets an explanation (`core.explain`).

Pure and deterministic: the same snapshot, config, `now` and `seed` give the
same plan.
"""

from __future__ import annotations

import functools
import math
import operator
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from skyflock.classad import ClassAdSyntaxError, Expr, parse
from skyflock.core import carve, clauses, explain, fairshare, groups
from skyflock.core.autocluster import (
    SLOT_EXPRESSIONS,
    JobGrouping,
    SlotGroup,
    defined_by_all,
    distinct_expressions,
    group_jobs,
    group_slots,
    remaining_all,
)
from skyflock.core.carve import Resources
from skyflock.core.config import ConfigError, NegotiatorConfig
from skyflock.core.matchtable import MatchTable
from skyflock.core.model import (
    NO_GROUP,
    Job,
    Match,
    Plan,
    Preemption,
    Snapshot,
    matches_across,
    matches_on,
)
from skyflock.core.pool import Pool, fit_count, fit_key
from skyflock.core.preempt import CONTEXT_NAMES, Preemptor

_EPS = 1e-9
ORDER_ATTRS = ("QDate", "ClusterId", "ProcId")
"""Job attributes that order a submitter's jobs of one JobPrio (read with the autoclusters)."""
_ID = operator.attrgetter("id")

# why a request stopped (explanations use the same words)
NO_SLOTS = "no_slots"
FAIR_SHARE = "fair_share"
CEILING = "ceiling"
GROUP_QUOTA = "group_quota"


def _sortable(value: object) -> object:
    return value if type(value) is int or type(value) is float else 0


@dataclass(slots=True)
class Request:
    """Idle jobs of one submitter, one autocluster and one JobPrio, oldest first."""

    submitter: str
    ac: int
    prio: float | int
    jobs: list[int]
    next: int = 0
    reason: str = ""
    """Why the rest is still idle (empty while it may still match)."""
    dead: bool = False
    """No free slot and nothing to preempt: not tried again this cycle."""

    @property
    def left(self) -> int:
        return len(self.jobs) - self.next


def _by_prio_then_first(req: Request) -> tuple[float | int, int]:
    return (-req.prio, req.jobs[0])


@dataclass(slots=True)
class Submitter:
    name: str
    group: str
    effective: float
    used: float = 0.0
    pending: float = 0.0
    limit: float = 0.0
    requests: list[Request] = field(default_factory=list)
    matched: int = 0


def _parse(config: NegotiatorConfig, key: str) -> Expr:
    text = getattr(config, key)
    try:
        return _parsed(text)
    except ClassAdSyntaxError as exc:
        raise ConfigError(f"negotiator.{key}: {exc}") from None


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Expr:
    """A config expression parsed once per text: expressions are immutable and
    compile once (`Expr.compile` caches on the object), so a manager or a
    simulator that runs thousands of cycles with one config compiles each
    of its expressions once instead of every cycle. Bad text is not cached
    (the syntax error propagates)."""
    return parse(text)


class _Cycle:
    def __init__(self, snapshot: Snapshot, config: NegotiatorConfig, now: float, seed: int):
        self.snapshot = snapshot
        self.config = config
        self.now = now
        self.rng = random.Random(seed)
        self.pre = _parse(config, "pre_job_rank")
        self.post = _parse(config, "post_job_rank")
        self.preempt_req = _parse(config, "preemption_requirements")
        self.preempt_rank = _parse(config, "preemption_rank")
        self.weights: dict[Resources, float] = {}
        self.matches: list[Match] = []
        self.preemptions: list[Preemption] = []
        self.limits: dict[str, float] = {}
        self.allocations: dict[str, float] = {}
        self.group_demand: dict[str, float] = {}
        self.members: dict[str, list[Submitter]] = {}

    # -- setup ---------------------------------------------------------------
    def weight(self, res: Resources) -> float:
        w = self.weights.get(res)
        if w is None:
            w = self.weights[res] = fairshare.slot_weight(*res, self.config)
        return w

    def _cluster_ok(self, name: str) -> bool:
        state = self.snapshot.clusters.get(name)
        return state is None or (state.healthy and not state.cordoned)

    def setup(self) -> None:
        snap, config = self.snapshot, self.config
        # job attributes that slots and negotiator expressions read (TARGET = job)
        job_sig: set[str] = set()
        slot_sig: set[str] = set()
        for expr in (self.pre, self.post):
            # an unscoped name every slot defines is read from the slot (MY) only
            mine, theirs = clauses.names_read(expr)
            job_sig |= theirs - (mine & defined_by_all((s.ad for s in snap.slots), theirs))
            slot_sig |= mine
        for expr in (self.preempt_req, self.preempt_rank):
            # MY is the preemption context, built from real slot ads: only TARGET matters
            job_sig |= clauses.names_read(expr)[1] - CONTEXT_NAMES
        own = distinct_expressions((s.ad for s in snap.slots), SLOT_EXPRESSIONS)
        for expr, holder in own:
            job_sig |= clauses.names_read_in(expr, holder)[1]
        self.grouping = group_jobs(
            snap.idle,
            job_sig,
            config.memory_quantum,
            order=ORDER_ATTRS,
            batches=snap.batches,
            ordered=snap.in_submission_order,
        )
        self.job_groups = self.grouping.groups
        for jg in self.job_groups:
            for job_expr in (jg.requirements, jg.rank):
                if job_expr is not None:
                    slot_sig |= clauses.names_read_in(job_expr, jg.rep.ad)[1]
        self.slot_groups, _ = group_slots(snap.slots, slot_sig, own)
        self.usable = [self._cluster_ok(g.cluster) for g in self.slot_groups]
        tainted = clauses.resource_dependent(g.rep.ad for g in self.slot_groups)
        self.table = MatchTable(
            self.job_groups,
            self.slot_groups,
            pre_job_rank=self.pre,
            post_job_rank=self.post,
            tainted=tainted,
        )
        remaining = remaining_all([s.ad for s in snap.slots])
        self.slot_group_of = [0] * len(snap.slots)
        for g in self.slot_groups:
            for i in g.slots:
                self.slot_group_of[i] = g.index
        self.pool = Pool(
            [g if ok else _emptied(g) for g, ok in zip(self.slot_groups, self.usable, strict=True)],
            remaining,
        )
        self.ties = [self.rng.random() for _ in self.slot_groups]
        self.capacity = 0.0
        for g, ok in zip(self.slot_groups, self.usable, strict=True):
            if not ok:
                continue
            self.capacity += self.weight(g.totals) * len(g.slots)
        self._levels: dict[int, list[list[tuple[int, float, float, float, bool]]]] = {}
        self._slow: dict[int, list[int]] = {}
        self._fits: dict[tuple[int, Resources], tuple[int, Resources | None]] = {}
        self.exhausted: set[int] = set()
        self._setup_submitters()

    def _setup_submitters(self) -> None:
        snap, config = self.snapshot, self.config
        subs: dict[str, Submitter] = {}
        acct = snap.accounting

        def submitter(name: str) -> Submitter:
            s = subs.get(name)
            if s is None:
                s = subs[name] = Submitter(
                    name,
                    groups.group_of(name, config),
                    fairshare.effective_priority(acct, name, config),
                )
            return s

        for claim in snap.running:
            submitter(claim.job.submitter).used += self.weight(
                (claim.cpus, claim.memory, claim.disk, claim.gpus)
            )
        requests = [Request(c.submitter, c.group, c.prio, c.jobs) for c in self.grouping.classes]
        order_keys = self.grouping.order_keys
        if order_keys is not None:
            try:
                for req in [] if self.grouping.in_order else requests:
                    req.jobs.sort(key=order_keys.__getitem__)
            except TypeError:  # a QDate, ClusterId or ProcId that is not a number sorts as 0
                order_keys = [tuple(_sortable(x) for x in k) for k in order_keys]
                for req in requests:
                    req.jobs.sort()  # a failed sort leaves the list permuted: ties go by index
                    req.jobs.sort(key=order_keys.__getitem__)
        for req in requests:
            s = submitter(req.submitter)
            s.requests.append(req)
            s.pending += self.weight(self.job_groups[req.ac].request) * len(req.jobs)
        for s in subs.values():
            if order_keys is None:
                # jobs listed in submission order: a job's index orders it as its keys would
                s.requests.sort(key=_by_prio_then_first)
            else:
                keys = order_keys
                s.requests.sort(key=lambda r: (-r.prio, keys[r.jobs[0]], r.jobs[0]))
        self.submitters = dict(sorted(subs.items()))
        self.floors, self.ceilings = fairshare.submitter_bounds(acct, self.submitters, config)
        self.preemptor = Preemptor(
            snap,
            config,
            self.table,
            self.pool,
            self.slot_group_of,
            self.usable,
            {n: s.effective for n, s in self.submitters.items()},
            self.now,
            preemption_requirements=self.preempt_req,
            preemption_rank=self.preempt_rank,
            usage=self._usage,
        )

    def _usage(self, name: str) -> float:
        s = self.submitters.get(name)
        return 0.0 if s is None else s.used

    # -- slot choice -------------------------------------------------------
    def _levels_of(self, a: int) -> list[list[tuple[int, float, float, float, bool]]]:
        """Slot groups the job group matches, by pre-job rank (best level first)."""
        levels = self._levels.get(a)
        if levels is not None:
            return levels
        need = self.job_groups[a].request
        by_pre: dict[float, list[tuple[int, float, float, float, bool]]] = {}
        slow: list[int] = []
        for g in self.slot_groups:
            if not self.usable[g.index] or not carve.fits(g.totals, need):
                continue
            pair = self.table.pair(a, g.index)
            if pair is None:
                continue
            if pair.ranks is None:
                slow.append(g.index)
                continue
            pre, jr, post = pair.ranks
            entry = (g.index, jr, post, self.ties[g.index], pair.dynamic)
            by_pre.setdefault(pre, []).append(entry)
        levels = [by_pre[p] for p in sorted(by_pre, reverse=True)]
        self._levels[a] = levels
        self._slow[a] = slow
        return levels

    def select(self, a: int) -> tuple[int, Resources] | None:
        """The best (slot group, remaining resources) for one job of group `a`."""
        levels = self._levels_of(a)
        need = self.job_groups[a].request
        pool, table = self.pool, self.table
        fits = self._fits
        if self._slow[a]:
            return self._select_slow(a, need)
        while levels:
            level = levels[0]
            best: tuple[object, ...] | None = None
            choice: tuple[int, Resources] | None = None
            dead: list[int] = []
            for pos, (g, jr, post, tie, dynamic) in enumerate(level):
                if dynamic:

                    def accept(res: Resources, g: int = g) -> bool:
                        return table.dynamic_ok(a, g, res)

                    res = pool.best_fit(g, need, accept)
                else:
                    # the best fit of a group for a request holds until the group changes
                    version = pool.version[g]
                    known = fits.get((g, need))
                    if known is not None and known[0] == version:
                        res = known[1]
                    else:
                        res = pool.best_fit(g, need)
                        fits[(g, need)] = (version, res)
                if res is None:
                    dead.append(pos)  # resources only shrink during a cycle
                    continue
                key = (fit_key(res), -jr, -post, tie)
                if best is None or key < best:
                    best, choice = key, (g, res)
            for pos in reversed(dead):
                del level[pos]
            if choice is not None:
                return choice
            levels.pop(0)
        return None

    def _select_slow(self, a: int, need: Resources) -> tuple[int, Resources] | None:
        """Every fitting bucket ranked at its own resources (a rank reads them)."""
        best: tuple[object, ...] | None = None
        choice: tuple[int, Resources] | None = None
        table = self.table
        candidates = [g for level in self._levels[a] for g, *_ in level] + self._slow[a]
        for g in candidates:
            for res in self.pool.fitting(g, need):
                if not table.dynamic_ok(a, g, res):
                    continue
                pre, jr, post = table.ranks_at(a, g, res)
                key = (-pre, fit_key(res), -jr, -post, self.ties[g])
                if best is None or key < best:
                    best, choice = key, (g, res)
        return choice

    # -- matching ----------------------------------------------------------
    def match_free(self, req: Request, n: int, s: Submitter) -> int:
        """Match up to n jobs of the request to free resources; returns how many matched."""
        a = req.ac
        jg = self.job_groups[a]
        need = jg.request
        pool = self.pool
        done = 0
        slots = self.snapshot.slots
        idle = self.snapshot.idle
        extend = self.matches.extend
        again: tuple[int, Resources] | None = None
        k = 0
        left = carve.NOTHING
        while done < n:
            if a in self.exhausted:
                break
            if again is not None and pool.count(*again):
                # the slot just filled left nothing that fits, nothing else changed:
                # the best choice is another slot of the same bucket, and the one
                # after that, as long as each takes as many jobs as the last one did
                q = min(pool.count(*again), (n - done) // k)
                if q > 1:
                    g, res = again
                    group = self.slot_groups[g]
                    taken = pool.take_many(g, res, q)
                    for slot in taken:
                        pool.put(g, slot, left)
                    w = self.weight(need) * k
                    job_ids = map(_ID, map(idle.__getitem__, req.jobs[req.next : req.next + q * k]))
                    sids = [slots[slot].id for slot in taken]
                    extend(matches_across(job_ids, sids, k, group.cluster, need, s.name))
                    req.next += q * k
                    done += q * k
                    for _ in taken:
                        s.used += w  # slot by slot, as one at a time would add it
                    continue
                choice: tuple[int, Resources] | None = again
            else:
                choice = self.select(a)
            if choice is None:
                self.exhausted.add(a)
                break
            g, res = choice
            group = self.slot_groups[g]
            slot = pool.take(g, res)
            if group.partitionable:
                pair = self.table.pair(a, g)
                k = min(n - done, fit_count(res, need))
                if pair is None or pair.dynamic or pair.ranks is None:
                    k = 1  # what is left changes the verdict or the order: one at a time
                left = (
                    res[0] - k * need[0],
                    res[1] - k * need[1],
                    res[2] - k * need[2],
                    res[3] - k * need[3],
                )
                carved = need
            else:
                k, left, carved = 1, carve.NOTHING, res
            pool.put(g, slot, left)
            again = choice if group.partitionable and not carve.fits(left, need) else None
            w = self.weight(carved)
            job_ids = map(_ID, map(idle.__getitem__, req.jobs[req.next : req.next + k]))
            extend(matches_on(job_ids, slots[slot].id, group.cluster, carved, s.name))
            req.next += k
            done += k
            s.used += w * k
        s.pending -= self.weight(need) * done
        s.matched += done
        return done

    def negotiate_submitter(self, s: Submitter, limit: float, *, rounding: bool) -> int:
        matched = 0
        for req in s.requests:
            if req.left <= 0 or req.dead:
                continue
            w = self.weight(self.job_groups[req.ac].request)
            if rounding:
                allowed = 1 if matched == 0 and self.may_round_up(s, limit, w) else 0
            elif w <= 0:
                allowed = req.left
            else:
                allowed = math.floor((limit - s.used + _EPS) / w)
            if allowed <= 0:
                req.reason = self.stop_reason(s, req.ac)
                continue
            n = min(req.left, allowed)
            got = self.match_free(req, n, s)
            if got < n and self.snapshot.running:
                got += self.preempt(req, n - got, s, limit, rounding=rounding)
            matched += got
            if req.left > 0 and got < n:
                req.reason = NO_SLOTS
                req.dead = True
                s.pending -= w * req.left
            elif req.left > 0:
                req.reason = self.stop_reason(s, req.ac)
            else:
                req.reason = ""
        return matched

    def preempt(
        self, req: Request, n: int, s: Submitter, limit: float, *, rounding: bool = False
    ) -> int:
        jg = self.job_groups[req.ac]
        done = 0
        while done < n:
            w = self.weight(jg.request)
            if rounding and not self.may_round_up(s, limit, w):
                break
            if not rounding and s.used + w > limit + _EPS:
                break
            found = self.preemptor.find(req.ac, s.name, self.limits)
            if found is None:
                break
            slot_idx, victims = found
            slot = self.snapshot.slots[slot_idx]
            job = self.snapshot.idle[req.jobs[req.next]]
            cluster = self.slot_groups[self.slot_group_of[slot_idx]].cluster
            carved = jg.request if slot.partitionable else carve.totals_of(slot.ad)
            self.matches.append(
                Match(
                    job.id,
                    slot.id,
                    cluster,
                    *carved,
                    submitter=s.name,
                    preempts=tuple(v.job.id for v, _ in victims),
                )
            )
            for v, reason in victims:
                self.preemptions.append(
                    Preemption(
                        v.job.id, slot.id, job.id, reason, self.preemptor.detail(v, s.name, reason)
                    )
                )
                victim = self.submitters.get(v.job.submitter)
                if victim is not None:
                    victim.used -= self.weight((v.cpus, v.memory, v.disk, v.gpus))
            req.next += 1
            done += 1
            s.used += self.weight(carved)
            s.pending -= w
            s.matched += 1
        return done

    def final_reason(self, s: Submitter, req: Request) -> str:
        """Why a request still has idle jobs when the cycle ends.

        With a free slot that fits, a limit held it back. Without one, the
        limit is still the reason when the submitter holds its limit while
        others hold the rest of the slots its jobs could use; otherwise no
        slot matches (`no_slots`).
        """
        a = req.ac
        if a not in self.exhausted and self.select(a) is not None:
            return self.limit_reason(s)
        self.exhausted.add(a)
        others = sum(o.used for o in self.submitters.values() if o is not s)
        if s.used >= s.limit - 1e-6 and others > _EPS and self._could_ever_match(a):
            return self.limit_reason(s)
        return NO_SLOTS

    def _could_ever_match(self, a: int) -> bool:
        need = self.job_groups[a].request
        return any(
            self.usable[g.index] and carve.fits(g.totals, need) and self.table.pair(a, g.index)
            for g in self.slot_groups
        )

    def may_round_up(self, s: Submitter, limit: float, w: float) -> bool:
        """Whether a submitter under a fractional limit may take one more job.

        Never past its ceiling nor past its group's allocation.
        """
        if s.used >= limit - _EPS:
            return False
        ceiling = self.ceilings.get(s.name)
        if ceiling is not None and s.used + w > ceiling + _EPS:
            return False
        if s.group != NO_GROUP:
            held = sum(m.used for m in self.members.get(s.group, ()))
            if held + w > self.allocations.get(s.group, 0.0) + _EPS:
                return False
        return True

    def stop_reason(self, s: Submitter, a: int) -> str:
        """Why a request stopped at its submitter's limit: the limit, or no slot anyway."""
        if a in self.exhausted:
            return NO_SLOTS
        if self.select(a) is None:
            self.exhausted.add(a)
            return NO_SLOTS
        return self.limit_reason(s)

    def limit_reason(self, s: Submitter) -> str:
        ceiling = self.ceilings.get(s.name)
        if ceiling is not None and s.limit >= ceiling - 1e-6:
            return CEILING
        if s.group != NO_GROUP:
            alloc = self.allocations.get(s.group, 0.0)
            demand = self.group_demand.get(s.group, 0.0)
            if alloc < demand - 1e-6:
                return GROUP_QUOTA
        return FAIR_SHARE

    # -- the pie spin --------------------------------------------------------
    def spin(self, *, rounding: bool) -> int:
        subs = self.submitters
        demand_by_group: dict[str, float] = {}
        usage_by_group: dict[str, float] = {}
        for s in subs.values():
            demand_by_group[s.group] = demand_by_group.get(s.group, 0.0) + s.used + s.pending
            usage_by_group[s.group] = usage_by_group.get(s.group, 0.0) + s.used
        self.group_demand = demand_by_group
        self.allocations = groups.group_allocations(
            self.config, demand_by_group, self.capacity, usage_by_group
        )
        matched = 0
        members: dict[str, list[Submitter]] = {}
        for s in subs.values():
            members.setdefault(s.group, []).append(s)
        self.members = members
        for group in groups.negotiation_order(self.config, self.allocations, usage_by_group):
            inside = members.get(group)
            if not inside:
                continue
            limits = fairshare.submitter_limits(
                {s.name: s.used + s.pending for s in inside},
                {s.name: s.effective for s in inside},
                self.allocations.get(group, 0.0),
                floors=self.floors,
                ceilings=self.ceilings,
            )
            for s in inside:
                s.limit = limits.get(s.name, 0.0)
                self.limits[s.name] = s.limit
            for s in sorted(inside, key=lambda s: (s.effective, s.name)):
                if s.pending <= _EPS:
                    continue
                matched += self.negotiate_submitter(s, s.limit, rounding=rounding)
        return matched

    def run(self) -> Plan:
        self.setup()
        rounding = False
        spins = 0
        while any(s.pending > _EPS for s in self.submitters.values()):
            spins += 1
            got = self.spin(rounding=rounding)
            if got:
                rounding = False
                continue
            if rounding:
                break
            rounding = True
        return self.plan(spins)

    def plan(self, spins: int) -> Plan:
        snap = self.snapshot
        autocluster_of = AutoclusterOf(snap.idle, self.grouping)
        waiting: dict[int, dict[str, dict[str, int]]] = {}
        for s in self.submitters.values():
            for req in s.requests:
                if req.left > 0:
                    by_reason = waiting.setdefault(req.ac, {}).setdefault(s.name, {})
                    reason = self.final_reason(s, req)
                    by_reason[reason] = by_reason.get(reason, 0) + req.left
        explanations = explain.explain_cycle(
            self.job_groups,
            self.slot_groups,
            self.pool,
            self.table,
            waiting,
            clusters=self.snapshot.clusters,
            usable=self.usable,
            limits=self.limits,
            allocations=self.allocations,
            exhausted=self.exhausted,
        )
        stats = {
            "idle_jobs": float(len(snap.idle)),
            "autoclusters": float(len(self.job_groups)),
            "slot_groups": float(len(self.slot_groups)),
            "pair_evaluations": float(self.table.evaluations),
            "spins": float(spins),
            "capacity": self.capacity,
        }
        return Plan(
            matches=tuple(self.matches),
            preemptions=tuple(self.preemptions),
            explanations=explanations,
            autocluster_of=autocluster_of,
            submitter_limits=dict(self.limits),
            stats=stats,
        )


class AutoclusterOf(Mapping[str, str]):
    """`Plan.autocluster_of`: idle job id -> autocluster key, built on first use.

    A cycle over a million idle jobs would spend a noticeable part of its
    time building this dictionary, which the manager reads only to answer
    `q -analyze`; so the plan keeps the job order and each job's group, and
    the dictionary is made the first time anyone reads it. Read-only.
    """

    __slots__ = ("_grouping", "_jobs", "_map")

    def __init__(self, jobs: Sequence[Job], grouping: JobGrouping) -> None:
        self._jobs = jobs
        self._grouping = grouping
        self._map: dict[str, str] | None = None

    def _table(self) -> dict[str, str]:
        table = self._map
        if table is None:
            keys = [g.key for g in self._grouping.groups]
            table = self._map = {
                job.id: keys[g] for job, g in zip(self._jobs, self._grouping.of_job(), strict=True)
            }
        return table

    def __getitem__(self, job_id: str) -> str:
        return self._table()[job_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._table()


def _emptied(group: SlotGroup) -> SlotGroup:
    """A slot group of an unusable cluster: present for explanations, empty in the pool."""
    return SlotGroup(
        group.index, group.rep, group.cluster, group.partitionable, group.totals, slots=[]
    )


def negotiate(snapshot: Snapshot, config: NegotiatorConfig, now: float, seed: int = 0) -> Plan:
    """Run one negotiation cycle over the snapshot and return what to start and vacate."""
    return _Cycle(snapshot, config, now, seed).run()
