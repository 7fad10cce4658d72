"""`skyflock history`: finished jobs, as condor_history shows them (newest first).

    skyflock history [ID|CLUSTER|OWNER ...] [-constraint EXPR] [-limit N]
                     [-af ATTR ...] [-long] [--json]

Neighbours: `cli.jobtable` (printing), `cli.selectors`, `api.routes_history`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from skyflock.cli.client import fail, session
from skyflock.cli.queue_cmd import Constraint, Selectors
from skyflock.cli.selectors import SelectorError, selection


def history_command(
    selectors: Selectors = None,
    constraint: Constraint = None,
    limit: Annotated[
        int, typer.Option("-limit", "--limit", "-match", min=1, help="At most N jobs.")
    ] = 100,
    af: Annotated[
        list[str] | None,
        typer.Option("-af", "--af", "-autoformat", help="Print these attributes or expressions."),
    ] = None,
    long: Annotated[
        bool, typer.Option("-long", "-l", "--long", help="Print whole job ads.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", "-json", help="Print the ads as JSON.")
    ] = False,
) -> None:
    """Show finished jobs (condor_history)."""
    from skyflock.cli.jobtable import ads_from_answer, history_table, other_form, split_af

    words, expressions = split_af(selectors or [], af or [])
    try:
        chosen = selection(words, constraint)
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
        lines = other_form(ads, as_json=as_json, expressions=expressions, long=long)
    except ValueError as exc:
        fail(str(exc))
    if lines is None:
        lines = [history_table(ads) if ads else "No finished jobs match."]
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
