"""Built-in functions that test and convert types, and the value-to-text rules they share.

`functions.py` assembles this family with the others into `BUILTINS`. The
string-making rules live here because every family needs them: `strcat`,
`join`, `toUpper`, `strcmp` and `size` all see a non-string argument through
`string()`, which prints values as HTCondor's unparser does (reals as
`%.15E`, zero as `0.0`, lists as `{ 1,"a" }`, ads as `[ a = 1; b = "x" ]`).
Reading numbers out of strings (`int("12abc")`, `real(" 1e3")`) follows C's
`strtod`, which HTCondor uses: the longest numeric prefix counts.

Every function takes already-evaluated arguments and returns a value; a wrong
number of arguments is ERROR.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final, cast

from skyflock.classad.nodes import Expr, ListExpr, Literal
from skyflock.classad.operators import INT_MIN, fold_case
from skyflock.classad.values import ERROR, UNDEFINED, Error, ScopedList, Undefined, Value

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd

Builtin = Callable[..., Value]


_NOT_ADS: Final = frozenset({bool, int, float, str, list, ScopedList, Undefined, Error})


def is_classad(v: Value) -> bool:
    """True for a nested ad: the value space is closed, so anything else is one.

    (Testing the type this way avoids importing `ad.py`, which imports us.)
    """
    return type(v) not in _NOT_ADS


def is_scalar(v: Value) -> bool:
    """Not a list and not an ad (UNDEFINED and ERROR count as scalars)."""
    return not isinstance(v, list) and not is_classad(v)


# --- printing values --------------------------------------------------------------

_NAMED_ESCAPES: Final = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\b": "\\b",
    "\f": "\\f",
    "\a": "\\a",
    "\v": "\\v",
}


def quote_string(s: str) -> str:
    """A string literal as HTCondor's unparser writes it (bytes >= 0x80 in octal)."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for c in s:
        esc = _NAMED_ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.extend(f"\\{b:03o}" for b in c.encode("utf-8", "surrogateescape"))
    out.append('"')
    return "".join(out)


def format_real(r: float) -> str:
    """A real as HTCondor prints it: `%.15E`, with zero, infinities and NaN special."""
    if r == 0.0:
        return "-0.0" if math.copysign(1.0, r) < 0 else "0.0"
    if r != r:
        return 'real("NaN")'
    if r == math.inf:
        return 'real("INF")'
    if r == -math.inf:
        return 'real("-INF")'
    return f"{r:.15E}"


def unparse_value(v: Value) -> str:
    """ClassAd source text for a value, as it appears inside `string({...})`."""
    t = type(v)
    if t is str:
        return quote_string(v)  # type: ignore[arg-type]
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is float:
        return format_real(v)  # type: ignore[arg-type]
    if v is UNDEFINED:
        return "undefined"
    if v is ERROR:
        return "error"
    if isinstance(v, list):
        return "{ " + ",".join(unparse_value(x) for x in v) + " }"
    return _unparse_ad(v)  # type: ignore[arg-type]


def _unparse_expr(expr: Expr | None) -> str:
    """An attribute's expression as `string()` prints it inside an ad.

    Constants and lists of constants follow HTCondor's value notation (reals
    in `%.15E`, list items joined by `,`); anything else is the expression's
    own source text.
    """
    if isinstance(expr, Literal):
        return unparse_value(expr.value)
    if isinstance(expr, ListExpr):
        return "{ " + ",".join(_unparse_expr(item) for item in expr.items) + " }"
    return str(expr)


def _unparse_ad(ad: ClassAd) -> str:
    parts = [f"{name} = {_unparse_expr(ad.lookup(name))}" for name in ad]
    return "[ " + "; ".join(parts) + " ]"


def to_string(v: Value) -> str | Undefined | Error:
    """`string(v)`: strings unchanged, other values unparsed; UNDEFINED/ERROR kept."""
    t = type(v)
    if t is str:
        return v  # type: ignore[return-value]
    if v is UNDEFINED or v is ERROR:
        return v
    return unparse_value(v)


# --- reading numbers out of strings (C's strtod) ----------------------------------

