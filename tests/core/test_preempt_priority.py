"""Priority preemption: a submitter above its fair share yields to a better-priority one."""

from __future__ import annotations

import pytest

from skyflock.core.model import Job, Snapshot
from tests.core.negotiation_kit import (
    accounting,
    claim,
    config,
    explanation_of,
    job,
    run,
    slot,
    snapshot,
)


def _busy_pool(
    started: list[float], *, idle: int = 2, **job_extra: object
) -> tuple[Snapshot, list[Job]]:
    """One 4-CPU slot full of bob's 1-CPU jobs; alice waits with `idle` jobs."""
    bobs = [job(f"{10 + i}.0", "bob", **job_extra) for i in range(len(started))]  # type: ignore[arg-type]
    running = [claim(j, "s1", started_at=t) for j, t in zip(bobs, started, strict=True)]
    used = len(started)
    s1 = slot("s1", cpus=4, memory=16384, left=(4 - used, 16384 - 1024 * used, 10_000_000, 0))
    alice = [job(f"{1 + i}.0", "alice") for i in range(idle)]
    return snapshot(alice, [s1], running, acct=accounting(alice=0.5, bob=4.0)), bobs


def test_the_youngest_jobs_of_the_worst_priority_submitter_go_first() -> None:
    snap, _ = _busy_pool([0.0, 100.0, 200.0, 300.0])
    plan = run(snap, now=1000.0)
    victims = [p.job_id for p in plan.preemptions]
    assert victims == ["13.0", "12.0"]  # youngest first, until bob is back near his share
    assert {p.reason for p in plan.preemptions} == {"priority"}
    assert all(p.slot_id == "s1" for p in plan.preemptions)
    assert sorted(m.job_id for m in plan.matches) == ["1.0", "2.0"]
    assert [m.preempts for m in plan.matches] == [("13.0",), ("12.0",)]
    assert "bob" in plan.preemptions[0].detail and "alice" in plan.preemptions[0].detail


@pytest.mark.parametrize(("now", "expected"), [(500.0, 0), (899.0, 0), (1000.0, 2), (5000.0, 2)])
def test_jobs_must_have_run_ten_minutes(now: float, expected: int) -> None:
    snap, _ = _busy_pool([300.0, 300.0, 300.0, 300.0])
    assert len(run(snap, now=now).preemptions) == expected


def test_no_preemption_when_the_runner_is_within_its_share() -> None:
    snap, _ = _busy_pool([0.0, 0.0])  # bob holds 2 of 4 CPUs, 2 are free
    plan = run(snap, now=5000.0)
    assert plan.preemptions == ()
    assert len(plan.matches) == 2


def test_no_preemption_for_a_worse_priority_submitter() -> None:
    snap, _ = _busy_pool([0.0, 0.0, 0.0, 0.0])
    snap = Snapshot(snap.idle, snap.running, snap.slots, accounting(alice=50.0, bob=4.0))
    assert run(snap, now=5000.0).preemptions == ()


def test_priority_preemption_can_be_switched_off() -> None:
    snap, _ = _busy_pool([0.0, 0.0, 0.0, 0.0])
    plan = run(snap, config(priority_preemption=False), now=5000.0)
    assert plan.preemptions == () and plan.matches == ()
    assert explanation_of(plan, "1.0").waiting == {"alice": {"no_slots": 2}}


def test_a_custom_preemption_requirements_expression() -> None:
    snap, _ = _busy_pool([0.0, 0.0, 0.0, 0.0])
    cfg = config(preemption_requirements='RemoteOwner == "carol"')
    assert run(snap, cfg, now=5000.0).preemptions == ()
    cfg = config(preemption_requirements='RemoteOwner == "bob" && TARGET.Owner == "alice"')
    assert len(run(snap, cfg, now=5000.0).preemptions) == 2


def test_own_jobs_are_never_preempted_for_priority() -> None:
    snap, _ = _busy_pool([0.0, 0.0, 0.0, 0.0])
    mine = [job("1.0", "bob")]
    snap = Snapshot(tuple(mine), snap.running, snap.slots, snap.accounting)
    assert run(snap, now=5000.0).preemptions == ()


def test_claims_on_unusable_clusters_are_left_alone() -> None:
    from skyflock.core.model import ClusterState

    snap, _ = _busy_pool([0.0, 0.0, 0.0, 0.0])
    snap = Snapshot(
        snap.idle,
        snap.running,
        snap.slots,
        snap.accounting,
        {"c1": ClusterState("c1", cordoned=True)},
    )
    assert run(snap, now=5000.0).preemptions == ()
