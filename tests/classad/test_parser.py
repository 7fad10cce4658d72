"""Parsing: precedence and associativity, literals, printing, and malformed input."""

from __future__ import annotations

import pytest

from skyflock.classad import ClassAdSyntaxError, parse
from skyflock.classad.nodes import AttrRef, Binary, Elvis, Literal, Select, Unary
from skyflock.classad.values import ERROR, UNDEFINED


def shape(text: str) -> str:
    """The expression fully parenthesised, to show how it grouped."""

    def walk(e: object) -> str:
        if isinstance(e, Binary):
            return f"({walk(e.left)} {e.op} {walk(e.right)})"
        if isinstance(e, Unary):
            return f"({e.op}{walk(e.operand)})"
        if isinstance(e, Elvis):
            return f"({walk(e.test)} ?: {walk(e.otherwise)})"
        from skyflock.classad.nodes import Conditional, Paren

        if isinstance(e, Conditional):
            return f"({walk(e.test)} ? {walk(e.then)} : {walk(e.otherwise)})"
        if isinstance(e, Paren):
            return walk(e.inner)
        return str(e)

    return walk(parse(text))


@pytest.mark.parametrize(
    ("text", "grouped"),
    [
        ("a || b && c", "(a || (b && c))"),
        ("a && b | c", "(a && (b | c))"),
        ("a | b ^ c", "(a | (b ^ c))"),
        ("a ^ b & c", "(a ^ (b & c))"),
        ("a & b == c", "(a & (b == c))"),
        ("a == b < c", "(a == (b < c))"),
        ("a is b isnt c", "((a is b) isnt c)"),
        ("a =?= b =!= c", "((a =?= b) =!= c)"),
        ("a < b << c", "(a < (b << c))"),
        ("a >> b + c", "(a >> (b + c))"),
        ("a >>> b - c", "(a >>> (b - c))"),
        ("a + b * c", "(a + (b * c))"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b % c", "((a / b) % c)"),
        ("-a * b", "((-a) * b)"),
        ("!a && b", "((!a) && b)"),
        ("~a | b", "((~a) | b)"),
        ("a ? b : c ? d : e", "(a ? b : (c ? d : e))"),
        ("a || b ? c : d", "((a || b) ? c : d)"),
        ("a ? b || c : d", "(a ? (b || c) : d)"),
        ("1 + undefined ?: 5", "(1 + (undefined ?: 5))"),
        ("-a ?: b", "(-(a ?: b))"),
        ("a ?: b ?: c", "((a ?: b) ?: c)"),
        ("a ?: b ? c : d", "((a ?: b) ? c : d)"),
        ("a ?: -2", "(a ?: -2)"),
        ("(a + b) * c", "((a + b) * c)"),
        ("a <= b >= c", "((a <= b) >= c)"),
        ("a != b == c", "((a != b) == c)"),
    ],
)
def test_precedence_and_associativity(text: str, grouped: str) -> None:
    assert shape(text) == grouped


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("9223372036854775807", 9223372036854775807),
        ("-9223372036854775808", -9223372036854775808),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ('"a\\"b"', 'a"b'),
        ('"tab\\there"', "tab\there"),
        ('"\\101\\102"', "AB"),
        ('"back\\\\slash"', "back\\slash"),
        ('"new\\nline"', "new\nline"),
        ('"\\q"', "q"),
        ("true", True),
        ("FALSE", False),
        ("Undefined", UNDEFINED),
        ("ERROR", ERROR),
    ],
)
def test_literals(text: str, value: object) -> None:
    expr = parse(text)
    assert isinstance(expr, Literal)
    assert type(expr.value) is type(value)
    assert expr.value == value or expr.value is value


def test_references_and_scopes() -> None:
    assert parse("MY.x") == AttrRef("x", "my")
    assert parse("target.Memory") == AttrRef("memory", "target")
    assert parse("PARENT.a") == AttrRef("A", "parent")
    assert parse("'my'.x") == Select(AttrRef("my"), "x")
    assert parse("a.b") == Select(AttrRef("a"), "b")
    assert parse("Memory") == parse("MEMORY")  # names are case-insensitive
    assert parse("'odd name'") == AttrRef("odd name")
    assert parse(".x") == AttrRef("x", "root")


