"""Autoclusters: jobs and slots grouped by what matchmaking can tell apart."""

from __future__ import annotations

from skyflock.classad import parse
from skyflock.core.autocluster import group_jobs, group_slots
from skyflock.core.model import IdleBatch
from tests.core.negotiation_kit import job, run, slot, snapshot


def _groups(jobs, significant=()):  # type: ignore[no-untyped-def]
    grouping = group_jobs(jobs, significant, 128)
    return grouping.groups, grouping.of_job()


def test_jobs_differing_only_in_insignificant_attributes_share_a_group() -> None:
    jobs = [job(f"{i + 1}.{i}", f"user{i}", prio=i, qdate=100 - i) for i in range(5)]
    groups, of_job = _groups(jobs)
    assert len(groups) == 1 and of_job == [0] * 5
    assert groups[0].count == 5 and groups[0].request == (1, 1024, 0, 0)


def test_requests_split_groups() -> None:
    jobs = [
        job("1.0", memory=1000),
        job("2.0", memory=1000),
        job("3.0", memory=2000),
        job("4.0", cpus=2),
    ]
    groups, of_job = _groups(jobs)
    assert of_job == [0, 0, 1, 2]
    assert [g.request for g in groups] == [(1, 1024, 0, 0), (1, 2048, 0, 0), (2, 1024, 0, 0)]


def test_attributes_read_by_slots_are_significant() -> None:
    jobs = [job("1.0", "alice"), job("2.0", "bob"), job("3.0", "alice")]
    assert _groups(jobs)[1] == [0, 0, 0]
    assert _groups(jobs, {"owner"})[1] == [0, 1, 0]


def test_equal_requirements_parsed_apart_are_one_group() -> None:
    a, b = job("1.0"), job("2.0")
    a.ad["Requirements"] = parse("TARGET.Tier <= 1 && TARGET.Cpus >= RequestCpus")
    b.ad["Requirements"] = parse("TARGET.Tier <= 1 && TARGET.Cpus >= RequestCpus")
    assert a.ad.lookup("requirements") is not b.ad.lookup("requirements")
    assert _groups([a, b])[1] == [0, 0]
    b.ad["Requirements"] = parse("TARGET.Tier <= 2 && TARGET.Cpus >= RequestCpus")
    assert _groups([a, b])[1] == [0, 1]


def test_what_the_job_requirements_read_from_the_job_is_significant() -> None:
    jobs = [
        job("1.0", requirements="TARGET.Tier <= MY.MaxTier", MaxTier=1),
        job("2.0", requirements="TARGET.Tier <= MY.MaxTier", MaxTier=2),
        job("3.0", requirements="TARGET.Tier <= MY.MaxTier", MaxTier=1),
    ]
    assert _groups(jobs)[1] == [0, 1, 0]


def test_attributes_read_through_other_attributes_are_significant() -> None:
    a = job("1.0", requirements="TARGET.Tier <= MY.Limit", Base=1)
    b = job("2.0", requirements="TARGET.Tier <= MY.Limit", Base=3)
    for j in (a, b):
        j.ad["Limit"] = parse("MY.Base + 0")
    assert _groups([a, b])[1] == [0, 1]


def test_group_keys_are_stable_and_distinct() -> None:
    jobs = [job("1.0", memory=1000), job("2.0", memory=2000)]
    first, _ = _groups(jobs)
    again, _ = _groups(list(reversed(jobs)))
    assert {g.key for g in first} == {g.key for g in again}
    assert len({g.key for g in first}) == 2 and all(g.key.startswith("ac-") for g in first)


def test_slots_group_apart_from_what_they_have_left() -> None:
    slots = [
        slot("a", left=(2, 1000, 10, 0)),
        slot("b", left=(8, 16384, 10_000_000, 0)),
        slot("c", tier=2),
        slot("d", "other"),
        slot("e", partitionable=False),
    ]
    groups, _ = group_slots(slots, {"tier"})
    assert [g.slots for g in groups] == [[0, 1], [2], [3], [4]]
    assert groups[0].totals == (8, 16384, 10_000_000, 0)
    assert groups[2].cluster == "other"


