"""How references resolve while an expression is evaluated.

Both evaluators use these helpers: the tree walker (`evaluate`) and the
generated code (`compile`). The context of an evaluation is four values:

* `scope`: the ad whose attributes an unscoped name looks in first (then its
  enclosing ads, for nested ads);
* `my` and `target`: the two ads of a match (either may be None);
* `env`: the caller's clock reading and random source (`EvalEnv`), or None.

The rules, after HTCondor's: an unscoped name walks `scope` and its enclosing
ads; when the walk started at a top-level ad, it then looks in `target`.
`MY.x` / `TARGET.x` look in that ad only, `PARENT.x` in the enclosing ad. An
attribute found in an ad is evaluated with that ad as its scope, and with MY
and TARGET swapped when the ad belongs to the target side. An attribute that is
already being evaluated when it is referenced again (a cycle) is ERROR, and so
is nesting too deep for Python's stack.

List items, as in HTCondor: `l[i]` is item i as evaluated where the list was
written; a built-in that reads every item (`LIST_READERS`) and `l.name`
evaluate the items where they themselves stand (`rebind`), so `sum(TARGET.l)`
with `l = {MY.a}` in the target adds the caller's `a`. A nested ad written in
an item keeps the ad the list was written in as its parent, wherever it is read.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from skyflock.classad import nodes
from skyflock.classad.values import ERROR, UNDEFINED, ScopedList

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd
    from skyflock.classad.nodes import Expr
    from skyflock.classad.values import Value

    # How an evaluator evaluates one expression: (expr, scope, my, target, env) -> Value.
    Run = Callable[[Expr, Any, Any, Any, Any], Value]

MISSING: Final = object()


class EvalEnv:
    """What an evaluation may need from outside: the time (`now`, seconds) and a random source."""

    __slots__ = ("now", "rng")

    def __init__(self, now: int | None = None, rng: object | None = None) -> None:
        self.now = now
        if isinstance(rng, int) and not isinstance(rng, bool):
            rng = _random.Random(rng)
        self.rng: _random.Random | None = rng  # type: ignore[assignment]


def make_env(now: int | None, rng: object | None) -> EvalEnv | None:
    if now is None and rng is None:
        return None
    return EvalEnv(now, rng)


def _root(ad: ClassAd) -> ClassAd:
    while ad._parent is not None:
        ad = ad._parent
    return ad


def eval_attr(ad: ClassAd, key: str, my: Any, target: Any, env: Any) -> Value:
    """Evaluate attribute `key` (known to exist) of `ad` in its own scope."""
    v = ad._consts.get(key, MISSING)
    if v is not MISSING:
        return v
    busy = ad._busy
    if key in busy:
        return ERROR
    fn = ad._code.get(key)
    if fn is None:
        fn = ad._code[key] = ad._exprs[key].compile()
    root = ad if ad._parent is None else _root(ad)
    if root is not my:
        if root is target:
            my, target = target, my
        else:
            my = root
    busy.add(key)
    try:
        return fn(my, target, ad, env)
    except RecursionError:
        return ERROR
    finally:
        busy.discard(key)


def _in_chain(ad: Any, key: str, my: Any, target: Any, env: Any) -> Any:
    """`key` in `ad` or its enclosing ads, evaluated; MISSING when none defines it."""
    while ad is not None:
        v = ad._consts.get(key, MISSING)
        if v is not MISSING:
            return v
        if key in ad._exprs:
            return eval_attr(ad, key, my, target, env)
        ad = ad._parent
    return MISSING


def resolve(scope: Any, my: Any, target: Any, key: str, env: Any) -> Value:
    """An unscoped name: the scope chain, then (from a top-level ad) the target."""
    v = _in_chain(scope, key, my, target, env)
    if v is not MISSING:
        return v
    if target is not None and (scope is None or scope._parent is None) and target is not scope:
        v = _in_chain(target, key, my, target, env)
        if v is not MISSING:
            return v
    if key == "my" and my is not None:
        return my
    if key == "target" and target is not None:
        return target
    return UNDEFINED


def lookup_in(ad: Any, key: str, my: Any, target: Any, env: Any) -> Value:
    """`ad.key`: the ad and its enclosing ads, no target fallback."""
    v = _in_chain(ad, key, my, target, env)
    return UNDEFINED if v is MISSING else v


def scoped(scope: Any, my: Any, target: Any, which: str, key: str, env: Any) -> Value:
    """`MY.key`, `TARGET.key`, `PARENT.key`, `.key` (root)."""
    if which == "my":
        ad = my
    elif which == "target":
        ad = target
    elif which == "parent":
        ad = scope._parent if scope is not None else None
    else:  # root
        ad = _root(scope) if scope is not None else None
    if ad is None:
        return UNDEFINED
    return lookup_in(ad, key, my, target, env)


def run_compiled(expr: Expr, scope: Any, my: Any, target: Any, env: Any) -> Value:
    """`Run` by the compiled form (the tree walker passes its own)."""
    return expr.compile()(my, target, scope, env)


def select(
    base: Value, key: str, scope: Any, my: Any, target: Any, env: Any, run: Run = run_compiled
) -> Value:
    """`base.key` once `base` is evaluated; over a list, `item.key` for each item read here."""
    from skyflock.classad.ad import ClassAd

    if isinstance(base, ClassAd):
        return lookup_in(base, key, my, target, env)
    if base is UNDEFINED:
        return UNDEFINED
    if isinstance(base, list):
        items: list[Value] = rebind(base, scope, my, target, env, run)
        return [select(item, key, scope, my, target, env, run) for item in items]
    return ERROR


def scoped_list(
    values: list[Value], exprs: tuple[Expr, ...], scope: Any, my: Any, target: Any
) -> ScopedList:
    """The value of a list literal whose items read the context (`ListExpr.reads_context`)."""
    out = ScopedList(values)
    out.exprs = exprs
    out.scope = scope
    out.my = my
    out.target = target
    return out


def rebind(value: Any, scope: Any, my: Any, target: Any, env: Any, run: Run = run_compiled) -> Any:
    """List `value` as a reader at (scope, my, target) sees it: each item evaluated there.

    Anything but a `ScopedList` evaluated elsewhere is returned as it is. A
    nested-ad literal in an item keeps the ad the list was written in as its
    parent, as in HTCondor: an item that is one keeps its value, an item that
    is itself a list literal is rebound item by item, and other items holding
    one are evaluated with it bound first (`_ads_bound`).
    """
    if type(value) is not ScopedList or (
        value.scope is scope and value.my is my and value.target is target
    ):
        return value
    items: list[Value] = []
    for expr, old in zip(value.exprs, value, strict=True):
        while type(expr) is nodes.Paren:
            expr = expr.inner
        t = type(expr)
        if t is nodes.AdExpr:
            items.append(old)
        elif t is nodes.ListExpr:
            items.append(rebind(old, scope, my, target, env, run))
        else:
            if _holds_ad(expr):
                expr = _ads_bound(expr, value.scope)
            items.append(run(expr, scope, my, target, env))
    return scoped_list(items, value.exprs, scope, my, target)


def _holds_ad(expr: Expr) -> bool:
    stack = [expr]
    while stack:
        node = stack.pop()
        if type(node) is nodes.AdExpr:
            return True
        stack.extend(node.children())
    return False


def _ads_bound(expr: Expr, parent: Any) -> Expr:
    """`expr` with each nested-ad literal replaced by its ad seen from `parent`.

    Used to read a list item elsewhere: its names resolve where it is read,
    but a nested ad written in it keeps the ad the list was written in as
    its parent. The copy is made only for items that hold a nested ad (and
    is compiled afresh each time on the compiled path: rare enough not to cache).
    """
    t = type(expr)

    def bound(e: Expr) -> Expr:
        return _ads_bound(e, parent)

    if t is nodes.AdExpr:
        return nodes.Literal(ad_value(expr, parent))  # type: ignore[arg-type]
    if t is nodes.Select:
        return nodes.Select(bound(expr.base), expr.name)  # type: ignore[attr-defined]
    if t is nodes.Subscript:
        return nodes.Subscript(bound(expr.base), bound(expr.index))  # type: ignore[attr-defined]
    if t is nodes.Unary:
        return nodes.Unary(expr.op, bound(expr.operand))  # type: ignore[attr-defined]
    if t is nodes.Binary:
        return nodes.Binary(expr.op, bound(expr.left), bound(expr.right))  # type: ignore[attr-defined]
    if t is nodes.Conditional:
        c: nodes.Conditional = expr  # type: ignore[assignment]
        return nodes.Conditional(bound(c.test), bound(c.then), bound(c.otherwise))
    if t is nodes.Elvis:
        return nodes.Elvis(bound(expr.test), bound(expr.otherwise))  # type: ignore[attr-defined]
    if t is nodes.Paren:
        return nodes.Paren(bound(expr.inner))  # type: ignore[attr-defined]
    if t is nodes.Call:
        return nodes.Call(expr.name, tuple(map(bound, expr.args)))  # type: ignore[attr-defined]
    if t is nodes.ListExpr:
        return nodes.ListExpr(tuple(map(bound, expr.items)))  # type: ignore[attr-defined]
    return expr  # a literal or an attribute reference


def subscript(base: Value, index: Value, my: Any, target: Any, env: Any) -> Value:
    """`base[index]` once both are evaluated."""
    from skyflock.classad.ad import ClassAd

    if base is ERROR or index is ERROR:
        return ERROR
    if index is UNDEFINED or base is UNDEFINED:
        return UNDEFINED
    if isinstance(base, list):
        if type(index) is int:
            # HTCondor takes the index as a C int: the low 32 bits, signed.
            i = index & 0xFFFFFFFF
            if i >= 0x80000000:
                return ERROR
            if i < len(base):
                return base[i]
        return ERROR
    if isinstance(base, ClassAd) and type(index) is str:
        # Unlike `ad.name`, `ad["name"]` looks in that ad only, not its parents.
        key = index.lower()
        if key not in base._exprs:
            return UNDEFINED
        return eval_attr(base, key, my, target, env)
    return ERROR


def ad_value(template: nodes.AdExpr, scope: Any) -> ClassAd:
    """The value of a nested-ad literal evaluated inside `scope`."""
    return template.template()._view(scope)


def eval_attribute(
    ad: ClassAd, key: str, target: ClassAd | None, *, now: int | None, rng: object | None
) -> Value:
    """`ClassAd.eval`: attribute `key` of `ad` with `ad` as MY."""
    if key not in ad._exprs:
        return UNDEFINED
    return eval_attr(ad, key, ad, target, make_env(now, rng))


# -- functions ------------------------------------------------------------------
_builtins: Mapping[str, Callable[..., Value]] | None = None


def builtins() -> Mapping[str, Callable[..., Value]]:
    """The strict built-in functions (`functions.BUILTINS`), loaded once."""
    global _builtins
    if _builtins is None:
        from skyflock.classad import functions

        _builtins = functions.BUILTINS
    return _builtins


def call_strict(key: str, args: list[Value]) -> Value:
    fn = builtins().get(key)
    if fn is None:
        return ERROR
    try:
        return fn(*args)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return ERROR


def fn_time(env: Any) -> Value:
    if env is None or env.now is None:
        return UNDEFINED
    return int(env.now)


def fn_random(env: Any, args: list[Value]) -> Value:
    if len(args) > 1:
        return ERROR
    rng = env.rng if env is not None else None
    if rng is None:
        return UNDEFINED
    if not args:
        return rng.random()
    bound = args[0]
    if type(bound) is int:
        return rng.randrange(bound) if bound > 0 else ERROR
    if type(bound) is float:
        return rng.random() * bound
    return UNDEFINED if bound is UNDEFINED else ERROR


def fn_eval(text: Value, scope: Any, my: Any, target: Any, env: Any) -> Value:
    """`eval(s)`: parse `s` and evaluate it where the call stands."""
    if text is UNDEFINED:
        return UNDEFINED
    if type(text) is not str:
        return ERROR
    from skyflock.classad.errors import ClassAdSyntaxError
    from skyflock.classad.parser import parse

    try:
        expr = parse(text)
    except ClassAdSyntaxError:
        return ERROR
    try:
        return expr.compile()(my, target, scope, env)
    except RecursionError:
        return ERROR


def fn_unparse_ref(scope: Any, my: Any, target: Any, which: str | None, key: str) -> Value:
    """`unparse(attr)`: the source text of the attribute `attr` refers to."""
    from skyflock.classad.unparse import unparse

    if which is None:
        ad = scope
        while ad is not None:
            if key in ad._exprs:
                return unparse(ad._exprs[key])
            ad = ad._parent
        if (
            target is not None
            and scope is not None
            and scope._parent is None
            and key in target._exprs
        ):
            return unparse(target._exprs[key])
        return UNDEFINED
    ad = {"my": my, "target": target}.get(which)
    if which == "parent":
        ad = scope._parent if scope is not None else None
    while ad is not None:
        if key in ad._exprs:
            return unparse(ad._exprs[key])
        ad = ad._parent
    return UNDEFINED


CONTEXT_FUNCTIONS: Final = frozenset({"ifthenelse", "eval", "unparse", "time", "random"})
"""Functions the evaluators implement themselves (lazy or needing the context)."""

LIST_READERS: Final = frozenset(
    {
        "sum",
        "avg",
        "min",
        "max",
        "member",
        "identicalmember",
        "anycompare",
        "allcompare",
        "quantize",
        "join",
        "regexpmember",
    }
)
"""Built-ins that read the items of a list argument: they get it `rebind`-ed to the call's context."""
