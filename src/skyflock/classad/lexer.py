"""Splits ClassAd source text into tokens.

The parser (`parser.py`) consumes these tokens; `errors.ClassAdSyntaxError`
reports lexical mistakes (an unterminated string, a stray character) with
their line and column. Comments (`// ...` and `/* ... */`) and white space are
skipped here. Keywords are case-insensitive, as in HTCondor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NoReturn

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


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    value: object
    offset: int
    quoted: bool = False  # a NAME written as 'quoted name'


_ESCAPE: Final = re.compile(r"\\([0-3][0-7]{0,2}|[4-7][0-7]?|.)", re.S)


def _escape_value(m: re.Match[str]) -> str:
    esc = m.group(1)
    if esc[0] in "01234567":
        return chr(int(esc, 8))
    return _ESCAPES.get(esc, esc)


# Blanks and comments, then one token: a single match per token. Strings use
# the unrolled form `"[^"\\]*(?:\\.[^"\\]*)*"` (no alternation per character).
_SKIP: Final = re.compile(r"(?:[ \t\r\n\f\v]+|//[^\n]*|/\*.*?\*/)*", re.S)
_TOKEN: Final = re.compile(
    r"""
    (?:[ \t\r\n\f\v]+|//[^\n]*|/\*.*?\*/)*
    (?:
     (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<real>(?:\d+\.\d+|\.\d+)(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)
    |(?P<int>\d+)
    |(?P<op>=\?=|=!=|>>>|<<|>>|<=|>=|==|!=|&&|\|\||[-+*%<>=!~&|^?:()\[\]{},;.]|/(?![*/]))
    |(?P<string>"[^"\\]*(?:\\.[^"\\]*)*")
    |(?P<qname>'[^'\\]*(?:\\.[^'\\]*)*')
    |(?P<end>\Z)
    )
    """,
    re.S | re.X,
)


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with an EOF token."""
    tokens: list[Token] = []
    append = tokens.append
    match = _TOKEN.match
    keywords = KEYWORDS
    i = 0
    n = len(text)
    while True:
        m = match(text, i)
        if m is None:
            _lex_error(text, _SKIP.match(text, i).end())  # type: ignore[union-attr]
        kind = m.lastgroup
        i = m.end()
        if kind == "name":
            word = m.group(kind)
            lower = word.lower()
            if lower in keywords:
                append(Token(lower, word, None, m.start(kind)))
            else:
                append(Token(NAME, word, word, m.start(kind)))
        elif kind == "op":
            word = m.group(kind)
            append(Token(OP, word, word, m.start(kind)))
        elif kind == "string":
            word = m.group(kind)
            body = word[1:-1]
            value = unescape(body) if "\\" in body else body
            append(Token(STRING, word, value, m.start(kind)))
        elif kind == "int" or kind == "real":
            word = m.group(kind)
            start = m.start(kind)
            if i < n and (text[i].isalnum() or text[i] == "_" or text[i] == "."):
                if kind == "int" and text[i] == ".":
                    pass  # `1.x` is a selection from 1; the parser decides
                elif text[i] in "eE":
                    raise ClassAdSyntaxError.at("malformed exponent in number", text, i)
                else:
                    raise ClassAdSyntaxError.at("malformed number", text, start)
            if kind == "real":
                append(Token(REAL, word, float(word), start))
            else:
                number = int(word)
                if number > INT64_MAX + 1 or (number > INT64_MAX and not _negated(tokens)):
                    raise ClassAdSyntaxError.at("integer does not fit in 64 bits", text, start)
                append(Token(INT, word, number, start))
        elif kind == "qname":
            word = m.group(kind)
            start = m.start(kind)
            body = word[1:-1]
            value = unescape(body) if "\\" in body else body
            if not value:
                raise ClassAdSyntaxError.at("empty quoted attribute name", text, start)
            append(Token(NAME, word, value, start, quoted=True))
        else:  # end of text
            break
    append(Token(EOF, "", None, n))
    return tokens


def _lex_error(text: str, i: int) -> NoReturn:
    ch = text[i]
    if ch == '"':
        raise ClassAdSyntaxError.at("unterminated string", text, i)
    if ch == "'":
        raise ClassAdSyntaxError.at("unterminated quoted attribute name", text, i)
    if text.startswith("/*", i):
        raise ClassAdSyntaxError.at("unterminated comment", text, i)
    raise ClassAdSyntaxError.at(f"unexpected character {ch!r}", text, i)


def unescape(body: str) -> str:
    """Decode backslash escapes: \\n \\t ..., octal \\ooo; an unknown \\c is c."""
    return _ESCAPE.sub(_escape_value, body)


def _negated(tokens: list[Token]) -> bool:
    return bool(tokens) and tokens[-1].kind == OP and tokens[-1].text == "-"
