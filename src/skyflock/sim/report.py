"""What a simulation found: per-submitter and per-group usage and waits,
per-cluster utilisation, preemptions, and a time series for the plot.

The engine fills a `Report` as it runs; `to_dict()` is the `--json` output of
`skyflock simulate` and `to_text()` its human rendering. Neighbours:
`sim.engine` (the producer), `sim.plot` (draws the samples),
`cli.simulate_cmd` (prints it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from skyflock.core.groups import group_of
from skyflock.core.model import NO_GROUP
from skyflock.sim.scenario import Scenario


@dataclass(slots=True)
class Tally:
    """Usage and waits of one submitter or group."""

    core_seconds: float = 0.0
    completed: int = 0
    idle_at_end: int = 0
    waits: list[float] = field(default_factory=list)

    def as_dict(self, total_core_seconds: float) -> dict[str, Any]:
        share = self.core_seconds / total_core_seconds if total_core_seconds > 0 else 0.0
        return {
            "core_seconds": round(self.core_seconds, 3),
            "share": round(share, 6),
            "mean_wait_s": round(sum(self.waits) / len(self.waits), 3) if self.waits else 0.0,
            "p95_wait_s": round(percentile(self.waits, 95), 3),
            "jobs_completed": self.completed,
            "jobs_started": len(self.waits),
            "jobs_idle_at_end": self.idle_at_end,
        }


@dataclass(frozen=True, slots=True)
class Sample:
    """Running cores per group and per cluster at one virtual time."""

    time: float
    cores_by_group: dict[str, float]
    cores_by_cluster: dict[str, float]
    idle: int = 0
    down: frozenset[str] = frozenset()


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(slots=True)
class Report:
    scenario: str
    duration: float
    submitters: dict[str, Tally]
    groups: dict[str, Tally]
    cluster_cores: dict[str, int]
    busy_core_seconds: dict[str, float]
    available_core_seconds: dict[str, float]
    preemptions: int = 0
    cycles: int = 0
    jobs_lost: int = 0
    rejected: int = 0
    """Plan entries the simulator could not apply (a stale job or a slot without room)."""
    samples: list[Sample] = field(default_factory=list)

    @classmethod
    def empty(cls, scenario: Scenario) -> Report:
        submitters = {s.accounting_name: Tally() for s in scenario.submitters}
        groups = {group_of(name, scenario.config): Tally() for name in submitters}
        return cls(
            scenario=scenario.name,
            duration=scenario.duration,
            submitters=submitters,
            groups=dict(sorted(groups.items())),
            cluster_cores={c.name: c.machines * c.cpus for c in scenario.clusters},
            busy_core_seconds={c.name: 0.0 for c in scenario.clusters},
            available_core_seconds={c.name: 0.0 for c in scenario.clusters},
        )

    def _both(self, submitter: str, group: str) -> tuple[Tally, Tally]:
        return self.submitters[submitter], self.groups.setdefault(group, Tally())

    def add_core_seconds(self, submitter: str, group: str, amount: float) -> None:
        for tally in self._both(submitter, group):
            tally.core_seconds += amount

    def add_completed(self, submitter: str, group: str) -> None:
        for tally in self._both(submitter, group):
            tally.completed += 1

    def add_wait(self, submitter: str, group: str, wait: float) -> None:
        for tally in self._both(submitter, group):
            tally.waits.append(wait)

    def add_idle_at_end(self, submitter: str, group: str) -> None:
        for tally in self._both(submitter, group):
            tally.idle_at_end += 1

    def utilization(self, cluster: str) -> float:
        available = self.available_core_seconds.get(cluster, 0.0)
        return self.busy_core_seconds[cluster] / available if available > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        total = sum(t.core_seconds for t in self.submitters.values())
        return {
            "scenario": self.scenario,
            "duration_s": self.duration,
            "submitters": {n: t.as_dict(total) for n, t in sorted(self.submitters.items())},
            "groups": {n: t.as_dict(total) for n, t in sorted(self.groups.items())},
            "clusters": {
                name: {
                    "cores": self.cluster_cores[name],
                    "utilization": round(self.utilization(name), 6),
                }
                for name in self.cluster_cores
            },
            "preemptions": self.preemptions,
            "cycles": self.cycles,
            "jobs_lost": self.jobs_lost,
            "rejected_plan_entries": self.rejected,
        }

    def to_text(self) -> str:
        data = self.to_dict()
        lines = [
            f"scenario {self.scenario}: {self.duration / 86_400:g} days, {self.cycles} cycles, "
            f"{self.preemptions} preemptions, {self.jobs_lost} jobs lost to failures",
            "",
        ]
        for title, rows in (("submitter", data["submitters"]), ("group", data["groups"])):
            lines.append(
                f"{title:<24} {'core-hours':>12} {'share':>7} {'mean wait':>10} {'p95 wait':>10}"
                f" {'done':>7} {'idle':>6}"
            )
            for name, row in rows.items():
                label = name if name != NO_GROUP else "<none>"
                lines.append(
                    f"{label:<24} {row['core_seconds'] / 3600:>12.1f} {row['share']:>7.1%}"
                    f" {_hms(row['mean_wait_s']):>10} {_hms(row['p95_wait_s']):>10}"
                    f" {row['jobs_completed']:>7} {row['jobs_idle_at_end']:>6}"
                )
            lines.append("")
        lines.append(f"{'cluster':<24} {'cores':>8} {'utilisation':>12}")
        for name, row in data["clusters"].items():
            lines.append(f"{name:<24} {row['cores']:>8} {row['utilization']:>12.1%}")
        return "\n".join(lines)


def _hms(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"
