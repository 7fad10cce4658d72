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
from skyflock.cli.selectors import CLUSTER_ID, JOB_ID, SelectorError, selection


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
    from skyflock.cli.jobtable import ads_from_answer, autoformat, json_list, long_form

    words = list(selectors or [])
    expressions = list(af or [])
    if expressions:
        expressions += [w for w in words if not (JOB_ID.match(w) or CLUSTER_ID.match(w))]
        words = [w for w in words if JOB_ID.match(w) or CLUSTER_ID.match(w)]
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
    if as_json:
        typer.echo(json_list(ads))
    elif expressions:
        try:
            lines = autoformat(ads, expressions)
        except ValueError as exc:
            fail(str(exc))
        for line in lines:
            typer.echo(line)
    elif long:
        if ads:
            typer.echo(long_form(ads))
    else:
        from skyflock.cli.jobtable import history_table

        typer.echo(history_table(ads) if ads else "No finished jobs match.")


def register(app: typer.Typer) -> None:
    app.command("history")(history_command)
