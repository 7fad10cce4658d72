"""The manager's live view of the queue and the clusters, and the negotiator's `Snapshot` of it.

The store is the truth; this module keeps, in memory, what each negotiation
cycle needs so that a cycle never reads or parses the whole queue again:
every job still in the queue (`LiveJob`: its ad, state and claim), indexed by
state and submitter, and the slot ads built from each backend's
`capacity()` minus the claims it knows about (the backend reports totals; the
claims survive a restart in the store, the backend's bookkeeping does not).

The loop and the facade are its only writers and run on one event-loop thread;
they update it right after each store transaction commits.

Neighbours: `manager.loop` (drives it), `core.model` (the snapshot types),
`backends.base.SlotOffer` (what a cluster offers), `store.JobRecord` (how a job
is loaded after a restart).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from skyflock.backends.base import SlotOffer
from skyflock.classad import ClassAd, parse
from skyflock.core.model import (
    AccountingState,
    Claim,
    ClusterState,
    IdleBatch,
    Job,
    Slot,
    Snapshot,
)
from skyflock.store import JobRecord

IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5
DISPATCHING, VACATING, NONE = "dispatching", "vacating", ""

_SLOT_REQUIREMENTS = parse("START")


@dataclass(slots=True, eq=False)
class ClaimInfo:
    """A dynamic slot carved for a job: where and how big, and since when it is held."""

    cluster: str
    slot_id: str
    cpus: int
    memory: int
    disk: int
    gpus: int
    claimed_at: float
    """When the claim was first made (claim reuse keeps it; CLAIM_WORKLIFE counts from here)."""
    submitter: str = ""
    queue: deque[LiveJob] = field(default_factory=deque)
    """Jobs matched to this claim (Idle/dispatching in the store) waiting to run on it."""
    running: LiveJob | None = None
    """The job whose launch was handed to the backend and has not ended."""
    short_runs: bool = False
    """Its last job ran briefly: keep several matched jobs queued (prefetch)."""
    released: bool = False


class LiveJob:
    """A job in the queue as the manager tracks it between store transactions.

    Its `ad` is built on first use: a submitted job keeps only the cluster's
    shared ad (`template`, the same object for every job of the submit) and its
    own values (`own`), so queueing 100,000 jobs makes no ClassAd per job, and
    the ads built later share every parsed expression of the template (the
    negotiator groups jobs by those objects).

    `family` remembers the template and the names of the job's own values for
    as long as nothing but the snapshot has seen the ad: jobs of one family
    differ only in those names, which lets the snapshot hand them to the
    negotiator as one `IdleBatch`. Reading `ad` (to change it or not) ends it.
    """

    __slots__ = (
        "_ad",
        "claim",
        "completions",
        "family",
        "handle",
        "id",
        "job",
        "matched",
        "no_reuse",
        "num_starts",
        "own",
        "prio",
        "q_date",
        "run_started",
        "started_at",
        "status",
        "submitter",
        "substate",
        "template",
    )

    def __init__(
        self,
        id: str,
        ad: ClassAd | None,
        submitter: str,
        status: int,
        substate: str,
        q_date: float,
        prio: int = 0,
        claim: ClaimInfo | None = None,
        started_at: float | None = None,
        num_starts: int = 0,
        completions: int = 0,
        handle: str | None = None,
        *,
        template: ClassAd | None = None,
        own: Mapping[str, object] | None = None,
    ) -> None:
        if ad is None and template is None:
            raise ValueError(f"job {id}: give its ad or the template it is built from")
        self.id = id
        self._ad = ad
        self.template = template
        self.own = own
        self.submitter = submitter
        self.status = status
        self.substate = substate
        self.q_date = q_date
        self.prio = prio
        self.claim = claim
        self.started_at = started_at
        self.num_starts = num_starts
        self.completions = completions
        self.handle = handle
        self.job: Job | None = None
        self.no_reuse = False
        """The claim must go back to the negotiator when this run ends (preempted)."""
        self.matched = False
        """Its match to `claim` is committed to the store (it may start)."""
        self.run_started: float | None = None
        self.family: tuple[ClassAd, frozenset[str]] | None = None
        if ad is None and template is not None:
            self.family = (template, frozenset({"procid", *(k.lower() for k in own or ())}))

    @property
    def ad(self) -> ClassAd:
        """The job's ad, built on first use; whoever reads it may change it (ends `family`)."""
        self.family = None
        return self._built()

    def _built(self) -> ClassAd:
        ad = self._ad
        if ad is None:
            assert self.template is not None
            ad = self.template.copy()
            if self.own:
                for name, value in self.own.items():
                    ad[name] = value
            _, _, proc = self.id.partition(".")
            ad["ProcId"] = int(proc or 0)
            self._ad = ad
            self.template = self.own = None
        return ad

    @property
    def ad_built(self) -> bool:
        return self._ad is not None

    def has_attribute(self, name: str) -> bool:
        """Whether the job's ad has `name`, without building the ad."""
        if self._ad is not None:
            return name in self._ad
        assert self.template is not None
        if name in self.template:
            return True
        low = name.lower()
        return bool(self.own) and any(k.lower() == low for k in self.own or ())

    def core_job(self) -> Job:
        """The negotiator's view of the job (the snapshot only reads its ad)."""
        if self.job is None:
            self.job = Job(id=self.id, ad=self._built(), submitter=self.submitter)
        return self.job

    @property
    def sort_key(self) -> tuple[int, int]:
        cluster, _, proc = self.id.partition(".")
        return (int(cluster), int(proc or 0))


