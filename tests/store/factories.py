"""Job ads and jobs in a given state, built through the store's own transitions."""

from __future__ import annotations

from typing import Any

from skyflock.classad import ClassAd
from skyflock.core.model import Match
from skyflock.store import Store


def job_ad(owner: str = "alice", **attrs: Any) -> ClassAd:
    ad = ClassAd({"Owner": owner, "RequestCpus": 1, "RequestMemory": 128, "Cmd": "/bin/true"})
    ad.update(attrs)
    return ad


def queue(store: Store, n: int = 1, *, now: float = 1000.0, **attrs: Any) -> list[str]:
    """Submit `n` jobs (one cluster) and return their ids."""
    owner = attrs.pop("owner", "alice")
    return list(
        store.jobs.submit_cluster(job_ad(owner, **attrs), [{} for _ in range(n)], now=now).job_ids
    )


def match_of(job_id: str, slot: str = "slot1@node1", cluster: str = "local") -> Match:
    return Match(job_id, slot, cluster, cpus=1, memory=128, disk=1024, gpus=0)


STATES = (
    "Idle",
    "Idle (dispatching)",
    "Running",
    "Running (vacating)",
    "Held",
    "Held (vacating)",
    "Removed (vacating)",
    "Completed (in history)",
    "Removed (in history)",
)


def put_in_state(store: Store, job_id: str, state: str, now: float = 1000.0) -> None:
    """Move an Idle job to `state` through legal transitions (each must succeed)."""
    jobs = store.jobs
    steps: list[Any] = []
    if state == "Idle":
        return
    if state in ("Held", "Removed (in history)"):
        steps = [lambda: jobs.hold([job_id], "by test", 1, now=now)]
        if state == "Removed (in history)":
            steps.append(lambda: jobs.remove([job_id], "by test", now=now))
    else:
        steps = [lambda: jobs.match([match_of(job_id)], now=now)]
        if state != "Idle (dispatching)":
            steps.append(lambda: jobs.start([job_id], handles={job_id: "pid=1"}, now=now + 1))
        if state == "Running (vacating)":
            steps.append(lambda: jobs.preempt([job_id], "priority", now=now + 2))
        if state == "Held (vacating)":
            steps.append(lambda: jobs.hold([job_id], "by test", 1, now=now + 2))
        if state == "Removed (vacating)":
            steps.append(lambda: jobs.remove([job_id], "by test", now=now + 2))
        if state == "Completed (in history)":
            steps.append(lambda: jobs.complete({job_id: 0}, now=now + 3))
    for step in steps:
        result = step()
        assert result.moved == (job_id,), result


def state_of(store: Store, job_id: str) -> str:
    record = store.jobs.get(job_id)
    if record is not None:
        return record.state
    finished = store.history.get(job_id)
    assert finished is not None, f"job {job_id} is neither in the queue nor in the history"
    return f"{finished.state} (in history)"
