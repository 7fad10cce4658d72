"""Which accounting group a submitter belongs to."""

from __future__ import annotations

import pytest

from skyflock.core.config import negotiator_config
from skyflock.core.groups import group_ancestry, group_of, parent_of
from skyflock.core.model import NO_GROUP

CONFIG = negotiator_config(
    {"groups": {"atlas": {"quota": 10, "prod": {"quota": 5}}, "cms": {"quota": 4}, "lhcb.sim": {}}}
)


@pytest.mark.parametrize(
    ("submitter", "group"),
    [
        ("atlas.prod.alice", "atlas.prod"),
        ("atlas.analysis.bob", "atlas"),
        ("atlas.carol", "atlas"),
        ("ATLAS.Prod.dave", "atlas.prod"),
        ("cms.erin", "cms"),
        ("cms", "cms"),
        ("lhcb.sim.frank", "lhcb.sim"),
        ("lhcb.grace", NO_GROUP),
        ("heidi", NO_GROUP),
        ("atlasx.ivan", NO_GROUP),
    ],
)
def test_group_of_is_the_longest_configured_prefix(submitter: str, group: str) -> None:
    assert group_of(submitter, CONFIG) == group


def test_ancestry_and_parents() -> None:
    assert group_ancestry("atlas.prod.alice", CONFIG) == ["atlas.prod", "atlas"]
    assert parent_of("atlas.prod", CONFIG) == "atlas"
    assert parent_of("lhcb.sim", CONFIG) == NO_GROUP
    assert parent_of("atlas", CONFIG) == NO_GROUP
    assert group_of("anyone", negotiator_config({})) == NO_GROUP
