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

from typing import Annotated, Any

import typer

from skyflock.cli.client import dump_json, session
from skyflock.cli.texttable import text_table

# Short headers keep the table narrow (82 columns), as condor_userprio's is.
COLUMNS = (
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
)


def _limit(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def userprio_table(rows: list[dict[str, Any]]) -> str:
    """condor_userprio's table: best (lowest) effective priority first, as the server sends."""
    cells = [
        (
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
        for r in rows
    ]
    return text_table(COLUMNS, set(COLUMNS[2:]), cells)


def _setter(name: str, metavar: str, help: str) -> Any:
    """A `-setNAME SUBMITTER VALUE` option, condor_userprio's spelling and the double dash."""
    return typer.Option(f"-{name}", f"--{name}", metavar=metavar, help=help, show_default=False)


Setting = tuple[str, float] | None


def userprio_command(
    setfactor: Annotated[
        Setting, _setter("setfactor", "SUBMITTER FACTOR", "Set a priority factor.")
    ] = None,
    setfloor: Annotated[
        Setting,
        _setter("setfloor", "SUBMITTER CORES", "Keep at least this many cores for the submitter."),
    ] = None,
    setceiling: Annotated[
        Setting,
        _setter("setceiling", "SUBMITTER CORES", "Let the submitter use at most this many cores."),
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
    else:
        typer.echo(userprio_table(rows) if rows else "No submitters yet.")


def register(app: typer.Typer) -> None:
    app.command("userprio")(userprio_command)
