"""Small builders of jobs, slots, claims and snapshots for the negotiator's tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from skyflock.classad import ClassAd, parse
from skyflock.core.config import NegotiatorConfig, negotiator_config
from skyflock.core.model import (
    AccountingState,
    Claim,
    ClusterState,
    Job,
    Plan,
    Slot,
    Snapshot,
    SubmitterUsage,
)
from skyflock.core.negotiate import negotiate

SUBMIT_REQUIREMENTS = (
    "TARGET.Disk >= RequestDisk && TARGET.Memory >= RequestMemory && TARGET.Cpus >= RequestCpus"
)
"""What a submit file's Requirements ends with (the resource clauses)."""


def job(
    jid: str,
    owner: str = "alice",
    *,
    cpus: int = 1,
    memory: int = 1024,
    disk: int = 0,
    gpus: int | None = None,
    requirements: str | None = None,
    rank: str | None = None,
    prio: int = 0,
    qdate: int | None = None,
    group: str | None = None,
    **extra: Any,
) -> Job:
    cluster, _, proc = jid.partition(".")
    ad = ClassAd(
        {
            "Owner": owner,
            "RequestCpus": cpus,
            "RequestMemory": memory,
            "RequestDisk": disk,
            "ClusterId": int(cluster),
            "ProcId": int(proc or 0),
            "QDate": qdate if qdate is not None else int(cluster),
            "JobPrio": prio,
            "JobStatus": 1,
        }
    )
    if gpus is not None:
        ad["RequestGPUs"] = gpus
    if group is not None:
        ad["AccountingGroup"] = group
    req = SUBMIT_REQUIREMENTS if requirements is None else requirements
    ad["Requirements"] = parse(req)
    if rank is not None:
        ad["Rank"] = parse(rank)
    for name, value in extra.items():
        ad[name] = value
    return Job(jid, ad, group or owner)


def slot(
    name: str,
    cluster: str = "c1",
    *,
    cpus: int = 8,
    memory: int = 16384,
    disk: int = 10_000_000,
    gpus: int = 0,
    tier: int = 1,
    start: str | None = None,
    requirements: str | None = None,
    rank: str | None = None,
    partitionable: bool = True,
    left: tuple[int, int, int, int] | None = None,
    **labels: Any,
) -> Slot:
    c, m, d, g = left if left is not None else (cpus, memory, disk, gpus)
    ad = ClassAd(
        {
            "Machine": name,
            "Name": name,
            "ClusterName": cluster,
            "Tier": tier,
            "Arch": "X86_64",
            "OpSys": "LINUX",
            "Cpus": c,
            "Memory": m,
            "Disk": d,
            "GPUs": g,
            "TotalCpus": cpus,
            "TotalMemory": memory,
            "TotalDisk": disk,
            "TotalGPUs": gpus,
        }
    )
    for key, value in labels.items():
        ad[key] = value
    if start is not None:
        ad["Start"] = parse(start)
    if requirements is not None:
        ad["Requirements"] = parse(requirements)
    if rank is not None:
        ad["Rank"] = parse(rank)
    return Slot(name, ad, partitionable)


def claim(
    j: Job, slot_id: str, *, cpus: int = 1, memory: int = 1024, started_at: float = 0.0
) -> Claim:
    return Claim(j, slot_id, cpus, memory, 0, 0, started_at)


def accounting(**priorities: float) -> AccountingState:
    return AccountingState({n: SubmitterUsage(real_priority=p) for n, p in priorities.items()})


def snapshot(
    idle: Iterable[Job] = (),
    slots: Iterable[Slot] = (),
    running: Iterable[Claim] = (),
    *,
    clusters: Mapping[str, ClusterState] | None = None,
    acct: AccountingState | None = None,
) -> Snapshot:
    return Snapshot(
        tuple(idle), tuple(running), tuple(slots), acct or AccountingState(), clusters or {}
    )


def config(**values: Any) -> NegotiatorConfig:
    groups = values.pop("groups", {})
    submitters = values.pop("submitters", {})
    return negotiator_config({"negotiator": values, "groups": groups, "submitters": submitters})


def run(
    snap: Snapshot, cfg: NegotiatorConfig | None = None, *, now: float = 0.0, seed: int = 0
) -> Plan:
    return negotiate(snap, cfg or NegotiatorConfig(), now, seed)


def placed(plan: Plan) -> dict[str, str]:
    """Job id -> slot id of every match."""
    return {m.job_id: m.slot_id for m in plan.matches}


def explanation_of(plan: Plan, job_id: str) -> Any:
    return plan.explanations[plan.autocluster_of[job_id]]
