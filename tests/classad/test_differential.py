"""Differential test: our evaluator against HTCondor's own C++ library (classad2).

Random expressions (exprgen.py) over random pairs of ads are evaluated by
both libraries, through our tree walker and our compiled code, and must agree
in type and value, UNDEFINED and ERROR included. Reals agree when equal within
1e-9 relative or both NaN. A value that is an ad is compared by its attribute
names; a list element that classad2 leaves unevaluated is evaluated with the
same (MY, TARGET) pair first.

INTENDED_DIFFERENCES lists what the generator deliberately leaves out.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from skyflock.classad import ERROR, UNDEFINED, ClassAd, parse
from tests.classad.exprgen import FUNCTIONS, ExprGen

classad2 = pytest.importorskip("classad2")

INTENDED_DIFFERENCES = {
    "unscoped name missing from MY": "we then look in TARGET, as the issue and HTCondor's "
    "matchmaking documentation say; classad2's ExprTree.eval and ClassAd.matches mostly give "
    "UNDEFINED instead, and not consistently (it depends on what was evaluated before on the "
    "same ads). The generated ads define every name, so a top-level lookup never falls back; "
    "test_match.py checks the fallback on its own.",
    "attribute cycles": "`a = b; b = a`: HTCondor's library gives UNDEFINED, we give ERROR "
    "as the issue asks (tested in test_evaluate.py); the generator builds acyclic ads.",
    "MY inside a nested-ad literal": "`[a = 1; b = MY.a].b` outside a match: HTCondor resolves MY "
    "to the nested ad itself, we to the top-level ad (MY is always the ad being matched); the "
    "generator puts only unscoped references inside nested-ad literals.",
    "lists turned into strings": "our lists are evaluated values, HTCondor's hold unevaluated "
    "expressions, so strcat/toUpper/toLower of a list or ad print differently, and "
    "strcmp/stricmp of one compare different text; the generator keeps lists and ads out of "
    "those functions.",
    "evaluation without both ads": "classad2's ExprTree.eval(ad) without a target does not "
    "bind MY; we always do. Every comparison here passes both ads.",
    "integer literals beyond 64 bits": "HTCondor reads them as 0, we refuse them with a syntax "
    "error; the generator emits only 64-bit literals.",
    "unparse()": "the text of an expression is printed by each library's own printer "
    "(HTCondor prints 1.5 as 1.500000000000000E+00); not generated.",
}

PENDING: dict[str, str] = {
    # Differences this test finds in the built-in functions (functions.py) are
    # left out of the default run until they agree, and listed here with the
    # call that shows them. None at present.
}

AGREED_FUNCTIONS = {k: v for k, v in FUNCTIONS.items() if k not in PENDING}


def _theirs(v: Any, m: Any, t: Any) -> Any:
    if v is classad2.Value.Undefined:
        return UNDEFINED
    if v is classad2.Value.Error:
        return ERROR
    if isinstance(v, classad2.ExprTree):
        # An element classad2 left unevaluated: its references would resolve in
        # the ad that held the list, which we cannot recover here; compare
        # it only when it reads no attribute.
        e = parse(str(v))
        if e.external_refs() or e.internal_refs():
            return ANY
        return _theirs(v.eval(m, t), m, t)
    if isinstance(v, classad2.ClassAd):
        return ("ad", frozenset(k.lower() for k in v))
    if isinstance(v, list):
        return [_theirs(x, m, t) for x in v]
    return v


class _Any:
    def __repr__(self) -> str:
        return "<any>"


ANY = _Any()


def ours(v: Any) -> Any:
    if isinstance(v, ClassAd):
        return ("ad", frozenset(k.lower() for k in v))
    if isinstance(v, list):
        return [ours(x) for x in v]
    return v


def same(a: Any, b: Any) -> bool:
    """Equal in type and value; reals within 1e-9 relative, NaN equal to NaN."""
    if a is ANY or b is ANY:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if a is UNDEFINED or a is ERROR:
        return a is b
    return bool(a == b)


def run(
    seed: int, count: int, per_pair: int = 50, depth: int = 4, compile_every: int = 10
) -> list[str]:
    rng = random.Random(seed)
    gen = ExprGen(rng, AGREED_FUNCTIONS)
    failures: list[str] = []
    for i in range(count):
        if i % per_pair == 0:
            my_text, target_text = gen.ad(), gen.ad()
            m2, t2 = classad2.ClassAd(my_text), classad2.ClassAd(target_text)
            m1, t1 = ClassAd.parse(my_text), ClassAd.parse(target_text)
        text = gen.expr(depth)
        expected = _theirs(classad2.ExprTree(text).eval(m2, t2), m2, t2)
        expr = parse(text)
        walked = ours(expr.eval(m1, t1))
        # Compiling costs a Python compile() per expression; a sample suffices
        # here (test_compile.py checks compiled == walked on its own).
        compiled = ours(expr.compile()(m1, t1)) if i % compile_every == 0 else walked
        if not (same(walked, expected) and same(compiled, expected)):
            failures.append(
                f"{text}\n  MY={my_text}\n  TARGET={target_text}\n"
                f"  classad2={expected!r} eval={walked!r} compiled={compiled!r}"
            )
    return failures


def test_same_values_as_htcondor_20000_expressions() -> None:
    failures = run(seed=20240611, count=20_000)
    assert not failures, f"{len(failures)} differ; first:\n" + "\n".join(failures[:5])


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_same_values_as_htcondor_large_run() -> None:
    failures = []
    for seed in range(10):
        failures += run(seed=seed, count=50_000, depth=5, compile_every=1)
    assert not failures, f"{len(failures)} differ; first:\n" + "\n".join(failures[:5])


def test_the_comparison_itself_can_fail() -> None:
    assert not same(1, 1.0)
    assert not same(True, 1)
    assert not same(UNDEFINED, ERROR)
    assert same(float("nan"), float("nan"))
    assert not same([1, 2], [1, 3])
