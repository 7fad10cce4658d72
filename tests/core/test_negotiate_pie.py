"""The matching side of the pie spin: submitters get what their limits allow, and leftovers respin."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from skyflock.core.model import Plan
from tests.core.negotiation_kit import accounting, config, explanation_of, job, run, slot, snapshot


def _by_submitter(plan: Plan) -> Counter[str]:
    return Counter(m.submitter for m in plan.matches)


def _slots(n: int, **kw: Any) -> list:  # type: ignore[type-arg]
    return [slot(f"s{i}", cpus=1, memory=4096, partitionable=False, **kw) for i in range(n)]


def _jobs(owner: str, n: int, start: int, **kw: Any) -> list:  # type: ignore[type-arg]
    return [job(f"{start + i}.0", owner, **kw) for i in range(n)]


@pytest.mark.parametrize(
    ("cfg", "acct", "expected"),
    [
        ({}, {}, {"alice": 6, "bob": 6}),
        ({"submitters": {"bob": {"priority_factor": 2000}}}, {}, {"alice": 8, "bob": 4}),
        ({}, {"alice": 1.0, "bob": 3.0}, {"alice": 9, "bob": 3}),  # past usage counts
        ({"submitters": {"bob": {"ceiling": 2}}}, {}, {"alice": 10, "bob": 2}),
        ({"submitters": {"bob": {"floor": 9}}}, {"bob": 100.0}, {"alice": 3, "bob": 9}),
    ],
)
def test_limits_shape_the_matches(
    cfg: dict[str, Any], acct: dict[str, float], expected: dict[str, int]
) -> None:
    jobs = _jobs("alice", 20, 1) + _jobs("bob", 20, 100)
    plan = run(snapshot(jobs, _slots(12), acct=accounting(**acct)), config(**cfg))
    assert _by_submitter(plan) == expected


def test_leftovers_respin_to_whoever_can_use_them() -> None:
    # alice's jobs fit only the two tier-1 slots; her unused share goes to bob
    slots = _slots(2, tier=1) + [
        slot(f"t2-{i}", cpus=1, memory=4096, tier=2, partitionable=False) for i in range(6)
    ]
    jobs = _jobs(
        "alice", 10, 1, requirements="TARGET.Tier <= 1 && TARGET.Cpus >= RequestCpus"
    ) + _jobs("bob", 10, 100)
    plan = run(snapshot(jobs, slots))
    assert _by_submitter(plan) == {"alice": 2, "bob": 6}


def test_fractional_limits_round_up_so_no_slot_stays_empty() -> None:
    plan = run(snapshot(_jobs("alice", 5, 1) + _jobs("bob", 5, 100), _slots(3)))
    assert sum(_by_submitter(plan).values()) == 3
    assert set(_by_submitter(plan).values()) == {1, 2}


def test_a_ceiling_is_never_rounded_past() -> None:
    plan = run(
        snapshot(_jobs("bob", 5, 100), _slots(3)), config(submitters={"bob": {"ceiling": 1.5}})
    )
    assert _by_submitter(plan) == {"bob": 1}
    assert explanation_of(plan, "101.0").waiting == {"bob": {"ceiling": 4}}


def test_group_quotas_cap_the_groups() -> None:
    groups = {"atlas": {"quota": 6}, "cms": {"quota": 2}}
    jobs = _jobs("atlas.u1", 20, 1, group="atlas.u1") + _jobs("cms.u2", 20, 100, group="cms.u2")
    plan = run(snapshot(jobs, _slots(10)), config(groups=groups))
    assert _by_submitter(plan) == {"atlas.u1": 6, "cms.u2": 2}
    # one autocluster: the same shape from both groups
    assert explanation_of(plan, "1.0").waiting == {
        "atlas.u1": {"group_quota": 14},
        "cms.u2": {"group_quota": 18},
    }


def test_surplus_flows_to_groups_that_accept_it() -> None:
    groups = {"atlas": {"quota": 6, "accept_surplus": True}, "cms": {"quota": 2}}
    jobs = _jobs("atlas.u1", 20, 1, group="atlas.u1") + _jobs("cms.u2", 20, 100, group="cms.u2")
    plan = run(snapshot(jobs, _slots(10)), config(groups=groups))
    assert _by_submitter(plan) == {"atlas.u1": 8, "cms.u2": 2}


def test_usage_is_weighted_by_the_slot_weight() -> None:
    # alice's jobs take 4 CPUs each, bob's 1: equal shares of 16 CPUs are 2 jobs and 8 jobs
    jobs = _jobs("alice", 10, 1, cpus=4) + _jobs("bob", 20, 100, cpus=1)
    plan = run(snapshot(jobs, [slot("big", cpus=16, memory=65536)]))
    assert _by_submitter(plan) == {"alice": 2, "bob": 8}
    assert plan.submitter_limits == {"alice": 8.0, "bob": 8.0}
