"""ClassAd expressions inside submit commands: parse with the line, evaluate constants.

The submit layer's only door into `skyflock.classad`: a command whose value is
an expression (`requirements`, `periodic_hold`, `+Attr`...) is parsed here and
a syntax error becomes a `SubmitError` naming the command's file and line;
`constant` evaluates the small self-contained expressions `$INT()`, `queue N`
and `priority` accept.
"""

from __future__ import annotations

from skyflock.classad import UNDEFINED, ClassAdSyntaxError, Expr, parse
from skyflock.submit.errors import Where


def parse_expr(text: str, where: Where, what: str) -> Expr:
    """`text` as an expression; SubmitError naming `what` on bad syntax."""
    if not text.strip():
        raise where.error(f"{what} has no value")
    try:
        return parse(text)
    except ClassAdSyntaxError as exc:
        raise where.error(
            f"{what} = {text.strip()!r} is not a valid ClassAd expression: "
            f"{exc.message} (column {exc.column})"
        ) from None


def constant(text: str) -> object:
    """The value of an expression that needs no ad; ValueError when it does not parse."""
    try:
        value = parse(text).eval()
    except ClassAdSyntaxError as exc:
        raise ValueError(str(exc)) from None
    return None if value is UNDEFINED else value


def integer(text: str, where: Where, what: str) -> int:
    """An integer command (`priority`, `max_retries`): a literal or constant expression."""
    try:
        value = constant(text) if text.strip() else None
    except ValueError:
        value = None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"{what} must be an integer, got {text!r}")
    return value
