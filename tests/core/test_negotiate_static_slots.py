"""Static slots are taken whole, one job each."""

from __future__ import annotations

from tests.core.negotiation_kit import job, placed, run, slot, snapshot


def test_a_static_slot_runs_one_job_and_gives_it_everything() -> None:
    s = slot("st1", cpus=4, memory=8192, partitionable=False)
    plan = run(snapshot([job("1.0"), job("2.0")], [s]))
    (m,) = plan.matches
    assert m.job_id == "1.0"
    assert (m.cpus, m.memory, m.disk) == (4, 8192, 10_000_000)


def test_static_and_partitionable_slots_side_by_side() -> None:
    slots = [slot(f"st{i}", cpus=1, memory=2048, partitionable=False) for i in range(3)]
    slots.append(slot("p1", cpus=2, memory=4096))
    plan = run(snapshot([job(f"{i + 1}.0") for i in range(10)], slots))
    assert len(plan.matches) == 5
    assert sum(1 for m in plan.matches if m.slot_id == "p1") == 2
    assert {m.slot_id for m in plan.matches if m.slot_id.startswith("st")} == {"st0", "st1", "st2"}


def test_a_static_slot_too_small_for_the_job_stays_free() -> None:
    plan = run(snapshot([job("1.0", cpus=2)], [slot("st1", cpus=1, partitionable=False)]))
    assert plan.matches == ()
    assert placed(plan) == {}
