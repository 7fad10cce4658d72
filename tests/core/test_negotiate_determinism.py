"""The same snapshot, config, time and seed give the same plan; plans never overcommit."""

from __future__ import annotations

import random

import pytest

from skyflock.core.model import Snapshot
from tests.core.negotiation_kit import accounting, config, job, run, slot, snapshot


def _random_snapshot(rng: random.Random) -> Snapshot:
    clusters = ["cern", "desy", "cloud"]
    slots = [
        slot(
            f"s{i}",
            rng.choice(clusters),
            cpus=rng.choice([4, 8, 16]),
            memory=rng.choice([8192, 16384, 32768]),
            tier=rng.choice([1, 2]),
            partitionable=rng.random() < 0.8,
        )
        for i in range(rng.randint(3, 12))
    ]
    owners = ["alice", "bob", "carol"]
    reqs = [None, "TARGET.Tier <= 1", 'TARGET.ClusterName != "cloud"']
    jobs = [
        job(
            f"{i + 1}.0",
            rng.choice(owners),
            cpus=rng.choice([1, 2, 4]),
            memory=rng.choice([1000, 2000, 6000]),
            prio=rng.choice([0, 0, 5]),
            requirements=None
            if (r := rng.choice(reqs)) is None
            else r + " && TARGET.Cpus >= RequestCpus",
        )
        for i in range(rng.randint(5, 60))
    ]
    return snapshot(jobs, slots, acct=accounting(alice=0.5, bob=3.0, carol=10.0))


@pytest.mark.parametrize("case", range(15))
def test_same_inputs_same_plan(case: int) -> None:
    snap = _random_snapshot(random.Random(case))
    cfg = config(groups={}, submitters={"carol": {"ceiling": 6}})
    a = run(snap, cfg, now=100.0, seed=case)
    b = run(snap, cfg, now=100.0, seed=case)
    assert a == b


@pytest.mark.parametrize("case", range(15))
def test_plans_never_overcommit_a_slot(case: int) -> None:
    snap = _random_snapshot(random.Random(100 + case))
    plan = run(snap, seed=case)
    by_slot = {s.id: s for s in snap.slots}
    used: dict[str, list[int]] = {}
    for m in plan.matches:
        u = used.setdefault(m.slot_id, [0, 0, 0])
        u[0] += m.cpus
        u[1] += m.memory
        u[2] += 1
    for sid, (cpus, memory, count) in used.items():
        ad = by_slot[sid].ad
        assert cpus <= ad["Cpus"] and memory <= ad["Memory"]
        if not by_slot[sid].partitionable:
            assert count == 1
    assert len({m.job_id for m in plan.matches}) == len(plan.matches)
    idle = {j.id for j in snap.idle}
    assert set(plan.autocluster_of) == idle
    matched = {m.job_id for m in plan.matches}
    waiting = sum(e.idle for e in plan.explanations.values())
    assert waiting == len(idle - matched)
