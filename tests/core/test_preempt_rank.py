"""Rank preemption: the slot's Rank prefers the new job to the running one."""

from __future__ import annotations

import pytest

from tests.core.negotiation_kit import accounting, claim, config, job, run, slot, snapshot


def _pool(rank: str, *, now_owner: str = "alice", new_owner: str = "vip"):  # type: ignore[no-untyped-def]
    running = job("10.0", now_owner, cpus=4)
    s1 = slot("s1", cpus=4, memory=16384, left=(0, 12288, 10_000_000, 0), rank=rank)
    new = job("1.0", new_owner, cpus=4)
    return snapshot(
        [new],
        [s1],
        [claim(running, "s1", cpus=4, memory=4096, started_at=0.0)],
        acct=accounting(alice=0.5, vip=100.0),
    )


@pytest.mark.parametrize(
    ("rank", "preempted"),
    [
        ('TARGET.Owner == "vip"', True),
        ('TARGET.Owner == "alice"', False),  # the slot prefers what it runs
        ("0", False),
        ('(TARGET.Owner == "vip") * 10 + (TARGET.Owner == "alice") * 5', True),
        (
            '(TARGET.Owner == "vip") * 5 + (TARGET.Owner == "alice") * 5',
            False,
        ),  # equal is not better
    ],
)
def test_rank_preemption(rank: str, preempted: bool) -> None:
    # the running job is young and its submitter's priority is better: only rank can preempt
    plan = run(_pool(rank), now=10.0)
    assert bool(plan.preemptions) is preempted
    if preempted:
        (p,) = plan.preemptions
        assert (p.job_id, p.for_job, p.reason) == ("10.0", "1.0", "rank")
        (m,) = plan.matches
        assert m.preempts == ("10.0",) and m.cpus == 4


def test_rank_preemption_can_be_switched_off() -> None:
    plan = run(_pool('TARGET.Owner == "vip"'), config(rank_preemption=False), now=10.0)
    assert plan.preemptions == () and plan.matches == ()
