"""Preemption: which running jobs to vacate so that an idle job can start.

Called by `core.negotiate` for a request that found no free slot while its
submitter is still under its fair-share limit. A running job (a `Claim`) is a
candidate victim when

- *rank preemption* (`rank_preemption`): the slot's `Rank` prefers the new
  job to the running one; or
- *priority preemption* (`priority_preemption`): it belongs to another
  submitter and `preemption_requirements` is true;

and it is not protected by `MaxJobRetirementTime`: the job has run at least
that long (the slot's value evaluated against the job, and the job's own; the
smaller one counts when both are set).

The preemption expressions are evaluated with MY = a *context ad*: the slot
ad, overlaid with the running job's attributes (its Requirements, Rank and
Start excepted) and with `RemoteUser`/`RemoteOwner` (the victim's submitter),
`RemoteGroup`, `RemoteUserPrio` (its effective priority),
`RemoteUserResourcesInUse` and `RemoteUserFairShare` (slot weight it holds
and its pie-spin limit this cycle), `TotalJobRunTime`, `JobStart`,
`SubmitterUser`, `SubmitterGroup`, `SubmitterUserPrio` (the new job's
submitter); TARGET = the new job. `preemption_rank` orders the victims of one
slot (higher first); in a partitionable slot victims are added, best first,
until the free resources plus theirs fit the new job.

Neighbours: `core.negotiate` (caller), `core.matchtable` (static match of the
slot group), `core.pool` (the slot's free part). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from skyflock.classad import ClassAd, flatten
from skyflock.classad.nodes import AttrRef, Literal
from skyflock.classad.values import ERROR, UNDEFINED
from skyflock.core import carve, fairshare, groups
from skyflock.core.carve import Resources
from skyflock.core.matchtable import MatchTable, as_rank

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import Expr
    from skyflock.core.config import NegotiatorConfig
    from skyflock.core.model import Claim, Snapshot
    from skyflock.core.pool import Pool

PRIORITY = "priority"
RANK = "rank"

_SKIP = {"requirements", "rank", "start"}

CONTEXT_NAMES = frozenset(
    {
        "remoteuser",
        "remoteowner",
        "remotegroup",
        "remoteuserprio",
        "remoteuserresourcesinuse",
        "remoteuserfairshare",
        "totaljobruntime",
        "jobstart",
        "submitteruser",
        "submittergroup",
        "submitteruserprio",
    }
)
"""Names the preemption context ad always defines (never read from the new job)."""

SUBMITTER_NAMES = CONTEXT_NAMES - {"totaljobruntime", "jobstart"}
"""Context names whose values depend only on the two submitters, not on the claim."""


def _decidable_per_submitter(expr: Expr) -> bool:
    """Whether flattening `expr` over the submitter-level names alone is exact.

    Unscoped names the partial ad lacks stay references, as they should; a
    `MY.`-scoped (or `PARENT.`/`ROOT.`) name it lacks would flatten to
    UNDEFINED although the full context may define it, so such expressions
    are evaluated claim by claim.
    """
    stack = [expr]
    while stack:
        node = stack.pop()
        scoped = type(node) is AttrRef and node.scope not in (None, "target")
        if scoped and node.key not in SUBMITTER_NAMES:  # type: ignore[attr-defined]
            return False
        stack.extend(node.children())
    return True


def _seconds(value: object) -> float | None:
    if value is UNDEFINED or value is ERROR or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


class Preemptor:
    """Candidate victims of one cycle, with the state that changes as victims are taken."""

    def __init__(
        self,
        snapshot: Snapshot,
        config: NegotiatorConfig,
        table: MatchTable,
        pool: Pool,
        slot_group_of: Sequence[int],
        usable: Sequence[bool],
        effective: Mapping[str, float],
        now: float,
        *,
        preemption_requirements: Expr,
        preemption_rank: Expr,
        usage: Callable[[str], float] | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.config = config
        self.table = table
        self.pool = pool
        self.slot_group_of = slot_group_of
        self.now = now
        self.effective = dict(effective)
        self.usable = usable
        self._req_expr = preemption_requirements
        self._req = preemption_requirements.compile()
        self._rank = preemption_rank.compile()
        self._claims: dict[int, list[Claim]] | None = None
        self._order: list[int] = []
        self._left: dict[int, list[Claim]] = {}
        """Per slot, its claims not yet taken as victims (in `claims` order)."""
        self._whose: dict[int, set[str]] = {}
        """Per slot, the submitters of those claims."""
        self._submitters: list[str] = []
        """Every submitter holding a claim, sorted."""
        self._ranked: bool | None = None
        """Whether any slot with claims may preempt by its Rank (decided on first use)."""
        self._static_usage: dict[str, float] | None = None
        self.usage = usage or self._usage_of
        self.limits: Mapping[str, float] = {}
        self.taken: set[str] = set()
        self._contexts: dict[str, ClassAd] = {}
        self._context_values: dict[str, tuple[float, float, str]] = {}
        self._retire: dict[str, float | None] = {}
        self._slot_rank: dict[int, Callable[[ClassAd | None, ClassAd | None], object] | None] = {}
        self._verdicts: dict[tuple[object, ...], bool | None] = {}
        self._per_submitter: bool | None = None
        self.protected: dict[str, float] = {}
        """Job id -> time its retirement ends, for victims that were spared (explanations)."""

    @property
    def claims(self) -> dict[int, list[Claim]]:
        """Slot index -> its claims on usable clusters, youngest first (built on first use)."""
        claims = self._claims
        if claims is None:
            index = {slot.id: i for i, slot in enumerate(self.snapshot.slots)}
            claims = self._claims = {}
            for claim in self.snapshot.running:
                i = index.get(claim.slot_id)
                if i is not None and self.usable[self.slot_group_of[i]]:
                    claims.setdefault(i, []).append(claim)
            for held in claims.values():
                held.sort(key=lambda c: (-c.started_at, c.job.id))
            self._order = sorted(claims)
            self._left = {i: list(held) for i, held in claims.items()}
            self._whose = {i: {c.job.submitter for c in held} for i, held in claims.items()}
            self._submitters = sorted({c.job.submitter for held in claims.values() for c in held})
        return claims

    def _usage_of(self, name: str) -> float:
        used = self._static_usage
        if used is None:
            used = self._static_usage = {}
            for claim in self.snapshot.running:
                used[claim.job.submitter] = used.get(claim.job.submitter, 0.0) + (
                    fairshare.claim_weight(claim, self.config)
                )
        return used.get(name, 0.0)

    # -- per claim -----------------------------------------------------------
    def _prio(self, name: str) -> float:
        prio = self.effective.get(name)
        if prio is None:
            prio = self.effective[name] = fairshare.effective_priority(
                self.snapshot.accounting, name, self.config
            )
        return prio

    def context(self, claim: Claim, slot_ad: ClassAd, submitter: str) -> ClassAd:
        ad = self._contexts.get(claim.job.id)
        if ad is None:
            ad = slot_ad.copy()
            for name in claim.job.ad:
                if name.lower() not in _SKIP:
                    expr = claim.job.ad.lookup(name)
                    if expr is not None:
                        ad[name] = expr
            who = claim.job.submitter
            ad["RemoteUser"] = who
            ad["RemoteOwner"] = who
            ad["RemoteGroup"] = groups.group_of(who, self.config)
            ad["RemoteUserPrio"] = self._prio(who)
            ad["TotalJobRunTime"] = max(0.0, self.now - claim.started_at)
            ad["JobStart"] = claim.started_at
            self._contexts[claim.job.id] = ad
        who = claim.job.submitter
        used = self.usage(who)
        share = self.limits.get(who, used)
        values = (used, share, submitter)
        if self._context_values.get(claim.job.id) != values:
            # set only what changed since this claim's context was last used
            self._context_values[claim.job.id] = values
            ad["RemoteUserResourcesInUse"] = used
            ad["RemoteUserFairShare"] = share
            ad["SubmitterUser"] = submitter
            ad["SubmitterGroup"] = groups.group_of(submitter, self.config)
            ad["SubmitterUserPrio"] = self._prio(submitter)
        return ad

    def retirement_end(self, claim: Claim, slot_ad: ClassAd) -> float | None:
        """When the claim's retirement protection ends (None: no protection; cached)."""
        key = claim.job.id
        if key in self._retire:
            return self._retire[key]
        end = self._retirement_end(claim, slot_ad)
        self._retire[key] = end
        return end

    def _retirement_end(self, claim: Claim, slot_ad: ClassAd) -> float | None:
        values = [
            v
            for v in (
                _seconds(slot_ad.eval("MaxJobRetirementTime", claim.job.ad)),
                _seconds(claim.job.ad.eval("MaxJobRetirementTime")),
            )
            if v is not None
        ]
        if not values:
            return None
        return claim.started_at + min(values)

    def slot_rank(
        self, i: int, slot_ad: ClassAd
    ) -> Callable[[ClassAd | None, ClassAd | None], object] | None:
        """The compiled Rank of slot `i` when rank preemption may use it (cached)."""
        if i in self._slot_rank:
            return self._slot_rank[i]
        fn = None
        if self.config.rank_preemption:
            rank = slot_ad.lookup("rank")
            if rank is not None:
                fn = rank.compile()
        self._slot_rank[i] = fn
        return fn

    def priority_verdict(self, who: str, submitter: str) -> bool | None:
        """`preemption_requirements` for every claim of `who`, when the submitters decide it.

        False: no claim of `who` may be preempted for `submitter` on priority
        now; True: every one may (retirement aside); None: it depends on the
        claim. Decided by flattening the expression over the submitter-level
        context names (cached by their values, which change as the cycle
        takes and gives slots).
        """
        if not self.config.priority_preemption or who == submitter:
            return False
        values: dict[str, object] = {
            "RemoteUser": who,
            "RemoteOwner": who,
            "RemoteGroup": groups.group_of(who, self.config),
            "RemoteUserPrio": self._prio(who),
            "RemoteUserResourcesInUse": self.usage(who),
            "RemoteUserFairShare": self.limits.get(who, self.usage(who)),
            "SubmitterUser": submitter,
            "SubmitterGroup": groups.group_of(submitter, self.config),
            "SubmitterUserPrio": self._prio(submitter),
        }
        key = tuple(values.values())
        if key in self._verdicts:
            return self._verdicts[key]
        if self._per_submitter is None:
            self._per_submitter = _decidable_per_submitter(self._req_expr)
        verdict: bool | None = None
        if self._per_submitter:
            flat = flatten(self._req_expr, ClassAd(values))
            if type(flat) is Literal:
                verdict = flat.value is True
        self._verdicts[key] = verdict
        return verdict

    def why(
        self,
        claim: Claim,
        slot_ad: ClassAd,
        new_job: ClassAd,
        submitter: str,
        *,
        rank: Callable[[ClassAd | None, ClassAd | None], object] | None = None,
        verdict: bool | None = None,
    ) -> str | None:
        """The reason this claim may be preempted for the new job, or None.

        `rank` is the slot's compiled Rank (None: no rank preemption) and
        `verdict` the submitters' `priority_verdict` (None: evaluate it for
        this claim).
        """
        reason = None
        if rank is not None and as_rank(rank(slot_ad, new_job)) > as_rank(
            rank(slot_ad, claim.job.ad)
        ):
            reason = RANK
        elif verdict is True:
            reason = PRIORITY
        elif (
            verdict is None and self.config.priority_preemption and claim.job.submitter != submitter
        ):
            ad = self.context(claim, slot_ad, submitter)
            if self._req(ad, new_job) is True:
                reason = PRIORITY
        if reason is None:
            return None
        end = self.retirement_end(claim, slot_ad)
        if end is not None and self.now < end:
            self.protected[claim.job.id] = end
            return None
        return reason

    def detail(self, claim: Claim, submitter: str, reason: str) -> str:
        who = claim.job.submitter
        ran = max(0.0, self.now - claim.started_at)
        if reason == RANK:
            return f"the slot ranks {submitter}'s job above {who}'s job (ran {ran:.0f}s)"
        return (
            f"{who} (priority {self._prio(who):.1f}, using {self.usage(who):.1f}"
            f" of fair share {self.limits.get(who, 0.0):.1f}) yields to {submitter}"
            f" (priority {self._prio(submitter):.1f}); ran {ran:.0f}s"
        )

    # -- the search ------------------------------------------------------------
    def find(
        self, a: int, submitter: str, limits: Mapping[str, float]
    ) -> tuple[int, list[tuple[Claim, str]]] | None:
        """The best slot to preempt for one job of group `a`, and its victims with reasons."""
        self.limits = limits
        self.claims  # noqa: B018 - builds the per-slot state on first use
        left, whose = self._left, self._whose
        slots = self.snapshot.slots
        verdicts = {who: self.priority_verdict(who, submitter) for who in self._submitters}
        if self._ranked is None:
            self._ranked = any(self.slot_rank(i, slots[i].ad) is not None for i in self._order)
        if not self._ranked and all(v is False for v in verdicts.values()):
            return None  # no running job can qualify, whatever the slot
        job = self.table.jobs[a]
        need = job.request
        new_ad = job.rep.ad
        best: tuple[object, ...] | None = None
        found: tuple[int, list[tuple[Claim, str]]] | None = None
        for i in self._order:
            claims = left[i]
            if not claims:
                continue
            slot_ad = slots[i].ad
            ranks_by = self.slot_rank(i, slot_ad)
            if ranks_by is None and all(verdicts[w] is False for w in whose[i]):
                continue  # none of its jobs may yield on priority and the slot ranks none
            g = self.slot_group_of[i]
            group = self.table.slots[g]
            if not carve.fits(group.totals, need):
                continue
            pair = self.table.pair(a, g)
            if pair is None:
                continue
            free = self.pool.remaining[i] if group.partitionable else carve.NOTHING
            eligible: list[tuple[float, Claim, str]] = []
            for claim in claims:
                reason = self.why(
                    claim,
                    slot_ad,
                    new_ad,
                    submitter,
                    rank=ranks_by,
                    verdict=verdicts[claim.job.submitter],
                )
                if reason is not None:
                    rank = as_rank(self._rank(self.context(claim, slot_ad, submitter), new_ad))
                    eligible.append((rank, claim, reason))
            if not eligible:
                continue
            eligible.sort(key=lambda e: (-e[0], -e[1].started_at, e[1].job.id))
            victims: list[tuple[Claim, str]] = []
            have: Resources = free
            if group.partitionable:
                for _, claim, reason in eligible:
                    if carve.fits(have, need):
                        break
                    victims.append((claim, reason))
                    have = carve.add(have, (claim.cpus, claim.memory, claim.disk, claim.gpus))
                if not victims or not carve.fits(have, need):
                    continue
            else:
                if len(eligible) < len(claims):
                    continue
                victims = [(c, r) for _, c, r in eligible]
            ranks = pair.ranks or (0.0, 0.0, 0.0)
            key = (-ranks[0], -ranks[1], -ranks[2], len(victims), -eligible[0][0], i)
            if best is None or key < best:
                best, found = key, (i, victims)
        if found is None:
            return None
        i, victims = found
        for claim, _ in victims:
            self.taken.add(claim.job.id)
        left[i] = [c for c in left[i] if c.job.id not in self.taken]
        whose[i] = {c.job.submitter for c in left[i]}
        group = self.table.slots[self.slot_group_of[i]]
        if group.partitionable:
            freed: Resources = carve.NOTHING
            for claim, _ in victims:
                freed = carve.add(freed, (claim.cpus, claim.memory, claim.disk, claim.gpus))
            from_free = tuple(max(0, n - f) for n, f in zip(need, freed, strict=True))
            if any(from_free):
                self.pool.withdraw(self.slot_group_of[i], i, from_free)  # type: ignore[arg-type]
        return found