def live_from_record(record: JobRecord) -> LiveJob:
    claim = None
    if record.slot_id and record.cluster_name and record.claim_cpus is not None:
        claim = ClaimInfo(
            cluster=record.cluster_name,
            slot_id=record.slot_id,
            cpus=record.claim_cpus or 0,
            memory=record.claim_memory or 0,
            disk=record.claim_disk or 0,
            gpus=record.claim_gpus or 0,
            claimed_at=record.job_current_start_date or record.entered_status_at,
        )
    ad = record.ad.copy()
    return LiveJob(
        id=record.id,
        ad=ad,
        submitter=record.submitter,
        status=record.status,
        substate=record.substate,
        q_date=record.q_date,
        prio=record.job_prio,
        claim=claim,
        started_at=record.job_current_start_date,
        num_starts=record.num_job_starts,
        completions=record.num_job_completions,
        handle=record.handle,
    )


@dataclass(slots=True)
class ClusterView:
    """A federation member with its backend's last capacity report."""

    name: str
    kind: str
    tier: int = 0
    offers: list[SlotOffer] = field(default_factory=list)
    healthy: bool = True
    cordoned: bool = False
    message: str = ""


def slot_ad(cluster: ClusterView, offer: SlotOffer, used: tuple[int, int, int, int]) -> ClassAd:
    """The partitionable slot ad: what is left (`Cpus`...) and the totals (`TotalCpus`...)."""
    cpus, memory, disk, gpus = used
    ad = ClassAd(
        {
            "Name": offer.name,
            "Machine": offer.machine or offer.name,
            "SlotType": "Partitionable",
            "PartitionableSlot": True,
            "Cpus": max(0, offer.cpus - cpus),
            "Memory": max(0, offer.memory_mib - memory),
            "Disk": max(0, offer.disk_kib - disk),
            "GPUs": max(0, offer.gpus - gpus),
            "TotalCpus": offer.cpus,
            "TotalMemory": offer.memory_mib,
            "TotalDisk": offer.disk_kib,
            "TotalGPUs": offer.gpus,
            "Arch": offer.arch,
            "OpSys": offer.opsys,
            "ClusterName": cluster.name,
            "Tier": cluster.tier,
            "FileSystemDomain": offer.machine or offer.name,
            "UidDomain": offer.machine or offer.name,
            "HasFileTransfer": True,
            "HasContainer": offer.labels.get("HasContainer", False),
            "Start": True,
        }
    )
    ad["Requirements"] = _SLOT_REQUIREMENTS
    for key, value in offer.labels.items():
        ad[key] = value
    return ad


def slot_id_of(cluster: str, offer: SlotOffer) -> str:
    return offer.name if cluster == "local" else f"{cluster}/{offer.name}"


