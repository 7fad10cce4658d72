"""`skyflock rm | hold | release | qedit`: change jobs, as condor_rm and friends do.

    skyflock rm      [ID|CLUSTER|OWNER ...] [-constraint EXPR] [-reason TEXT]
    skyflock hold    [ID|CLUSTER|OWNER ...] [-constraint EXPR] [-reason TEXT]
    skyflock release [ID|CLUSTER|OWNER ...] [-constraint EXPR]
    skyflock qedit   [ID|CLUSTER|OWNER ...] [-constraint EXPR] ATTRIBUTE EXPRESSION

Each changed job gets one line ("Job 12.0 marked for removal."). A job the
server refuses (unknown id, illegal transition such as releasing a running
job) prints why on stderr and the command exits 1; nothing selected is also
exit 1, with the selection it looked for. qedit changes queued jobs, running
ones too (as condor_qedit does); the new value counts from then on. Neighbours: `cli.selectors`, `cli.client`, `api.routes_jobs`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from skyflock.cli.client import fail, session
from skyflock.cli.queue_cmd import Constraint, Selectors
from skyflock.cli.selectors import Chosen, SelectorError, selection

Reason = Annotated[str, typer.Option("-reason", "--reason", help="Recorded with the jobs' events.")]

DONE_WORDS = {
    "remove": "marked for removal",
    "hold": "held",
    "release": "released",
    "qedit": "edited",
}
MAX_LINES = 50


def _chosen(selectors: list[str] | None, constraint: str | None) -> Chosen:
    try:
        chosen = selection(list(selectors or []), constraint)
    except SelectorError as exc:
        fail(str(exc))
    if chosen.empty:
        fail("name the jobs: job ids (12.0), cluster ids (12), owners or -constraint EXPR", 2)
    return chosen


def _report(action: str, answer: dict[str, Any], chosen: Chosen) -> None:
    changed: list[str] = answer["changed"]
    refused: list[dict[str, str]] = answer["refused"]
    words = DONE_WORDS[action]
    for jid in changed[:MAX_LINES]:
        typer.echo(f"Job {jid} {words}.")
    if len(changed) > MAX_LINES:
        typer.echo(f"... and {len(changed) - MAX_LINES} more jobs {words}.")
    for item in refused[:MAX_LINES]:
        typer.echo(f"Job {item['id']}: {item['reason']}", err=True)
    if len(refused) > MAX_LINES:
        typer.echo(f"... and {len(refused) - MAX_LINES} more jobs refused.", err=True)
    if not changed and not refused:
        fail(f"no job in the queue matches {chosen.constraint or ', '.join(chosen.ids)}")
    if refused:
        raise typer.Exit(1)


def _act(action: str, chosen: Chosen, extra: dict[str, Any]) -> None:
    body: dict[str, Any] = {"ids": list(chosen.ids), "constraint": chosen.constraint, **extra}
    with session() as api:
        answer = api.post(f"/api/jobs/{action}", body)
    _report(action, answer, chosen)


def rm_command(
    selectors: Selectors = None, constraint: Constraint = None, reason: Reason = ""
) -> None:
    """Remove jobs from the queue (condor_rm); running jobs are stopped."""
    _act("remove", _chosen(selectors, constraint), {"reason": reason})


def hold_command(
    selectors: Selectors = None, constraint: Constraint = None, reason: Reason = ""
) -> None:
    """Put jobs on hold (condor_hold); running jobs are stopped."""
    _act("hold", _chosen(selectors, constraint), {"reason": reason})


def release_command(selectors: Selectors = None, constraint: Constraint = None) -> None:
    """Release held jobs (condor_release)."""
    _act("release", _chosen(selectors, constraint), {})


def qedit_command(
    words: Annotated[
        list[str],
        typer.Argument(help="[ID|CLUSTER|OWNER ...] ATTRIBUTE EXPRESSION", show_default=False),
    ],
    constraint: Constraint = None,
) -> None:
    """Set an attribute of idle or held jobs to a ClassAd expression (condor_qedit)."""
    if len(words) < 2:
        fail(
            "usage: skyflock qedit [ID|CLUSTER|OWNER ...] [-constraint EXPR] ATTRIBUTE EXPRESSION",
            2,
        )
    *selectors, attribute, expression = words
    _act(
        "qedit", _chosen(selectors, constraint), {"attribute": attribute, "expression": expression}
    )


def register(app: typer.Typer) -> None:
    app.command("rm")(rm_command)
    app.command("hold")(hold_command)
    app.command("release")(release_command)
    app.command("qedit")(qedit_command)
