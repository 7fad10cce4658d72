"""Built-in functions over "string lists": one string holding items such as `"a, b, c"`.

Part of `BUILTINS` (assembled in `functions.py`). HTCondor keeps many sets in
this form (`HasFileTransferPluginMethods`, `Groups`), so matchmaking
expressions test them with `stringListMember` and friends. An item is a run
of characters between delimiters (any character of the delimiter string; by
default space and comma, and for the membership and subset tests also tab,
CR and newline), with surrounding white space trimmed (except in
`stringListsIntersect`, which compares items untrimmed); empty items do not
count. Numeric items read as integers when they are exactly an
integer and otherwise as reals through C's `strtod`, as in HTCondor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from skyflock.classad.functions_convert import Builtin, real_to_int, string_args, strtod
from skyflock.classad.operators import fold_case
from skyflock.classad.values import ERROR, UNDEFINED, Value

DEFAULT_DELIMITERS: Final = " ,"
# Membership and subset tests split on any blank too.
_SET_DELIMITERS: Final = " ,\t\r\n"
# HTCondor's running minimum and maximum start from FLT_MAX and FLT_MIN.
_FLT_MAX: Final = 3.4028234663852886e38
_FLT_MIN: Final = 1.1754943508222875e-38
_BLANK: Final = " \t\n\v\f\r"
_INTEGER: Final = re.compile(r"[+-]?[0-9]+\Z")


def string_list_items(text: str, delimiters: str = DEFAULT_DELIMITERS) -> list[str]:
    """The non-empty, trimmed items of a string list."""
    items: list[str] = []
    start = 0
    for i, c in enumerate(text):
        if c in delimiters:
            item = text[start:i].strip(_BLANK)
            if item:
                items.append(item)
            start = i + 1
    item = text[start:].strip(_BLANK)
    if item:
        items.append(item)
    return items


def _raw_items(text: str, delimiters: str) -> set[str]:
    """The non-empty items between delimiters, untrimmed (`stringListsIntersect`)."""
    items: set[str] = set()
    start = 0
    for i, c in enumerate(text):
        if c in delimiters:
            if i > start:
                items.add(text[start:i])
            start = i + 1
    if len(text) > start:
        items.add(text[start:])
    return items


def _strings(args: tuple[Value, ...], lo: int, hi: int) -> tuple[str, ...] | None:
    """The arguments when there are lo..hi of them and all are strings, else None."""
    if not lo <= len(args) <= hi or any(type(a) is not str for a in args):
        return None
    return args  # type: ignore[return-value]


def _numbers(args: tuple[Value, ...]) -> tuple[list[float], bool] | None:
    """The items as doubles (HTCondor computes in double), and whether any was real."""
    s = _strings(args, 1, 2)
    if s is None:
        return None
    out: list[float] = []
    any_real = False
    for item in string_list_items(s[0], *s[1:]):
        r = strtod(item)
        if r is None:
            return None
        if not _INTEGER.match(item):
            any_real = True
        out.append(r)
    return out, any_real


def fn_size(*args: Value) -> Value:
    s = _strings(args, 1, 2)
    return ERROR if s is None else len(string_list_items(s[0], *s[1:]))


def _aggregate(combine: Callable[[list[float]], float], empty: Value) -> Builtin:
    """`stringListSum` and friends: `combine` of the items as doubles; `empty` when there are none.

    The result is an integer unless an item was written as a real.
    """

    def fn(*args: Value) -> Value:
        parsed = _numbers(args)
        if parsed is None:
            return ERROR
        numbers, any_real = parsed
        if not numbers:
            return empty
        r = combine(numbers)
        return r if any_real else real_to_int(r)

    return fn


def _set_args(args: tuple[Value, ...]) -> tuple[Value, Value, str] | Value:
    """(first, second, delimiters) of a membership or subset test, or its value.

    Two or three arguments, each a string or UNDEFINED (else ERROR); UNDEFINED
    when both lists are. An UNDEFINED or missing delimiter string means the
    set delimiters (blanks and comma).
    """
    if not 2 <= len(args) <= 3:
        return ERROR
    if any(a is not UNDEFINED and type(a) is not str for a in args):
        return ERROR
    if args[0] is UNDEFINED and args[1] is UNDEFINED:
        return UNDEFINED
    delims = args[2] if len(args) == 3 and args[2] is not UNDEFINED else _SET_DELIMITERS
    return args[0], args[1], delims  # type: ignore[return-value]


def _member(fold: Callable[[str], str]) -> Builtin:
    def fn(*args: Value) -> Value:
        parsed = _set_args(args)
        if not isinstance(parsed, tuple):
            return parsed
        needle, text, delims = parsed
        if needle is UNDEFINED or text is UNDEFINED:
            return False
        wanted = fold(needle)  # type: ignore[arg-type]
        items = string_list_items(text, delims)  # type: ignore[arg-type]
        return any(fold(item) == wanted for item in items)

    return fn


def fn_intersect(*args: Value) -> Value:
    s = string_args(args, 2, 1)
    if not isinstance(s, tuple):
        return s
    # HTCondor compares these items as they stand: `"a; b"` split on `;` holds " b".
    delimiters = s[2] if len(s) == 3 else DEFAULT_DELIMITERS
    return not _raw_items(s[0], delimiters).isdisjoint(_raw_items(s[1], delimiters))


def _subset(fold: Callable[[str], str]) -> Builtin:
    def fn(*args: Value) -> Value:
        parsed = _set_args(args)
        if not isinstance(parsed, tuple):
            return parsed
        small, big, delims = parsed
        if small is UNDEFINED or small == "":
            return True
        wanted = {fold(i) for i in string_list_items(small, delims)}  # type: ignore[arg-type]
        if not wanted or big is UNDEFINED:
            # A list with text but no items is a subset of nothing.
            return False
        have = {fold(i) for i in string_list_items(big, delims)}  # type: ignore[arg-type]
        return wanted <= have

    return fn


STRING_LISTS: Final[Mapping[str, Builtin]] = {
    "stringlistsize": fn_size,
    "stringlistsum": _aggregate(lambda n: sum(n, 0.0), 0.0),
    "stringlistavg": _aggregate(lambda n: sum(n, 0.0) / len(n), 0.0),
    "stringlistmin": _aggregate(lambda n: min(_FLT_MAX, *n), UNDEFINED),
    "stringlistmax": _aggregate(lambda n: max(_FLT_MIN, *n), UNDEFINED),
    "stringlistmember": _member(lambda s: s),
    "stringlistimember": _member(fold_case),
    "stringlistsintersect": fn_intersect,
    "stringlistsubsetmatch": _subset(lambda s: s),
    "stringlistisubsetmatch": _subset(fold_case),
}
