"""`skyflock history`: finished jobs, as condor_history shows them (newest first).

    skyflock history [ID|CLUSTER|OWNER ...] [-constraint EXPR] [-limit N]
                     [-af ATTR ...] [-long] [--json]

Neighbours: `cli.jobtable` (printing), `cli.selectors`, `api.routes_history`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from skyflock.cli.client import fail, session
from skyflock.cli.queue_cmd import (
    AsJson,
    Autoformat,
    AutoformatCommand,
    Constraint,
    Long,
    Selectors,
)
from skyflock.cli.selectors import SelectorError, selection


def history_command(
    selectors: Selectors = None,
    constraint: Constraint = None,
    limit: Annotated[
        int, typer.Option("-limit", "--limit", "-match", min=1, help="At most N jobs.")
    ] = 100,
    af: Autoformat = None,
    long: Long = False,
    as_json: AsJson = False,
) -> None:
    """Show finished jobs (condor_history)."""
    from skyflock.cli.jobtable import ads_from_answer, history_table, other_form

    try:
        chosen = selection(selectors or [], constraint)
    except SelectorError as exc:
        fail(str(exc))
    where = chosen.constraint
    if chosen.ids:
        where = " || ".join(
            f"(ClusterId == {c} && ProcId == {p})"
            for c, _, p in (i.partition(".") for i in chosen.ids)
        )
    with session() as api:
        ads = ads_from_answer(
            api.get("/api/history", params={"constraint": where, "limit": limit, "form": "new"})[
                "ads"
            ]
        )
    try:
        lines = other_form(ads, as_json=as_json, expressions=af or [], long=long)
    except ValueError as exc:
        fail(str(exc))
    if lines is None:
        lines = [history_table(ads) if ads else "No finished jobs match."]
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("history", cls=AutoformatCommand)(history_command)
