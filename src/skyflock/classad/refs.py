"""Which attributes an expression reads, and partial evaluation against one ad.

The negotiator groups jobs into autoclusters by the attributes their
Requirements and Rank read from the slot (`external_refs`, HTCondor's
"significant attributes"), and simplifies a job's expressions against the job
itself before matching (`flatten`). `internal_refs` lists what is read from the
expression's own ad. References are followed through the attributes of `my`
(a job's `Requirements` that reads `RequestMemory`, defined as
`ImageSize * 2`, also reads `ImageSize`). Neighbours: `nodes` (the tree),
`operators`/`functions` (folding), `ad.ClassAd`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from skyflock.classad import operators, runtime
from skyflock.classad.nodes import (
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
from skyflock.classad.values import ERROR, UNDEFINED

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd

_BOOLEAN_OPS = frozenset({"<", "<=", ">", ">=", "==", "!=", "=?=", "=!=", "is", "isnt", "&&", "||"})


def _collect(
    expr: Expr, my: ClassAd | None, internal: set[str], external: set[str], seen: set[str]
) -> None:
    stack = [expr]
    while stack:
        node = stack.pop()
        t = type(node)
        if t is AttrRef:
            key = node.key  # type: ignore[attr-defined]
            scope = node.scope  # type: ignore[attr-defined]
            if scope == "target":
                external.add(key)
            elif scope in ("my", "root", None):
                if my is not None and key in my._exprs:
                    internal.add(key)
                    if key not in seen:
                        seen.add(key)
                        stack.append(my._exprs[key])
                elif scope == "my":
                    internal.add(key)
                else:
                    external.add(key)
            continue
        if t is Select and type(node.base) is AttrRef and node.base.scope is None:  # type: ignore[attr-defined]
            base = node.base  # type: ignore[attr-defined]
            # `target.x` written without the scope word still reads the target.
            if base.key == "target" and (my is None or "target" not in my._exprs):
                external.add(node.key)  # type: ignore[attr-defined]
                continue
            if base.key == "my" and (my is None or "my" not in my._exprs):
                internal.add(node.key)  # type: ignore[attr-defined]
                continue
        if t is AdExpr:
            continue  # a nested ad's own attributes are its business
        stack.extend(node.children())


def external_refs(expr: Expr, my: ClassAd | None = None) -> set[str]:
    """Lower-case names `expr` reads from the other (TARGET) ad."""
    internal: set[str] = set()
    external: set[str] = set()
    _collect(expr, my, internal, external, set())
    return external


def internal_refs(expr: Expr, my: ClassAd | None = None) -> set[str]:
    """Lower-case names `expr` reads from its own (MY) ad."""
    internal: set[str] = set()
    external: set[str] = set()
    _collect(expr, my, internal, external, set())
    return internal


def flatten(expr: Expr, ad: ClassAd) -> Expr:
    """`expr` with everything that depends only on `ad` (as MY) evaluated.

    References to `ad`'s attributes whose values do not depend on the target
    become literals, constant sub-expressions are folded, and `&&`, `||`,
    `?:` and `ifThenElse` with a known deciding operand are reduced. What reads
    the target stays. Evaluating the result against (ad, target) gives the
    same value as evaluating `expr`.
    """
    return _Flattener(ad).run(expr)


class _Flattener:
    def __init__(self, ad: ClassAd) -> None:
        self.ad = ad
        self.busy: set[str] = set()
        self.cache: dict[str, Expr] = {}

    def run(self, expr: Expr) -> Expr:
        try:
            return self.flat(expr)
        except RecursionError:
            return expr

    def attribute(self, key: str) -> Expr | None:
        """The flattened value of `ad`'s attribute `key` when it is a literal."""
        if key in self.cache:
            out = self.cache[key]
            return out if type(out) is Literal else None
        if key in self.busy:
            return Literal(ERROR)
        self.busy.add(key)
        try:
            out = self.flat(self.ad._exprs[key])
        finally:
            self.busy.discard(key)
        self.cache[key] = out
        return out if type(out) is Literal else None

    def flat(self, expr: Expr) -> Expr:
        t = type(expr)
        if t is Literal or t is AdExpr:
            return expr
        if t is AttrRef:
            return self._ref(expr)  # type: ignore[arg-type]
        if t is Paren:
            inner = self.flat(expr.inner)  # type: ignore[attr-defined]
            return inner if type(inner) is Literal else Paren(inner)
        if t is Unary:
            operand = self.flat(expr.operand)  # type: ignore[attr-defined]
            if type(operand) is Literal:
                return _lit(operators.UNARY[expr.op](operand.value)) or Unary(expr.op, operand)  # type: ignore[attr-defined]
            return Unary(expr.op, operand)  # type: ignore[attr-defined]
        if t is Binary:
            return self._binary(expr)  # type: ignore[arg-type]
        if t is Conditional:
            test = self.flat(expr.test)  # type: ignore[attr-defined]
            if type(test) is Literal:
                c = operators.condition(test.value)
                if c is True:
                    return self.flat(expr.then)  # type: ignore[attr-defined]
                if c is False:
                    return self.flat(expr.otherwise)  # type: ignore[attr-defined]
                return Literal(c)
            return Conditional(test, self.flat(expr.then), self.flat(expr.otherwise))  # type: ignore[attr-defined]
        if t is Elvis:
            test = self.flat(expr.test)  # type: ignore[attr-defined]
            if type(test) is Literal:
                return self.flat(expr.otherwise) if test.value is UNDEFINED else test  # type: ignore[attr-defined]
            return Elvis(test, self.flat(expr.otherwise))  # type: ignore[attr-defined]
        if t is ListExpr:
            return ListExpr(tuple(self.flat(i) for i in expr.items))  # type: ignore[attr-defined]
        if t is Call:
            return self._call(expr)  # type: ignore[arg-type]
        if t is Select:
            return Select(self.flat(expr.base), expr.name)  # type: ignore[attr-defined]
        if t is Subscript:
            return Subscript(self.flat(expr.base), self.flat(expr.index))  # type: ignore[attr-defined]
        return expr

    def _ref(self, ref: AttrRef) -> Expr:
        if ref.scope in ("target", "parent"):
            return ref
        key = ref.key
        if key in self.ad._exprs:
            value = self.attribute(key)
            return value if value is not None else ref
        if ref.scope == "my":
            return Literal(UNDEFINED)
        return ref  # unscoped and not here: the target may define it

    def _binary(self, expr: Binary) -> Expr:
        op = expr.op
        left = self.flat(expr.left)
        right = self.flat(expr.right)
        lv: Any = left.value if isinstance(left, Literal) else None
        rv: Any = right.value if isinstance(right, Literal) else None
        if op in ("&&", "||"):
            is_and = op == "&&"
            if type(left) is Literal:
                c = operators.condition(lv)
                if c is ERROR or c is (not is_and):
                    return Literal(c)
                if type(right) is Literal:
                    fn = operators.logical_and if is_and else operators.logical_or
                    return _lit(fn(lv, lambda: rv)) or Binary(op, left, right)
                if c is is_and and _is_boolean(right):
                    return right
            return Binary(op, left, right)
        if type(left) is Literal and type(right) is Literal:
            return _lit(operators.BINARY[op](lv, rv)) or Binary(op, left, right)
        return Binary(op, left, right)

    def _call(self, expr: Call) -> Expr:
        args = tuple(self.flat(a) for a in expr.args)
        if expr.key == "ifthenelse" and len(args) == 3 and type(args[0]) is Literal:
            c = operators.condition(args[0].value)
            if c is True:
                return args[1]
            if c is False:
                return args[2]
            return Literal(c)
        if expr.key in runtime.CONTEXT_FUNCTIONS:
            return Call(expr.name, expr.args if expr.key == "unparse" else args)
        if all(type(a) is Literal for a in args):
            value = runtime.call_strict(expr.key, [a.value for a in args])  # type: ignore[attr-defined]
            folded = _lit(value)
            if folded is not None:
                return folded
        return Call(expr.name, args)


def _is_boolean(expr: Expr) -> bool:
    """Whether `expr` always yields a boolean, UNDEFINED or ERROR."""
    while type(expr) is Paren:
        expr = expr.inner
    return type(expr) is Binary and expr.op in _BOOLEAN_OPS


def _lit(value: object) -> Literal | None:
    if value is UNDEFINED or value is ERROR or type(value) in (bool, int, float, str):
        return Literal(value)  # type: ignore[arg-type]
    return None
