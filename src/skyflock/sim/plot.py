"""Draw a simulation's time series: each group's share of the running cores,
and each cluster's utilisation, over virtual time (matplotlib, Agg backend).

Neighbours: `sim.report` holds the samples; `cli.simulate_cmd --plot` calls
`write_plot`. The only module of the simulator that writes a file.
"""

from __future__ import annotations

from pathlib import Path

from skyflock.core.model import NO_GROUP
from skyflock.sim.report import Report


def write_plot(report: Report, path: str | Path) -> None:
    """Write a PNG (or any format matplotlib knows from the suffix) of the report's samples."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    samples = report.samples
    days = [s.time / 86_400 for s in samples]
    groups = sorted({g for s in samples for g in s.cores_by_group} | set(report.groups))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, constrained_layout=True)
    shares = []
    for group in groups:
        series = []
        for s in samples:
            total = sum(s.cores_by_group.values())
            series.append(s.cores_by_group.get(group, 0.0) / total if total > 0 else 0.0)
        shares.append(series)
    if samples:
        labels = [g if g != NO_GROUP else "<none>" for g in groups]
        top.stackplot(days, shares, labels=labels, alpha=0.85)
    top.set_ylabel("share of running cores")
    top.set_ylim(0, 1)
    top.set_title(f"{report.scenario}: usage share per group")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    for cluster, cores in report.cluster_cores.items():
        series = [s.cores_by_cluster.get(cluster, 0.0) / cores if cores else 0.0 for s in samples]
        bottom.plot(days, series, label=cluster, linewidth=1.2)
    bottom.set_ylabel("utilisation")
    bottom.set_ylim(0, 1.05)
    bottom.set_xlabel("virtual time (days)")
    bottom.set_title("per-cluster utilisation")
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.savefig(str(path), dpi=110)
    plt.close(fig)
