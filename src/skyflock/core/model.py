"""The negotiator's vocabulary: what goes into a cycle and what comes out.

`negotiate(snapshot, config, now) -> Plan` is a pure function; these frozen
dataclasses are its arguments and result. The manager builds a `Snapshot` from
the store and the cluster backends, the simulator builds one from its virtual
federation, and both act on the `Plan`. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad import ClassAd

NO_GROUP = "<none>"
"""The accounting group of submitters that belong to no configured group."""


@dataclass(frozen=True, slots=True)
class Job:
    """An idle (or running) job as the negotiator sees it.

    `id` is HTCondor's "ClusterId.ProcId". `submitter` is the fair-share unit:
    the job's `AccountingGroup` ("group.user") when set, else its `Owner`
    (see `submitter_of`).
    """

    id: str
    ad: ClassAd
    submitter: str


@dataclass(frozen=True, slots=True)
class Slot:
    """A partitionable (or static) slot: one per machine, node or agent.

    The ad carries what is still unclaimed (`Cpus`, `Memory` MiB, `Disk` KiB,
    `GPUs`), the totals (`TotalCpus`...), `Machine`, `Arch`, `OpSys`, the
    federation attributes `ClusterName`, `Tier`, `Cloud`, `Site`, any user
    labels, and the slot's own `Start`/`Requirements` and `Rank`.
    """

    id: str
    ad: ClassAd
    partitionable: bool = True


@dataclass(frozen=True, slots=True)
class Claim:
    """A running job and the dynamic slot carved for it from `slot_id`."""

    job: Job
    slot_id: str
    cpus: int
    memory: int
    disk: int
    gpus: int
    started_at: float
    """Virtual or wall time (seconds) at which the job started on the slot."""


@dataclass(frozen=True, slots=True)
class ClusterState:
    """A federation member as the negotiator needs it."""

    name: str
    tier: int = 0
    cordoned: bool = False
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class SubmitterUsage:
    """Decayed usage and the per-submitter settings `userprio` can change."""

    real_priority: float = 0.5
    accumulated_usage: float = 0.0
    """Undecayed usage in slot-weight seconds (core-seconds by default)."""
    priority_factor: float | None = None
    """None means the configured default factor."""
    floor: float | None = None
    ceiling: float | None = None


@dataclass(frozen=True, slots=True)
class AccountingState:
    """Fair-share state: updated only by `fairshare.account`."""

    submitters: Mapping[str, SubmitterUsage] = field(default_factory=dict)
    last_update: float | None = None


@dataclass(frozen=True, slots=True)
class IdleBatch:
    """Idle jobs that the snapshot's builder knows to be alike (see `Snapshot.batches`).

    `jobs` are indices into `Snapshot.idle`, increasing. Every job of the batch
    has the same `submitter` and the same `JobPrio`, and their ads are
    structurally equal in every attribute except those named in `varying`
    (lower-case): typically the jobs of one submission, which differ in
    `ProcId` and little else. The negotiator then reads one ad per batch
    instead of one per job, unless an attribute it needs is in `varying`, in
    which case it reads the batch's ads one by one.
    """

    jobs: Sequence[int]
    varying: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one negotiation cycle looks at.

    `batches` and `in_submission_order` are optional hints from a builder that
    knows its queue (the manager's live queue, the simulator, the benchmark);
    the plan is the same with or without them, only faster with them. They
    are trusted, not checked (checking would read every ad, which is what they
    save): `batches` must split `idle` into `IdleBatch`es, every idle job in
    exactly one; `in_submission_order` says `idle` is listed in non-decreasing
    (`QDate`, `ClusterId`, `ProcId`), all of them numbers.
    """

    idle: tuple[Job, ...]
    running: tuple[Claim, ...]
    slots: tuple[Slot, ...]
    accounting: AccountingState
    clusters: Mapping[str, ClusterState] = field(default_factory=dict)
    batches: tuple[IdleBatch, ...] | None = None
    in_submission_order: bool = False


