"""The compiled form agrees with the tree walker, and the fast paths are taken."""

from __future__ import annotations

import random

import pytest

from skyflock.classad import ERROR, UNDEFINED, ClassAd, parse
from skyflock.classad.compile import fold, generate_source
from tests.classad.exprgen import ExprGen
from tests.classad.test_differential import ours, same


def test_compiled_equals_walked_on_random_expressions() -> None:
    failures = []
    for my_text, target_text, text in ExprGen(random.Random(99)).cases(1500, 30, 4):
        my, target = ClassAd.parse(my_text), ClassAd.parse(target_text)
        expr = parse(text)
        walked, compiled = ours(expr.eval(my, target)), ours(expr.compile()(my, target))
        if not same(walked, compiled):
            failures.append(f"{text}: eval={walked!r} compiled={compiled!r}")
    assert not failures, "\n".join(failures[:5])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("-(2 - 5)", 3),
        ('"a" == "A"', True),
        ("true && false || true", True),
        ("1 / 0", ERROR),
        ("undefined + 1", UNDEFINED),
        ("false && x", False),
        ("true ? 1 : x", 1),
    ],
)
def test_constant_folding(text: str, expected: object) -> None:
    folded = fold(parse(text))
    assert folded is not None
    assert type(folded.value) is type(expected)
    assert folded.value == expected or folded.value is expected
    assert "_resolve" not in generate_source(parse(text))[0]


def test_attribute_reads_go_straight_to_the_constants_dict() -> None:
    source, _ = generate_source(parse("TARGET.Memory >= MY.RequestMemory"))
    assert "_tc.get('memory')" in source
    assert "_mc.get('requestmemory')" in source
    assert "_t0 >= _t1" in source or ">=" in source


@pytest.mark.parametrize(
    ("text", "my", "target", "expected"),
    [
        ("TARGET.Memory >= MY.RequestMemory", {"RequestMemory": 10}, {"Memory": 10}, True),
        ("TARGET.Memory >= MY.RequestMemory", {"RequestMemory": 10.5}, {"Memory": 10}, False),
        ("TARGET.Memory >= MY.RequestMemory", {"RequestMemory": True}, {"Memory": 1}, True),
        ("TARGET.Memory >= MY.RequestMemory", {"RequestMemory": "1"}, {"Memory": 1}, ERROR),
        ("TARGET.Memory >= MY.RequestMemory", {}, {"Memory": 1}, UNDEFINED),
        ('TARGET.Arch == "X86_64"', {}, {"Arch": "x86_64"}, True),
        ('TARGET.Arch == "X86_64"', {}, {"Arch": "ARM"}, False),
        ('TARGET.Arch == "X86_64"', {}, {"Arch": 1}, ERROR),
        ('TARGET.Arch != "X86_64"', {}, {"Arch": "x86_64"}, False),
        ("TARGET.HasDocker =?= true", {}, {"HasDocker": 1}, False),
        ("TARGET.HasDocker =?= true", {}, {}, False),
        ("MY.Image =?= undefined", {}, {}, True),
        ("MY.Image =!= undefined", {"Image": "x"}, {}, True),
        ("x + 1", {"x": 9223372036854775807}, {}, -9223372036854775808),
        ("x * 2.0", {"x": 3}, {}, 6.0),
        ("x && y", {"x": True, "y": 1}, {}, True),
        ("x || y", {"x": 0, "y": "s"}, {}, ERROR),
    ],
)
def test_fast_paths_keep_htcondor_semantics(
    text: str, my: dict[str, object], target: dict[str, object], expected: object
) -> None:
    expr = parse(text)
    m, t = ClassAd(my), ClassAd(target)
    for value in (expr.compile()(m, t), expr.eval(m, t)):
        assert type(value) is type(expected)
        assert value == expected or value is expected


def test_compiled_code_is_cached_and_reused() -> None:
    expr = parse("a + 1")
    assert expr.compile() is expr.compile()
    ad = ClassAd({"a": 1})
    assert expr.compile()(ad, None) == 2
    ad["a"] = 41
    assert expr.compile()(ad, None) == 42


def test_too_deep_to_compile_falls_back_to_the_walker() -> None:
    text = " || ".join(f"(x{i} && (y{i} || (z{i} && w{i})))" for i in range(30))
    nested = text
    for _ in range(25):
        nested = f"(a && ({nested}))"
    expr = parse(nested)
    assert expr.compile()(ClassAd({"a": True, "x0": True, "y0": True}), None) is True
