"""Splits ClassAd source text into tokens.

The parser (`parser.py`) consumes these tokens; `errors.ClassAdSyntaxError`
reports lexical mistakes (an unterminated string, a stray character) with
their line and column. Comments (`// ...` and `/* ... */`) and white space are
skipped here. Keywords are case-insensitive, as in HTCondor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from skyflock.classad.errors import ClassAdSyntaxError

# Token kinds.
INT: Final = "int"
REAL: Final = "real"
STRING: Final = "string"
NAME: Final = "name"
OP: Final = "op"
EOF: Final = "eof"

KEYWORDS: Final = frozenset({"true", "false", "undefined", "error", "is", "isnt"})
"""Words that are never attribute names unless quoted ('true')."""

_OPERATORS: Final = (
    "=?=",
    "=!=",
    ">>>",
    "<<",
    ">>",
    "<=",
    ">=",
    "==",
    "!=",
    "&&",
    "||",
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    ">",
    "=",
    "!",
    "~",
    "&",
    "|",
    "^",
    "?",
    ":",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    ".",
)

_ESCAPES: Final = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "a": "\a",
    "\\": "\\",
    '"': '"',
    "'": "'",
    "?": "?",
}

INT64_MAX: Final = (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    value: object
    offset: int
    quoted: bool = False  # a NAME written as 'quoted name'


def _read_quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """Read a quoted string starting at the opening quote; return (value, end offset)."""
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            i += 1
            if i >= n:
                break
            esc = text[i]
            if esc in "01234567":
                j = i
                limit = i + (3 if esc in "0123" else 2)
                while j < n and j < limit and text[j] in "01234567":
                    j += 1
                out.append(chr(int(text[i:j], 8)))
                i = j
                continue
            out.append(_ESCAPES.get(esc, esc))
            i += 1
            continue
        out.append(ch)
        i += 1
    what = "string" if quote == '"' else "quoted attribute name"
    raise ClassAdSyntaxError.at(f"unterminated {what}", text, start)


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with an EOF token."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    append = tokens.append
    while True:
        # Skip white space and comments.
        while i < n:
            ch = text[i]
            if ch in " \t\r\n\f\v":
                i += 1
            elif text.startswith("//", i):
                j = text.find("\n", i)
                i = n if j < 0 else j + 1
            elif text.startswith("/*", i):
                j = text.find("*/", i + 2)
                if j < 0:
                    raise ClassAdSyntaxError.at("unterminated comment", text, i)
                i = j + 2
            else:
                break
        if i >= n:
            append(Token(EOF, "", None, n))
            return tokens
        ch = text[i]
        start = i
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            i = _number(text, i, tokens)
            continue
        if ch.isalpha() or ch == "_":
            while i < n and (text[i].isalnum() or text[i] == "_"):
                i += 1
            word = text[start:i]
            lower = word.lower()
            if lower in KEYWORDS:
                append(Token(lower, word, None, start))
            else:
                append(Token(NAME, word, word, start))
            continue
        if ch == '"':
            value, i = _read_quoted(text, i, '"')
            append(Token(STRING, text[start:i], value, start))
            continue
        if ch == "'":
            value, i = _read_quoted(text, i, "'")
            if not value:
                raise ClassAdSyntaxError.at("empty quoted attribute name", text, start)
            append(Token(NAME, text[start:i], value, start, quoted=True))
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                append(Token(OP, op, op, start))
                i += len(op)
                break
        else:
            raise ClassAdSyntaxError.at(f"unexpected character {ch!r}", text, start)


def _negated(tokens: list[Token]) -> bool:
    return bool(tokens) and tokens[-1].kind == OP and tokens[-1].text == "-"


def _number(text: str, i: int, tokens: list[Token]) -> int:
    n = len(text)
    start = i
    while i < n and text[i].isdigit():
        i += 1
    is_real = False
    if i < n and text[i] == "." and i + 1 < n and text[i + 1].isdigit():
        is_real = True
        i += 1
        while i < n and text[i].isdigit():
            i += 1
    if i < n and text[i] in "eE":
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if j < n and text[j].isdigit():
            is_real = True
            i = j
            while i < n and text[i].isdigit():
                i += 1
        else:
            raise ClassAdSyntaxError.at("malformed exponent in number", text, i)
    if i < n and (text[i].isalpha() or text[i] == "_"):
        raise ClassAdSyntaxError.at("malformed number", text, start)
    literal = text[start:i]
    if is_real:
        tokens.append(Token(REAL, literal, float(literal), start))
    else:
        value = int(literal)
        if value > INT64_MAX + 1 or (value > INT64_MAX and not _negated(tokens)):
            raise ClassAdSyntaxError.at("integer does not fit in 64 bits", text, start)
        tokens.append(Token(INT, literal, value, start))
    return i
