"""Plans of a mid-size synthetic federation, pinned: speed work must not change a single match.

The pool and workload are the benchmark's (`bench/negotiator_bench.py`, 2,000
slots, 20,000 jobs), in three forms: as built (jobs in submission order), the
same jobs shuffled and given colliding and non-numeric submission times (the
sorting path), and a second cycle in which the first cycle's matches run,
their submitters have used a lot, and the rest may preempt them. Each plan is
reduced to a digest of everything in it — every match in order, every
preemption, every explanation, every `autocluster_of` entry, the limits and
the counters — and compared with the digest the code gave before the
negotiator was made faster. A change of the digest is a change of the plan:
if it is intended, say why in the commit that updates it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import random
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from skyflock.core import carve
from skyflock.core.config import negotiator_config
from skyflock.core.model import (
    AccountingState,
    Claim,
    ClusterState,
    IdleBatch,
    Job,
    Plan,
    Slot,
    Snapshot,
    SubmitterUsage,
)
from skyflock.core.negotiate import negotiate

NOW = 1_700_100_000.0


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "negotiator_bench.py"
    spec = importlib.util.spec_from_file_location("negotiator_bench_pinned", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _bench()


def _canon(value: object) -> object:
    """A value reduced to tuples, strings and numbers, mappings sorted by key."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, _canon(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, tuple | list):
        return tuple(_canon(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return value


def digest(plan: Plan) -> str:
    h = hashlib.sha256()
    for m in plan.matches:
        h.update(repr(tuple(m)).encode())
    h.update(b"|")
    for p in plan.preemptions:
        h.update(repr(_canon(p)).encode())
    h.update(b"|")
    h.update(repr(_canon(plan.explanations)).encode())
    h.update(repr(sorted(plan.autocluster_of.items())).encode())
    h.update(repr(_canon(plan.submitter_limits)).encode())
    h.update(repr(_canon(plan.stats)).encode())
    return h.hexdigest()[:16]


def _first_cycle(
    slots: int = 2000, jobs: int = 20_000, shapes: int = 100, submitters: int = 50
) -> tuple[Snapshot, object]:
    rng = random.Random(7)
    slot_list, _ = bench.build_slots(slots, rng)
    job_list, batches = bench.build_jobs(jobs, shapes, bench.submitter_names(submitters), rng)
    for b, batch in enumerate(batches):
        for i in batch.jobs:
            BATCH_OF[job_list[i].id] = b
    config = negotiator_config(bench.GROUPS_CONFIG)
    clusters = {name: ClusterState(name, tier) for name, tier, _, _ in bench.CLUSTERS}
    return Snapshot(tuple(job_list), (), tuple(slot_list), AccountingState(), clusters), config


BATCH_OF: dict[str, int] = {}
"""The benchmark's batch of each job id it built."""


def _hinted(
    snap: Snapshot, *, ordered: bool, varying: frozenset[str] = bench.VARYING, split_every: int = 0
) -> Snapshot:
    """The snapshot with the batches its builder knows; every `split_every`-th batch declares
    a significant attribute as varying (so it is read job by job)."""
    members: dict[int, list[int]] = {}
    for i, job in enumerate(snap.idle):
        members.setdefault(BATCH_OF[job.id], []).append(i)
    batches = tuple(
        IdleBatch(
            jobs,
            varying | {"requestmemory"} if split_every and n % split_every == 0 else varying,
        )
        for n, jobs in enumerate(members.values())
    )
    return dataclasses.replace(snap, batches=batches, in_submission_order=ordered)


def _shuffled(snap: Snapshot) -> Snapshot:
    rng = random.Random(11)
    jobs = list(snap.idle)
    rng.shuffle(jobs)
    out = []
    for i, job in enumerate(jobs):
        ad = job.ad.copy()
        if i % 7 == 0:
            ad["QDate"] = 1_700_000_000  # ties: ClusterId and ProcId decide
        elif i % 501 == 0:
            ad["QDate"] = "yesterday"  # not a number: sorts as 0
        out.append(Job(job.id, ad, job.submitter))
    return dataclasses.replace(snap, idle=tuple(out))


def _second_cycle(snap: Snapshot, plan: Plan) -> Snapshot:
    """The first plan's matches running, heavy past usage for some submitters, new idle jobs."""
    by_id = {j.id: j for j in snap.idle}
    used: dict[str, carve.Resources] = {}
    running = []
    for n, m in enumerate(plan.matches):
        running.append(
            Claim(by_id[m.job_id], m.slot_id, m.cpus, m.memory, m.disk, m.gpus, NOW - 60 * (n % 50))
        )
        used[m.slot_id] = carve.add(
            used.get(m.slot_id, carve.NOTHING), (m.cpus, m.memory, m.disk, m.gpus)
        )
    slots = []
    for s in snap.slots:
        left = carve.subtract(carve.remaining_of(s.ad), used.get(s.id, carve.NOTHING))
        slots.append(Slot(s.id, carve.with_resources(s.ad, left), s.partitionable))
    matched = {m.job_id for m in plan.matches}
    idle = [j for j in snap.idle if j.id not in matched]
    names = sorted({j.submitter for j in snap.idle})
    acct = AccountingState(
        {
            name: SubmitterUsage(real_priority=0.5 + (5000.0 if i % 3 == 0 else 0.0) * (i % 5))
            for i, name in enumerate(names)
        },
        last_update=NOW - 300,
    )
    return Snapshot(tuple(idle), tuple(running), tuple(slots), acct, snap.clusters)


PINNED = {
    "first": "7a7d52ce376c5715",
    "shuffled": "22966753ed984082",
    "second": "35b38c990f2ad4f7",
    "shapes": "ab2346a9a7a0d1be",
}


@pytest.fixture(scope="module")
def first() -> tuple[Snapshot, object, Plan]:
    snap, config = _first_cycle()
    return snap, config, negotiate(snap, config, NOW, seed=3)  # type: ignore[arg-type]


def test_first_cycle_plan_is_pinned(first: tuple[Snapshot, object, Plan]) -> None:
    _, _, plan = first
    assert len(plan.matches) > 10_000
    assert digest(plan) == PINNED["first"]


@pytest.mark.parametrize(
    "hints",
    [
        {"ordered": True},
        {"ordered": False},
        {"ordered": True, "split_every": 3},
        {"ordered": False, "split_every": 1},
    ],
)
def test_snapshot_hints_leave_the_plan_as_it_is(
    first: tuple[Snapshot, object, Plan], hints: dict[str, Any]
) -> None:
    snap, config, _ = first
    plan = negotiate(_hinted(snap, **hints), config, NOW, seed=3)  # type: ignore[arg-type]
    assert digest(plan) == PINNED["first"]


@pytest.mark.parametrize("hinted", [False, True])
def test_shuffled_queue_plan_is_pinned(first: tuple[Snapshot, object, Plan], hinted: bool) -> None:
    snap, config, _ = first
    shuffled = _shuffled(snap)
    if hinted:
        shuffled = _hinted(shuffled, ordered=False)
    plan = negotiate(shuffled, config, NOW, seed=3)  # type: ignore[arg-type]
    assert digest(plan) == PINNED["shuffled"]


@pytest.mark.parametrize("hinted", [False, True])
def test_second_cycle_with_preemption_is_pinned(
    first: tuple[Snapshot, object, Plan], hinted: bool
) -> None:
    snap, config, plan = first
    second_snap = _second_cycle(snap, plan)
    if hinted:
        second_snap = _hinted(second_snap, ordered=True)
    second = negotiate(second_snap, config, NOW, seed=5)  # type: ignore[arg-type]
    assert second.preemptions
    assert digest(second) == PINNED["second"]


def test_many_shapes_plan_is_pinned() -> None:
    snap, config = _first_cycle(slots=1000, jobs=10_000, shapes=1000, submitters=100)
    plan = negotiate(snap, config, NOW, seed=9)  # type: ignore[arg-type]
    assert digest(plan) == PINNED["shapes"]
