"""Candidate slot order: pre-job rank, best fit, the job's Rank, post-job rank, seeded ties."""

from __future__ import annotations

import pytest

from tests.core.negotiation_kit import config, job, placed, run, slot, snapshot


def test_lower_tier_first_by_default() -> None:
    slots = [slot("cloud1", "cloud", tier=2), slot("onprem1", "cern", tier=1)]
    plan = run(snapshot([job("1.0")], slots))
    assert placed(plan) == {"1.0": "onprem1"}


def test_tier_beats_best_fit() -> None:
    # the tier-2 slot fits tighter, the tier-1 slot still wins
    slots = [slot("t2", tier=2, left=(1, 2048, 10_000_000, 0)), slot("t1", tier=1)]
    assert placed(run(snapshot([job("1.0")], slots))) == {"1.0": "t1"}


def test_best_fit_comes_before_the_job_rank() -> None:
    slots = [slot("big", Site="b"), slot("snug", Site="a", left=(1, 2048, 10_000_000, 0))]
    plan = run(snapshot([job("1.0", rank='TARGET.Site == "b"')], slots))
    assert placed(plan) == {"1.0": "snug"}


@pytest.mark.parametrize(
    ("rank", "expected"),
    [
        ('TARGET.Site == "a"', "sa"),
        ('TARGET.Site == "b"', "sb"),
        ("TARGET.KFlops", "sb"),
        ("-TARGET.KFlops", "sa"),
        ('TARGET.Site == "nowhere"', "sa"),  # all equal: the seeded tie order decides
    ],
)
def test_job_rank_among_equal_slots(rank: str, expected: str) -> None:
    slots = [slot("sa", Site="a", KFlops=100), slot("sb", Site="b", KFlops=900)]
    plan = run(snapshot([job("1.0", rank=rank)], slots), seed=0)
    if rank.endswith('"nowhere"'):
        assert placed(plan)["1.0"] in {"sa", "sb"}
    else:
        assert placed(plan) == {"1.0": expected}


def test_post_job_rank_breaks_the_remaining_ties() -> None:
    slots = [slot("cheap", Cost=1), slot("dear", Cost=5)]
    cfg = config(post_job_rank="-Cost")
    assert placed(run(snapshot([job("1.0")], slots), cfg)) == {"1.0": "cheap"}
    cfg = config(post_job_rank="Cost")
    assert placed(run(snapshot([job("1.0")], slots), cfg)) == {"1.0": "dear"}


def test_pre_job_rank_is_configurable() -> None:
    slots = [slot("t1", tier=1), slot("t3", tier=3)]
    cfg = config(pre_job_rank="Tier")  # prefer the highest tier
    assert placed(run(snapshot([job("1.0")], slots), cfg)) == {"1.0": "t3"}


def test_a_rank_reading_remaining_resources_takes_the_slow_path() -> None:
    # worst fit: prefer the slot with the most CPUs left, so four jobs spread over four slots
    slots = [slot(f"s{i}", cpus=4) for i in range(4)]
    cfg = config(pre_job_rank="Cpus")
    plan = run(snapshot([job(f"{i + 1}.0") for i in range(4)], slots), cfg)
    assert sorted(placed(plan).values()) == ["s0", "s1", "s2", "s3"]
    # the default packs them into one slot
    plan = run(snapshot([job(f"{i + 1}.0") for i in range(4)], slots))
    assert len(set(placed(plan).values())) == 1


def test_seed_changes_only_ties() -> None:
    # the job's Rank reads Site, so the slots fall into six slot groups that tie
    slots = [slot(f"s{i}", cpus=1, Site=f"x{i}") for i in range(6)]
    j = job("1.0", rank='TARGET.Site == "elsewhere"')
    chosen = {placed(run(snapshot([j], slots), seed=seed))["1.0"] for seed in range(12)}
    assert len(chosen) > 1  # ties really are broken by the seed
    slots[3] = slot("s3", cpus=1, Site="x3", tier=0)
    chosen = {placed(run(snapshot([j], slots), seed=seed))["1.0"] for seed in range(12)}
    assert chosen == {"s3"}  # a real preference is not


def test_identical_slots_are_used_in_snapshot_order() -> None:
    slots = [slot(f"s{i}", cpus=1) for i in range(6)]
    for seed in range(5):
        assert placed(run(snapshot([job("1.0")], slots), seed=seed)) == {"1.0": "s0"}
