"""Built-in regular-expression functions: regexp, regexps, replace, replaceall, regexpMember.

Part of `BUILTINS` (assembled in `functions.py`). HTCondor uses PCRE on byte
strings; we use Python's `re` with `re.ASCII` (so `\\w` and case folding see
ASCII only, as PCRE without UTF mode does) after translating the PCRE syntax
Python lacks: POSIX classes such as `[[:digit:]]` and `\\Q...\\E` quoting.
Option letters: `i` ignore case, `m` multi-line anchors, `s` dot matches
newline, `x` extended syntax, and for substitution `f` (return the whole
target) and `g` (every match); other letters are ignored. Compiled patterns
are cached, since the same pattern is applied to many ads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from skyflock.classad.functions_convert import Builtin, string_args
from skyflock.classad.functions_stringlists import DEFAULT_DELIMITERS, string_list_items
from skyflock.classad.values import ERROR, UNDEFINED, Value

_POSIX_CLASSES: Final = {
    "alnum": "a-zA-Z0-9",
    "alpha": "a-zA-Z",
    "ascii": "\\x00-\\x7f",
    "blank": " \\t",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": " \\t\\n\\r\\f\\v",
    "upper": "A-Z",
    "word": "\\w",
    "xdigit": "0-9A-Fa-f",
}
_POSIX: Final = re.compile(r"\[:(\^?)([a-z]+):\]")
_QUOTED: Final = re.compile(r"\\Q(.*?)(?:\\E|\Z)", re.DOTALL)


def _translate(pattern: str) -> str:
    """Rewrite the PCRE-only parts of a pattern into Python syntax."""
    if "\\Q" in pattern:
        pattern = _QUOTED.sub(lambda m: re.escape(m.group(1)), pattern)
    if "[:" in pattern:

        def posix(m: re.Match[str]) -> str:
            cls = _POSIX_CLASSES.get(m.group(2))
            if cls is None:
                raise re.error(f"unknown POSIX class {m.group(2)}")
            if m.group(1):
                raise re.error("negated POSIX classes are not supported")
            return cls

        pattern = _POSIX.sub(posix, pattern)
    return pattern


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, options: str) -> re.Pattern[str] | None:
    """The compiled pattern, or None when it is not a valid regular expression."""
    flags = re.ASCII
    if "i" in options:
        flags |= re.IGNORECASE
    if "m" in options:
        flags |= re.MULTILINE
    if "s" in options:
        flags |= re.DOTALL
    if "x" in options:
        flags |= re.VERBOSE
    try:
        return re.compile(_translate(pattern), flags)
    except (re.error, RecursionError, OverflowError):
        return None


def fn_regexp(*args: Value) -> Value:
    s = string_args(args, 2, 1)
    if not isinstance(s, tuple):
        return s
    compiled = compile_pattern(s[0], s[2] if len(s) == 3 else "")
    if compiled is None:
        return ERROR
    return compiled.search(s[1]) is not None


_GROUP_REF: Final = re.compile(r"\\([0-9])")


def _expand(template: str, m: re.Match[str]) -> str | None:
    """Backslash expansion: `\\0`..`\\9` become groups; None for a missing group."""
    out = []
    last = 0
    for ref in _GROUP_REF.finditer(template):
        n = int(ref.group(1))
        if n > (m.re.groups or 0):
            return None
        out.append(template[last : ref.start()])
        out.append(m.group(n) or "")
        last = ref.end()
    out.append(template[last:])
    return "".join(out)


def substitute(pattern: str, target: str, replacement: str, options: str) -> Value:
    """`regexps` with its option letters (`f` whole target, `g` every match)."""
    compiled = compile_pattern(pattern, options)
    if compiled is None:
        return ERROR
    whole = "f" in options
    every = "g" in options
    out: list[str] = []
    last = 0
    for m in compiled.finditer(target):
        if every and m.end() == m.start():
            return ERROR  # HTCondor refuses to substitute empty matches globally
        text = _expand(replacement, m)
        if text is None:
            return ERROR
        if whole:
            out.append(target[last : m.start()])
        out.append(text)
        last = m.end()
        if not every:
            break
    if whole:
        out.append(target[last:])
    return "".join(out)


def fn_regexps(*args: Value) -> Value:
    s = string_args(args, 3, 1)
    if not isinstance(s, tuple):
        return s
    return substitute(s[0], s[1], s[2], s[3] if len(s) == 4 else "")


def _replace(extra: str) -> Builtin:
    def fn(*args: Value) -> Value:
        s = string_args(args, 3, 1)
        if not isinstance(s, tuple):
            return s
        return substitute(s[0], s[1], s[2], (s[3] if len(s) == 4 else "") + extra)

    return fn


def fn_regexp_member(*args: Value) -> Value:
    if not 2 <= len(args) <= 3:
        return ERROR
    pattern, items = args[0], args[1]
    options = args[2] if len(args) == 3 else ""
    for a in (pattern, items, options):
        if a is ERROR:
            return ERROR
    for a in (pattern, items, options):
        if a is UNDEFINED:
            return UNDEFINED
    if type(pattern) is not str or type(options) is not str or not isinstance(items, list):
        return ERROR
    compiled = compile_pattern(pattern, options)
    if compiled is None:
        return False
    saw_undefined = False
    for item in items:
        if item is UNDEFINED:
            saw_undefined = True
            continue
        if type(item) is not str:
            return ERROR
        if compiled.search(item):
            return True
    return UNDEFINED if saw_undefined else False


def fn_string_list_regexp_member(*args: Value) -> Value:
    if not 2 <= len(args) <= 4 or any(type(a) is not str for a in args):
        return ERROR
    pattern, text = args[0], args[1]
    delims = args[2] if len(args) >= 3 else DEFAULT_DELIMITERS
    options = args[3] if len(args) == 4 else ""
    compiled = compile_pattern(pattern, options)  # type: ignore[arg-type]
    if compiled is None:
        return ERROR
    items = string_list_items(text, delims)  # type: ignore[arg-type]
    if not items:
        return UNDEFINED
    return any(compiled.search(item) for item in items)


REGEX: Final[Mapping[str, Builtin]] = {
    "regexp": fn_regexp,
    "regexps": fn_regexps,
    "replace": _replace("f"),
    "replaceall": _replace("fg"),
    "regexpmember": fn_regexp_member,
    "stringlist_regexpmember": fn_string_list_regexp_member,
}
