"""Partitionable slots: dynamic slots carved from the requests, several per slot per cycle."""

from __future__ import annotations

import pytest

from skyflock.core import carve
from skyflock.core.config import NegotiatorConfig
from tests.core.negotiation_kit import config, explanation_of, job, placed, run, slot, snapshot


@pytest.mark.parametrize(
    ("slot_cpus", "slot_mem", "job_cpus", "job_mem", "jobs", "expected"),
    [
        (8, 16384, 2, 3000, 5, 4),  # CPUs run out after four
        (8, 8192, 1, 3000, 5, 2),  # memory runs out: 3000 rounds to 3072, 8192 // 3072 = 2
        (8, 16384, 1, 100, 20, 8),
        (4, 4096, 8, 1024, 1, 0),  # too big for the slot
        (16, 65536, 4, 16000, 3, 3),
    ],
)
def test_one_slot_takes_as_many_jobs_as_fit(
    slot_cpus: int, slot_mem: int, job_cpus: int, job_mem: int, jobs: int, expected: int
) -> None:
    snap = snapshot(
        [job(f"{i + 1}.0", cpus=job_cpus, memory=job_mem) for i in range(jobs)],
        [slot("s1", cpus=slot_cpus, memory=slot_mem)],
    )
    plan = run(snap)
    assert len(plan.matches) == expected
    assert sum(m.cpus for m in plan.matches) <= slot_cpus
    assert sum(m.memory for m in plan.matches) <= slot_mem


@pytest.mark.parametrize(
    ("quantum", "asked", "carved"),
    [(128, 3000, 3072), (128, 128, 128), (1000, 2900, 3000), (1, 2900, 2900), (256, 1, 256)],
)
def test_memory_is_rounded_up_to_the_quantum(quantum: int, asked: int, carved: int) -> None:
    plan = run(snapshot([job("1.0", memory=asked)], [slot("s1")]), config(memory_quantum=quantum))
    assert [m.memory for m in plan.matches] == [carved]
    assert carve.round_memory(asked, quantum) == carved


def test_match_carries_the_requests_and_the_cluster() -> None:
    plan = run(
        snapshot([job("1.0", cpus=3, memory=2048, disk=5000, gpus=1)], [slot("g1", "gpu", gpus=2)])
    )
    (m,) = plan.matches
    assert (m.job_id, m.slot_id, m.cluster) == ("1.0", "g1", "gpu")
    assert (m.cpus, m.memory, m.disk, m.gpus) == (3, 2048, 5000, 1)
    assert m.submitter == "alice" and m.preempts == ()


def test_best_fit_packs_a_partly_used_slot_first() -> None:
    # s2 has 2 CPUs left, s1 is empty: a 2-CPU job goes to s2 (least left that fits)
    slots = [slot("s1"), slot("s2", left=(2, 4096, 10_000_000, 0))]
    plan = run(snapshot([job("1.0", cpus=2, memory=1024)], slots))
    assert placed(plan) == {"1.0": "s2"}


def test_jobs_fill_one_slot_before_opening_the_next() -> None:
    slots = [slot(f"s{i}", cpus=4, memory=8192) for i in range(3)]
    plan = run(snapshot([job(f"{i + 1}.0") for i in range(6)], slots))
    per_slot: dict[str, int] = {}
    for m in plan.matches:
        per_slot[m.slot_id] = per_slot.get(m.slot_id, 0) + 1
    assert sorted(per_slot.values()) == [2, 4]


def test_different_shapes_share_a_slot_without_overcommitting() -> None:
    jobs = [job(f"{i + 1}.0", cpus=1 + i % 3, memory=1000 + 700 * (i % 4)) for i in range(40)]
    slots = [slot(f"s{i}", cpus=8, memory=12000) for i in range(4)]
    plan = run(snapshot(jobs, slots))
    used: dict[str, list[int]] = {}
    for m in plan.matches:
        u = used.setdefault(m.slot_id, [0, 0])
        u[0] += m.cpus
        u[1] += m.memory
    assert used and all(c <= 8 and mem <= 12000 for c, mem in used.values())
    assert len({m.job_id for m in plan.matches}) == len(plan.matches)
    # whatever is left idle really does not fit what the slots have left
    assert sum(c for c, _ in used.values()) >= 28


def test_the_unmatched_job_is_explained_as_too_few_resources_left() -> None:
    snap = snapshot([job(f"{i + 1}.0", cpus=4) for i in range(3)], [slot("s1", cpus=8)])
    plan = run(snap)
    assert len(plan.matches) == 2
    idle = next(j for j in ("1.0", "2.0", "3.0") if j not in placed(plan))
    e = explanation_of(plan, idle)
    assert e.waiting == {"alice": {"no_slots": 1}}
    (c1,) = e.clusters
    assert (c1.too_few_left, c1.available) == (1, 0)


def test_default_config_builds_with_the_quantum() -> None:
    assert NegotiatorConfig().memory_quantum == 128
