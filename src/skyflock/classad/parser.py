"""Turns ClassAd source text into an expression tree (`nodes.Expr`).

A precedence-climbing parser over the tokens of `lexer`, with HTCondor's
precedence and associativity (lowest first): `?:` (right-associative, also
the two-operand `?:`), `||`, `&&`, `|`, `^`, `&`, equality (`==`, `!=`,
`=?=`, `=!=`, `is`, `isnt`), relational (`<`, `<=`, `>`, `>=`), shifts
(`<<`, `>>`, `>>>`), `+ -`, `* / %`, unary `- + ! ~`, then selection,
subscripts and calls. Every binary operator is left-associative. Mistakes
raise `ClassAdSyntaxError` with line, column and a caret excerpt.
`forms.py` uses `Parser` to read whole ads.
"""

from __future__ import annotations

import math
from typing import Final

from skyflock.classad import lexer
from skyflock.classad.errors import ClassAdSyntaxError
from skyflock.classad.lexer import Token
from skyflock.classad.nodes import (
    ERROR_LITERAL,
    FALSE_LITERAL,
    SCOPES,
    TRUE_LITERAL,
    UNDEFINED_LITERAL,
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

BINARY_PRECEDENCE: Final[dict[str, int]] = {
    "||": 1,
    "&&": 2,
    "|": 3,
    "^": 4,
    "&": 5,
    "==": 6,
    "!=": 6,
    "=?=": 6,
    "=!=": 6,
    "is": 6,
    "isnt": 6,
    "<": 7,
    "<=": 7,
    ">": 7,
    ">=": 7,
    "<<": 8,
    ">>": 8,
    ">>>": 8,
    "+": 9,
    "-": 9,
    "*": 10,
    "/": 10,
    "%": 10,
}
"""Binding strength of each binary operator (higher binds tighter)."""

UNARY_PRECEDENCE: Final = 11
CONDITIONAL_PRECEDENCE: Final = 0
MAX_DEPTH: Final = 80
"""Nesting deeper than this is refused (a clear error instead of a RecursionError)."""


def _describe(tok: Token) -> str:
    if tok.kind == lexer.EOF:
        return "end of input"
    return repr(tok.text)


class Parser:
    """A cursor over the tokens of one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = lexer.tokenize(text)
        eof = self.tokens[-1]
        self.tokens += [eof, eof, eof]  # so peeking ahead never runs off the end
        self.pos = 0
        self.depth = 0

    # -- cursor --------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[self.pos + ahead]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != lexer.EOF:
            self.pos += 1
        return tok

    def at_op(self, op: str) -> bool:
        tok = self.tokens[self.pos]
        return tok.kind == lexer.OP and tok.text == op

    def error(self, message: str, tok: Token | None = None) -> ClassAdSyntaxError:
        tok = tok or self.peek()
        return ClassAdSyntaxError.at(message, self.text, tok.offset)

    def expect_op(self, op: str, context: str) -> Token:
        tok = self.peek()
        if tok.kind == lexer.OP and tok.text == op:
            return self.advance()
        raise self.error(f"expected {op!r} {context} but found {_describe(tok)}")

    def expect_end(self) -> None:
        tok = self.peek()
        if tok.kind != lexer.EOF:
            raise self.error(f"unexpected {_describe(tok)} after the end of the expression")

    # -- grammar -------------------------------------------------------------
    def expression(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("expression nested too deeply")
        try:
            return self._conditional()
        finally:
            self.depth -= 1

    def _conditional(self) -> Expr:
        test = self._binary(1)
        if not self.at_op("?"):
            return test
        self.advance()
        then = self.expression()
        self.expect_op(":", "in a conditional (test ? then : else)")
        return Conditional(test, then, self.expression())

    def _at_elvis(self) -> bool:
        nxt = self.peek(1)
        return self.at_op("?") and nxt.kind == lexer.OP and nxt.text == ":"

    def _binary_op(self) -> str | None:
        tok = self.peek()
        if tok.kind == lexer.OP and tok.text in BINARY_PRECEDENCE:
            return tok.text
        if tok.kind in ("is", "isnt"):
            return tok.kind
        return None

    def _binary(self, min_prec: int) -> Expr:
        left = self._unary()
        while True:
            op = self._binary_op()
            if op is None:
                return left
            prec = BINARY_PRECEDENCE[op]
            if prec < min_prec:
                return left
            self.advance()
            right = self._binary(prec + 1)
            left = Binary(op, left, right)

    def _unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == lexer.OP and tok.text in ("-", "+", "!", "~"):
            self.advance()
            nxt = self.peek()
            if (
                tok.text == "-"
                and nxt.kind in (lexer.INT, lexer.REAL)
                and not self._postfix_follows()
            ):
                # A negative number is one literal (so `-1` prints and re-reads the same).
                self.advance()
                return Literal(-nxt.value)  # type: ignore[operator]
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error("expression nested too deeply")
            try:
                return Unary(tok.text, self._unary())
            finally:
                self.depth -= 1
        return self._postfix()

    def _postfix_follows(self) -> bool:
        nxt = self.peek(1)
        if nxt.kind != lexer.OP:
            return False
        if nxt.text == "?":
            after = self.peek(2)
            return after.kind == lexer.OP and after.text == ":"
        return nxt.text in (".", "[")

    def _postfix(self) -> Expr:
        # The two-operand `a ?: b` binds tighter than every other operator, as
        # in HTCondor: `1 + undefined ?: 5` is 6, `-undefined ?: 5` is -5.
        expr = self._selection()
        while self._at_elvis():
            self.advance()
            self.advance()
            tok = self.peek()
            nxt = self.peek(1)
            if tok.kind == lexer.OP and tok.text == "-" and nxt.kind in (lexer.INT, lexer.REAL):
                self.advance()
                self.advance()
                right: Expr = Literal(-nxt.value)  # type: ignore[operator]
            else:
                right = self._selection()
            expr = Elvis(expr, right)
        return expr

    def _selection(self) -> Expr:
        expr = self._primary()
        while True:
            if self.at_op("."):
                self.advance()
                name = self._attribute_name("after '.'")
                expr = Select(expr, name)
            elif self.at_op("["):
                self.advance()
                index = self.expression()
                self.expect_op("]", "to close the subscript")
                expr = Subscript(expr, index)
            else:
                return expr

    def _attribute_name(self, context: str) -> str:
        tok = self.peek()
        if tok.kind == lexer.NAME:
            self.advance()
            return str(tok.value)
        raise self.error(f"expected an attribute name {context} but found {_describe(tok)}")

    def _primary(self) -> Expr:
        tok = self.peek()
        kind = tok.kind
        if kind == lexer.INT or kind == lexer.REAL or kind == lexer.STRING:
            self.advance()
            return Literal(tok.value)  # type: ignore[arg-type]
        if kind == "true":
            self.advance()
            return TRUE_LITERAL
        if kind == "false":
            self.advance()
            return FALSE_LITERAL
        if kind == "undefined":
            self.advance()
            return UNDEFINED_LITERAL
        if kind == "error":
            self.advance()
            return ERROR_LITERAL
        if kind == lexer.NAME:
            return self._name()
        if kind == lexer.OP:
            op = tok.text
            if op == "(":
                self.advance()
                inner = self.expression()
                self.expect_op(")", "to close '('")
                return Paren(inner)
            if op == "{":
                return self._list()
            if op == "[":
                return self.ad_literal()
            if op == ".":
                self.advance()
                return AttrRef(self._attribute_name("after '.'"), "root")
        if kind == lexer.EOF:
            raise self.error("unexpected end of input: an expression is missing")
        raise self.error(f"unexpected {_describe(tok)}: expected an expression")

    def _name(self) -> Expr:
        tok = self.advance()
        name = str(tok.value)
        if not tok.quoted and self.at_op("("):
            self.advance()
            args: list[Expr] = []
            if not self.at_op(")"):
                args.append(self.expression())
                while self.at_op(","):
                    self.advance()
                    args.append(self.expression())
            self.expect_op(")", f"to close the arguments of {name}()")
            special = _special_real(name, args)
            return special if special is not None else Call(name, tuple(args))
        lower = name.lower()
        if not tok.quoted and lower in SCOPES and self.at_op("."):
            nxt = self.peek(1)
            if nxt.kind == lexer.NAME:
                self.advance()
                self.advance()
                return AttrRef(str(nxt.value), lower)
        return AttrRef(name)

    def _list(self) -> Expr:
        self.expect_op("{", "to open a list")
        items: list[Expr] = []
        if not self.at_op("}"):
            items.append(self.expression())
            while self.at_op(","):
                self.advance()
                items.append(self.expression())
        self.expect_op("}", "to close the list (or ',' between items)")
        return ListExpr(tuple(items))

    def ad_literal(self) -> AdExpr:
        """`[ name = expr; ... ]` (a trailing `;` is allowed)."""
        self.expect_op("[", "to open an ad")
        entries: list[tuple[str, Expr]] = []
        while not self.at_op("]"):
            tok = self.peek()
            if tok.kind != lexer.NAME:
                if tok.kind == lexer.EOF:
                    raise self.error("unexpected end of input: ']' is missing to close the ad")
                raise self.error(f"expected an attribute name in the ad but found {_describe(tok)}")
            self.advance()
            self.expect_op("=", f"after the attribute name {tok.value}")
            entries.append((str(tok.value), self.expression()))
            if self.at_op(";"):
                self.advance()
            elif not self.at_op("]"):
                raise self.error(
                    f"expected ';' or ']' after the definition of {tok.value} "
                    f"but found {_describe(self.peek())}"
                )
        self.advance()
        return AdExpr(tuple(entries))


_SPECIAL_REALS: Final = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _special_real(name: str, args: list[Expr]) -> Literal | None:
    """`real("INF")`, `real("-INF")`, `real("NaN")`: how reals without digits are
    written, read back as the literal they print from."""
    if name.lower() != "real" or len(args) != 1 or type(args[0]) is not Literal:
        return None
    text = args[0].value
    if type(text) is not str or text.lower() not in _SPECIAL_REALS:
        return None
    return Literal(_SPECIAL_REALS[text.lower()])


def parse(text: str) -> Expr:
    """Parse one ClassAd expression; raise `ClassAdSyntaxError` if it is malformed."""
    if not isinstance(text, str):
        raise TypeError("parse() takes the expression's source text")
    p = Parser(text)
    expr = p.expression()
    p.expect_end()
    return expr