_STRTOD: Final = re.compile(
    r"""[ \t\n\v\f\r]*
    (?P<num>[+-]?(?:
        (?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)
      | (?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)
      | (?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)
      | (?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?
    ))""",
    re.VERBOSE,
)


def strtod(s: str) -> float | None:
    """The number C's `strtod` reads at the start of `s`, or None if there is none."""
    m = _STRTOD.match(s)
    if m is None:
        return None
    text = m.group("num")
    negative = text.startswith("-")
    if m.group("hex"):
        body = m.group("hex")
        if "p" not in body.lower():
            body += "p0"
        if body.endswith("."):
            body = body[:-1]
        try:
            r = float.fromhex(body)
        except (ValueError, OverflowError):
            r = math.inf
        return -r if negative else r
    if m.group("inf"):
        return -math.inf if negative else math.inf
    if m.group("nan"):
        return math.nan
    return float(text)


def real_to_int(r: float) -> int:
    """Truncate toward zero as C's cast does; out of range (and NaN) gives INT_MIN."""
    if r != r or not (-9.223372036854775808e18 <= r < 9.223372036854775808e18):
        return INT_MIN
    return int(r)


# --- the functions ----------------------------------------------------------------


def string_args(args: tuple[Value, ...], required: int, optional: int) -> tuple[str, ...] | Value:
    """The arguments when all are strings; else ERROR beats UNDEFINED beats a wrong type or count."""
    if not required <= len(args) <= required + optional:
        return ERROR
    if any(a is ERROR for a in args):
        return ERROR
    if any(a is UNDEFINED for a in args):
        return UNDEFINED
    if any(type(a) is not str for a in args):
        return ERROR
    return cast("tuple[str, ...]", args)


def _type_test(test: Callable[[Value], bool]) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 1:
            return ERROR
        return test(args[0])

    return fn


def _conversion(
    exact: type, from_double: Callable[[float], Value], from_string: Callable[[str], Value]
) -> Builtin:
    """`int()`, `real()`, `bool()`: a value of type `exact` as it is, any other number
    or a boolean through a double, a string by `from_string`; UNDEFINED stays."""

    def fn(*args: Value) -> Value:
        if len(args) != 1:
            return ERROR
        v = args[0]
        t = type(v)
        if t is exact:
            return v
        if t is int or t is bool or t is float:
            return from_double(float(v))  # type: ignore[arg-type]
        if t is str:
            return from_string(v)  # type: ignore[arg-type]
        return UNDEFINED if v is UNDEFINED else ERROR

    return fn


def _number_text(convert: Callable[[float], Value]) -> Callable[[str], Value]:
    def read(s: str) -> Value:
        r = strtod(s)
        return ERROR if r is None else convert(r)

    return read


_BOOL_WORDS: Final[Mapping[str, Value]] = {"true": True, "false": False}

fn_int: Final = _conversion(int, real_to_int, _number_text(real_to_int))
fn_real: Final = _conversion(float, float, _number_text(float))
fn_bool: Final = _conversion(
    bool, lambda r: r != 0, lambda s: _BOOL_WORDS.get(fold_case(s), UNDEFINED)
)


def fn_string(*args: Value) -> Value:
    if len(args) != 1:
        return ERROR
    return to_string(args[0])


CONVERT: Final[Mapping[str, Builtin]] = {
    "isundefined": _type_test(lambda v: v is UNDEFINED),
    "iserror": _type_test(lambda v: v is ERROR),
    "isstring": _type_test(lambda v: type(v) is str),
    "isinteger": _type_test(lambda v: type(v) is int),
    "isreal": _type_test(lambda v: type(v) is float),
    "isboolean": _type_test(lambda v: type(v) is bool),
    "islist": _type_test(lambda v: isinstance(v, list)),
    "isclassad": _type_test(is_classad),
    # We have no absolute/relative time values, so nothing is one.
    "isabstime": _type_test(lambda v: False),
    "isreltime": _type_test(lambda v: False),
    "int": fn_int,
    "real": fn_real,
    "string": fn_string,
    "bool": fn_bool,
}
