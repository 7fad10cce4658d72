"""The negotiator's vocabulary: match records made in batches, the plan's lazy job index."""

from __future__ import annotations

import pytest

from skyflock.core.model import Match, matches_on
from tests.core.negotiation_kit import job, run, slot, snapshot


@pytest.mark.parametrize(
    ("ids", "carved"),
    [
        ((), (1, 128, 0, 0)),
        (("1.0",), (2, 4096, 1000, 0)),
        (("1.0", "1.1", "7.3"), (8, 16384, 0, 1)),
    ],
)
def test_a_batch_of_matches_equals_matches_made_one_by_one(
    ids: tuple[str, ...], carved: tuple[int, int, int, int]
) -> None:
    batch = list(matches_on(iter(ids), "slot1@a", "cern", carved, "atlas.u1"))
    assert batch == [Match(j, "slot1@a", "cern", *carved, submitter="atlas.u1") for j in ids]
    for m in batch:
        assert type(m) is Match and m.preempts == () and m.memory == carved[1]


def test_a_match_is_immutable() -> None:
    m = Match("1.0", "s", "c", 1, 128, 0, 0)
    with pytest.raises(AttributeError):
        m.cpus = 2  # type: ignore[misc]
    assert m.submitter == "" and m.preempts == ()


def test_the_plan_maps_every_idle_job_to_its_autocluster() -> None:
    jobs = [job("1.0", memory=1000), job("2.0", memory=9000), job("3.0", memory=1000)]
    plan = run(snapshot(jobs, [slot("s1", cpus=1, memory=1024)]))
    of = plan.autocluster_of
    assert len(of) == 3 and set(of) == {"1.0", "2.0", "3.0"}
    assert of["1.0"] == of["3.0"] != of["2.0"]
    assert of.get("9.9") is None and "9.9" not in of and "2.0" in of
    with pytest.raises(KeyError):
        of["9.9"]
    assert dict(of) == {j: of[j] for j in ("1.0", "2.0", "3.0")}
