"""Random ClassAd expressions and ads, as source text, for the differential tests.

Shared by `test_differential.py` (a seeded loop and a hypothesis run) and
`test_compile.py`. The generator only produces what both our library and
HTCondor's define the same way; what it leaves out, and why, is listed in
`INTENDED_DIFFERENCES` of test_differential.py.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

# Attribute names, ordered: an ad attribute may only refer to names earlier in
# this list, so no attribute-reference cycle can arise (HTCondor's library gives
# UNDEFINED for a cycle, we give ERROR -- an intended difference tested apart).
NAMES = ["a", "b", "c", "x", "y", "Memory", "Cpus", "Arch", "z"]
# Names no top-level ad defines (references to them are UNDEFINED in both libraries).
MISSING = ["p", "Nope"]

INTS = [0, 1, -1, 2, 3, 7, 10, -10, 64, 100, 4096, 2**31, 2**62, 9223372036854775807]
REALS = ["0.0", "1.5", "-2.25", "0.5", "3.0", "1e10", "2.5e-3", "-0.0", "100.0", "1e300"]
STRINGS = [
    '""',
    '"a"',
    '"A"',
    '"abc"',
    '"ABC"',
    '"X86_64"',
    '"x86_64"',
    '"a\\"b"',
    '"tab\\tx"',
    '"x\\t, 1"',
    '" 2 ,3"',
    '"1"',
    '"1.5"',
    '"true"',
    '"a,b, c"',
    '"LINUX"',
]
BINARY = [
    "+",
    "-",
    "*",
    "/",
    "%",
    "<",
    "<=",
    ">",
    ">=",
    "==",
    "!=",
    "=?=",
    "=!=",
    "is",
    "isnt",
    "&&",
    "||",
    "&",
    "|",
    "^",
    "<<",
    ">>",
    ">>>",
]
UNARY = ["-", "+", "!", "~"]

# name -> allowed argument counts; functions both libraries implement.
FUNCTIONS: dict[str, tuple[int, ...]] = {
    "ifThenElse": (3,),
    "isUndefined": (1,),
    "isError": (1,),
    "isString": (1,),
    "isInteger": (1,),
    "isReal": (1,),
    "isBoolean": (1,),
    "isList": (1,),
    "isClassAd": (1,),
    "size": (1,),
    "strcat": (1, 2, 3),
    "toUpper": (1,),
    "toLower": (1,),
    "int": (1,),
    "real": (1,),
    "floor": (1,),
    "ceiling": (1,),
    "round": (1,),
    "member": (2,),
    "identicalMember": (2,),
    "substr": (2, 3),
    "strcmp": (2,),
    "stricmp": (2,),
    "min": (1,),
    "max": (1,),
    "sum": (1,),
    "avg": (1,),
    "stringListMember": (2,),
    "stringListSize": (1, 2),
    "stringListIMember": (2,),
    "stringListSum": (1,),
    "stringListsIntersect": (2,),
    "quantize": (2,),
    "pow": (2,),
    "bool": (1,),
}


class ExprGen:
    def __init__(self, rng: random.Random, functions: dict[str, tuple[int, ...]] | None = None):
        self.rng = rng
        self.functions = FUNCTIONS if functions is None else functions

    def name(self, below: int | None = None) -> str:
        pool = NAMES + MISSING if below is None else NAMES[:below]
        n = self.rng.choice(pool)
        r = self.rng.random()
        return n.upper() if r < 0.15 else (n.lower() if r < 0.3 else n)

    def literal(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return str(self.rng.choice(INTS))
        if r < 0.45:
            return self.rng.choice(REALS)
        if r < 0.65:
            return self.rng.choice(STRINGS)
        return self.rng.choice(["true", "false", "undefined", "error", "TRUE", "False"])

    def ref(self, scoped: bool, below: int | None) -> str:
        n = self.name(below)
        if scoped:
            r = self.rng.random()
            if r < 0.25:
                return "MY." + n
            if r < 0.5:
                return "TARGET." + n
            if r < 0.55:
                return "target." + n
        return n

    def expr(self, depth: int, scoped: bool = True, below: int | None = None) -> str:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.25:
            if below == 0 or rng.random() < 0.55:
                return self.literal()
            return self.ref(scoped, below)
        d = depth - 1
        r = rng.random()
        if r < 0.35:
            op = rng.choice(BINARY)
            return f"{self.expr(d, scoped, below)} {op} {self.expr(d, scoped, below)}"
        if r < 0.45:
            return f"{rng.choice(UNARY)}{self.expr(d, scoped, below)}"
        if r < 0.55:
            return f"({self.expr(d, scoped, below)})"
        if r < 0.62:
            return f"{self.expr(d, scoped, below)} ? {self.expr(d, scoped, below)} : {self.expr(d, scoped, below)}"
        if r < 0.65:
            # HTCondor's parser rejects a unary operator right after `?:`; parenthesise.
            return f"{self.expr(d, scoped, below)} ?: ({self.expr(d, scoped, below)})"
        if r < 0.72:
            items = ", ".join(self.expr(d, scoped, below) for _ in range(rng.randint(0, 3)))
            return "{" + items + "}"
        if r < 0.77:
            # Nested ad literal: inside it only unscoped references (see INTENDED_DIFFERENCES).
            body = "; ".join(
                f"{n} = {self.expr(d - 1, False, i if below is None else min(i, below))}"
                for n, i in rng.sample([("a", 0), ("b", 1), ("p", 3)], rng.randint(0, 3))
            )
            return f"[{body}]"
        if r < 0.82 and below != 0:
            return f"({self.expr(d, scoped, below)}).{self.name(below)}"
        if r < 0.87:
            return f"({self.expr(d, scoped, below)})[{self.expr(d, scoped, below)}]"
        if not self.functions:
            return self.literal()
        fname = rng.choice(sorted(self.functions))
        arity = rng.choice(self.functions[fname])
        if fname in ("strcat", "toUpper", "toLower", "strcmp", "stricmp"):
            args = [self.expr(min(d, 1), scoped, below) for _ in range(arity)]
            # Lists are values here, unparsed as expressions there: keep lists out.
            return f"{fname}({', '.join(f'ifThenElse(isList({a}) || isClassAd({a}), 1, {a})' for a in args)})"
        if (
            fname
            in (
                "substr",
                "strcmp",
                "stricmp",
                "stringListMember",
                "stringListIMember",
                "stringListSize",
                "stringListSum",
                "stringListsIntersect",
                "quantize",
            )
            and rng.random() < 0.5
        ):
            args = [rng.choice(STRINGS)] + [self.expr(d, scoped, below) for _ in range(arity - 1)]
        else:
            args = [self.expr(d, scoped, below) for _ in range(arity)]
        return f"{fname}({', '.join(args)})"

    def cases(self, count: int, per_pair: int, depth: int) -> Iterator[tuple[str, str, str]]:
        """`count` (MY text, TARGET text, expression text): a new pair of ads
        every `per_pair` expressions (the same two string objects until then)."""
        for i in range(count):
            if i % per_pair == 0:
                my, target = self.ad(), self.ad()
            yield my, target, self.expr(depth)

    def ad(self, nested: bool = True) -> str:
        """A new-form ad defining every name of NAMES; attribute i refers only to
        names before i. (Every name is defined in both ads so that an unscoped
        name never needs the MY-then-TARGET fallback, on which HTCondor's Python
        bindings are not consistent; see INTENDED_DIFFERENCES.)"""
        rng = self.rng
        parts = []
        for i, n in enumerate(NAMES):
            r = rng.random()
            if r < 0.55:
                value = self.literal()
            elif r < 0.65 and nested:
                items = ", ".join(self.literal() for _ in range(rng.randint(0, 3)))
                value = "{" + items + "}"
            elif r < 0.72 and nested:
                value = f"[q = {self.literal()}; r = {self.literal()}]"
            else:
                value = self.expr(2, scoped=True, below=i)
            parts.append(f"{n} = {value}")
        return "[" + "; ".join(parts) + "]"
