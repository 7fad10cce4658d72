"""Within a submitter: JobPrio first (higher first), then submission order."""

from __future__ import annotations

import pytest

from tests.core.negotiation_kit import job, placed, run, slot, snapshot


def _one_cpu_slots(n: int) -> list:  # type: ignore[type-arg]
    return [slot(f"s{i}", cpus=1, memory=4096, partitionable=False) for i in range(n)]


@pytest.mark.parametrize(
    ("prios", "slots", "expected"),
    [
        ([0, 0, 0, 0], 2, {"1.0", "2.0"}),  # submission order
        ([0, 0, 5, 0], 2, {"3.0", "1.0"}),  # higher JobPrio jumps ahead
        ([0, 1, 2, 3], 2, {"4.0", "3.0"}),
        ([-1, 0, 0, -1], 2, {"2.0", "3.0"}),  # negative priorities go last
        ([9, 9, 9, 9], 3, {"1.0", "2.0", "3.0"}),
    ],
)
def test_jobprio_then_submission_order(prios: list[int], slots: int, expected: set[str]) -> None:
    jobs = [job(f"{i + 1}.0", prio=p) for i, p in enumerate(prios)]
    plan = run(snapshot(jobs, _one_cpu_slots(slots)))
    assert set(placed(plan)) == expected


def test_qdate_orders_before_cluster_and_proc() -> None:
    jobs = [job("1.0", qdate=50), job("2.0", qdate=10), job("2.1", qdate=10), job("3.0", qdate=5)]
    plan = run(snapshot(jobs, _one_cpu_slots(2)))
    assert set(placed(plan)) == {"3.0", "2.0"}


def test_priority_crosses_autoclusters() -> None:
    # the high-priority job is in another autocluster (bigger memory) and still goes first
    jobs = [job("1.0", memory=1000), job("2.0", memory=1000), job("3.0", memory=2000, prio=10)]
    plan = run(snapshot(jobs, _one_cpu_slots(1)))
    assert set(placed(plan)) == {"3.0"}


def test_the_order_of_the_input_does_not_matter() -> None:
    jobs = [job(f"{i + 1}.0", prio=i % 3) for i in range(9)]
    a = run(snapshot(jobs, _one_cpu_slots(4)))
    b = run(snapshot(list(reversed(jobs)), _one_cpu_slots(4)))
    assert set(placed(a)) == set(placed(b)) == {"3.0", "6.0", "9.0", "2.0"}


def test_a_qdate_that_is_not_a_number_sorts_as_zero() -> None:
    jobs = [job("1.0", qdate=50), job("2.0", qdate=10), job("3.0")]
    jobs[2].ad["QDate"] = "yesterday"
    plan = run(snapshot(jobs, _one_cpu_slots(2)))
    assert set(placed(plan)) == {"3.0", "2.0"}
