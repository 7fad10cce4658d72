"""`skyflock status`: the pool, as condor_status shows it.

One row per partitionable slot (what is left of it and its totals), then a
summary per cluster of the federation with a Total row: slots, cores total /
in use / free, memory, running jobs and health. `--json` prints both lists.
Neighbours: `api.routes_pool` (`/api/slots`, `/api/clusters`), `cli.client`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from skyflock.cli.client import dump_json, session

if TYPE_CHECKING:
    from rich.table import Table


def _int(ad: dict[str, Any], name: str) -> int:
    value = ad.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def slot_table(slots: list[dict[str, Any]]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in (
        "Name",
        "Cluster",
        "OpSys",
        "Arch",
        "State",
        "Activity",
        "Cpus",
        "Mem(MiB)",
        "Disk(GiB)",
    ):
        table.add_column(
            name, justify="right" if name[0] in "CMD" and name != "Cluster" else "left"
        )
    for ad in slots:
        cpus, total = _int(ad, "Cpus"), _int(ad, "TotalCpus")
        mem, total_mem = _int(ad, "Memory"), _int(ad, "TotalMemory")
        busy = cpus < total or mem < total_mem
        table.add_row(
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
    return table


def cluster_table(clusters: list[dict[str, Any]]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, show_footer=len(clusters) > 1
    )
    cols = (
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
    sums = {
        "Slots": sum(c["slots"] for c in clusters),
        "Cores": sum(c["cores_total"] for c in clusters),
        "Used": sum(c["cores_used"] for c in clusters),
        "Mem(MiB)": sum(c["memory_total_mib"] for c in clusters),
        "MemUsed": sum(c["memory_used_mib"] for c in clusters),
        "Running": sum(c["running_jobs"] for c in clusters),
    }
    sums["Free"] = sums["Cores"] - sums["Used"]
    for name in cols:
        footer = "Total" if name == "Cluster" else str(sums.get(name, ""))
        table.add_column(
            name,
            footer=footer,
            justify="left" if name in ("Cluster", "Kind", "Health") else "right",
        )
    for c in clusters:
        health = "ok" if c["healthy"] else f"down: {c.get('message') or '?'}"
        if c["cordoned"]:
            health += " (cordoned)"
        table.add_row(
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
    return table


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
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True, emoji=False)
    if slots:
        console.print(slot_table(slots))
    else:
        console.print("No slots: no cluster offers capacity.")
    console.print(cluster_table(clusters))


def register(app: typer.Typer) -> None:
    app.command("status")(status_command)