class LiveQueue:
    """Every job of the queue, in memory, with the indexes a cycle needs."""

    def __init__(self) -> None:
        self.jobs: dict[str, LiveJob] = {}
        self.idle: dict[str, LiveJob] = {}
        """Idle jobs waiting for a match (not dispatching), in submission order."""
        self.idle_by_submitter: dict[str, dict[str, LiveJob]] = {}
        self.claimed: dict[str, LiveJob] = {}
        """Jobs holding a claim: dispatching, running, or vacating."""

    # -- bookkeeping ------------------------------------------------------------------------

    def load(self, records: Iterable[JobRecord]) -> None:
        for record in sorted(records, key=lambda r: (r.cluster_id, r.proc_id)):
            self.add(live_from_record(record))

    def add(self, job: LiveJob) -> None:
        self.jobs[job.id] = job
        self._index(job)

    def discard(self, job_id: str) -> LiveJob | None:
        job = self.jobs.pop(job_id, None)
        if job is not None:
            self._unindex(job)
        return job

    def set_state(self, job: LiveJob, status: int, substate: str = NONE) -> None:
        """Move a job to a new state (call after the store committed the move)."""
        self._unindex(job)
        job.status = status
        job.substate = substate
        if status in (REMOVED, COMPLETED) and substate == NONE:
            self.jobs.pop(job.id, None)
            return
        self._index(job)

    def _index(self, job: LiveJob) -> None:
        if job.status == IDLE and job.substate == NONE:
            job.claim = None
            self.idle[job.id] = job
            self.idle_by_submitter.setdefault(job.submitter, {})[job.id] = job
        elif job.claim is not None and (
            job.status == RUNNING or job.substate in (DISPATCHING, VACATING)
        ):
            self.claimed[job.id] = job

    def _unindex(self, job: LiveJob) -> None:
        self.idle.pop(job.id, None)
        mine = self.idle_by_submitter.get(job.submitter)
        if mine is not None:
            mine.pop(job.id, None)
            if not mine:
                del self.idle_by_submitter[job.submitter]
        self.claimed.pop(job.id, None)

    def get(self, job_id: str) -> LiveJob | None:
        return self.jobs.get(job_id)

    def __iter__(self) -> Iterator[LiveJob]:
        return iter(list(self.jobs.values()))

    def __len__(self) -> int:
        return len(self.jobs)

    # -- what the negotiator sees -----------------------------------------------------------

    def used_by_slot(self) -> dict[str, tuple[int, int, int, int]]:
        used: dict[str, tuple[int, int, int, int]] = {}
        claims = {id(job.claim): job.claim for job in self.claimed.values() if job.claim}
        for c in claims.values():
            a, b, d, g = used.get(c.slot_id, (0, 0, 0, 0))
            used[c.slot_id] = (a + c.cpus, b + c.memory, d + c.disk, g + c.gpus)
        return used

    def slots(self, clusters: Mapping[str, ClusterView]) -> tuple[Slot, ...]:
        used = self.used_by_slot()
        out = []
        for cluster in clusters.values():
            for offer in cluster.offers:
                sid = slot_id_of(cluster.name, offer)
                ad = slot_ad(cluster, offer, used.get(sid, (0, 0, 0, 0)))
                out.append(Slot(id=sid, ad=ad, partitionable=True))
        return tuple(out)

    def claims(self) -> tuple[Claim, ...]:
        out = []
        for job in self.claimed.values():
            if job.status != RUNNING or job.substate == VACATING:
                continue
            claim = core_claim(job)
            if claim is not None:
                out.append(claim)
        return tuple(out)

    def batches(self, idle: Iterable[LiveJob]) -> tuple[IdleBatch, ...] | None:
        """The idle jobs (in this order) as batches of one family, submitter and JobPrio.

        None when most jobs belong to no family (their ads were read since they
        were built, or they were loaded from the store): the negotiator's
        one-job-at-a-time pass is faster than batches of one.
        """
        members: dict[tuple[int, str, int, frozenset[str]], list[int]] = {}
        alone: list[list[int]] = []
        n = 0
        for i, job in enumerate(idle):
            n += 1
            family = job.family
            if family is None:
                alone.append([i])
                continue
            key = (id(family[0]), job.submitter, job.prio, family[1])
            group = members.get(key)
            if group is None:
                members[key] = [i]
            else:
                group.append(i)
        if 2 * len(alone) > n:
            return None
        out = [IdleBatch(jobs, key[3]) for key, jobs in members.items()]
        out.extend(IdleBatch(jobs) for jobs in alone)
        return tuple(out)

    def snapshot(
        self,
        clusters: Mapping[str, ClusterView],
        accounting: AccountingState,
    ) -> Snapshot:
        idle = list(self.idle.values())
        return Snapshot(
            idle=tuple(job.core_job() for job in idle),
            batches=self.batches(idle),
            running=self.claims(),
            slots=self.slots(clusters),
            accounting=accounting,
            clusters={
                c.name: ClusterState(c.name, c.tier, c.cordoned, c.healthy)
                for c in clusters.values()
            },
        )

    def counts(self) -> tuple[dict[int, int], dict[str, dict[int, int]]]:
        by_status = {s: 0 for s in (IDLE, RUNNING, REMOVED, COMPLETED, HELD)}
        by_submitter: dict[str, dict[int, int]] = {}
        for job in self.jobs.values():
            by_status[job.status] = by_status.get(job.status, 0) + 1
            mine = by_submitter.setdefault(job.submitter, {})
            mine[job.status] = mine.get(job.status, 0) + 1
        return by_status, by_submitter


def core_claim(job: LiveJob) -> Claim | None:
    """The negotiator's view of a job's dynamic slot (None when it holds none)."""
    c = job.claim
    if c is None:
        return None
    return Claim(
        job=job.core_job(),
        slot_id=c.slot_id,
        cpus=c.cpus,
        memory=c.memory,
        disk=c.disk,
        gpus=c.gpus,
        started_at=job.started_at if job.started_at is not None else c.claimed_at,
    )
