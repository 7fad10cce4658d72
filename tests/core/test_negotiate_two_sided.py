"""Both sides must agree: the job's Requirements and the slot's Start/Requirements."""

from __future__ import annotations

import pytest

from tests.core.negotiation_kit import job, placed, run, slot, snapshot


@pytest.mark.parametrize(
    ("job_req", "slot_kw", "matches"),
    [
        ('TARGET.Arch == "X86_64"', {}, True),
        ('TARGET.Arch == "ARM64"', {}, False),
        ("TARGET.Tier <= 1", {"tier": 2}, False),
        ("TARGET.Tier <= 2", {"tier": 2}, True),
        ('TARGET.Site == "Geneva"', {"Site": "Geneva"}, True),
        ('TARGET.Site == "Geneva"', {}, False),  # undefined is not true
        ("true", {"start": 'TARGET.Owner == "alice"'}, True),
        ("true", {"start": 'TARGET.Owner == "bob"'}, False),
        ("true", {"requirements": "TARGET.RequestCpus <= 2"}, True),
        ("true", {"requirements": "TARGET.RequestCpus <= 0"}, False),
        ("true", {"start": "MY.Cpus >= TARGET.RequestCpus"}, True),
        ("MY.Special =?= undefined", {}, True),
    ],
)
def test_job_and_slot_expressions(job_req: str, slot_kw: dict[str, object], matches: bool) -> None:
    plan = run(snapshot([job("1.0", requirements=job_req)], [slot("s1", **slot_kw)]))  # type: ignore[arg-type]
    assert (placed(plan) == {"1.0": "s1"}) is matches


def test_slot_start_sorts_submitters() -> None:
    slots = [slot("a1", start='TARGET.Owner == "alice"'), slot("b1", start='TARGET.Owner == "bob"')]
    plan = run(snapshot([job("1.0", "alice"), job("2.0", "bob")], slots))
    assert placed(plan) == {"1.0": "a1", "2.0": "b1"}


def test_a_clause_reading_what_is_left_is_checked_as_the_slot_is_carved() -> None:
    # Memory > 10000 is not implied by fit: 16384 -> 12288 -> 8192 left after two jobs
    jobs = [job(f"{i + 1}.0", memory=4096, requirements="TARGET.Memory > 10000") for i in range(4)]
    plan = run(snapshot(jobs, [slot("s1", memory=16384)]))
    assert len(plan.matches) == 2


def test_job_attribute_read_through_my_scope() -> None:
    jobs = [
        job("1.0", requirements="TARGET.Tier <= MY.MaxTier", MaxTier=1),
        job("2.0", requirements="TARGET.Tier <= MY.MaxTier", MaxTier=3),
    ]
    plan = run(snapshot(jobs, [slot("t2", tier=2)]))
    assert placed(plan) == {"2.0": "t2"}


def test_unusable_clusters_are_skipped() -> None:
    from skyflock.core.model import ClusterState

    slots = [slot("a1", "down"), slot("b1", "cordoned"), slot("c1", "up")]
    clusters = {
        "down": ClusterState("down", healthy=False),
        "cordoned": ClusterState("cordoned", cordoned=True),
        "up": ClusterState("up"),
    }
    jobs = [job(f"{i + 1}.0", cpus=8) for i in range(3)]
    plan = run(snapshot(jobs, slots, clusters=clusters))
    assert {m.slot_id for m in plan.matches} == {"c1"}
