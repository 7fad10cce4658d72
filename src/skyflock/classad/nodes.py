"""The expression tree: what `parse` returns and every other module walks.

`Expr` is the public face (`eval`, `compile`, `external_refs`,
`internal_refs`, `str`); the subclasses are the node kinds. Nodes are treated
as immutable once built: equality is structural (a literal `1` differs from
`1.0` and from `true`), and the compiled form is cached on the node. The
neighbours: `parser` builds trees, `unparse` prints them, `evaluate` walks
them, `compile` turns them into Python code, `refs` collects references.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from skyflock.classad.values import ERROR, UNDEFINED, Error, Undefined

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd
    from skyflock.classad.values import Value

    CompiledExpr = Callable[..., Value]  # (my, target) -> Value; see `compile`

SCOPES = ("my", "target", "parent")
"""Scope words accepted before a dot: `MY.x`, `TARGET.x`, `PARENT.x`."""


class Expr:
    """A ClassAd expression."""

    __slots__ = ("_compiled",)
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._compiled: Any = None

    # -- structure -----------------------------------------------------------
    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Expr)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __str__(self) -> str:
        from skyflock.classad.unparse import unparse

        return unparse(self)

    def children(self) -> Iterator[Expr]:
        """The direct sub-expressions."""
        return iter(())

    # -- evaluation ----------------------------------------------------------
    def eval(
        self,
        my: ClassAd | None = None,
        target: ClassAd | None = None,
        *,
        now: int | None = None,
        rng: object | None = None,
    ) -> Value:
        """Evaluate by walking the tree (`compile()` is the fast path)."""
        from skyflock.classad.evaluate import evaluate

        return evaluate(self, my, target, now=now, rng=rng)

    def compile(self) -> CompiledExpr:
        """A Python callable `(my, target) -> Value`; compiled once and cached."""
        fn = self._compiled
        if fn is None:
            from skyflock.classad.compile import compile_expr

            fn = self._compiled = compile_expr(self)
        return fn

    def external_refs(self, my: ClassAd | None = None) -> set[str]:
        """Lower-case names this expression reads from the other (TARGET) ad."""
        from skyflock.classad.refs import external_refs

        return external_refs(self, my)

    def internal_refs(self, my: ClassAd | None = None) -> set[str]:
        """Lower-case names this expression reads from its own (MY) ad."""
        from skyflock.classad.refs import internal_refs

        return internal_refs(self, my)


def _same_value(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


class Literal(Expr):
    """A constant: bool, int, float, str, UNDEFINED or ERROR."""

    __slots__ = ("value",)
    _fields = ("value",)

    def __init__(self, value: bool | int | float | str | Undefined | Error) -> None:
        # (Expr.__init__ inlined: ads build a literal per attribute set from Python.)
        self._compiled = None
        self.value = value

    def __eq__(self, other: object) -> bool:
        if type(other) is not Literal:
            return NotImplemented
        return _same_value(self.value, other.value)

    def __hash__(self) -> int:
        v = self.value
        if isinstance(v, float) and math.isnan(v):
            return hash(("Literal", float, "nan"))
        return hash(("Literal", type(v), v))


TRUE_LITERAL = Literal(True)
FALSE_LITERAL = Literal(False)
UNDEFINED_LITERAL = Literal(UNDEFINED)
ERROR_LITERAL = Literal(ERROR)


class AttrRef(Expr):
    """A reference to an attribute: `x`, `MY.x`, `TARGET.x`, `PARENT.x`, or `.x` (root)."""

    __slots__ = ("key", "name", "scope")
    _fields = ("key", "scope")

    def __init__(self, name: str, scope: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.key = name.lower()
        self.scope = scope  # None, "my", "target", "parent" or "root"


class Select(Expr):
    """Selection of an attribute from an ad-valued expression: `base.name`."""

    __slots__ = ("base", "key", "name")
    _fields = ("base", "key")

    def __init__(self, base: Expr, name: str) -> None:
        super().__init__()
        self.base = base
        self.name = name
        self.key = name.lower()

    def children(self) -> Iterator[Expr]:
        yield self.base


class Subscript(Expr):
    """`base[index]`: a list element by integer index or an ad's attribute by string."""

    __slots__ = ("base", "index")
    _fields = ("base", "index")

    def __init__(self, base: Expr, index: Expr) -> None:
        super().__init__()
        self.base = base
        self.index = index

    def children(self) -> Iterator[Expr]:
        yield self.base
        yield self.index


class Unary(Expr):
    """`-x`, `+x`, `!x`, `~x`."""

    __slots__ = ("op", "operand")
    _fields = ("op", "operand")

    def __init__(self, op: str, operand: Expr) -> None:
        super().__init__()
        self.op = op
        self.operand = operand

    def children(self) -> Iterator[Expr]:
        yield self.operand


class Binary(Expr):
    """Every two-operand operator, including `&&` and `||`."""

    __slots__ = ("left", "op", "right")
    _fields = ("op", "left", "right")

    def __init__(self, op: str, left: Expr, right: Expr) -> None:
        super().__init__()
        self.op = op
        self.left = left
        self.right = right

    def children(self) -> Iterator[Expr]:
        yield self.left
        yield self.right


