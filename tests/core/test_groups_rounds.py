"""Group quotas over many negotiation rounds: static, dynamic and surplus quotas hold."""

from __future__ import annotations

import pytest

from skyflock.core.config import negotiator_config
from skyflock.core.groups import group_allocations, group_of
from skyflock.core.model import NO_GROUP
from tests.core.rounds import Rounds

CONFIG = negotiator_config(
    {
        "negotiator": {"halflife": 3600},
        "groups": {
            "atlas": {
                "quota": 24,
                "accept_surplus": True,
                "prod": {"dynamic_quota": 0.5, "accept_surplus": True},
            },
            "cms": {"quota": 16},
        },
    }
)
SUBMITTERS = {"atlas.prod.alice": 1, "atlas.bob": 1, "cms.carol": 1, "dave": 1}


def by_group(row: dict[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, used in row.items():
        group = group_of(name, CONFIG)
        out[group] = out.get(group, 0.0) + used
    return out


@pytest.mark.parametrize(
    ("demand", "expected"),
    [
        # everyone busy: own quotas (atlas 24 = prod 12 + atlas's own 12; cms 16; <none> 8)
        (
            {"atlas.prod.alice": 60, "atlas.bob": 60, "cms.carol": 60, "dave": 60},
            {"atlas.prod": 12, "atlas": 12, "cms": 16, NO_GROUP: 8},
        ),
        # cms wants only 4: its 12 spare cores go to <none> (weight 8) and atlas (weight 24)
        (
            {"atlas.prod.alice": 60, "atlas.bob": 60, "cms.carol": 4, "dave": 60},
            {"atlas.prod": 16.5, "atlas": 16.5, "cms": 4, NO_GROUP: 11},
        ),
        # nobody ungrouped and little atlas.bob: prod absorbs atlas's quota, cms stays capped
        (
            {"atlas.prod.alice": 60, "atlas.bob": 2, "cms.carol": 60, "dave": 0},
            {"atlas.prod": 30, "atlas": 2, "cms": 16, NO_GROUP: 0},
        ),
    ],
)
def test_group_usage_follows_the_allocations_every_round(
    demand: dict[str, int], expected: dict[str, float]
) -> None:
    groups_demand: dict[str, float] = {}
    for name, count in demand.items():
        group = group_of(name, CONFIG)
        groups_demand[group] = groups_demand.get(group, 0.0) + count
    allocations = group_allocations(CONFIG, groups_demand, 48, {})
    assert {g: allocations[g] for g in expected} == pytest.approx(expected)
    usage = Rounds(CONFIG, SUBMITTERS, machines=6, cores=8, dt=300.0, demand=demand).run(12)
    for row in usage:
        groups = by_group(row)
        for group, amount in expected.items():
            assert abs(groups.get(group, 0.0) - amount) <= 1.0, (group, groups)
        assert sum(groups.values()) <= 48
