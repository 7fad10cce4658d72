"""A small loop over negotiation rounds for the fair-share and quota tests.

Each round: advance the clock by `dt`, fold the claims of the last round into
the accounting with `fairshare.account`, end them (every job runs exactly one
round, so the whole pool is divided afresh), and call `negotiate` on the free
pool with enough idle jobs per submitter to exceed it. The per-round usage of
each submitter is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from skyflock.classad import ClassAd
from skyflock.core.config import NegotiatorConfig
from skyflock.core.fairshare import account
from skyflock.core.model import AccountingState, Claim, ClusterState, Job, Slot, Snapshot
from skyflock.core.negotiate import negotiate


def machine(name: str, cpus: int, memory: int = 65_536) -> Slot:
    ad = ClassAd(
        {
            "Name": f"slot1@{name}",
            "Machine": name,
            "Cpus": cpus,
            "Memory": memory,
            "Disk": 10_000_000,
            "GPUs": 0,
            "TotalCpus": cpus,
            "TotalMemory": memory,
            "TotalDisk": 10_000_000,
            "TotalGPUs": 0,
            "ClusterName": "pool",
            "Tier": 1,
            "Arch": "X86_64",
            "OpSys": "LINUX",
            "Start": True,
            "Rank": 0,
        }
    )
    return Slot(f"slot1@{name}", ad)


@dataclass
class Rounds:
    config: NegotiatorConfig
    submitters: Mapping[str, int]
    """Submitter -> cores per job."""
    machines: int = 10
    cores: int = 16
    dt: float = 300.0
    state: AccountingState = field(default_factory=lambda: AccountingState(last_update=0.0))
    demand: Mapping[str, int] | None = None
    """Idle jobs kept queued per submitter (default: enough to fill the pool alone)."""
    now: float = 0.0
    usage: list[dict[str, float]] = field(default_factory=list)
    _serial: int = 0

    def _job(self, submitter: str) -> Job:
        self._serial += 1
        cpus = self.submitters[submitter]
        group, _, owner = submitter.rpartition(".")
        ad = ClassAd(
            {
                "Owner": owner,
                "RequestCpus": cpus,
                "RequestMemory": 1024,
                "RequestDisk": 1000,
                "Requirements": True,
                "JobPrio": 0,
                "ClusterId": self._serial,
                "ProcId": 0,
                "QDate": self._serial,
                "JobStatus": 1,
            }
        )
        if group:
            ad["AccountingGroup"] = submitter
        return Job(f"{self._serial}.0", ad, submitter)

    def run(self, rounds: int) -> list[dict[str, float]]:
        slots = [machine(f"m{i:03d}", self.cores) for i in range(self.machines)]
        capacity = self.machines * self.cores
        running: list[Claim] = []
        for _ in range(rounds):
            self.now += self.dt
            self.state = account(self.state, running, self.now, self.config)
            idle: list[Job] = []
            for name, cpus in self.submitters.items():
                wanted = capacity // cpus + 1 if self.demand is None else self.demand[name]
                idle.extend(self._job(name) for _ in range(wanted))
            snapshot = Snapshot(
                idle=tuple(idle),
                running=(),
                slots=tuple(slots),
                accounting=self.state,
                clusters={"pool": ClusterState("pool", 1)},
            )
            plan = negotiate(snapshot, self.config, self.now, seed=len(self.usage))
            by_id = {job.id: job for job in idle}
            running = [
                Claim(by_id[m.job_id], m.slot_id, m.cpus, m.memory, m.disk, m.gpus, self.now)
                for m in plan.matches
            ]
            used = dict.fromkeys(self.submitters, 0.0)
            for claim in running:
                used[claim.job.submitter] += claim.cpus
            self.usage.append(used)
        return self.usage


def shares(usage: list[dict[str, float]]) -> dict[str, float]:
    """Each submitter's fraction of the summed usage over these rounds."""
    totals: dict[str, float] = {}
    for row in usage:
        for name, amount in row.items():
            totals[name] = totals.get(name, 0.0) + amount
    grand = sum(totals.values())
    return {name: amount / grand for name, amount in totals.items()}
