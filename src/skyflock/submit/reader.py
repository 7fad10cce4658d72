"""The line reader: submit-description text -> statements with their positions.

It knows only the surface syntax: comment lines (`#` first on the line), blank
lines, `\\` continuation lines (a comment line inside a continued line is
skipped, as HTCondor does), and the shapes of a statement:

    name = value          a macro definition, which is also a submit command
    +Attr = expr          MY.Attr = expr   (a custom job attribute)
    queue [args]          with a multi-line `( ... )` block when args end in `(`
    include : file        if / elif / else / endif        error : / warning : text

What the statements mean (expanding macros, following includes with cycle
detection, evaluating `if`) is `interpreter.py`'s job; this module never reads a
file, so it is a pure function of its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from skyflock.submit.errors import SubmitError, Where

Kind = Literal["set", "queue", "include", "if", "elif", "else", "endif", "error", "warning"]

_NAME = re.compile(r"(?:\+|[Mm][Yy]\.)?[A-Za-z_][A-Za-z0-9_.]*")
_ASSIGN = re.compile(r"^\s*((?:\+|[Mm][Yy]\.)?[A-Za-z_][A-Za-z0-9_.]*)\s*=(.*)$", re.DOTALL)
_QUEUE = re.compile(r"^\s*queue(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)
_META = re.compile(r"^\s*(include|error|warning)(\s+command)?\s*:(.*)$", re.IGNORECASE | re.DOTALL)
_COND = re.compile(r"^\s*(if|elif|else|endif)\b(.*)$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Statement:
    """One logical statement of a submit description."""

    kind: Kind
    where: Where
    key: str = ""
    """The macro/command name for `set`; empty otherwise."""
    value: str = ""
    """The raw (unexpanded) right-hand side, the queue arguments, the include
    path, the condition, or the error/warning text."""
    block: tuple[tuple[int, str], ...] = field(default=())
    """For a queue statement whose arguments end in `(`: the (line, text) of
    each item line up to the closing `)`."""


def read_statements(text: str, filename: str) -> list[Statement]:
    """Split a submit description into statements; `SubmitError` on a line
    that is none of the statement shapes."""
    lines = text.splitlines()
    statements: list[Statement] = []
    i = 0
    n = len(lines)
    while i < n:
        start = i
        raw = lines[i]
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        # join continuation lines
        logical = raw
        while logical.rstrip().endswith("\\"):
            logical = logical.rstrip()[:-1]
            while i < n and lines[i].lstrip().startswith("#"):
                i += 1
            if i >= n:
                break
            logical += lines[i]
            i += 1
        where = Where(filename, start + 1)
        statement = _classify(logical, where)
        if statement.kind == "queue" and statement.value.rstrip().endswith("("):
            block: list[tuple[int, str]] = []
            closed = False
            while i < n:
                item = lines[i]
                i += 1
                if item.strip() == ")":
                    closed = True
                    break
                if item.strip().startswith("#"):
                    continue
                block.append((i, item))
            if not closed:
                raise where.error("queue statement's '(' is never closed by a line holding ')'")
            statement = Statement("queue", where, value=statement.value, block=tuple(block))
        statements.append(statement)
    return statements


def _classify(line: str, where: Where) -> Statement:
    queue = _QUEUE.match(line)
    if queue:
        return Statement("queue", where, value=(queue.group(1) or "").strip())
    meta = _META.match(line)
    if meta:
        word = meta.group(1).lower()
        if meta.group(2):
            raise where.error(
                f"'{word} command :' (running a program) is not supported; use '{word} : file'"
                if word == "include"
                else f"'{word} command' is not supported"
            )
        kind: Kind = "include" if word == "include" else ("error" if word == "error" else "warning")
        return Statement(kind, where, value=meta.group(3).strip())
    assign = _ASSIGN.match(line)
    if assign:
        return Statement("set", where, key=assign.group(1), value=assign.group(2).strip())
    cond = _COND.match(line)
    if cond:
        word = cond.group(1).lower()
        rest = cond.group(2).strip()
        if word in ("else", "endif") and rest:
            raise where.error(f"'{word}' takes nothing after it, found '{rest}'")
        if word in ("if", "elif") and not rest:
            raise where.error(f"'{word}' needs a condition")
        return Statement(word, where, value=rest)  # type: ignore[arg-type]
    text = line.strip()
    head = text.split(None, 1)[0] if text else text
    if _NAME.fullmatch(head) and ":" in text and "=" not in text:
        raise where.error(f"'{head} :' is not a statement; expected 'name = value'")
    raise where.error(
        f"cannot read '{_shorten(text)}': expected 'name = value', 'queue ...' or 'include : file'"
    )


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_name(text: str) -> bool:
    """True when `text` is a valid macro / command name."""
    return _NAME.fullmatch(text) is not None


__all__ = ["Statement", "SubmitError", "is_name", "read_statements"]