class Match(NamedTuple):
    """Start `job_id` on a dynamic slot of these resources carved from `slot_id`.

    A named tuple rather than a frozen dataclass: a cycle can make a million
    of them, and `matches_on` makes a whole batch without running Python code
    per match. Immutable, hashable, compared field by field.
    """

    job_id: str
    slot_id: str
    cluster: str
    cpus: int
    memory: int
    disk: int
    gpus: int
    submitter: str = ""
    preempts: tuple[str, ...] = ()
    """Jobs that must be vacated from the slot first (see `Plan.preemptions`)."""


_new_tuple: Callable[..., Match] = tuple.__new__


def matches_on(
    job_ids: Iterable[str],
    slot_id: str,
    cluster: str,
    carved: tuple[int, int, int, int],
    submitter: str,
) -> Iterator[Match]:
    """Matches of these jobs to one dynamic slot shape of one slot (nothing preempted).

    The same as `Match(job_id, slot_id, cluster, *carved, submitter)` per job,
    built in C: a partitionable slot takes k jobs of a request at once.
    """
    return _matches(job_ids, repeat(slot_id), cluster, carved, submitter)


def matches_across(
    job_ids: Iterable[str],
    slot_ids: Sequence[str],
    per_slot: int,
    cluster: str,
    carved: tuple[int, int, int, int],
    submitter: str,
) -> Iterator[Match]:
    """`matches_on` over several slots of one shape: `per_slot` jobs to each, in order."""
    slots = chain.from_iterable(map(repeat, slot_ids, repeat(per_slot)))
    return _matches(job_ids, slots, cluster, carved, submitter)


def _matches(
    job_ids: Iterable[str],
    slot_ids: Iterable[str],
    cluster: str,
    carved: tuple[int, int, int, int],
    submitter: str,
) -> Iterator[Match]:
    """One `Match` per job id, paired with `slot_ids` in order, made without a Python loop."""
    c0, c1, c2, c3 = carved
    return map(
        _new_tuple,
        repeat(Match),
        zip(
            job_ids,
            slot_ids,
            repeat(cluster),
            repeat(c0),
            repeat(c1),
            repeat(c2),
            repeat(c3),
            repeat(submitter),
            repeat(()),
        ),
    )


@dataclass(frozen=True, slots=True)
class Preemption:
    """Vacate `job_id` from `slot_id` so that `for_job` can run there."""

    job_id: str
    slot_id: str
    for_job: str
    reason: str
    """"priority" (fair share) or "rank" (the slot prefers the new job)."""
    detail: str = ""


def submitter_of(ad: ClassAd) -> str:
    """The fair-share unit of a job ad: `AccountingGroup` when set, else `Owner`."""
    from skyflock.classad import UNDEFINED

    group = ad.eval("AccountingGroup")
    if isinstance(group, str) and group:
        return group
    owner = ad.eval("Owner")
    if isinstance(owner, str) and owner:
        return owner
    return "nobody" if owner is UNDEFINED else str(owner)


@dataclass(frozen=True, slots=True)
class Plan:
    """The outcome of one cycle: what to start, what to vacate, and why the rest waits.

    `explanations` maps an idle autocluster's key to its
    `core.explain.Explanation`; `autocluster_of` maps every idle job id to that key, so
    `skyflock q -analyze ID` finds the reasons of any idle job.
    """

    matches: tuple[Match, ...] = ()
    preemptions: tuple[Preemption, ...] = ()
    explanations: Mapping[str, object] = field(default_factory=dict)
    autocluster_of: Mapping[str, str] = field(default_factory=dict)
    submitter_limits: Mapping[str, float] = field(default_factory=dict)
    """Each submitter's pie-spin limit in the cycle's last spin (slot-weight units)."""
    stats: Mapping[str, float] = field(default_factory=dict)
    """Counters of the cycle: autoclusters, slot groups, pair evaluations, spins, capacity."""