def test_comments_are_skipped() -> None:
    assert parse("a /* one */ + // two\n b") == parse("a + b")


@pytest.mark.parametrize(
    "text",
    [
        "a + b * c",
        "(a + b) * c",
        "a - (b - c)",
        "-(-1)",
        "- -1",
        '{ 1, "two", [ x = 3; y = { true, undefined } ] }',
        "[ a = 1; b = a + 1 ]",
        "MY.a && TARGET.b || PARENT.c",
        "f(1, g(2), {})",
        "x ? y : z ? u : v",
        "(a ?: b).c",
        "a ?: (b ?: c)",
        "(-1)[0]",
        "'odd name' + 'true'",
        'real("INF") + -real("INF") + real("NaN")',
        '"quote \\" backslash \\\\ newline \\n tab \\t ctl \\001"',
        "1.0 + 1e300 + 2.5e-10 + -0.0",
        "a =?= b is c isnt d =!= e",
        "a >>> 1 << 2 >> 3",
        "~a & !b | c ^ d",
        ".x + y",
    ],
)
def test_print_then_parse_gives_the_same_tree(text: str) -> None:
    expr = parse(text)
    assert parse(str(expr)) == expr
    assert str(parse(str(expr))) == str(expr)


MALFORMED = [
    # (text, line, column)
    ("", 1, 1),
    ("   ", 1, 4),
    ("a +", 1, 4),
    ("+", 1, 2),
    ("a + * b", 1, 5),
    ("* a", 1, 1),
    ("a b", 1, 3),
    ("(a", 1, 3),
    ("a)", 1, 2),
    ("((a + b)", 1, 9),
    ("{1, 2", 1, 6),
    ("{1 2}", 1, 4),
    ("{1,}", 1, 4),
    ("{,}", 1, 2),
    ("[a = 1", 1, 7),
    ("[a 1]", 1, 4),
    ("[a = ]", 1, 6),
    ("[= 1]", 1, 2),
    ("[a = 1 b = 2]", 1, 8),
    ("[1 = 2]", 1, 2),
    ("[true = 1]", 1, 2),
    ("a ? b", 1, 6),
    ("a ? b c", 1, 7),
    ("a ? : ", 1, 7),
    ("? a", 1, 1),
    (": a", 1, 1),
    ('"unterminated', 1, 1),
    ("'unterminated", 1, 1),
    ("''", 1, 1),
    ("/* never closed", 1, 1),
    ("a $ b", 1, 3),
    ("a @ b", 1, 3),
    ("#", 1, 1),
    ("1e", 1, 2),
    ("1e+", 1, 2),
    ("1.5.x", 1, 1),
    ("12abc", 1, 1),
    ("9223372036854775808", 1, 1),
    ("1.", 1, 3),
    ("a.", 1, 3),
    ("a.1", 1, 2),
    ("MY.", 1, 4),
    ("a[", 1, 3),
    ("a[1", 1, 4),
    ("a[]", 1, 3),
    ("f(", 1, 3),
    ("f(1,", 1, 5),
    ("f(1 2)", 1, 5),
    ("f(,)", 1, 3),
    ("a = b", 1, 3),
    ("a == = b", 1, 6),
    ("a && || b", 1, 6),
    ("!", 1, 2),
    ("a\n+\n* b", 3, 1),
    ("x &&\n  (y ||\n   z", 3, 5),
    ("[\n  a = 1;\n  b = ;\n]", 3, 7),
    ("a ** b", 1, 4),
    ("a <> b", 1, 4),
    ("a === b", 1, 5),
    ("is", 1, 1),
    ("a is", 1, 5),
    ("(", 1, 2),
    (")", 1, 1),
]


@pytest.mark.parametrize(("text", "line", "column"), MALFORMED)
def test_malformed_expressions_name_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ClassAdSyntaxError) as info:
        parse(text)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    source_line, caret = err.excerpt.split("\n")
    assert source_line == (text.splitlines()[line - 1] if text.splitlines() else "")
    assert caret == " " * (column - 1) + "^"
    assert f"line {line}, column {column}" in str(err)


def test_there_are_at_least_fifty_malformed_cases() -> None:
    assert len(MALFORMED) >= 50


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(ClassAdSyntaxError, match="nested too deeply"):
        parse("(" * 500 + "1" + ")" * 500)
