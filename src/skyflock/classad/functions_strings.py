"""Built-in string functions: strcat, join, split, substr, strcmp, size, case, versions.

Part of `BUILTINS` (assembled in `functions.py`). Non-string arguments reach
these functions through `string()` from `functions_convert`, as in HTCondor.
HTCondor's strings are byte strings: `size` and `substr` count UTF-8 bytes, and
`toUpper`/`toLower`/`stricmp` change ASCII letters only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from skyflock.classad.functions_convert import Builtin, is_scalar, to_string
from skyflock.classad.operators import fold_case
from skyflock.classad.values import ERROR, UNDEFINED, Value

_ASCII_UPPER: Final = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def _sign(i: int) -> int:
    return (i > 0) - (i < 0)


def fn_strcat(*args: Value) -> Value:
    parts = []
    for a in args:
        s = to_string(a)
        if type(s) is not str:
            return s
        parts.append(s)
    return "".join(parts)


def fn_join(*args: Value) -> Value:
    if not args:
        return ""
    if len(args) == 1:
        only = args[0]
        if isinstance(only, list):
            items: list[Value] = only
            sep: Value = ""
        elif only is UNDEFINED or only is ERROR:
            return only
        else:
            return ""
    elif len(args) == 2 and isinstance(args[1], list):
        sep, items = args[0], args[1]
    else:
        sep, items = args[0], list(args[1:])
    sep_text = to_string(sep)
    if sep_text is ERROR:
        return ERROR
    if sep_text is UNDEFINED:
        if not items:
            return UNDEFINED
        sep_text = ""
    parts = []
    for item in items:
        if item is UNDEFINED:
            continue
        s = to_string(item)
        if type(s) is not str:
            return ERROR
        parts.append(s)
    if items and not parts:
        return UNDEFINED
    # HTCondor writes a separator only after text: leading empty items vanish.
    out = ""
    for part in parts:
        out = out + sep_text + part if out else part  # type: ignore[operator]
    return out


_DEFAULT_SPLIT: Final = ", \t"
_BLANKS: Final = " \t\r\n"


def split_tokens(s: str, delims: str) -> list[str]:
    """HTCondor's `split()` tokenizer.

    A run of delimiter characters separates two tokens. A non-blank delimiter
    adds an empty token when it repeats the last non-blank delimiter seen in
    the string (in this run or an earlier one) and is not the first character
    of its run: `"a;;b"` and `"a; ;b"` hold one empty token, and so does
    `"a;b ;c"` (the `;` before `b` counts). An empty first or last token is
    dropped.
    """
    pieces: list[str] = []
    i = 0
    n = len(s)
    start = 0
    previous_hard = ""
    while i < n:
        if s[i] not in delims:
            i += 1
            continue
        pieces.append(s[start:i])
        run_start = i
        while i < n and s[i] in delims:
            c = s[i]
            if c not in _BLANKS:
                if c == previous_hard and i > run_start:
                    pieces.append("")
                previous_hard = c
            i += 1
        start = i
    pieces.append(s[start:])
    if pieces and pieces[0] == "":
        pieces.pop(0)
    if pieces and pieces[-1] == "":
        pieces.pop()
    return pieces


def fn_split(*args: Value) -> Value:
    if not 1 <= len(args) <= 2:
        return ERROR
    s = args[0]
    delims = args[1] if len(args) == 2 else _DEFAULT_SPLIT
    if type(s) is not str or type(delims) is not str:
        return ERROR
    return list(split_tokens(s, delims))


def _split_at(first_part_default: bool) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 1 or type(args[0]) is not str:
            return ERROR
        name: str = args[0]
        before, at, after = name.partition("@")
        if at:
            return [before, after]
        return [name, ""] if first_part_default else ["", name]

    return fn


def _int32(i: int) -> int:
    """HTCondor keeps substr offsets and lengths in a C int."""
    return ((i + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _utf8(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def fn_size(*args: Value) -> Value:
    if len(args) != 1:
        return ERROR
    v = args[0]
    if type(v) is str:
        return len(_utf8(v))
    if isinstance(v, list):
        return len(v)
    if v is UNDEFINED or v is ERROR:
        return v
    if is_scalar(v):
        return ERROR
    return len(v)  # type: ignore[arg-type]


def fn_substr(*args: Value) -> Value:
    if not 2 <= len(args) <= 3:
        return ERROR
    if any(a is UNDEFINED for a in args):
        return UNDEFINED
    if any(a is ERROR for a in args):
        return ERROR
    s, offset = args[0], args[1]
    if type(s) is not str or type(offset) is not int:
        return ERROR
    # The length must be an integer (not a boolean) even when the offset is
    # past the end of the string.
    if len(args) == 3 and type(args[2]) is not int:
        return ERROR
    data = _utf8(s)
    n = len(data)
    off = _int32(offset)
    if off < 0:
        off = max(n + off, 0)
    if off > n:
        return ""
    length = n - off
    if len(args) == 3:
        want = _int32(args[2])  # type: ignore[arg-type]
        length = min(want, length) if want >= 0 else max(length + want, 0)
    return data[off : off + length].decode("utf-8", "replace")


def _compare_strings(fold: Callable[[str], str]) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 2:
            return ERROR
        a = to_string(args[0])
        b = to_string(args[1])
        if a is UNDEFINED or b is UNDEFINED:
            return UNDEFINED
        if a is ERROR or b is ERROR:
            return ERROR
        x = _utf8(fold(a))  # type: ignore[arg-type]
        y = _utf8(fold(b))  # type: ignore[arg-type]
        return (x > y) - (x < y)

    return fn


def _recase(table: Mapping[int, int]) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 1:
            return ERROR
        s = to_string(args[0])
        if type(s) is not str:
            return s
        return s.translate(table)

    return fn


_ASCII_LOWER: Final = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


# --- version comparison (glibc's strverscmp) --------------------------------------


_S_N, _S_I, _S_F, _S_Z = 0, 3, 6, 9
_CMP, _LEN = 2, 3
# Next state after equal characters, by state + class of the character
# (0 other, 1 non-zero digit, 2 zero).
_NEXT_STATE: Final = (
    _S_N, _S_I, _S_Z,
    _S_N, _S_I, _S_I,
    _S_N, _S_F, _S_F,
    _S_N, _S_F, _S_Z,
)  # fmt: skip
# What decides at the first difference, by state (+ class of the left
# character) * 3 + class of the right character.
_RESULT: Final = (
    _CMP, _CMP, _CMP, _CMP, _LEN, _CMP, _CMP, _CMP, _CMP,
    _CMP, -1, -1, 1, _LEN, _LEN, 1, _LEN, _LEN,
    _CMP, _CMP, _CMP, _CMP, _CMP, _CMP, _CMP, _CMP, _CMP,
    _CMP, 1, 1, -1, _CMP, _CMP, -1, _CMP, _CMP,
)  # fmt: skip


def _digit_class(c: int) -> int:
    return 2 if c == 48 else (1 if 48 < c <= 57 else 0)


def _isdigit(c: int) -> bool:
    return 48 <= c <= 57


def strverscmp(a: bytes, b: bytes) -> int:
    """Compare as glibc's `strverscmp` (which HTCondor's `versioncmp` calls).

    Runs of digits compare by value, runs with leading zeros as fractions; the
    result is a byte difference or -1/1, exactly as the C function returns.
    """
    if a == b:
        return 0
    a += b"\0"
    b += b"\0"
    i = 0
    c1, c2 = a[0], b[0]
    state = _S_N + _digit_class(c1)
    while c1 == c2:
        if c1 == 0:
            return 0
        state = _NEXT_STATE[state]
        i += 1
        c1, c2 = a[i], b[i]
        state += _digit_class(c1)
    diff = c1 - c2
    result = _RESULT[state * 3 + _digit_class(c2)]
    if result == _CMP:
        return diff
    if result == _LEN:
        j = i + 1
        while _isdigit(a[j]):
            if not _isdigit(b[j]):
                return 1
            j += 1
        return -1 if _isdigit(b[j]) else diff
    return result


def _version_args(args: tuple[Value, ...], count: int) -> list[bytes] | Value:
    if len(args) != count:
        return ERROR
    if any(a is UNDEFINED for a in args):
        return UNDEFINED
    out = []
    for a in args:
        s = to_string(a)
        if type(s) is not str:
            return ERROR
        out.append(_utf8(s))
    return out


def fn_versioncmp(*args: Value) -> Value:
    v = _version_args(args, 2)
    if not isinstance(v, list):
        return v
    return strverscmp(v[0], v[1])  # type: ignore[arg-type]


def _version_test(test: Callable[[int], bool]) -> Builtin:
    def fn(*args: Value) -> Value:
        v = _version_args(args, 2)
        if not isinstance(v, list):
            return v
        return test(strverscmp(v[0], v[1]))  # type: ignore[arg-type]

    return fn


def fn_version_in_range(*args: Value) -> Value:
    # HTCondor reads the bounds first (UNDEFINED there is UNDEFINED), then
    # needs the version itself to be defined.
    if len(args) == 3 and args[0] is UNDEFINED:
        return UNDEFINED if UNDEFINED in args[1:] else ERROR
    v = _version_args(args, 3)
    if not isinstance(v, list):
        return v
    version, low, high = v
    return strverscmp(low, version) <= 0 and strverscmp(version, high) <= 0  # type: ignore[arg-type]


STRINGS: Final[Mapping[str, Builtin]] = {
    "strcat": fn_strcat,
    "join": fn_join,
    "split": fn_split,
    "splitusername": _split_at(first_part_default=True),
    "splitslotname": _split_at(first_part_default=False),
    "size": fn_size,
    "substr": fn_substr,
    "strcmp": _compare_strings(lambda s: s),
    "stricmp": _compare_strings(fold_case),
    "toupper": _recase(_ASCII_UPPER),
    "tolower": _recase(_ASCII_LOWER),
    "versioncmp": fn_versioncmp,
    "versiongt": _version_test(lambda c: c > 0),
    "versionlt": _version_test(lambda c: c < 0),
    "versionge": _version_test(lambda c: c >= 0),
    "versionle": _version_test(lambda c: c <= 0),
    "versioneq": _version_test(lambda c: c == 0),
    "version_in_range": fn_version_in_range,
}
