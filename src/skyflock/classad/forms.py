"""Reading and printing whole ads in the three forms users meet.

* new: `[ a = 1; b = "x" ]` (the ClassAd language itself);
* old: one `Name = expr` per line, as `condor_q -l` prints;
* JSON: HTCondor's mapping: numbers, strings, booleans, `null` for
  UNDEFINED, arrays for lists, objects for nested ads, and any other
  expression as the string `"\\/Expr(<source>)\\/"` (with the slashes escaped;
  a plain `"/Expr(x)/"` stays a string, as HTCondor reads it).

`parse_ad` detects the form. Parse -> print -> parse gives an equal ad in every
form. Mistakes raise `ClassAdSyntaxError` naming the line and column in the
whole text. Neighbours: `parser` for expressions, `ad.ClassAd`.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Final

from skyflock.classad.errors import ClassAdSyntaxError
from skyflock.classad.lexer import unescape
from skyflock.classad.nodes import AdExpr, Expr, ListExpr, Literal
from skyflock.classad.parser import Parser, parse
from skyflock.classad.unparse import format_real, quote_name, unparse
from skyflock.classad.values import ERROR, UNDEFINED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd

# Old-form lines end at "\n" only (a "\r" before it is blank space), as in
# HTCondor: other characters `str.splitlines` breaks on (\v, \f, \x1c-\x1e,
# \x85, \u2028, \u2029) may stand unescaped inside a string.
_OLD_BLANK: Final = " \t\r\f\v"
_OLD_LINE: Final = re.compile(
    r"[ \t\r\f\v]*([A-Za-z_][A-Za-z0-9_]*|'(?:[^'\\]|\\.)+')[ \t\r\f\v]*=(?![=?!])"
)


def detect_form(text: str) -> str:
    """'new', 'old' or 'json' for the text of one ad."""
    stripped = _skip_space(text, 0)
    if stripped >= len(text):
        return "old"
    ch = text[stripped]
    if ch == "{":
        return "json"
    if ch == "[":
        nxt = _skip_space(text, stripped + 1)
        if nxt < len(text) and text[nxt] == "{":
            return "json"
        return "new"
    return "old"


def _skip_space(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        if text[i].isspace():
            i += 1
        elif text.startswith("//", i) or text[i] == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            break
    return i


def parse_ad(text: str, form: str | None = None) -> ClassAd:
    """One ad from `text` in the given form (detected when None)."""
    form = form or detect_form(text)
    if form == "new":
        return parse_new(text)
    if form == "old":
        return parse_old(text)
    if form == "json":
        return parse_json(text)
    raise ValueError(f"unknown ad form {form!r} (new, old or json)")


def format_ad(ad: ClassAd, form: str = "new") -> str:
    if form == "new":
        return format_new(ad)
    if form == "old":
        return format_old(ad)
    if form == "json":
        return format_json(ad)
    raise ValueError(f"unknown ad form {form!r} (new, old or json)")


def _to_ad(expr: AdExpr) -> ClassAd:
    from skyflock.classad.ad import ClassAd

    ad = ClassAd()
    for name, value in expr.entries:
        ad[name] = value
    return ad


# -- new form ----------------------------------------------------------------
def parse_new(text: str) -> ClassAd:
    p = Parser(text)
    expr = p.ad_literal()
    p.expect_end()
    return _to_ad(expr)


def format_new(ad: ClassAd) -> str:
    if len(ad) == 0:
        return "[]"
    lines = [f"  {quote_name(name)} = {unparse(expr)}" for name, expr in ad.items()]
    return "[\n" + ";\n".join(lines) + "\n]"


# -- old form ----------------------------------------------------------------
def parse_old(text: str) -> ClassAd:
    from skyflock.classad.ad import ClassAd

    ad = ClassAd()
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.strip(_OLD_BLANK)
        if not body or body.startswith("#") or body.startswith("//"):
            continue
        m = _OLD_LINE.match(line)
        if m is None:
            col = len(line) - len(line.lstrip(_OLD_BLANK)) + 1
            raise ClassAdSyntaxError.at(
                "expected 'Name = expression'", text, _offset(text, number, col)
            )
        name = m.group(1)
        if name.startswith("'"):
            name = unescape(name[1:-1])
        start = m.end()
        try:
            expr = parse(line[start:])
        except ClassAdSyntaxError as err:
            raise err.shifted(text, number - 1, start) from None
        ad[name] = expr
    return ad


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    return sum(len(x) + 1 for x in lines[: line - 1]) + column - 1


def format_old(ad: ClassAd) -> str:
    return "".join(f"{quote_name(name)} = {unparse(expr)}\n" for name, expr in ad.items())


# -- JSON --------------------------------------------------------------------
_JSON_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


class _JsonReader:
    """A JSON reader that remembers whether a string was written `"\\/Expr(...)\\/"`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def error(self, message: str, offset: int | None = None) -> ClassAdSyntaxError:
        return ClassAdSyntaxError.at(message, self.text, self.i if offset is None else offset)

    def space(self) -> None:
        n = len(self.text)
        while self.i < n and self.text[self.i] in " \t\r\n":
            self.i += 1

    def value(self) -> Expr:
        self.space()
        t = self.text
        if self.i >= len(t):
            raise self.error("unexpected end of JSON input")
        ch = t[self.i]
        if ch == "{":
            return self.obj()
        if ch == "[":
            return self.array()
        if ch == '"':
            return self.string_value()
        for word, lit in (("true", True), ("false", False), ("null", UNDEFINED)):
            if t.startswith(word, self.i):
                self.i += len(word)
                return Literal(lit)
        m = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?").match(t, self.i)
        if m is None:
            raise self.error(f"unexpected {ch!r} in JSON")
        self.i = m.end()
        if m.group(1) or m.group(2):
            return Literal(float(m.group(0)))
        value = int(m.group(0))
        if not -(1 << 63) <= value < (1 << 63):
            raise self.error("integer does not fit in 64 bits", m.start())
        return Literal(value)

    def raw_string(self) -> tuple[str, bool]:
        """(decoded text, whether it was written as an escaped /Expr(...)/ marker)."""
        t = self.text
        start = self.i
        self.i += 1
        out: list[str] = []
        while True:
            if self.i >= len(t):
                raise self.error("unterminated JSON string", start)
            ch = t[self.i]
            if ch == '"':
                self.i += 1
                break
            if ch == "\\":
                esc = t[self.i + 1 : self.i + 2]
                if esc == "u":
                    digits = t[self.i + 2 : self.i + 6]
                    if not re.fullmatch(r"[0-9a-fA-F]{4}", digits):
                        raise self.error("bad \\u escape in JSON string")
                    out.append(chr(int(digits, 16)))
                    self.i += 6
                    continue
                if esc not in _JSON_ESCAPES:
                    raise self.error(f"bad escape \\{esc} in JSON string")
                out.append(_JSON_ESCAPES[esc])
                self.i += 2
                continue
            out.append(ch)
            self.i += 1
        raw = t[start : self.i]
        is_expr = raw.startswith('"\\/Expr(') and raw.endswith(')\\/"')
        return "".join(out), is_expr

    def string_value(self) -> Expr:
        start = self.i
        value, is_expr = self.raw_string()
        if not is_expr:
            return Literal(value)
        source = value[len("/Expr(") : -len(")/")]
        try:
            return parse(source)
        except ClassAdSyntaxError as err:
            # Report at the start of the embedded expression.
            offset = start + len('"\\/Expr(') + (err.column - 1 if err.line == 1 else 0)
            raise ClassAdSyntaxError.at(
                f"in embedded expression: {err.message}", self.text, offset
            ) from None

    def array(self) -> Expr:
        self.i += 1
        items: list[Expr] = []
        self.space()
        if self.text.startswith("]", self.i):
            self.i += 1
            return ListExpr(())
        while True:
            items.append(self.value())
            self.space()
            if self.text.startswith(",", self.i):
                self.i += 1
            elif self.text.startswith("]", self.i):
                self.i += 1
                return ListExpr(tuple(items))
            else:
                raise self.error("expected ',' or ']' in JSON array")

    def obj(self) -> AdExpr:
        self.i += 1
        entries: list[tuple[str, Expr]] = []
        self.space()
        if self.text.startswith("}", self.i):
            self.i += 1
            return AdExpr(())
        while True:
            self.space()
            if not self.text.startswith('"', self.i):
                raise self.error("expected a quoted attribute name in JSON object")
            name, _ = self.raw_string()
            if not name:
                raise self.error("empty attribute name in JSON object")
            self.space()
            if not self.text.startswith(":", self.i):
                raise self.error("expected ':' after the attribute name in JSON object")
            self.i += 1
            entries.append((name, self.value()))
            self.space()
            if self.text.startswith(",", self.i):
                self.i += 1
            elif self.text.startswith("}", self.i):
                self.i += 1
                return AdExpr(tuple(entries))
            else:
                raise self.error("expected ',' or '}' in JSON object")


