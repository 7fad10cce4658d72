"""The reference evaluator: walks the expression tree node by node.

`Expr.eval` uses it. It is the plain statement of the semantics that the fast
path (`compile`, generated Python code) must agree with; the tests check the
two against each other and against HTCondor's own library. Operators come from
`operators`, strict built-in functions from `functions` (via `runtime`), and
reference resolution from `runtime`.
"""

from __future__ import annotations

from collections.abc import Callable
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
    from skyflock.classad.values import Value

Ctx = tuple[Any, Any, Any, Any]  # scope, my, target, env


def evaluate(
    expr: Expr,
    my: ClassAd | None = None,
    target: ClassAd | None = None,
    *,
    now: int | None = None,
    rng: object | None = None,
    scope: ClassAd | None = None,
) -> Value:
    """The value of `expr` with `my` as MY (and first scope) and `target` as TARGET."""
    ctx = (my if scope is None else scope, my, target, runtime.make_env(now, rng))
    try:
        return ev(expr, ctx)
    except RecursionError:
        return ERROR


def ev(expr: Expr, ctx: Ctx) -> Value:
    return _DISPATCH[type(expr)](expr, ctx)


def _literal(expr: Any, ctx: Ctx) -> Value:
    return expr.value


def _attr(expr: Any, ctx: Ctx) -> Value:
    scope, my, target, env = ctx
    if expr.scope is None:
        return runtime.resolve(scope, my, target, expr.key, env)
    return runtime.scoped(scope, my, target, expr.scope, expr.key, env)


def _run(expr: Expr, scope: Any, my: Any, target: Any, env: Any) -> Value:
    return ev(expr, (scope, my, target, env))


def _select(expr: Any, ctx: Ctx) -> Value:
    scope, my, target, env = ctx
    return runtime.select(ev(expr.base, ctx), expr.key, scope, my, target, env, _run)


def _subscript(expr: Any, ctx: Ctx) -> Value:
    return runtime.subscript(ev(expr.base, ctx), ev(expr.index, ctx), ctx[1], ctx[2], ctx[3])


def _unary(expr: Any, ctx: Ctx) -> Value:
    return operators.UNARY[expr.op](ev(expr.operand, ctx))


def _binary(expr: Any, ctx: Ctx) -> Value:
    op = expr.op
    if op == "&&":
        return operators.logical_and(ev(expr.left, ctx), lambda: ev(expr.right, ctx))
    if op == "||":
        return operators.logical_or(ev(expr.left, ctx), lambda: ev(expr.right, ctx))
    return operators.BINARY[op](ev(expr.left, ctx), ev(expr.right, ctx))


def _conditional(expr: Any, ctx: Ctx) -> Value:
    test = operators.condition(ev(expr.test, ctx))
    if test is True:
        return ev(expr.then, ctx)
    if test is False:
        return ev(expr.otherwise, ctx)
    return test


def _elvis(expr: Any, ctx: Ctx) -> Value:
    value = ev(expr.test, ctx)
    return ev(expr.otherwise, ctx) if value is UNDEFINED else value


def _paren(expr: Any, ctx: Ctx) -> Value:
    return ev(expr.inner, ctx)


def _list(expr: Any, ctx: Ctx) -> Value:
    values = [ev(item, ctx) for item in expr.items]
    if not expr.reads_context():
        return values
    return runtime.scoped_list(values, expr.items, ctx[0], ctx[1], ctx[2])


def _ad(expr: Any, ctx: Ctx) -> Value:
    return runtime.ad_value(expr, ctx[0])


def _call(expr: Any, ctx: Ctx) -> Value:
    key = expr.key
    args = expr.args
    if key in runtime.CONTEXT_FUNCTIONS:
        scope, my, target, env = ctx
        if key == "ifthenelse":
            if len(args) != 3:
                return ERROR
            test = operators.condition(ev(args[0], ctx))
            if test is True:
                return ev(args[1], ctx)
            if test is False:
                return ev(args[2], ctx)
            return test
        if key == "time":
            return runtime.fn_time(env) if not args else ERROR
        if key == "random":
            return runtime.fn_random(env, [ev(a, ctx) for a in args])
        if key == "eval":
            if len(args) != 1:
                return ERROR
            return runtime.fn_eval(ev(args[0], ctx), scope, my, target, env)
        if key == "unparse":
            if len(args) != 1 or type(args[0]) is not AttrRef:
                return ERROR
            ref = args[0]
            return runtime.fn_unparse_ref(scope, my, target, ref.scope, ref.key)
    values = [ev(a, ctx) for a in args]
    if key in runtime.LIST_READERS:
        scope, my, target, env = ctx
        values = [runtime.rebind(v, scope, my, target, env, _run) for v in values]
    return runtime.call_strict(key, values)


_DISPATCH: dict[type, Callable[[Any, Ctx], Value]] = {
    Literal: _literal,
    AttrRef: _attr,
    Select: _select,
    Subscript: _subscript,
    Unary: _unary,
    Binary: _binary,
    Conditional: _conditional,
    Elvis: _elvis,
    Paren: _paren,
    ListExpr: _list,
    AdExpr: _ad,
    Call: _call,
}
