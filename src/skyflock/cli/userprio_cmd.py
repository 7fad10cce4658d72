"""`skyflock userprio`: fair-share state per submitter, and setting its knobs.

    skyflock userprio [--json]
    skyflock userprio -setfactor SUBMITTER FACTOR
    skyflock userprio -setfloor SUBMITTER CORES
    skyflock userprio -setceiling SUBMITTER CORES

The table is condor_userprio's: effective priority (lower is better), real
priority, priority factor, jobs running and idle, accumulated usage in core
hours, floor and ceiling. The set options take the submitter (its accounting
group and user, e.g. `atlas.alice`, or the owner) and a number, like
condor_userprio's `-setfactor`; several may be given at once.
Neighbours: `api.routes_userprio`, `cli.client`; `cli.demo_cmd` prints the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from skyflock.cli.client import dump_json, session

if TYPE_CHECKING:
    from rich.table import Table


def _limit(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def userprio_table(rows: list[dict[str, Any]]) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for name in (
        "User Name",
        "Group",
        "Eff.\nPrio",
        "Real\nPrio",
        "Prio\nFactor",
        "In\nUse",
        "Idle",
        "Usage\ncore-h",
        "Floor",
        "Ceil",
    ):
        # Short headers: the table fits 80 columns, as condor_userprio's does.
        left = name in ("User Name", "Group")
        table.add_column(name, justify="left" if left else "right", no_wrap=left)
    for r in rows:
        table.add_row(
            r["submitter"],
            r["group"] or "<none>",
            f"{r['effective_priority']:.2f}",
            f"{r['real_priority']:.2f}",
            f"{r['priority_factor']:g}",
            str(r["running"]),
            str(r["idle"]),
            f"{r['accumulated_usage'] / 3600:.3f}",
            _limit(r.get("floor")),
            _limit(r.get("ceiling")),
        )
    return table


def userprio_command(
    setfactor: Annotated[
        tuple[str, float] | None,
        typer.Option(
            "-setfactor",
            "--setfactor",
            metavar="SUBMITTER FACTOR",
            help="Set a priority factor.",
            show_default=False,
        ),
    ] = None,
    setfloor: Annotated[
        tuple[str, float] | None,
        typer.Option(
            "-setfloor",
            "--setfloor",
            metavar="SUBMITTER CORES",
            help="Keep at least this many cores for the submitter.",
            show_default=False,
        ),
    ] = None,
    setceiling: Annotated[
        tuple[str, float] | None,
        typer.Option(
            "-setceiling",
            "--setceiling",
            metavar="SUBMITTER CORES",
            help="Let the submitter use at most this many cores.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", "-json", help="Print the rows as JSON.")
    ] = False,
) -> None:
    """Show fair-share priorities, or set a submitter's factor, floor or ceiling."""
    updates: dict[str, dict[str, float]] = {}
    for key, given in (("factor", setfactor), ("floor", setfloor), ("ceiling", setceiling)):
        if given is not None:
            updates.setdefault(given[0], {})[key] = given[1]
    with session() as api:
        if updates:
            for submitter, body in updates.items():
                row = api.post(f"/api/userprio/{submitter}", body)
                changes = ", ".join(f"{k} {v:g}" for k, v in body.items())
                typer.echo(
                    f"Set {changes} for {row['submitter']}; "
                    f"effective priority now {row['effective_priority']:.2f}."
                )
            return
        rows = api.get("/api/userprio")
    if as_json:
        typer.echo(dump_json(rows))
        return
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True, emoji=False)
    if not rows:
        console.print("No submitters yet.")
        return
    console.print(userprio_table(rows))


def register(app: typer.Typer) -> None:
    app.command("userprio")(userprio_command)