def parse_json(text: str) -> ClassAd:
    """One ad from HTCondor JSON: an object, or a list holding exactly one object."""
    reader = _JsonReader(text)
    reader.space()
    if reader.text.startswith("[", reader.i):
        value = reader.array()
        items = value.items if isinstance(value, ListExpr) else ()
        if len(items) != 1 or not isinstance(items[0], AdExpr):
            raise reader.error("expected a JSON list holding exactly one ad", 0)
        result = items[0]
    else:
        if not reader.text.startswith("{", reader.i):
            raise reader.error("expected a JSON object")
        result = reader.obj()
    reader.space()
    if reader.i < len(text):
        raise reader.error("unexpected text after the JSON ad")
    return _to_ad(result)


def parse_json_ads(text: str) -> list[ClassAd]:
    """Every ad of a JSON list of ads (or a single object)."""
    reader = _JsonReader(text)
    reader.space()
    if reader.text.startswith("{", reader.i):
        return [parse_json(text)]
    value = reader.value()
    reader.space()
    if reader.i < len(text):
        raise reader.error("unexpected text after the JSON ads")
    if not isinstance(value, ListExpr) or not all(isinstance(x, AdExpr) for x in value.items):
        raise ClassAdSyntaxError.at("expected a JSON list of ads", text, 0)
    return [_to_ad(x) for x in value.items if isinstance(x, AdExpr)]


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _json_expr(expr: Expr) -> str:
    return '"\\/Expr(' + _json_string(unparse(expr))[1:-1] + ')\\/"'


