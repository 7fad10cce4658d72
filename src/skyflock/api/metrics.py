"""Prometheus metrics at `/metrics`, read from the manager at scrape time.

A custom collector (no counters kept here) turns `manager.stats()` and
`manager.userprio()` into these families:

    skyflock_jobs{status,submitter}                  jobs in the queue
    skyflock_submitter_usage_core_seconds{submitter,group}
    skyflock_submitter_effective_priority{submitter,group}
    skyflock_submitter_real_priority{submitter,group}
    skyflock_submitter_priority_factor{submitter,group}
    skyflock_negotiation_cycle_seconds               last cycle's duration
    skyflock_negotiation_last_matches                matches of the last cycle
    skyflock_negotiation_cycles_total / _matches_total / preemptions_total
    skyflock_jobs_completed_total                    since the server started
    skyflock_cluster_slots{cluster} / _cores{cluster} / _cores_used{cluster}

Each app has its own registry, so several apps (tests) never collide.
Neighbours: `api.app` installs it; `api.port` is what it reads.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from skyflock.api.port import ManagerPort

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

STATUS_NAMES = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held"}

SUBMITTER_GAUGES = (
    (
        "skyflock_submitter_usage_core_seconds",
        "Accumulated usage per submitter (core-seconds)",
        "accumulated_usage",
    ),
    (
        "skyflock_submitter_effective_priority",
        "Effective priority per submitter (lower is better)",
        "effective_priority",
    ),
    ("skyflock_submitter_real_priority", "Real (decayed usage) priority", "real_priority"),
    ("skyflock_submitter_priority_factor", "Priority factor per submitter", "priority_factor"),
)
"""(family, help, `SubmitterPriority` field) of each per-submitter gauge."""


class ManagerCollector(Collector):
    """Reads the manager on each scrape."""

    def __init__(self, manager: ManagerPort) -> None:
        self.manager = manager

    def collect(self) -> Iterator[Metric]:
        stats = self.manager.stats()
        jobs = GaugeMetricFamily(
            "skyflock_jobs",
            "Jobs in the queue by status and submitter",
            labels=["status", "submitter"],
        )
        for submitter, counts in sorted(stats.jobs_by_submitter.items()):
            for status, n in sorted(counts.items()):
                jobs.add_metric([STATUS_NAMES.get(status, str(status)), submitter], n)
        yield jobs
        by_status = GaugeMetricFamily(
            "skyflock_jobs_by_status", "Jobs in the queue by status", labels=["status"]
        )
        for status, n in sorted(stats.jobs_by_status.items()):
            by_status.add_metric([STATUS_NAMES.get(status, str(status))], n)
        yield by_status

        labels = ["submitter", "group"]
        per_submitter = [
            (GaugeMetricFamily(name, text, labels=labels), field)
            for name, text, field in SUBMITTER_GAUGES
        ]
        for p in self.manager.userprio():
            for family, field in per_submitter:
                family.add_metric([p.submitter, p.group], getattr(p, field))
        yield from (family for family, _ in per_submitter)

        yield GaugeMetricFamily(
            "skyflock_negotiation_cycle_seconds",
            "Duration of the last negotiation cycle",
            value=stats.last_cycle_seconds,
        )
        yield GaugeMetricFamily(
            "skyflock_negotiation_last_matches",
            "Matches made by the last negotiation cycle",
            value=stats.last_cycle_matches,
        )
        yield CounterMetricFamily(
            "skyflock_negotiation_cycles", "Negotiation cycles run", value=stats.cycles
        )
        yield CounterMetricFamily(
            "skyflock_negotiation_matches",
            "Matches made (claims reused included)",
            value=stats.total_matches,
        )
        yield CounterMetricFamily(
            "skyflock_preemptions", "Jobs preempted", value=stats.total_preemptions
        )
        yield CounterMetricFamily(
            "skyflock_jobs_completed",
            "Jobs completed since the server started",
            value=stats.completed_total,
        )

        slots = GaugeMetricFamily("skyflock_cluster_slots", "Slots per cluster", labels=["cluster"])
        cores = GaugeMetricFamily("skyflock_cluster_cores", "Cores per cluster", labels=["cluster"])
        used = GaugeMetricFamily(
            "skyflock_cluster_cores_used", "Cores in use per cluster", labels=["cluster"]
        )
        for c in stats.clusters:
            slots.add_metric([c.name], c.slots)
            cores.add_metric([c.name], c.cores_total)
            used.add_metric([c.name], c.cores_used)
        yield from (slots, cores, used)


def install(app: FastAPI, manager: ManagerPort) -> CollectorRegistry:
    """Add `GET /metrics` to `app`, backed by a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ManagerCollector(manager))

    @app.get("/metrics", tags=["server"], response_class=Response)
    async def metrics() -> Response:
        """Prometheus text exposition."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE)

    return registry
