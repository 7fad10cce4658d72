"""Matches agree with HTCondor's own ClassAd library on sampled job/slot pairs.

Each pair is written once as ClassAd text and read by both `skyflock.classad`
and HTCondor's `classad2`; the negotiator must match the job to the slot
exactly when `classad2`'s `symmetricMatch` says both Requirements hold. Jobs
carry the resource clauses a submit file appends, and memory is not rounded,
so that fitting and matching say the same thing (the negotiator never carves
what a slot does not have, even when a Requirements would allow it, so the
resource clauses stay top-level `&&` operands here).
"""

from __future__ import annotations

import random

import pytest

from skyflock.classad import ClassAd
from skyflock.core.model import Job, Slot
from tests.core.negotiation_kit import config, run, snapshot

classad2 = pytest.importorskip("classad2")

JOB_CLAUSES = [
    'TARGET.Arch == "X86_64"',
    'TARGET.Arch == "ARM64"',
    "TARGET.Tier <= 1",
    "TARGET.Tier <= 2",
    'TARGET.Site =!= "Frankfurt"',
    "TARGET.HasDocker",
    "TARGET.HasDocker =?= true",
    'regexp("^ce", TARGET.ClusterName)',
    "TARGET.KFlops > 500 || TARGET.Tier == 3",
    "isUndefined(TARGET.Special)",
    "(TARGET.TotalMemory / TARGET.TotalCpus) >= 2000",
    'member(TARGET.Site, {"cern", "desy"})',
    "TARGET.KFlops * 2 > MY.MinFlops",
    'TARGET.OpSys == "LINUX" && TARGET.OpSysMajorVer >= 9',
    "ifThenElse(TARGET.Tier == 1, true, TARGET.Cloud)",
]
SLOT_CLAUSES = [
    'TARGET.Owner != "mallory"',
    "TARGET.RequestCpus <= 4",
    "MY.Cpus >= TARGET.RequestCpus",
    "TARGET.JobUniverse == 5",
    'TARGET.Owner == "alice" || MY.Tier > 1',
    "true",
    "TARGET.WantGPU =?= true || MY.TotalGPUs == 0",
    "TARGET.MinFlops < MY.KFlops",
]
RESOURCES = (
    "TARGET.Cpus >= RequestCpus && TARGET.Memory >= RequestMemory && TARGET.Disk >= RequestDisk"
)


def _text(attrs: dict[str, str]) -> str:
    return "[" + "; ".join(f"{k} = {v}" for k, v in attrs.items()) + "]"


def _pair(rng: random.Random) -> tuple[str, str]:
    cpus = rng.choice([1, 2, 4, 8])
    memory = rng.choice([1000, 2000, 4000, 8000])
    clauses = [f"({c})" for c in rng.sample(JOB_CLAUSES, rng.randint(0, 2))]
    job_req = " && ".join([*clauses, RESOURCES])
    job = {
        "Owner": f'"{rng.choice(["alice", "bob", "mallory"])}"',
        "JobUniverse": str(rng.choice([5, 5, 7])),
        "RequestCpus": str(rng.choice([1, 1, 2, 4, 6])),
        "RequestMemory": str(rng.choice([500, 1000, 1000, 3000, 9000])),
        "RequestDisk": str(rng.choice([1000, 1000, 10_000_000])),
        "MinFlops": str(rng.choice([100, 800, 2000])),
        "Requirements": job_req,
    }
    if rng.random() < 0.3:
        job["WantGPU"] = "true"
    slot_req = " && ".join(f"({c})" for c in rng.sample(SLOT_CLAUSES, rng.randint(1, 2)))
    slot = {
        "Name": '"s1"',
        "ClusterName": f'"{rng.choice(["cern", "desy", "cloud"])}"',
        "Site": f'"{rng.choice(["cern", "desy", "Frankfurt"])}"',
        "Arch": f'"{rng.choice(["X86_64", "ARM64"])}"',
        "OpSys": '"LINUX"',
        "OpSysMajorVer": str(rng.choice([8, 9])),
        "Tier": str(rng.choice([1, 2, 3])),
        "Cloud": rng.choice(["true", "false"]),
        "KFlops": str(rng.choice([200, 600, 1500])),
        "Cpus": str(cpus),
        "Memory": str(memory),
        "Disk": "5000000",
        "GPUs": "0",
        "TotalCpus": str(cpus),
        "TotalMemory": str(memory),
        "TotalDisk": "5000000",
        "TotalGPUs": str(rng.choice([0, 0, 2])),
        "Requirements": slot_req,
    }
    if rng.random() < 0.5:
        slot["HasDocker"] = rng.choice(["true", "false", '"yes"'])
    if rng.random() < 0.2:
        slot["Special"] = "1"
    return _text(job), _text(slot)


def _ours(job_text: str, slot_text: str) -> bool:
    job_ad = ClassAd.parse(job_text)
    slot_ad = ClassAd.parse(slot_text)
    snap = snapshot([Job("1.0", job_ad, "alice")], [Slot("s1", slot_ad)])
    return bool(run(snap, config(memory_quantum=1)).matches)


def _theirs(job_text: str, slot_text: str) -> bool:
    return bool(classad2.ClassAd(job_text).symmetricMatch(classad2.ClassAd(slot_text)))


@pytest.mark.parametrize("batch", range(4))
def test_sampled_pairs_agree(batch: int) -> None:
    rng = random.Random(1000 + batch)
    outcomes = []
    for _ in range(60):
        job_text, slot_text = _pair(rng)
        theirs = _theirs(job_text, slot_text)
        assert _ours(job_text, slot_text) is theirs, (job_text, slot_text)
        outcomes.append(theirs)
    assert any(outcomes) and not all(outcomes)  # the sample exercises both answers
