"""external_refs / internal_refs and flatten."""

from __future__ import annotations

import random

import pytest

from skyflock.classad import ClassAd, flatten, parse
from skyflock.classad.nodes import Literal
from tests.classad.exprgen import ExprGen
from tests.classad.test_differential import same

JOB = ClassAd.parse(
    '[ ImageSize = 100; RequestMemory = ImageSize * 2; RequestCpus = 1; Owner = "alice";'
    " Requirements = TARGET.Memory >= RequestMemory && Cpus >= MY.RequestCpus && HasFoo;"
    " Rank = TARGET.Mips + KFlops; Loop = Loop + 1 ]"
)


@pytest.mark.parametrize(
    ("text", "external", "internal"),
    [
        ("TARGET.Memory >= RequestMemory", {"memory"}, {"requestmemory", "imagesize"}),
        ("Cpus >= MY.RequestCpus", {"cpus"}, {"requestcpus"}),
        ("MY.Missing", set(), {"missing"}),
        ("Rank", {"mips", "kflops"}, {"rank"}),
        (
            "Requirements",
            {"memory", "cpus", "hasfoo"},
            {"requirements", "requestmemory", "imagesize", "requestcpus"},
        ),
        ("Loop", set(), {"loop"}),
        ("target.x.y", {"x"}, set()),
        ("[a = TARGET.z].a", set(), set()),
        ("f(TARGET.a, {b}, c ? d : e)", {"a", "b", "c", "d", "e"}, set()),
    ],
)
def test_refs(text: str, external: set[str], internal: set[str]) -> None:
    expr = parse(text)
    assert expr.external_refs(JOB) == external
    assert expr.internal_refs(JOB) == internal


def test_refs_without_an_ad_treat_unscoped_names_as_external() -> None:
    expr = parse("a + MY.b + TARGET.c")
    assert expr.external_refs() == {"a", "c"}
    assert expr.internal_refs() == {"b"}


@pytest.mark.parametrize(
    ("text", "flat"),
    [
        ("TARGET.Memory >= RequestMemory", "TARGET.Memory >= 200"),
        ("RequestCpus + 1 > Cpus", "2 > Cpus"),
        ('Owner == "alice" && TARGET.x', "true && TARGET.x"),  # x may not be boolean
        ('Owner == "alice" && TARGET.x > 1', "TARGET.x > 1"),
        ('Owner == "bob" && TARGET.x', "false"),
        ("MY.Missing", "undefined"),
        ("Missing", "Missing"),
        ("ifThenElse(RequestCpus > 0, TARGET.a, TARGET.b)", "TARGET.a"),
        ("RequestCpus > 0 ? TARGET.a : TARGET.b", "TARGET.a"),
        ("Loop", "error"),
        ('strcat(Owner, "-x")', '"alice-x"'),
    ],
)
def test_flatten(text: str, flat: str) -> None:
    assert flatten(parse(text), JOB) == parse(flat)


def test_flatten_keeps_values_on_random_expressions() -> None:
    failures = []
    for my_text, target_text, text in ExprGen(random.Random(5)).cases(1000, 25, 4):
        my, target = ClassAd.parse(my_text), ClassAd.parse(target_text)
        expr = parse(text)
        flat = flatten(expr, my)
        a, b = expr.eval(my, target), flat.eval(my, target)
        if isinstance(a, ClassAd | list) or isinstance(b, ClassAd | list):
            continue  # ads and lists compare by identity of their parts here
        if not same(a, b):
            failures.append(f"{expr} -> {flat}: {a!r} != {b!r}")
    assert not failures, "\n".join(failures[:5])


def test_flatten_folds_to_a_literal_when_it_can() -> None:
    assert isinstance(flatten(parse("RequestMemory * 2"), JOB), Literal)
