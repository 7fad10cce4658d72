"""The simulator's discrete-event loop: a virtual federation driven by the real
negotiator and the real accounting.

The clock is virtual. Negotiation cycles fall every `cycle_interval`; between
them the loop handles, in time order, job completions and cluster failures
and recoveries; arrivals join the queue at the next cycle (the negotiator
would not see them earlier). Each cycle it folds the interval's claims into
the fair-share state with `core.fairshare.account`, builds a `Snapshot` of
ClassAds (idle jobs, running claims, partitionable slots with what is left of
each machine), calls `core.negotiate.negotiate`, vacates the plan's victims
and starts its matches on dynamic slots carved from the machines.

Accounting sees the claims that held at the start of each interval: matches
only start at cycles, so only a job that ends mid-interval is counted for up
to one interval too long. The report's core-seconds are exact.

Neighbours: `sim.scenario` (the input), `sim.report` (the result), the pure
`core` it drives. No wall clock, no I/O: a run is a function of its scenario.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from skyflock.classad import ClassAd, parse
from skyflock.core.fairshare import account
from skyflock.core.groups import group_of
from skyflock.core.model import (
    AccountingState,
    Claim,
    ClusterState,
    Job,
    Plan,
    Slot,
    Snapshot,
)
from skyflock.sim.report import Report, Sample
from skyflock.sim.scenario import ClusterSpec, Runtime, Scenario

Negotiate = Callable[..., Plan]

# event kinds, in the order they apply at equal times
_COMPLETE, _DOWN, _UP = 0, 1, 2


@dataclass(slots=True)
class _Machine:
    slot_id: str
    cluster: str
    ad: ClassAd
    cpus: int
    memory: int
    disk: int
    gpus: int
    free_cpus: int = 0
    free_memory: int = 0
    free_disk: int = 0
    free_gpus: int = 0
    slot: Slot | None = None
    dirty: bool = True
    """The ad lags behind the free resources until `publish()` (once per cycle)."""

    def reset(self) -> None:
        self.free_cpus, self.free_memory = self.cpus, self.memory
        self.free_disk, self.free_gpus = self.disk, self.gpus
        self.dirty = True

    def take(self, cpus: int, memory: int, disk: int, gpus: int) -> bool:
        if (
            cpus > self.free_cpus
            or memory > self.free_memory
            or disk > self.free_disk
            or gpus > self.free_gpus
        ):
            return False
        self.free_cpus -= cpus
        self.free_memory -= memory
        self.free_disk -= disk
        self.free_gpus -= gpus
        self.dirty = True
        return True

    def give(self, cpus: int, memory: int, disk: int, gpus: int) -> None:
        self.free_cpus = min(self.cpus, self.free_cpus + cpus)
        self.free_memory = min(self.memory, self.free_memory + memory)
        self.free_disk = min(self.disk, self.free_disk + disk)
        self.free_gpus = min(self.gpus, self.free_gpus + gpus)
        self.dirty = True

    def publish(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        ad = self.ad
        ad["Cpus"] = self.free_cpus
        ad["Memory"] = self.free_memory
        ad["Disk"] = self.free_disk
        ad["GPUs"] = self.free_gpus


@dataclass(slots=True)
class _SimJob:
    job: Job
    submitter: str
    group: str
    submit_time: float
    runtime: float
    cpus: int
    first_start: float | None = None
    generation: int = 0
    claim: Claim | None = None
    done: bool = False


@dataclass(slots=True)
class _Event:
    time: float
    kind: int
    seq: int
    payload: object = None

    def __lt__(self, other: _Event) -> bool:
        return (self.time, self.kind, self.seq) < (other.time, other.kind, other.seq)


@dataclass(slots=True)
class Simulation:
    """One run of a scenario. `run()` returns the `Report`."""

    scenario: Scenario
    negotiate: Negotiate | None = None
    machines: dict[str, _Machine] = field(default_factory=dict)
    jobs: dict[str, _SimJob] = field(default_factory=dict)
    idle: dict[str, _SimJob] = field(default_factory=dict)
    running: dict[str, _SimJob] = field(default_factory=dict)
    ended: list[tuple[Claim, float]] = field(default_factory=list)
    """Claims that ended since the last accounting, with their end time."""
    down: set[str] = field(default_factory=set)
    events: list[_Event] = field(default_factory=list)
    accounting: AccountingState = field(default_factory=AccountingState)
    report: Report | None = None
    cores_by_group: dict[str, float] = field(default_factory=dict)
    cores_by_cluster: dict[str, float] = field(default_factory=dict)
    _up_slots: tuple[Slot, ...] | None = None
    _seq: int = 0

    def run(self) -> Report:
        sc = self.scenario
        negotiate = self.negotiate or _real_negotiate()
        config = sc.config
        report = Report.empty(sc)
        self.report = report
        self._build_machines()
        arrivals = self._arrivals()
        for failure in sc.failures:
            self._push(failure.at, _DOWN, failure.cluster)
            if math.isfinite(failure.duration):
                self._push(failure.at + failure.duration, _UP, failure.cluster)
        clusters = {c.name: c for c in sc.clusters}
        next_arrival = 0
        sample_every = sc.sample_interval or sc.cycle_interval
        next_sample = 0.0
        cycle = 0
        now = 0.0
        while now <= sc.duration:
            self._advance(now)
            while next_arrival < len(arrivals) and arrivals[next_arrival][0] <= now:
                sim_job = arrivals[next_arrival][1]
                self.idle[sim_job.job.id] = sim_job
                self.jobs[sim_job.job.id] = sim_job
                next_arrival += 1
            running = tuple(j.claim for j in self.running.values() if j.claim is not None)
            self.accounting = account(self.accounting, running, now, config, self.ended)
            self.ended.clear()
            if self.idle:
                snapshot = Snapshot(
                    idle=tuple(j.job for j in self.idle.values()),
                    running=running,
                    slots=self._slots(),
                    accounting=self.accounting,
                    clusters={
                        name: ClusterState(name, spec.tier, healthy=name not in self.down)
                        for name, spec in clusters.items()
                    },
                )
                plan = negotiate(snapshot, config, now, seed=sc.seed + cycle)
                self._apply(plan, now)
            report.cycles += 1
            if now >= next_sample:
                self._sample(now)
                next_sample += sample_every
            cycle += 1
            if (
                next_arrival >= len(arrivals)
                and not self.idle
                and not self.running
                and not any(e.kind == _UP for e in self.events)
            ):
                break  # nothing left to happen
            now = cycle * sc.cycle_interval
        self._finish(sc.duration)
        return report

    def _slots(self) -> tuple[Slot, ...]:
        """The slots of the clusters that are up, their ads brought up to date."""
        if self._up_slots is None:
            self._up_slots = tuple(
                m.slot for m in self.machines.values() if m.cluster not in self.down and m.slot
            )
        for machine in self.machines.values():
            machine.publish()
        return self._up_slots

    # -- set-up ---------------------------------------------------------------
    def _build_machines(self) -> None:
        for spec in self.scenario.clusters:
            for i in range(spec.machines):
                machine = _machine(spec, i)
                self.machines[machine.slot_id] = machine

    def _arrivals(self) -> list[tuple[float, _SimJob]]:
        sc = self.scenario
        out: list[tuple[float, _SimJob]] = []
        for index, work in enumerate(sc.workload):
            rng = random.Random(f"{sc.seed}:{index}")
            submitter = sc.submitter(work.submitter)
            name = submitter.accounting_name
            group = group_of(name, sc.config)
            requirements = parse(work.requirements)
            rank = parse(work.rank)
            template = ClassAd(
                {
                    "Owner": submitter.name,
                    "RequestCpus": work.request_cpus,
                    "RequestMemory": work.request_memory,
                    "RequestDisk": work.request_disk,
                    "RequestGPUs": work.request_gpus,
                    "Requirements": requirements,
                    "Rank": rank,
                    "JobPrio": work.job_prio,
                    "ClusterId": index + 1,
                    "ProcId": 0,
                    "QDate": 0,
                    "JobStatus": 1,
                }
            )
            if submitter.group:
                template["AccountingGroup"] = name
            for proc in range(work.count):
                at = work.at + (work.spread * proc / work.count if work.spread else 0.0)
                if at > sc.duration:
                    break
                ad = template.copy()
                ad["ProcId"] = proc
                ad["QDate"] = int(at)
                job = Job(f"{index + 1}.{proc}", ad, name)
                out.append(
                    (
                        at,
                        _SimJob(
                            job,
                            name,
                            group,
                            at,
                            _sample_runtime(work.runtime, rng),
                            work.request_cpus,
                        ),
                    )
                )
        out.sort(key=lambda item: item[0])
        return out

    # -- events ---------------------------------------------------------------
    def _push(self, time: float, kind: int, payload: object) -> None:
        self._seq += 1
        heapq.heappush(self.events, _Event(time, kind, self._seq, payload))

    def _advance(self, now: float) -> None:
        """Apply every completion, failure and recovery up to `now`, in time order."""
        while self.events and self.events[0].time <= now:
            event = heapq.heappop(self.events)
            if event.kind == _COMPLETE:
                job_id, generation = cast(tuple[str, int], event.payload)
                sim_job = self.running.get(job_id)
                if sim_job is not None and sim_job.generation == generation:
                    self._stop(sim_job, event.time)
                    sim_job.done = True
                    assert self.report is not None
                    self.report.add_completed(sim_job.submitter, sim_job.group)
            elif event.kind == _DOWN:
                cluster = str(event.payload)
                self.down.add(cluster)
                self._up_slots = None
                lost = [
                    j
                    for j in self.running.values()
                    if j.claim and self._cluster_of(j.claim) == cluster
                ]
                for sim_job in lost:
                    self._stop(sim_job, event.time)
                    self._requeue(sim_job)
                    assert self.report is not None
                    self.report.jobs_lost += 1
                for machine in self.machines.values():
                    if machine.cluster == cluster:
                        machine.reset()
            elif event.kind == _UP:
                self.down.discard(str(event.payload))
                self._up_slots = None

    def _cluster_of(self, claim: Claim) -> str:
        return self.machines[claim.slot_id].cluster

    # -- starting and stopping -----------------------------------------------
    def _apply(self, plan: Plan, now: float) -> None:
        assert self.report is not None
        for preemption in plan.preemptions:
            victim = self.running.get(preemption.job_id)
            if victim is None:
                self.report.rejected += 1
                continue
            self._stop(victim, now)
            self._requeue(victim)
            self.report.preemptions += 1
        for match in plan.matches:
            sim_job = self.idle.get(match.job_id)
            machine = self.machines.get(match.slot_id)
            if sim_job is None or machine is None or machine.cluster in self.down:
                self.report.rejected += 1
                continue
            if not machine.take(match.cpus, match.memory, match.disk, match.gpus):
                self.report.rejected += 1
                continue
            del self.idle[match.job_id]
            sim_job.claim = Claim(
                job=sim_job.job,
                slot_id=match.slot_id,
                cpus=match.cpus,
                memory=match.memory,
                disk=match.disk,
                gpus=match.gpus,
                started_at=now,
            )
            sim_job.generation += 1
            if sim_job.first_start is None:
                sim_job.first_start = now
                self.report.add_wait(sim_job.submitter, sim_job.group, now - sim_job.submit_time)
            self.running[match.job_id] = sim_job
            _add(self.cores_by_group, sim_job.group, match.cpus)
            _add(self.cores_by_cluster, machine.cluster, match.cpus)
            self._push(now + sim_job.runtime, _COMPLETE, (match.job_id, sim_job.generation))

    def _stop(self, sim_job: _SimJob, at: float) -> None:
        """End a claim at `at`: free its resources and count its core-seconds."""
        claim = sim_job.claim
        assert claim is not None and self.report is not None
        end = min(at, self.scenario.duration)
        seconds = max(0.0, end - claim.started_at)
        self.report.add_core_seconds(sim_job.submitter, sim_job.group, claim.cpus * seconds)
        machine = self.machines[claim.slot_id]
        self.report.busy_core_seconds[machine.cluster] += claim.cpus * seconds
        _add(self.cores_by_group, sim_job.group, -claim.cpus)
        _add(self.cores_by_cluster, machine.cluster, -claim.cpus)
        if machine.cluster not in self.down:
            machine.give(claim.cpus, claim.memory, claim.disk, claim.gpus)
        self.ended.append((claim, end))
        sim_job.claim = None
        del self.running[sim_job.job.id]

    def _requeue(self, sim_job: _SimJob) -> None:
        sim_job.generation += 1
        self.idle[sim_job.job.id] = sim_job

    def _finish(self, end: float) -> None:
        assert self.report is not None
        self._advance(end)
        for sim_job in list(self.running.values()):
            self._stop(sim_job, end)
        for sim_job in self.idle.values():
            self.report.add_idle_at_end(sim_job.submitter, sim_job.group)
        # cluster up-time for utilisation
        sc = self.scenario
        for spec in sc.clusters:
            downtime = 0.0
            for failure in sc.failures:
                if failure.cluster == spec.name and failure.at < end:
                    downtime += min(end, failure.at + failure.duration) - failure.at
            self.report.available_core_seconds[spec.name] = (
                spec.machines * spec.cpus * max(0.0, end - min(end, downtime))
            )

    def _sample(self, now: float) -> None:
        assert self.report is not None
        self.report.samples.append(
            Sample(
                now,
                {g: c for g, c in self.cores_by_group.items() if c},
                {k: c for k, c in self.cores_by_cluster.items() if c},
                idle=len(self.idle),
                down=frozenset(self.down),
            )
        )


def _add(counter: dict[str, float], key: str, amount: float) -> None:
    counter[key] = counter.get(key, 0.0) + amount


def _machine(spec: ClusterSpec, index: int) -> _Machine:
    name = f"{spec.name}-{index:04d}"
    start = parse(spec.start)
    ad = ClassAd(
        {
            "Name": f"slot1@{name}",
            "Machine": name,
            "SlotType": "Partitionable",
            "PartitionableSlot": True,
            "TotalCpus": spec.cpus,
            "TotalMemory": spec.memory,
            "TotalDisk": spec.disk,
            "TotalGPUs": spec.gpus,
            "Arch": "X86_64",
            "OpSys": "LINUX",
            "ClusterName": spec.name,
            "Tier": spec.tier,
            "Cloud": "",
            "Site": spec.name,
            "Start": start,
            "Requirements": start,
            "Rank": 0,
        }
    )
    for key, value in spec.labels.items():
        ad[key] = value
    machine = _Machine(f"slot1@{name}", spec.name, ad, spec.cpus, spec.memory, spec.disk, spec.gpus)
    machine.slot = Slot(machine.slot_id, ad)
    machine.reset()
    machine.publish()
    return machine


def _sample_runtime(runtime: Runtime, rng: random.Random) -> float:
    if runtime.distribution == "exponential":
        return max(1.0, rng.expovariate(1.0 / runtime.mean))
    if runtime.distribution == "uniform":
        return rng.uniform(runtime.low, runtime.high)
    return runtime.mean


def _real_negotiate() -> Negotiate:
    from skyflock.core.negotiate import negotiate

    return negotiate


def simulate(scenario: Scenario, negotiate: Negotiate | None = None) -> Report:
    """Run a scenario to its end and return the report."""
    return Simulation(scenario, negotiate).run()
