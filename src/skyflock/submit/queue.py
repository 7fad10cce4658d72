"""The queue statement: every HTCondor form, parsed and turned into item rows.

    queue                      one job
    queue N                    N jobs (N: an integer, or an expression giving one)
    queue [N] [VAR] in [slice] (a, b, c)         items on the line, or on the
                                                 following lines up to `)`
    queue [N] [V1,V2,...] from [slice] FILE      one item per line of FILE
    queue [N] [V1,V2,...] from [slice] ( ... )   one item per following line
    queue [N] [VAR] matching [files|dirs] [slice] PATTERN ...

Each item makes N jobs (`$(Step)` counts them, `$(Row)`/`$(ItemIndex)` counts
items). Variables default to `Item`. A line of `from` data is split on commas
and/or blanks into the variables, the last one taking the rest of the line. The
slice is Python's `[start:stop:step]` over the items. Neighbours: the reader
gives the statement and its block; the interpreter expands macros in the
arguments first and calls `parse_queue`, then `queue_rows`; files come through
the `SubmitFiles` port.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from skyflock.submit.errors import Where
from skyflock.submit.files import SubmitFiles

Mode = Literal["count", "in", "from", "matching"]

_KEYWORD = re.compile(r"(?<![A-Za-z0-9_.])(in|from|matching)(?![A-Za-z0-9_.])", re.IGNORECASE)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_SLICE = re.compile(r"^\[\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?(?::\s*(-?\d*)\s*)?\]")
_SPLIT = re.compile(r"[\s,]+")
_FIELD_SEP = re.compile(r"\s*,\s*|\s+")


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A parsed queue statement."""

    count: int
    variables: tuple[str, ...]
    mode: Mode
    slice: tuple[int | None, int | None, int | None] | None
    source: str
    """`in`: the item text; `from`: a file name (empty when a block is used);
    `matching`: the patterns."""
    block: tuple[tuple[int, str], ...]
    matching: bool | None
    """For `matching`: True dirs only, False files only, None both."""


def parse_queue(
    args: str,
    block: tuple[tuple[int, str], ...],
    where: Where,
    evaluate_count: Callable[[str], object] | None = None,
) -> QueueSpec:
    """Parse the (macro-expanded) arguments of a queue statement."""
    text = args.strip()
    keyword = _KEYWORD.search(text)
    head = text[: keyword.start()] if keyword else text
    rest = text[keyword.end() :].strip() if keyword else ""
    count_text, variables = _split_head(head, bool(keyword), where)
    count = _count(count_text, where, evaluate_count)
    if not keyword:
        return QueueSpec(count, (), "count", None, "", (), None)
    mode: Mode = keyword.group(1).lower()  # type: ignore[assignment]
    if not variables:
        variables = ("Item",)
    lowered = [v.lower() for v in variables]
    if len(set(lowered)) != len(lowered):
        raise where.error(f"queue names the variable '{variables[0]}' twice")
    matching: bool | None = None
    if mode == "matching":
        first = rest.split(None, 1)
        if first and first[0].lower() in ("files", "dirs"):
            matching = first[0].lower() == "dirs"
            rest = first[1] if len(first) > 1 else ""
    slice_, rest = _slice(rest, where)
    if rest.startswith("("):
        inner = rest[1:].strip()
        if block or not inner:
            if inner:
                raise where.error(f"nothing may follow '(' on the queue line, found '{inner}'")
            if not block and rest == "(":
                raise where.error("queue statement's '(' is never closed")
            source = ""
        else:
            if not inner.endswith(")"):
                raise where.error(f"queue items '{rest}' are missing their closing ')'")
            source = inner[:-1]
            if mode == "from":
                block = tuple((where.line, line) for line in source.split("\n"))
                source = ""
    else:
        source = rest
        if block:
            raise where.error("a queue item block needs '(' at the end of the queue line")
    if mode == "from" and not block and not source:
        raise where.error("'queue ... from' needs a file name or a '(' block of items")
    if mode == "matching" and not source and not block:
        raise where.error("'queue ... matching' needs at least one file pattern")
    if mode == "in" and not source and not block:
        raise where.error("'queue ... in' needs a list of items")
    return QueueSpec(count, variables, mode, slice_, source.strip(), block, matching)


