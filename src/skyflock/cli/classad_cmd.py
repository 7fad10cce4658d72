"""`skyflock classad eval|format`: the ClassAd language from the command line.

`skyflock classad eval EXPR [--my FILE] [--target FILE] [--now T] [--seed N]`
prints the value of one expression (against up to two ads), and
`skyflock classad format FILE --to new|old|json` re-prints an ad in another
form. A syntax error prints one message (file, line, column and a caret
excerpt) and exits 1, never a traceback; a call of a function the language
does not know is a warning naming it (it still evaluates to ERROR, as in
HTCondor). Neighbours: everything real happens in `skyflock.classad`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from skyflock.classad import ClassAd, ClassAdSyntaxError, Expr, parse
from skyflock.classad.functions import BUILTINS
from skyflock.classad.nodes import Call
from skyflock.classad.runtime import CONTEXT_FUNCTIONS
from skyflock.classad.unparse import format_value

classad_app = typer.Typer(
    name="classad",
    help="Evaluate ClassAd expressions and convert ads between forms.",
    no_args_is_help=True,
)

FORMS = ("new", "old", "json")


def _fail(message: str) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(1)


def unknown_functions(expr: Expr) -> list[str]:
    """Names of the functions `expr` calls that the language does not define."""
    found: list[str] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if (
            isinstance(node, Call)
            and node.key not in BUILTINS
            and node.key not in CONTEXT_FUNCTIONS
            and node.name not in found
        ):
            found.append(node.name)
        stack.extend(node.children())
    return sorted(found)


def _read_ad(path: Path) -> ClassAd:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise _fail(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise _fail(f"{path}: not UTF-8 text") from None
    try:
        return ClassAd.parse(text)
    except ClassAdSyntaxError as err:
        raise _fail(f"error: {err.with_source(str(path))}") from None


def _warn_unknown(where: str, expr: Expr) -> None:
    for name in unknown_functions(expr):
        typer.echo(f"warning: {where}: unknown function {name}() (evaluates to ERROR)", err=True)


@classad_app.command("eval")
def eval_command(
    expression: Annotated[str, typer.Argument(help="A ClassAd expression.")],
    my: Annotated[Path | None, typer.Option("--my", help="The MY ad (any form).")] = None,
    target: Annotated[
        Path | None, typer.Option("--target", help="The TARGET ad (any form).")
    ] = None,
    now: Annotated[int | None, typer.Option("--now", help="Seconds since 1970 for time().")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for random().")] = None,
) -> None:
    """Print the value of EXPRESSION, with --my as MY and --target as TARGET."""
    try:
        expr = parse(expression)
    except ClassAdSyntaxError as err:
        raise _fail(f"error: {err.with_source('<expression>')}") from None
    my_ad = _read_ad(my) if my is not None else None
    target_ad = _read_ad(target) if target is not None else None
    _warn_unknown("<expression>", expr)
    for path, ad in ((my, my_ad), (target, target_ad)):
        if ad is not None:
            for name, attr in ad.items():
                _warn_unknown(f"{path}: {name}", attr)
    value = expr.eval(my_ad, target_ad, now=now, rng=seed)
    typer.echo(format_value(value))


@classad_app.command("format")
def format_command(
    file: Annotated[Path, typer.Argument(help="An ad in the new, old or JSON form.")],
    to: Annotated[str, typer.Option("--to", help="new, old or json.")] = "new",
) -> None:
    """Print the ad in FILE in another form."""
    if to not in FORMS:
        raise _fail(f"error: --to must be one of {', '.join(FORMS)}, not {to!r}")
    ad = _read_ad(file)
    typer.echo(ad.format(to).rstrip("\n"))  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    app.add_typer(classad_app, name="classad")
