"""The `arguments` command: HTCondor's old and new quoting rules.

Old syntax (the value does not start with `"`): arguments are separated by
blanks and a double quote is written `\\"`; there is no way to put a blank
inside one argument. The job ad gets `Args`, the arguments joined by single
blanks.

New syntax (the value is wrapped in double quotes): blanks separate
arguments, single quotes group blanks into one argument (`''` inside them is
a literal `'`), and `""` is a literal `"`. The job ad gets `Arguments` in
HTCondor's "V2 raw" form: arguments joined by blanks, any argument that holds
a blank or a `'` (or is empty) wrapped in single quotes with `'` doubled.

`split_args` / `split_arguments` recover the argument vector from the two
attributes, for whoever starts the job. `environment.py` reuses the new-syntax
tokenizer. Pure functions; errors are `ValueError`s the caller turns into a
`SubmitError` naming the line.
"""

from __future__ import annotations

from typing import Literal


def parse_arguments(text: str) -> tuple[Literal["Args", "Arguments"], list[str]]:
    """The attribute name this syntax maps to and the argument vector."""
    value = text.strip()
    if value.startswith('"'):
        if len(value) < 2 or not value.endswith('"') or _ends_in_escaped_quote(value):
            raise ValueError("new-syntax arguments start with a double quote and must end with one")
        return "Arguments", tokenize_v2(value[1:-1], doubled_double_quotes=True)
    return "Args", tokenize_v1(value)


def _ends_in_escaped_quote(value: str) -> bool:
    # `"a""` : the closing quote is the second of a doubled pair
    inner = value[1:]
    run = len(inner) - len(inner.rstrip('"'))
    return run % 2 == 0


def tokenize_v1(text: str) -> list[str]:
    """Old syntax: blank-separated words; `\\"` is a double quote."""
    if '"' not in text:
        return text.split()
    args: list[str] = []
    current: list[str] = []
    have = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] == '"':
            current.append('"')
            have = True
            i += 2
            continue
        if c == '"':
            raise ValueError(
                'a double quote in old-syntax arguments must be written \\" '
                "(or wrap all the arguments in double quotes for the new syntax)"
            )
        if c.isspace():
            if have:
                args.append("".join(current))
                current, have = [], False
        else:
            current.append(c)
            have = True
        i += 1
    if have:
        args.append("".join(current))
    return args


def tokenize_v2(text: str, *, doubled_double_quotes: bool) -> list[str]:
    """New syntax inside the outer double quotes (or a V2 raw attribute value
    when `doubled_double_quotes` is False)."""
    if "'" not in text and '"' not in text:
        return text.split()
    args: list[str] = []
    current: list[str] = []
    have = False
    quoted = False
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if doubled_double_quotes and c == '"':
            if i + 1 < n and text[i + 1] == '"':
                current.append('"')
                have = True
                i += 2
                continue
            raise ValueError('a double quote inside new-syntax arguments must be doubled ("")')
        if c == "'":
            if quoted and i + 1 < n and text[i + 1] == "'":
                current.append("'")
                i += 2
                continue
            quoted = not quoted
            have = True
            i += 1
            continue
        if c.isspace() and not quoted:
            if have:
                args.append("".join(current))
                current, have = [], False
        else:
            current.append(c)
            have = True
        i += 1
    if quoted:
        raise ValueError("a single quote opened in the arguments is never closed")
    if have:
        args.append("".join(current))
    return args


def join_v2(args: list[str]) -> str:
    """HTCondor's V2 raw form of an argument (or environment) vector."""
    return " ".join(_quote_v2(a) for a in args)


def _quote_v2(arg: str) -> str:
    if arg and not any(c.isspace() or c == "'" for c in arg):
        return arg
    return "'" + arg.replace("'", "''") + "'"


def join_v1(args: list[str]) -> str:
    return " ".join(args)


def split_args(value: str) -> list[str]:
    """The argument vector of an `Args` (old-syntax) attribute."""
    return value.split()


def split_arguments(value: str) -> list[str]:
    """The argument vector of an `Arguments` (V2 raw) attribute."""
    return tokenize_v2(value, doubled_double_quotes=False)
