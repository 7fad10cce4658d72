"""Preemption inside a partitionable slot: victims' dynamic slots add up until the job fits."""

from __future__ import annotations

import pytest

from tests.core.negotiation_kit import accounting, claim, job, run, slot, snapshot


@pytest.mark.parametrize(
    ("free_cpus", "need", "victims"),
    [
        (0, 2, ["13.0"]),  # one 2-CPU victim is enough
        (0, 4, ["13.0", "12.0"]),  # two victims, youngest first
        (0, 6, ["13.0", "12.0", "11.0"]),
        (2, 4, ["13.0"]),  # the free part counts too
    ],
)
def test_victims_add_up(free_cpus: int, need: int, victims: list[str]) -> None:
    bobs = [job(f"{10 + i}.0", "bob", cpus=2) for i in range(4)]
    claims = [claim(b, "s1", cpus=2, memory=1024, started_at=100.0 * i) for i, b in enumerate(bobs)]
    total = 8 + free_cpus
    s1 = slot("s1", cpus=total, memory=32768, left=(free_cpus, 32768 - 4096, 10_000_000, 0))
    snap = snapshot(
        [job("1.0", "alice", cpus=need)], [s1], claims, acct=accounting(alice=0.5, bob=50.0)
    )
    plan = run(snap, now=10_000.0)
    assert [p.job_id for p in plan.preemptions] == victims
    (m,) = plan.matches
    assert m.cpus == need and m.slot_id == "s1" and list(m.preempts) == victims


def test_a_job_bigger_than_the_whole_slot_preempts_nothing() -> None:
    bobs = [job(f"{10 + i}.0", "bob", cpus=2) for i in range(4)]
    claims = [claim(b, "s1", cpus=2, started_at=0.0) for b in bobs]
    s1 = slot("s1", cpus=8, left=(0, 12288, 10_000_000, 0))
    snap = snapshot(
        [job("1.0", "alice", cpus=16)], [s1], claims, acct=accounting(alice=0.5, bob=50.0)
    )
    plan = run(snap, now=10_000.0)
    assert plan.preemptions == () and plan.matches == ()


def test_a_static_slot_is_preempted_whole() -> None:
    b = job("10.0", "bob", cpus=4)
    s1 = slot("s1", cpus=4, left=(0, 0, 0, 0), partitionable=False)
    snap = snapshot(
        [job("1.0", "alice", cpus=2)],
        [s1],
        [claim(b, "s1", cpus=4)],
        acct=accounting(alice=0.5, bob=50.0),
    )
    plan = run(snap, now=10_000.0)
    assert [p.job_id for p in plan.preemptions] == ["10.0"]
    (m,) = plan.matches
    assert m.cpus == 4