class Conditional(Expr):
    """`test ? then : otherwise`."""

    __slots__ = ("otherwise", "test", "then")
    _fields = ("test", "then", "otherwise")

    def __init__(self, test: Expr, then: Expr, otherwise: Expr) -> None:
        super().__init__()
        self.test = test
        self.then = then
        self.otherwise = otherwise

    def children(self) -> Iterator[Expr]:
        yield self.test
        yield self.then
        yield self.otherwise


class Elvis(Expr):
    """The two-operand `test ?: otherwise`: `test` unless it is UNDEFINED."""

    __slots__ = ("otherwise", "test")
    _fields = ("test", "otherwise")

    def __init__(self, test: Expr, otherwise: Expr) -> None:
        super().__init__()
        self.test = test
        self.otherwise = otherwise

    def children(self) -> Iterator[Expr]:
        yield self.test
        yield self.otherwise


class Paren(Expr):
    """Parentheses the author wrote; kept so printing reproduces them."""

    __slots__ = ("inner",)
    _fields = ("inner",)

    def __init__(self, inner: Expr) -> None:
        super().__init__()
        self.inner = inner

    def children(self) -> Iterator[Expr]:
        yield self.inner


class Call(Expr):
    """A function call; `key` is the lower-case name used for lookup."""

    __slots__ = ("args", "key", "name")
    _fields = ("key", "args")

    def __init__(self, name: str, args: tuple[Expr, ...]) -> None:
        super().__init__()
        self.name = name
        self.key = name.lower()
        self.args = tuple(args)

    def children(self) -> Iterator[Expr]:
        yield from self.args


class ListExpr(Expr):
    """A list literal `{a, b, c}`."""

    __slots__ = ("_reads_context", "items")
    _fields = ("items",)

    def __init__(self, items: tuple[Expr, ...]) -> None:
        super().__init__()
        self.items = tuple(items)
        self._reads_context: bool | None = None

    def children(self) -> Iterator[Expr]:
        yield from self.items

    def reads_context(self) -> bool:
        """Whether an item's value can depend on where it is evaluated (computed once).

        True when an item reads an attribute, builds a nested ad or calls
        `eval`, `unparse`, `time` or `random`: such a list evaluates to a
        `values.ScopedList` (see there); a list of constants stays a plain list.
        """
        flag = self._reads_context
        if flag is None:
            flag = self._reads_context = any(map(_reads_context, self.items))
        return flag


_CONTEXT_CALLS = frozenset({"eval", "unparse", "time", "random"})


def _reads_context(expr: Expr) -> bool:
    stack = [expr]
    while stack:
        node = stack.pop()
        t = type(node)
        if t is AttrRef or t is AdExpr or (t is Call and node.key in _CONTEXT_CALLS):  # type: ignore[attr-defined]
            return True
        stack.extend(node.children())
    return False


class AdExpr(Expr):
    """A nested ad literal `[a = 1; b = a + 1]`; names keep their spelling."""

    __slots__ = ("_ad", "entries")
    _fields = ("entries",)

    def __init__(self, entries: tuple[tuple[str, Expr], ...]) -> None:
        super().__init__()
        # Later definitions of the same (case-insensitive) name win, as in an ad.
        seen: dict[str, tuple[str, Expr]] = {}
        for name, expr in entries:
            seen.pop(name.lower(), None)
            seen[name.lower()] = (name, expr)
        self.entries = tuple(seen.values())
        self._ad: ClassAd | None = None

    def _key(self) -> tuple[object, ...]:
        return (frozenset((n.lower(), e) for n, e in self.entries),)

    def children(self) -> Iterator[Expr]:
        for _, expr in self.entries:
            yield expr

    def template(self) -> ClassAd:
        """The ad this literal denotes (shared; evaluation gives it a parent per use)."""
        if self._ad is None:
            from skyflock.classad.ad import ClassAd

            ad = ClassAd()
            for name, expr in self.entries:
                ad[name] = expr
            self._ad = ad
        return self._ad


def literal_of(value: object) -> Expr:
    """The expression denoting a Python value (used by `ClassAd.__setitem__`)."""
    from skyflock.classad.ad import ClassAd

    if isinstance(value, Expr):
        return value
    if value is UNDEFINED or value is ERROR:
        return Literal(value)
    if isinstance(value, bool | int | float | str):
        if isinstance(value, int) and not -(1 << 63) <= value < (1 << 63):
            raise ValueError(f"integer {value} does not fit in 64 bits")
        return Literal(value)
    if isinstance(value, list | tuple):
        return ListExpr(tuple(literal_of(v) for v in value))
    if isinstance(value, ClassAd):
        return AdExpr(tuple((name, value.lookup(name)) for name in value))  # type: ignore[misc]
    if value is None:
        return UNDEFINED_LITERAL
    if isinstance(value, dict):
        return AdExpr(tuple((str(k), literal_of(v)) for k, v in value.items()))
    raise TypeError(f"cannot store a {type(value).__name__} in a ClassAd")
