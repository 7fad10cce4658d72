"""`skyflock q`: the job queue, as condor_q shows it.

    skyflock q [ID|CLUSTER|OWNER ...] [-constraint EXPR] [-af ATTR ...] [-long]
               [-analyze] [--json] [-limit N]

Default output is condor_q's `-nobatch` table and its totals lines ("Total
for query: N jobs; C completed, R removed, I idle, X running, H held, S
suspended", then the same for all users). `-af` prints the values of the
named attributes or expressions, one job per line (as with condor_q, the
words after `-af X` up to the next option are more attributes);
`-long` prints whole ads; `--json` a JSON list of ads; `-analyze` explains
why each selected idle job is not running.
Neighbours: `cli.client` (HTTP), `cli.selectors`, `cli.jobtable` (printing),
`api.routes_jobs` and `api.routes_analyze` (the answers).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from skyflock.cli.client import fail, session
from skyflock.cli.plain_params import PlainCommand
from skyflock.cli.selectors import CLUSTER_ID, JOB_ID, SelectorError, selection

if TYPE_CHECKING:
    from skyflock.classad import ClassAd
    from skyflock.cli.client import Client

# Every command imports what it prints with (the ClassAd library) inside its
# function: typer needs only the signatures, and `skyflock --help` or a
# command that does not print a table should not pay for them.

# The options `q` and `history` share (and rm, hold, release, qedit the first two).
Selectors = Annotated[
    list[str] | None,
    typer.Argument(help="Job ids (12.0), cluster ids (12) or owners.", show_default=False),
]
Constraint = Annotated[
    str | None,
    typer.Option(
        "-constraint", "--constraint", help="Only jobs for which this ClassAd expression is true."
    ),
]
Autoformat = Annotated[
    list[str] | None,
    typer.Option("-af", "--af", "-autoformat", help="Print these attributes or expressions."),
]
Long = Annotated[bool, typer.Option("-long", "-l", "--long", help="Print whole job ads.")]
AsJson = Annotated[bool, typer.Option("--json", "-json", help="Print the ads as JSON.")]

AF_OPTIONS = ("-af", "--af", "-autoformat")


def af_words_as_options(args: list[str]) -> list[str]:
    """condor_q's `-af` takes every word after it up to the next option: `-af A B` is
    `-af A -af B`. Job and cluster ids there stay selectors, and the words before
    `-af` stay selectors too (`q alice -af ClusterId` is alice's jobs)."""
    out: list[str] = []
    taking = value_next = False
    for n, arg in enumerate(args):
        if value_next:
            out.append(arg)
            value_next, taking = False, True
        elif arg == "--":
            return out + args[n:]
        elif arg in AF_OPTIONS:
            out.append(arg)
            value_next = True
        elif arg.startswith("-") and len(arg) > 1:
            out.append(arg)
            taking = arg.startswith(tuple(f"{o}=" for o in AF_OPTIONS))
        elif taking and not (JOB_ID.match(arg) or CLUSTER_ID.match(arg)):
            out += [AF_OPTIONS[0], arg]
        else:
            out.append(arg)
    return out


class AutoformatCommand(PlainCommand):
    """A command with condor_q's `-af` (q, history): see `af_words_as_options`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, af_words_as_options(list(args)))


def fetch_queue(
    api: Client, selectors: list[str], constraint: str | None, limit: int | None
) -> list[ClassAd]:
    from skyflock.cli.jobtable import ads_from_answer

    try:
        chosen = selection(selectors, constraint)
    except SelectorError as exc:
        fail(str(exc))
    params: dict[str, object] = {"limit": limit, "form": "new"}
    if chosen.ids:
        params["ids"] = list(chosen.ids)
    if chosen.constraint:
        params["constraint"] = chosen.constraint
    return ads_from_answer(api.get("/api/jobs", params=params)["ads"])


def print_analysis(api: Client, ids: list[str]) -> None:
    for n, jid in enumerate(ids):
        if n:
            typer.echo("")
        answer = api.get(f"/api/jobs/{jid}/analyze")
        typer.echo(answer["text"].rstrip("\n"))


def q_command(
    selectors: Selectors = None,
    constraint: Constraint = None,
    af: Autoformat = None,
    long: Long = False,
    analyze: Annotated[
        bool,
        typer.Option("-analyze", "-better-analyze", "--analyze", help="Explain why jobs are idle."),
    ] = False,
    as_json: AsJson = False,
    limit: Annotated[
        int | None, typer.Option("-limit", "--limit", min=1, help="At most N jobs.")
    ] = None,
) -> None:
    """Show the job queue (condor_q)."""
    from skyflock.cli.jobtable import (
        job_id,
        other_form,
        queue_table,
        status_of,
        totals,
        totals_line,
    )

    words, expressions = selectors or [], af or []
    table = not (analyze or as_json or expressions or long)
    with session() as api:
        ads = fetch_queue(api, words, constraint, limit)
        # condor_q's last line counts the whole queue; the counters have it at no cost
        everyone = api.get("/api/stats")["jobs_by_status"] if table else {}
        if analyze:
            chosen = [job_id(ad) for ad in ads if words or status_of(ad) == 1]
            if not chosen:
                typer.echo(
                    "No idle jobs to analyze." if not words else "No such jobs in the queue."
                )
                return
            print_analysis(api, chosen)
            return
    try:
        lines = other_form(ads, as_json=as_json, expressions=expressions, long=long)
    except ValueError as exc:
        fail(str(exc))
    if lines is None:
        lines = [queue_table(ads, time.time())] if ads else []
        lines.append(totals_line(ads))
        lines.append(totals("all users", {int(k): int(n) for k, n in everyone.items()}))
    for line in lines:
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("q", cls=AutoformatCommand)(q_command)
