"""Evaluation: scoping, cycles, names, three-valued logic, the context functions."""

from __future__ import annotations

import random

import pytest

from skyflock.classad import ERROR, UNDEFINED, ClassAd, parse

JOB = ClassAd.parse(
    '[ RequestMemory = 2048; RequestCpus = 2; Owner = "alice"; Tag = "job";'
    " Requirements = TARGET.Memory >= RequestMemory && Cpus >= MY.RequestCpus;"
    " Computed = Memory - RequestMemory; Own = Tag; Nested = [ x = 1; y = x + RequestCpus; z = PARENT.Tag ] ]"
)
SLOT = ClassAd.parse(
    '[ Memory = 4096; Cpus = 4; Tag = "slot"; Start = RequestMemory < Memory; Mine = MY.Tag; Theirs = TARGET.Tag ]'
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RequestMemory", 2048),  # MY first
        ("Memory", 4096),  # then TARGET
        ("Tag", "job"),  # MY wins over TARGET
        ("TARGET.Tag", "slot"),
        ("MY.Tag", "job"),
        ("MY.Memory", UNDEFINED),  # scoped: no fallback
        ("TARGET.RequestMemory", UNDEFINED),
        ("Nope", UNDEFINED),
        ("Requirements", True),
        ("Computed", 2048),  # an attribute of MY reading TARGET
        ("TARGET.Start", True),  # an attribute of TARGET reads MY unscoped
        ("TARGET.Mine", "slot"),  # inside the slot, MY is the slot
        ("TARGET.Theirs", "job"),  # ... and TARGET the job
        ("Nested.y", 3),  # nested ads see their parent
        ("Nested.z", "job"),
        ("Nested.Memory", UNDEFINED),  # no TARGET fallback from a nested ad
        ('Nested["X"]', 1),
        ('Nested["Tag"]', UNDEFINED),  # ad["name"] looks in that ad only
        ("[a = 1; b = a + 1].b", 2),
        ("[a = 1; b = RequestCpus].b", 2),
        ("{10, 20, 30}[1]", 20),
        ("{10, 20}[2]", ERROR),
        ("{[a = 1], [a = 2]}.a", [1, 2]),
    ],
)
def test_scoping(text: str, expected: object) -> None:
    expr = parse(text)
    for value in (expr.eval(JOB, SLOT), expr.compile()(JOB, SLOT)):
        assert type(value) is type(expected)
        assert value == expected or value is expected


def test_names_are_case_insensitive_and_keep_spelling() -> None:
    ad = ClassAd({"RequestMemory": 1})
    ad["requestmemory"] = 2
    assert len(ad) == 1 and list(ad) == ["requestmemory"]
    assert ad.eval("REQUESTMEMORY") == 2
    assert "ReQuEsTmEmOrY" in ad
    assert parse("REQUESTmemory + 1").eval(ad) == 3
    del ad["REQUESTMEMORY"]
    assert len(ad) == 0


@pytest.mark.parametrize(
    "text",
    [
        "[a = b; b = a].a",
        "[a = a].a",
        "[a = b + 1; b = c * 2; c = a].a",
        "[a = [b = PARENT.a].b].a",
    ],
)
def test_cycles_are_error_not_recursion(text: str) -> None:
    expr = parse(text)
    assert expr.eval() is ERROR
    assert expr.compile()(None, None) is ERROR


def test_cycle_in_an_ad_and_recovery() -> None:
    ad = ClassAd.parse("[a = b; b = a; c = isError(a); d = 1]")
    assert ad.eval("a") is ERROR
    assert ad.eval("c") is True
    assert ad.eval("d") == 1
    assert ad.eval("a") is ERROR  # the in-progress marks were cleared


