"""MaxJobRetirementTime protects a running job until it expires."""

from __future__ import annotations

import pytest

from tests.core.negotiation_kit import accounting, claim, job, run, slot, snapshot


def _pool(job_retire: int | None, slot_retire: int | None):  # type: ignore[no-untyped-def]
    extra = {} if job_retire is None else {"MaxJobRetirementTime": job_retire}
    bobs = [job(f"{10 + i}.0", "bob", **extra) for i in range(4)]  # type: ignore[arg-type]
    labels = {} if slot_retire is None else {"MaxJobRetirementTime": slot_retire}
    s1 = slot("s1", cpus=4, left=(0, 12288, 10_000_000, 0), **labels)  # type: ignore[arg-type]
    return snapshot(
        [job("1.0", "alice")],
        [s1],
        [claim(b, "s1", started_at=0.0) for b in bobs],
        acct=accounting(alice=0.5, bob=4.0),
    )


@pytest.mark.parametrize(
    ("job_retire", "slot_retire", "now", "preempted"),
    [
        (None, None, 1000.0, True),
        (3600, None, 1000.0, False),  # the job's own retirement time protects it
        (3600, None, 3599.0, False),
        (3600, None, 3600.0, True),  # expired
        (None, 2000, 1500.0, False),  # the slot's
        (None, 2000, 2500.0, True),
        (3600, 2000, 2500.0, True),  # both set: the smaller counts
        (1000, 7200, 2500.0, True),
        (0, None, 700.0, True),
    ],
)
def test_retirement(
    job_retire: int | None, slot_retire: int | None, now: float, preempted: bool
) -> None:
    plan = run(_pool(job_retire, slot_retire), now=now)
    assert bool(plan.preemptions) is preempted
    assert bool(plan.matches) is preempted