def _json_value(expr: Expr, indent: int) -> str:
    pad = "  " * (indent + 1)
    t = type(expr)
    if t is Literal:
        v = expr.value  # type: ignore[attr-defined]
        if v is True:
            return "true"
        if v is False:
            return "false"
        if v is UNDEFINED:
            return "null"
        if v is ERROR:
            return _json_expr(expr)
        if isinstance(v, int):
            return str(v)
        if isinstance(v, float):
            if math.isinf(v) or math.isnan(v):
                return _json_expr(expr)
            return format_real(v)
        if isinstance(v, str):
            return _json_string(v)
    if t is ListExpr:
        items = expr.items  # type: ignore[attr-defined]
        if not items:
            return "[]"
        body = ",\n".join(pad + _json_value(i, indent + 1) for i in items)
        return "[\n" + body + "\n" + "  " * indent + "]"
    if t is AdExpr:
        entries = expr.entries  # type: ignore[attr-defined]
        if not entries:
            return "{}"
        body = ",\n".join(
            f"{pad}{_json_string(n)}: {_json_value(e, indent + 1)}" for n, e in entries
        )
        return "{\n" + body + "\n" + "  " * indent + "}"
    return _json_expr(expr)


def format_json(ad: ClassAd) -> str:
    return _json_value(ad.as_expr(), 0)
