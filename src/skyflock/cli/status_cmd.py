"""`skyflock status`: the pool, as condor_status shows it.

One row per partitionable slot (what is left of it and its totals), then a
summary per cluster of the federation with a Total row: slots, cores total /
in use / free, memory, running jobs and health. `--json` prints both lists.
Neighbours: `api.routes_pool` (`/api/slots`, `/api/clusters`), `cli.client`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skyflock.cli.client import dump_json, session
from skyflock.cli.texttable import text_table


def _int(ad: dict[str, Any], name: str) -> int:
    value = ad.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


SLOT_COLUMNS = (
    "Name",
    "Cluster",
    "OpSys",
    "Arch",
    "State",
    "Activity",
    "Cpus",
    "Mem(MiB)",
    "Disk(GiB)",
)


def slot_table(slots: list[dict[str, Any]]) -> str:
    """One row per partitionable slot: what is left of it over its totals."""
    rows = []
    for ad in slots:
        cpus, total = _int(ad, "Cpus"), _int(ad, "TotalCpus")
        mem, total_mem = _int(ad, "Memory"), _int(ad, "TotalMemory")
        busy = cpus < total or mem < total_mem
        rows.append(
            (
                str(ad.get("Name", "-")),
                str(ad.get("ClusterName", "-")),
                str(ad.get("OpSys", "-")),
                str(ad.get("Arch", "-")),
                "Claimed" if cpus == 0 else "Unclaimed",
                "Busy" if busy else "Idle",
                f"{cpus}/{total}",
                f"{mem}/{total_mem}",
                f"{_int(ad, 'Disk') / 1024 / 1024:.1f}",
            )
        )
    return text_table(SLOT_COLUMNS, {"Cpus", "Mem(MiB)", "Disk(GiB)"}, rows)


CLUSTER_COLUMNS = (
    "Cluster",
    "Kind",
    "Tier",
    "Slots",
    "Cores",
    "Used",
    "Free",
    "Mem(MiB)",
    "MemUsed",
    "Running",
    "Health",
)
SUMMED = {
    "Slots": "slots",
    "Cores": "cores_total",
    "Used": "cores_used",
    "Mem(MiB)": "memory_total_mib",
    "MemUsed": "memory_used_mib",
    "Running": "running_jobs",
}


def cluster_table(clusters: list[dict[str, Any]]) -> str:
    """The summary per cluster, with a Total row when there are several."""
    rows = []
    for c in clusters:
        health = "ok" if c["healthy"] else f"down: {c.get('message') or '?'}"
        if c["cordoned"]:
            health += " (cordoned)"
        rows.append(
            (
                c["name"],
                c["kind"],
                str(c["tier"]),
                str(c["slots"]),
                str(c["cores_total"]),
                str(c["cores_used"]),
                str(c["cores_total"] - c["cores_used"]),
                str(c["memory_total_mib"]),
                str(c["memory_used_mib"]),
                str(c["running_jobs"]),
                health,
            )
        )
    footer = None
    if len(clusters) > 1:
        sums = {name: sum(int(c[key]) for c in clusters) for name, key in SUMMED.items()}
        sums["Free"] = sums["Cores"] - sums["Used"]
        footer = [
            "Total" if name == "Cluster" else str(sums.get(name, "")) for name in CLUSTER_COLUMNS
        ]
    right = set(CLUSTER_COLUMNS) - {"Cluster", "Kind", "Health"}
    return text_table(CLUSTER_COLUMNS, right, rows, footer=footer)


def status_command(
    as_json: Annotated[
        bool, typer.Option("--json", "-json", help="Print slots and clusters as JSON.")
    ] = False,
) -> None:
    """Show the pool: slots, and a summary per cluster (condor_status)."""
    with session() as api:
        slots = api.get("/api/slots")["ads"]
        clusters = api.get("/api/clusters")
    if as_json:
        typer.echo(dump_json({"slots": slots, "clusters": clusters}))
        return
    typer.echo(slot_table(slots) if slots else "No slots: no cluster offers capacity.")
    typer.echo("")
    typer.echo(cluster_table(clusters))


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)
