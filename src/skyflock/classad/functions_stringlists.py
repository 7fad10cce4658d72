"""Built-in functions over "string lists": one string holding items such as `"a, b, c"`.

Part of `BUILTINS` (assembled in `functions.py`). HTCondor keeps many sets in
this form (`HasFileTransferPluginMethods`, `Groups`), so matchmaking
expressions test them with `stringListMember` and friends. An item is a run
of characters between delimiters (any character of the delimiter string; by
default comma and blanks), with surrounding white space trimmed; empty items
do not count. Numeric items read as integers when they are exactly an
integer and otherwise as reals through C's `strtod`, as in HTCondor.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from skyflock.classad.functions_convert import Builtin, strtod
from skyflock.classad.operators import add, fold_case, gt, lt
from skyflock.classad.values import ERROR, UNDEFINED, Value

DEFAULT_DELIMITERS: Final = " ,"
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


def _list_args(args: tuple[Value, ...], strings: int) -> list[str] | Value:
    """Check `strings` string arguments plus an optional delimiter string."""
    if not strings <= len(args) <= strings + 1:
        return ERROR
    for a in args[:strings]:
        if type(a) is not str:
            return UNDEFINED if a is UNDEFINED else ERROR
    if len(args) > strings:
        delims = args[strings]
        if delims is UNDEFINED:
            return [*args[:strings], DEFAULT_DELIMITERS]  # type: ignore[list-item]
        if type(delims) is not str:
            return ERROR
        return list(args)  # type: ignore[arg-type]
    return [*args, DEFAULT_DELIMITERS]  # type: ignore[list-item]


def fn_size(*args: Value) -> Value:
    parsed = _list_args(args, 1)
    if not isinstance(parsed, list):
        return ERROR
    return len(string_list_items(parsed[0], parsed[1]))


def _numbers(args: tuple[Value, ...]) -> list[int | float] | Value:
    parsed = _list_args(args, 1)
    if not isinstance(parsed, list):
        return ERROR
    out: list[int | float] = []
    for item in string_list_items(parsed[0], parsed[1]):
        if _INTEGER.match(item):
            out.append(int(item))
            continue
        r = strtod(item)
        if r is None:
            return ERROR
        out.append(r)
    return out


def _wrapping_sum(numbers: list[int | float]) -> Value:
    total: Value = numbers[0]
    for n in numbers[1:]:
        total = add(total, n)
    return total


def fn_sum(*args: Value) -> Value:
    numbers = _numbers(args)
    if not isinstance(numbers, list):
        return numbers
    return _wrapping_sum(numbers) if numbers else 0.0


def fn_avg(*args: Value) -> Value:
    numbers = _numbers(args)
    if not isinstance(numbers, list):
        return numbers
    if not numbers:
        return 0.0
    total = _wrapping_sum(numbers)
    if type(total) is int:
        q = abs(total) // len(numbers)
        return -q if total < 0 else q
    return total / len(numbers)  # type: ignore[operator]


def _extreme(better: Callable[[Value, Value], Value]) -> Builtin:
    def fn(*args: Value) -> Value:
        numbers = _numbers(args)
        if not isinstance(numbers, list):
            return numbers
        if not numbers:
            return UNDEFINED
        best = numbers[0]
        for n in numbers[1:]:
            if better(n, best) is True:
                best = n
        if any(type(n) is float for n in numbers):
            return float(best)
        return best

    return fn


def _member(fold: Callable[[str], str]) -> Builtin:
    def fn(*args: Value) -> Value:
        if not 2 <= len(args) <= 3:
            return ERROR
        if args[0] is UNDEFINED or args[1] is UNDEFINED:
            return False
        parsed = _list_args(args, 2)
        if not isinstance(parsed, list):
            return ERROR
        needle = fold(parsed[0])
        return any(fold(item) == needle for item in string_list_items(parsed[1], parsed[2]))

    return fn


def fn_intersect(*args: Value) -> Value:
    parsed = _list_args(args, 2)
    if not isinstance(parsed, list):
        return parsed
    first = set(string_list_items(parsed[0], parsed[2]))
    return any(item in first for item in string_list_items(parsed[1], parsed[2]))


def _subset(fold: Callable[[str], str]) -> Builtin:
    def fn(*args: Value) -> Value:
        if not 2 <= len(args) <= 3:
            return ERROR
        small, big = args[0], args[1]
        if small is UNDEFINED and big is UNDEFINED:
            return UNDEFINED
        for a in (small, big):
            if a is not UNDEFINED and type(a) is not str:
                return ERROR
        delims: Value = args[2] if len(args) == 3 else DEFAULT_DELIMITERS
        if delims is UNDEFINED:
            delims = DEFAULT_DELIMITERS
        if type(delims) is not str:
            return ERROR
        if small is UNDEFINED:
            return True
        wanted = {fold(i) for i in string_list_items(small, delims)}  # type: ignore[arg-type]
        if not wanted:
            return True
        if big is UNDEFINED:
            return False
        have = {fold(i) for i in string_list_items(big, delims)}  # type: ignore[arg-type]
        return wanted <= have

    return fn


STRING_LISTS: Final[Mapping[str, Builtin]] = {
    "stringlistsize": fn_size,
    "stringlistsum": fn_sum,
    "stringlistavg": fn_avg,
    "stringlistmin": _extreme(lt),
    "stringlistmax": _extreme(gt),
    "stringlistmember": _member(lambda s: s),
    "stringlistimember": _member(fold_case),
    "stringlistsintersect": fn_intersect,
    "stringlistsubsetmatch": _subset(lambda s: s),
    "stringlistisubsetmatch": _subset(fold_case),
}