def _split_head(head: str, has_keyword: bool, where: Where) -> tuple[str, tuple[str, ...]]:
    if not has_keyword:
        return head.strip(), ()
    tokens = [t for t in _SPLIT.split(head.strip()) if t]
    count: list[str] = []
    variables: list[str] = []
    for token in tokens:
        if _IDENT.fullmatch(token):
            variables.append(token)
        elif variables:
            raise where.error(f"'{token}' is not a variable name (in 'queue {head.strip()} ...')")
        else:
            count.append(token)
    return " ".join(count), tuple(variables)


def _count(text: str, where: Where, evaluate: Callable[[str], object] | None) -> int:
    if not text:
        return 1
    value: object
    try:
        value = int(text)
    except ValueError:
        value = None
        if evaluate is not None:
            try:
                value = evaluate(text)
            except ValueError:
                value = None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(f"queue count '{text}' is not an integer")
    if value < 0:
        raise where.error(f"queue count {value} is negative")
    return value


def _slice(rest: str, where: Where) -> tuple[tuple[int | None, int | None, int | None] | None, str]:
    if not rest.startswith("["):
        return None, rest
    m = _SLICE.match(rest)
    if not m:
        raise where.error(f"bad slice in '{rest}': expected [start:stop:step]")
    parts = tuple(int(p) if p not in (None, "") else None for p in m.groups())
    if parts[2] == 0:
        raise where.error("a queue slice's step cannot be 0")
    return parts, rest[m.end() :].strip()  # type: ignore[return-value]


def queue_rows(
    spec: QueueSpec, files: SubmitFiles, base_dir: str, where: Where
) -> list[tuple[str, ...]]:
    """The items of a queue statement, one tuple of variable values per item
    (a single empty tuple for the plain `queue N` form)."""
    if spec.mode == "count":
        return [()]
    nvars = len(spec.variables)
    rows: list[tuple[str, ...]]
    if spec.mode == "in":
        texts = [spec.source] if spec.source else [line for _, line in spec.block]
        items = [t for text in texts for t in _SPLIT.split(text) if t]
        rows = [(item,) + ("",) * (nvars - 1) for item in items]
    elif spec.mode == "from":
        if spec.block:
            lines = [line for _, line in spec.block]
        else:
            path = posixpath.join(base_dir, spec.source)
            try:
                lines = files.read_text(path).splitlines()
            except OSError as exc:
                raise where.error(
                    f"cannot read queue items from '{spec.source}': {exc.strerror or exc}"
                ) from None
        rows = [
            _fields(line, nvars)
            for line in lines
            if line.strip() and not line.lstrip().startswith("#")
        ]
    else:
        texts = [spec.source] if spec.source else [line for _, line in spec.block]
        patterns = [t for text in texts for t in _SPLIT.split(text) if t]
        seen: set[str] = set()
        rows = []
        prefix = base_dir.rstrip("/") + "/"
        for pattern in patterns:
            found: list[str] = []
            for dirs in (False, True) if spec.matching is None else (spec.matching,):
                for path in files.glob(posixpath.join(base_dir, pattern), dirs=dirs):
                    shown = path[len(prefix) :] if path.startswith(prefix) else path
                    found.append(shown + "/" if dirs else shown)
            for shown in sorted(found):
                if shown not in seen:
                    seen.add(shown)
                    rows.append((shown,) + ("",) * (nvars - 1))
    if spec.slice is not None:
        start, stop, step = spec.slice
        rows = rows[start:stop:step]
    return rows


def _fields(line: str, nvars: int) -> tuple[str, ...]:
    text = line.strip()
    values: list[str] = []
    for _ in range(nvars - 1):
        m = _FIELD_SEP.search(text)
        if not m:
            values.append(text)
            text = ""
            continue
        values.append(text[: m.start()])
        text = text[m.end() :]
    values.append(text.strip())
    return tuple(values)
