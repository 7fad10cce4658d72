"""Operator semantics checked value by value against HTCondor's own ClassAd library.

Every operator in `BINARY`/`UNARY`, and `&&`, `||` and `?:`, is applied to a
table of values of every type; the same expression, written as ClassAd source
by `source_of`, is evaluated by `classad2` and the two results must be equal in
type and value. The helpers here (`source_of`, `oracle`, `same`) are shared
with the built-in function tests.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import classad2
import htcondor2  # noqa: F401  (registers HTCondor's extra functions with classad2)
import pytest

from skyflock.classad.operators import (
    BINARY,
    INT_MAX,
    INT_MIN,
    UNARY,
    condition,
    logical_and,
    logical_or,
    wrap64,
)
from skyflock.classad.values import ERROR, UNDEFINED, Value


def _string_source(s: str) -> str:
    out = ['"']
    for c in s:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def source_of(v: Any) -> str:
    """ClassAd source text for a Python test value (always safe as an operand)."""
    if v is UNDEFINED:
        return "undefined"
    if v is ERROR:
        return "error"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if type(v) is int:
        if v == INT_MIN:
            return "(-9223372036854775807 - 1)"
        return f"({v})" if v < 0 else str(v)
    if type(v) is float:
        if math.isnan(v):
            return 'real("nan")'
        if math.isinf(v):
            return 'real("inf")' if v > 0 else 'real("-inf")'
        text = repr(v)
        return f"({text})" if text.startswith("-") else text
    if type(v) is str:
        return _string_source(v)
    if type(v) is list:
        return "{" + ", ".join(source_of(x) for x in v) + "}"
    if type(v) is dict:  # a nested ad in test tables
        return "[" + "; ".join(f"{k} = {source_of(x)}" for k, x in v.items()) + "]"
    raise TypeError(f"no ClassAd source for {v!r}")


def from_oracle(v: Any) -> Any:
    """Turn a classad2 result into our value space (ads become dicts)."""
    if v is classad2.Value.Undefined:
        return UNDEFINED
    if v is classad2.Value.Error:
        return ERROR
    if isinstance(v, list):
        return [from_oracle(x) for x in v]
    if isinstance(v, classad2.ClassAd):
        return {k.lower(): from_oracle(v.eval(k)) for k in v}
    if isinstance(v, classad2.ExprTree):
        return from_oracle(v.eval())
    return v


def oracle(text: str) -> Any:
    """What HTCondor's ClassAd library makes of an expression."""
    return from_oracle(classad2.ExprTree(text).eval())


def ours(v: Any) -> Any:
    """Our value with ads turned into dicts, for comparison with `oracle`."""
    if isinstance(v, list):
        return [ours(x) for x in v]
    if hasattr(v, "eval") and hasattr(v, "lookup"):  # a ClassAd
        return {k.lower(): ours(v.eval(k)) for k in v}
    return v


def same(a: Any, b: Any) -> bool:
    """Equal in type and value; NaN equals NaN, and the sign of zero counts."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a is b or a == b)


def assert_like_htcondor(text: str, got: Value) -> None:
    expected = oracle(text)
    assert same(ours(got), expected), f"{text}: ours {got!r}, HTCondor {expected!r}"


# Operands of every type, with the edges of each.
OPERANDS: list[Any] = [
    0,
    1,
    2,
    -1,
    7,
    -7,
    3,
    -2,
    64,
    65,
    -64,
    63,
    INT_MAX,
    INT_MIN,
    INT_MAX - 1,
    INT_MIN + 1,
    1 << 62,
    0.0,
    -0.0,
    1.5,
    -2.5,
    7.0,
    1e308,
    -1e308,
    5e-324,
    9007199254740993,
    9007199254740992.0,
    math.inf,
    -math.inf,
    math.nan,
    True,
    False,
    "",
    "a",
    "A",
    "abc",
    "ABD",
    "_",
    "1",
    "true",
    "é",
    "É",
    [],
    [1],
    [1, "a"],
    {},
    {"a": 1},
    UNDEFINED,
    ERROR,
]


def _write_binary(op: str, a: Any, b: Any) -> str:
    return f"{source_of(a)} {op} {source_of(b)}"


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary_operator_matches_htcondor(op: str) -> None:
    fn = BINARY[op]
    mismatches = []
    for a, b in itertools.product(OPERANDS, OPERANDS):
        text = _write_binary(op, a, b)
        got = fn(a, b)
        expected = oracle(text)
        if not same(ours(got), expected):
            mismatches.append(f"{text}: ours {got!r}, HTCondor {expected!r}")
    assert not mismatches, "\n".join(mismatches[:40])


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_operator_matches_htcondor(op: str) -> None:
    fn = UNARY[op]
    for a in OPERANDS:
        assert_like_htcondor(f"{op}({source_of(a)})", fn(a))


LOGIC_OPERANDS: list[Any] = [
    True,
    False,
    0,
    1,
    -3,
    0.0,
    2.5,
    math.nan,
    "",
    "a",
    [],
    {},
    UNDEFINED,
    ERROR,
]


def _thunk(v: Value, calls: list[int]) -> Callable[[], Value]:
    def get() -> Value:
        calls.append(1)
        return v

    return get


@pytest.mark.parametrize(("op", "fn"), [("&&", logical_and), ("||", logical_or)], ids=["and", "or"])
def test_logical_operator_matches_htcondor(op: str, fn: Any) -> None:
    for a, b in itertools.product(LOGIC_OPERANDS, LOGIC_OPERANDS):
        calls: list[int] = []
        assert_like_htcondor(f"{source_of(a)} {op} {source_of(b)}", fn(a, _thunk(b, calls)))


@pytest.mark.parametrize(
    ("op", "a", "evaluated"),
    [
        ("&&", False, False),
        ("&&", 0, False),
        ("&&", ERROR, False),
        ("&&", "a", False),
        ("&&", True, True),
        ("&&", UNDEFINED, True),
        ("||", True, False),
        ("||", 2.5, False),
        ("||", ERROR, False),
        ("||", False, True),
        ("||", UNDEFINED, True),
    ],
)
def test_logical_operators_short_circuit(op: str, a: Value, evaluated: bool) -> None:
    calls: list[int] = []
    fn = logical_and if op == "&&" else logical_or
    fn(a, _thunk(ERROR, calls))
    assert bool(calls) is evaluated


def test_issue_examples_of_three_valued_logic() -> None:
    assert logical_and(False, lambda: UNDEFINED) is False
    assert logical_and(True, lambda: UNDEFINED) is UNDEFINED
    assert logical_or(UNDEFINED, lambda: True) is True
    assert logical_or(ERROR, lambda: True) is ERROR
    assert logical_or(True, lambda: ERROR) is True


@pytest.mark.parametrize("v", LOGIC_OPERANDS, ids=repr)
def test_condition_matches_htcondor_conditional(v: Value) -> None:
    c = condition(v)
    expected = oracle(f"{source_of(v)} ? 1 : 2")
    got = 1 if c is True else 2 if c is False else c
    assert same(got, expected)


@pytest.mark.parametrize(
    ("i", "wrapped"),
    [(0, 0), (INT_MAX + 1, INT_MIN), (INT_MIN - 1, INT_MAX), (1 << 64, 0), (-(1 << 64) - 5, -5)],
)
def test_wrap64(i: int, wrapped: int) -> None:
    assert wrap64(i) == wrapped


def test_source_of_round_trips_through_htcondor() -> None:
    for v in OPERANDS:
        assert same(oracle(source_of(v)), v)
