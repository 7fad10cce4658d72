"""Store throughput (slow; `make test-slow`): `queue 100000` through the submit
language into the store, and the manager's per-job cycle (submit, match, start,
complete, log index) in batches. Prints the figures; fails below the targets.

Run alone for the figures: ``.venv/bin/python -m pytest tests/store/test_store_bench.py -m slow -s``.
"""

from __future__ import annotations

import time

import pytest

from skyflock.store import LogEntry, Store
from skyflock.submit import parse_submit, parse_submit_cluster
from tests.store.factories import job_ad, match_of

SUBMIT_FILE = """\
executable = /bin/true
arguments  = $(Process)
output     = out/job.$(Cluster).$(Process).out
error      = out/job.$(Cluster).$(Process).err
request_cpus   = 1
request_memory = 64M
accounting_group = atlas
accounting_group_user = alice
queue 100000
"""


@pytest.mark.slow
def test_queue_100000_is_quick(store: Store) -> None:
    # The manager's path: the cluster shape, stored without building per-job ads.
    started = time.perf_counter()
    cluster_id = store.jobs.new_cluster_id()
    cluster = parse_submit_cluster(SUBMIT_FILE, cluster_id=cluster_id, base_dir="/s", owner="alice")
    parsed = time.perf_counter()
    result = store.jobs.submit_cluster(cluster.cluster_ad, cluster.procs, cluster_id=cluster_id)
    stored = time.perf_counter()
    assert len(result.job_ids) == 100_000
    print(
        f"\n[{store.engine.dialect.name}] queue 100000: parse_submit_cluster {parsed - started:.2f} s,"
        f" submit_cluster {stored - parsed:.2f} s, total {stored - started:.2f} s"
    )
    last = store.jobs.get(f"{cluster_id}.99999")
    assert last is not None and last.ad.eval("Out") == f"out/job.{cluster_id}.99999.out"
    assert stored - started < 5.0

    # The same jobs as full ads (the older path, kept working).
    ads = parse_submit(SUBMIT_FILE, cluster_id=cluster_id, base_dir="/s", owner="alice")
    started = time.perf_counter()
    store.jobs.submit(ads)
    print(
        f"[{store.engine.dialect.name}] the same as 100000 full ads via submit: "
        f"{time.perf_counter() - started:.2f} s"
    )

    # Reads stay fast with 100,000 jobs queued.
    started = time.perf_counter()
    stats = store.stats()
    history = store.history.query(limit=20)
    read = time.perf_counter() - started
    print(f"[{store.engine.dialect.name}] stats + history with 200000 queued: {read * 1000:.0f} ms")
    assert stats.by_status[1] == 200_000 and history == []
    assert read < 1.0


@pytest.mark.slow
def test_job_cycles_per_second(store: Store) -> None:
    jobs, batch = 5_000, 100
    started = time.perf_counter()
    for first in range(0, jobs, batch):
        ids = store.jobs.submit_cluster(job_ad(), [{"Arguments": str(i)} for i in range(batch)])
        batch_ids = list(ids.job_ids)
        store.jobs.match([match_of(j) for j in batch_ids])
        store.jobs.start(batch_ids, handles={j: f"pid={first}" for j in batch_ids})
        store.logs.record(
            [
                LogEntry(j, s, f"/d/logs/{j}.{s}", 0, "local")
                for j in batch_ids
                for s in ("stdout", "stderr")
            ]
        )
        store.jobs.complete(dict.fromkeys(batch_ids, 0))
    elapsed = time.perf_counter() - started
    rate = jobs / elapsed
    print(
        f"\n[{store.engine.dialect.name}] {jobs} jobs in batches of {batch}: submit+match+start"
        f"+logs+complete {elapsed:.2f} s = {rate:.0f} jobs/s"
    )
    assert store.history.count() == jobs and store.jobs.count() == 0
    assert rate > 450