def test_long_chain_is_not_a_crash() -> None:
    ad = ClassAd({f"a{i}": parse(f"a{i + 1} + 1") for i in range(3000)})
    ad["a3000"] = 0
    value = ad.eval("a0")
    assert value == 3000 or value is ERROR


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("false && undefined", False),
        ("undefined && false", False),
        ("true && undefined", UNDEFINED),
        ("undefined || true", True),
        ("true || undefined", True),
        ("false || undefined", UNDEFINED),
        ("undefined && undefined", UNDEFINED),
        ("error && false", ERROR),
        ("false && error", False),
        ("true || error", True),
        ('"s" && true', ERROR),
        ("!undefined", UNDEFINED),
        ("undefined == 1", UNDEFINED),
        ("undefined =?= undefined", True),
        ("1 =?= undefined", False),
        ('"ABC" == "abc"', True),
        ('"ABC" =?= "abc"', False),
        ("1 == 1.0", True),
        ("7 / 2", 3),
        ("-7 / 2", -3),
        ("7.0 / 2", 3.5),
        ("1 / 0", ERROR),
        ("1 % 0", ERROR),
        ('1 + "a"', ERROR),
        ("9223372036854775807 + 1", -9223372036854775808),
        ("undefined ? 1 : 2", UNDEFINED),
        ("error ? 1 : 2", ERROR),
        ("0 ? 1 : 2", 2),
        ("undefined ?: 5", 5),
        ("error ?: 5", ERROR),
        ("ifThenElse(undefined, 1, 1 / 0)", UNDEFINED),
        ("ifThenElse(true, 1, 1 / 0)", 1),
        ("ifThenElse(false, 1 / 0, 2)", 2),
        ("ifThenElse(true, 1)", ERROR),
        ("noSuchFunction(1)", ERROR),
    ],
)
def test_three_valued_logic_and_operators(text: str, expected: object) -> None:
    expr = parse(text)
    for value in (expr.eval(), expr.compile()()):
        assert type(value) is type(expected), text
        assert value == expected or value is expected, text


def test_eval_and_unparse() -> None:
    ad = ClassAd.parse('[x = 2; s = "x * 10"; f = x + 1]')
    assert parse('eval("x + 1")').eval(ad) == 3
    assert parse("eval(s)").eval(ad) == 20
    assert parse('eval("1 +")').eval(ad) is ERROR
    assert parse("eval(42)").eval(ad) is ERROR
    assert parse("unparse(f)").eval(ad) == "x + 1"
    assert parse("unparse(MY.f)").compile()(ad, None) == "x + 1"
    assert parse("unparse(nope)").eval(ad) is UNDEFINED


def test_time_and_random_come_from_the_caller() -> None:
    assert parse("time()").eval() is UNDEFINED
    assert parse("time()").eval(now=1_700_000_000) == 1_700_000_000
    assert parse("time() - 100").eval(now=1000) == 900
    assert parse("random()").eval() is UNDEFINED
    a = [parse("random(10)").eval(rng=random.Random(7)) for _ in range(3)]
    b = [parse("random(10)").eval(rng=random.Random(7)) for _ in range(3)]
    assert a == b and all(type(x) is int and 0 <= x < 10 for x in a)
    r = parse("random(2.5)").eval(rng=3)
    assert type(r) is float and 0 <= r < 2.5
    assert parse('random("x")').eval(rng=1) is ERROR


def test_ad_api() -> None:
    ad = ClassAd({"a": 1, "b": [1, "x"], "c": {"d": True}, "e": parse("a + 1")})
    assert ad["e"] == 2
    assert ad.get("missing", "dflt") == "dflt"
    with pytest.raises(KeyError):
        ad["missing"]
    assert ad.eval("b") == [1, "x"]
    c = ad.eval("c")
    assert isinstance(c, ClassAd) and c.eval("d") is True
    copy = ad.copy()
    copy["a"] = 5
    assert ad.eval("e") == 2 and copy.eval("e") == 6
    other = ClassAd()
    other.update(ad)
    assert other == ad
    assert ad.eval("missing") is UNDEFINED
    with pytest.raises(ValueError):
        ad["big"] = 2**64
    with pytest.raises(TypeError):
        ad["obj"] = object()
