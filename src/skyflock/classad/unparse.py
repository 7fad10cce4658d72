"""Prints expression trees back as ClassAd source text.

`str(expr)` calls `unparse`. The output re-parses to an equal tree: operators
get the parentheses their precedence needs (those the author wrote are kept as
`Paren` nodes), strings and quoted names are escaped, reals always carry a
`.` or an exponent, and infinities and NaN print as `real("INF")` /
`real("NaN")`. Neighbours: `parser` (the inverse), `forms` (whole ads).
"""

from __future__ import annotations

import math
import re
from typing import Final

from skyflock.classad.lexer import KEYWORDS
from skyflock.classad.nodes import (
    SCOPES,
    AdExpr,
    AttrRef,
    Binary,
    Call,
    Conditional,
    Elvis,
    Expr,
    ListExpr,
    Literal,
    Paren,
    Select,
    Subscript,
    Unary,
)
from skyflock.classad.parser import BINARY_PRECEDENCE, UNARY_PRECEDENCE
from skyflock.classad.values import ERROR, UNDEFINED

_POSTFIX: Final = 12
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_STRING_ESCAPES: Final = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}
# Other control characters print as octal escapes.
_CONTROL: Final = {c: f"\\{c:03o}" for c in (*range(32), 127)}
_STRING_TABLE: Final = {**_CONTROL, **{ord(k): v for k, v in _STRING_ESCAPES.items()}}
_NAME_TABLE: Final = {**_CONTROL, **{ord(k): v for k, v in _STRING_ESCAPES.items() if k != '"'}}
_NAME_TABLE[ord("'")] = "\\'"
_NEEDS_ESCAPE: Final = re.compile(r'[\x00-\x1f\x7f"\\]')


def quote_string(s: str) -> str:
    """A ClassAd string literal for `s`."""
    if _NEEDS_ESCAPE.search(s) is None:
        return '"' + s + '"'
    return '"' + s.translate(_STRING_TABLE) + '"'


def quote_name(name: str) -> str:
    """An attribute name as written in source: bare when possible, else 'quoted'."""
    if _IDENT.match(name) and name.lower() not in KEYWORDS:
        return name
    return "'" + name.translate(_NAME_TABLE) + "'"


def format_real(x: float) -> str:
    if math.isnan(x):
        return 'real("NaN")'
    if math.isinf(x):
        return 'real("INF")' if x > 0 else 'real("-INF")'
    text = repr(x)
    if "." not in text and "e" not in text and "E" not in text:
        text += ".0"
    return text


def format_literal(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is UNDEFINED:
        return "undefined"
    if value is ERROR:
        return "error"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_real(value)
    if isinstance(value, str):
        return quote_string(value)
    raise TypeError(f"not a literal value: {value!r}")


def precedence(expr: Expr) -> int:
    t = type(expr)
    if t is Binary:
        return BINARY_PRECEDENCE[expr.op]  # type: ignore[attr-defined]
    if t is Conditional:
        return 0
    if t is Unary:
        return UNARY_PRECEDENCE
    if t is Literal:
        v = expr.value  # type: ignore[attr-defined]
        if isinstance(v, int | float) and not isinstance(v, bool) and (v < 0 or math.isinf(v)):
            return UNARY_PRECEDENCE
        if isinstance(v, float) and math.isnan(v):
            return _POSTFIX
    return _POSTFIX


def _wrap(expr: Expr, minimum: int) -> str:
    text = unparse(expr)
    return f"({text})" if precedence(expr) < minimum else text


def _negative_number(expr: Expr) -> bool:
    if type(expr) is not Literal:
        return False
    v = expr.value
    return isinstance(v, int | float) and not isinstance(v, bool) and v < 0


def _wrap_base(expr: Expr) -> str:
    """The base of `.name` or `[i]`: an ?: needs parentheses there too."""
    text = unparse(expr)
    return f"({text})" if type(expr) is Elvis or precedence(expr) < _POSTFIX else text


def unparse(expr: Expr) -> str:
    """ClassAd source text for `expr`."""
    t = type(expr)
    if t is Literal:
        return format_literal(expr.value)  # type: ignore[attr-defined]
    if t is AttrRef:
        assert isinstance(expr, AttrRef)
        if expr.scope == "root":
            return "." + quote_name(expr.name)
        if expr.scope is not None:
            return f"{expr.scope.upper()}.{quote_name(expr.name)}"
        return quote_name(expr.name)
    if t is Binary:
        assert isinstance(expr, Binary)
        prec = BINARY_PRECEDENCE[expr.op]
        return f"{_wrap(expr.left, prec)} {expr.op} {_wrap(expr.right, prec + 1)}"
    if t is Unary:
        assert isinstance(expr, Unary)
        inner = _wrap(expr.operand, UNARY_PRECEDENCE)
        sep = " " if inner[:1] in ("-", "+") else ""
        return f"{expr.op}{sep}{inner}"
    if t is Paren:
        assert isinstance(expr, Paren)
        return f"({unparse(expr.inner)})"
    if t is Conditional:
        assert isinstance(expr, Conditional)
        return f"{_wrap(expr.test, 1)} ? {unparse(expr.then)} : {unparse(expr.otherwise)}"
    if t is Elvis:
        assert isinstance(expr, Elvis)
        right = expr.otherwise
        if type(right) is Elvis or (precedence(right) < _POSTFIX and not _negative_number(right)):
            right_text = f"({unparse(right)})"
        else:
            right_text = unparse(right)
        return f"{_wrap(expr.test, _POSTFIX)} ?: {right_text}"
    if t is Select:
        assert isinstance(expr, Select)
        base = expr.base
        if type(base) is AttrRef and base.scope is None and base.key in SCOPES:
            base_text = "'" + base.name + "'"
        else:
            base_text = _wrap_base(base)
        return f"{base_text}.{quote_name(expr.name)}"
    if t is Subscript:
        assert isinstance(expr, Subscript)
        return f"{_wrap_base(expr.base)}[{unparse(expr.index)}]"
    if t is Call:
        assert isinstance(expr, Call)
        return f"{expr.name}({', '.join(unparse(a) for a in expr.args)})"
    if t is ListExpr:
        assert isinstance(expr, ListExpr)
        if not expr.items:
            return "{}"
        return "{ " + ", ".join(unparse(i) for i in expr.items) + " }"
    if t is AdExpr:
        assert isinstance(expr, AdExpr)
        if not expr.entries:
            return "[]"
        body = "; ".join(f"{quote_name(n)} = {unparse(e)}" for n, e in expr.entries)
        return f"[ {body} ]"
    raise TypeError(f"cannot print {expr!r}")


def format_value(value: object) -> str:
    """ClassAd source text for an evaluated value (lists and ads included)."""
    from skyflock.classad.ad import ClassAd

    if isinstance(value, list):
        if not value:
            return "{}"
        return "{ " + ", ".join(format_value(v) for v in value) + " }"
    if isinstance(value, ClassAd):
        return unparse(value.as_expr())
    return format_literal(value)
