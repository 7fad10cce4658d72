"""Hierarchical group quotas: static, dynamic, surplus, and the starvation order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyflock.core.config import negotiator_config
from skyflock.core.groups import group_allocations, group_quotas, negotiation_order
from skyflock.core.model import NO_GROUP

# A three-level tree:
#   <none> (root: the pool)
#   ├── atlas          quota 60, accepts surplus
#   │   ├── atlas.prod       dynamic 0.5 of what atlas has after static children, accepts
#   │   │   └── atlas.prod.mc    dynamic 0.5, no surplus
#   │   └── atlas.analysis   quota 10, no surplus
#   ├── cms            dynamic 0.5 of what the root has after static children, no surplus
#   └── lhcb           quota 10, accepts surplus
TREE = negotiator_config(
    {
        "groups": {
            "atlas": {
                "quota": 60,
                "accept_surplus": True,
                "prod": {
                    "dynamic_quota": 0.5,
                    "accept_surplus": True,
                    "mc": {"dynamic_quota": 0.5},
                },
                "analysis": {"quota": 10},
            },
            "cms": {"dynamic_quota": 0.5},
            "lhcb": {"quota": 10, "accept_surplus": True},
        }
    }
)
ALL = ["atlas", "atlas.prod", "atlas.prod.mc", "atlas.analysis", "cms", "lhcb", NO_GROUP]
HUGE = dict.fromkeys(ALL, 1000.0)


def test_own_quotas_static_then_dynamic() -> None:
    assert group_quotas(TREE, 100) == pytest.approx(
        {
            NO_GROUP: 15.0,  # 100 - 60 - 10 - 15
            "atlas": 25.0,  # 60 - 10 - 25
            "atlas.analysis": 10.0,
            "atlas.prod": 12.5,  # 25 - 12.5
            "atlas.prod.mc": 12.5,  # 0.5 of prod's 25
            "cms": 15.0,  # 0.5 of (100 - 70)
            "lhcb": 10.0,
        }
    )


CASES = [
    (
        "everyone busy: each gets its own quota",
        100,
        HUGE,
        {
            "atlas": 25,
            "atlas.prod": 12.5,
            "atlas.prod.mc": 12.5,
            "atlas.analysis": 10,
            "cms": 15,
            "lhcb": 10,
            NO_GROUP: 15,
        },
    ),
    (
        "static quotas oversubscribing the pool are scaled down; dynamic siblings get nothing",
        50,
        HUGE,
        # atlas's subtree: 50*60/70; analysis 10 of it; prod half the rest, mc half of prod's
        {
            "atlas": (50 * 60 / 70 - 10) / 2,
            "atlas.prod": (50 * 60 / 70 - 10) / 4,
            "atlas.prod.mc": (50 * 60 / 70 - 10) / 4,
            "atlas.analysis": 10,
            "cms": 0,
            "lhcb": 50 * 10 / 70,
            NO_GROUP: 0,
        },
    ),
    (
        "root surplus flows down in proportion to quota, only into accepting groups",
        100,
        {**HUGE, "cms": 0.0, NO_GROUP: 0.0},
        # 30 spare at the root: atlas 30*60/70, lhcb 30*10/70; inside atlas the
        # accepting claimants are atlas itself (25) and atlas.prod (25), equally;
        # inside atlas.prod only prod itself accepts (mc does not).
        {
            "atlas": 25 + 30 * 60 / 70 / 2,
            "atlas.prod": 12.5 + 30 * 60 / 70 / 2,
            "atlas.prod.mc": 12.5,
            "atlas.analysis": 10,
            "cms": 0,
            "lhcb": 10 + 30 * 10 / 70,
            NO_GROUP: 0,
        },
    ),
    (
        "surplus passes up two levels when no sibling can use it",
        100,
        {**HUGE, "atlas.prod.mc": 2.0, "atlas.prod": 0.0, "atlas": 5.0, "cms": 0.0},
        # unused: mc 10.5 + prod 12.5 + atlas 20 = 43 go up to the root with cms's 15 = 58;
        # the root shares it between <none> (15) and lhcb (10); atlas cannot absorb more.
        {
            "atlas": 5,
            "atlas.prod": 0,
            "atlas.prod.mc": 2,
            "atlas.analysis": 10,
            "cms": 0,
            "lhcb": 10 + 58 * 10 / 25,
            NO_GROUP: 15 + 58 * 15 / 25,
        },
    ),
    (
        "a sibling's surplus stays inside a parent that does not accept surplus",
        100,
        {**HUGE, "atlas.prod.mc": 0.0, "atlas.prod": 0.0, "atlas": 0.0, "atlas.analysis": 50.0},
        # analysis does not accept: atlas's 60 unused except analysis's 10 go to the root
        {
            "atlas": 0,
            "atlas.prod": 0,
            "atlas.prod.mc": 0,
            "atlas.analysis": 10,
            "cms": 15,
            "lhcb": 10 + 50 * 10 / 25,
            NO_GROUP: 15 + 50 * 15 / 25,
        },
    ),
    (
        "<none> takes what is left, capped by its demand",
        100,
        {"atlas.analysis": 4.0, NO_GROUP: 70.0},
        {
            "atlas": 0,
            "atlas.prod": 0,
            "atlas.prod.mc": 0,
            "atlas.analysis": 4,
            "cms": 0,
            "lhcb": 0,
            NO_GROUP: 70,
        },
    ),
]


@pytest.mark.parametrize(
    ("label", "capacity", "demand", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_group_allocations(
    label: str, capacity: float, demand: dict[str, float], expected: dict[str, float]
) -> None:
    got = group_allocations(TREE, demand, capacity, {})
    assert got == pytest.approx(expected, abs=1e-6)
    assert sum(got.values()) <= capacity + 1e-6


def test_manual_example_subgroups_share_but_parent_caps() -> None:
    """physics 20 (no surplus) with hep 15 and lep 5 that accept: together never above 20."""
    config = negotiator_config(
        {
            "groups": {
                "physics": {
                    "quota": 20,
                    "hep": {"quota": 15, "accept_surplus": True},
                    "lep": {"quota": 5, "accept_surplus": True},
                },
                "chemistry": {"quota": 10},
            }
        }
    )
    got = group_allocations(config, {"physics.hep": 60, "physics.lep": 1, "chemistry": 0}, 30, {})
    assert got["physics.hep"] == pytest.approx(19.0)
    assert got["physics.lep"] == pytest.approx(1.0)
    assert got["chemistry"] == 0.0
    half = group_allocations(
        config, {"physics.hep": 60, "physics.lep": 60, "chemistry": 60}, 15, {}
    )
    assert half == pytest.approx(
        {"physics": 0, "physics.hep": 7.5, "physics.lep": 2.5, "chemistry": 5, NO_GROUP: 0}
    )


def test_usage_counts_as_demand_and_unknown_groups_are_ungrouped() -> None:
    got = group_allocations(TREE, {"cms": 1.0, "nosuch": 3.0}, 100, {"cms": 9.0})
    assert got["cms"] == pytest.approx(9.0)
    assert got[NO_GROUP] == pytest.approx(3.0)


def test_dynamic_fractions_over_one_are_normalised() -> None:
    config = negotiator_config(
        {"groups": {"a": {"dynamic_quota": 0.9}, "b": {"dynamic_quota": 0.6}}}
    )
    assert group_quotas(config, 30) == pytest.approx({NO_GROUP: 0, "a": 18, "b": 12})


@given(
    demand=st.fixed_dictionaries({g: st.floats(0, 200) for g in ALL}),
    capacity=st.floats(0, 300),
)
@settings(max_examples=150, deadline=None)
def test_allocation_invariants(demand: dict[str, float], capacity: float) -> None:
    got = group_allocations(TREE, demand, capacity, {})
    assert sum(got.values()) <= capacity + 1e-6
    for name, amount in got.items():
        assert -1e-9 <= amount <= demand[name] + 1e-6
    # groups that do not accept surplus never exceed their own quota
    quotas = group_quotas(TREE, capacity)
    for name in ("atlas.prod.mc", "atlas.analysis", "cms"):
        assert got[name] <= quotas[name] + 1e-6
    # nothing is left idle while an accepting group (or <none>) still wants more
    if sum(got.values()) < capacity - 1e-6:
        for name in ("atlas", "atlas.prod", "lhcb", NO_GROUP):
            assert got[name] >= demand[name] - 1e-6


@pytest.mark.parametrize(
    ("allocations", "usage", "expected"),
    [
        (
            {"atlas": 10, "cms": 10, "lhcb": 10, NO_GROUP: 5},
            {"atlas": 9, "cms": 1, "lhcb": 5, NO_GROUP: 0},
            ["cms", "lhcb", "atlas"],
        ),
        ({"atlas": 40, "cms": 10}, {"atlas": 20, "cms": 5}, ["atlas", "cms"]),  # tie: by name
        ({"atlas": 0, "cms": 10}, {"atlas": 3, "cms": 9}, ["cms", "atlas"]),  # no quota: last
    ],
)
def test_negotiation_order_is_starvation_order_with_none_last(
    allocations: dict[str, float], usage: dict[str, float], expected: list[str]
) -> None:
    config = negotiator_config({"groups": {name: {"quota": 1} for name in expected}})
    assert negotiation_order(config, allocations, usage) == [*expected, NO_GROUP]