def test_a_cycle_evaluates_per_group_pair_not_per_job_and_slot() -> None:
    jobs = [job(f"{i + 1}.0", cpus=1 + i % 2) for i in range(200)]
    slots = [slot(f"s{i}", "cern" if i % 2 else "desy", cpus=4) for i in range(100)]
    plan = run(snapshot(jobs, slots))
    assert len(plan.matches) == 200
    assert plan.stats["autoclusters"] == 2 and plan.stats["slot_groups"] == 2
    assert plan.stats["pair_evaluations"] <= 20


def test_one_pass_splits_jobs_by_submitter_and_prio_and_notes_their_order() -> None:
    jobs = [
        job("1.0", "alice", prio=0),
        job("1.1", "bob", prio=0),
        job("2.0", "alice", prio=5),
        job("3.0", "alice", prio=0, memory=4000),
        job("4.0", "alice", prio=0),
    ]
    grouping = group_jobs(jobs, (), 128, order=("QDate", "ClusterId", "ProcId"))
    assert [(c.submitter, c.prio, c.group, c.jobs) for c in grouping.classes] == [
        ("alice", 0, 0, [0, 4]),
        ("bob", 0, 0, [1]),
        ("alice", 5, 0, [2]),
        ("alice", 0, 1, [3]),
    ]
    assert grouping.order_keys[2] == (2, 2, 0) and grouping.in_order
    assert grouping.of_job() == [0, 0, 0, 1, 0]
    shuffled = group_jobs(jobs[::-1], (), 128, order=("QDate", "ClusterId", "ProcId"))
    assert not shuffled.in_order


def test_a_job_prio_that_is_not_a_number_counts_as_zero() -> None:
    jobs = [job("1.0", prio=0), job("2.0", JobPrio="high"), job("3.0", JobPrio=2.5)]
    grouping = group_jobs(jobs, (), 128)
    assert [(c.prio, c.jobs) for c in grouping.classes] == [(0, [0, 1]), (2.5, [2])]


def test_batches_give_the_grouping_of_the_one_job_at_a_time_pass() -> None:
    jobs = [
        job("1.0", "alice", prio=0),
        job("1.1", "bob", prio=0),
        job("2.0", "alice", prio=5),
        job("3.0", "alice", prio=0, memory=4000),
        job("4.0", "alice", prio=0),
        job("4.1", "alice", prio=0),
    ]
    order = ("QDate", "ClusterId", "ProcId")
    plain = group_jobs(jobs, (), 128, order=order)
    varying = frozenset({"clusterid", "procid", "qdate"})
    # two batches feed alice's first class: its jobs come back in snapshot order
    batches = [
        IdleBatch([4, 5], varying),
        IdleBatch([0], varying),
        IdleBatch([1], varying),
        IdleBatch([2], varying),
        IdleBatch([3], varying),
    ]
    for ordered in (False, True):
        hinted = group_jobs(jobs, (), 128, order=order, batches=batches, ordered=ordered)
        assert [(c.submitter, c.prio, c.group, c.jobs) for c in hinted.classes] == [
            (c.submitter, c.prio, c.group, c.jobs) for c in plain.classes
        ]
        assert [g.key for g in hinted.groups] == [g.key for g in plain.groups]
        assert [g.rep.id for g in hinted.groups] == ["1.0", "3.0"]
        assert hinted.of_job() == plain.of_job()
        assert (hinted.order_keys is None) == ordered
        assert hinted.in_order


def test_a_batch_that_varies_in_a_significant_attribute_is_read_job_by_job() -> None:
    jobs = [job("1.0", cpus=1), job("1.1", cpus=2), job("1.2", cpus=1)]
    # wrongly vouched alike, but RequestCpus is declared varying: split
    batch = IdleBatch([0, 1, 2], frozenset({"requestcpus", "procid"}))
    grouping = group_jobs(jobs, (), 128, batches=[batch])
    assert [c.jobs for c in grouping.classes] == [[0, 2], [1]]
    assert [g.request[0] for g in grouping.groups] == [1, 2]
