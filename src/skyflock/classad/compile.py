"""Compiles an expression into Python code, once, for fast repeated evaluation.

The negotiator evaluates each job's Requirements against every slot, millions
of times per cycle; walking the tree each time (`evaluate`) is too slow. Here
an expression becomes the source of one Python function

    def _classad_expr(my=None, target=None, scope=None, env=None) -> Value

which `exec` turns into a code object. Inside it, references read the ads'
dicts of constant attributes directly (`target._consts.get("memory")`) and
fall back to `runtime` for everything else (computed attributes, scoping,
cycles); literal sub-expressions are folded; `&&`, `||`, `?:` and
`ifThenElse` short-circuit with plain `if` statements; integer and real
comparisons, boolean `&&`/`||`, identity tests against literals and
case-insensitive equality with an ASCII string literal are done inline; every
other case calls the operator from `operators` so the semantics stay
HTCondor's. The result is checked against the tree walker by the tests.
If an expression is too deeply nested to compile, the tree walker is used.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Final

from skyflock.classad import evaluate as _evaluate
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
from skyflock.classad.values import ERROR, UNDEFINED, ScopedList

_INLINE_COMPARE: Final = frozenset({"<", "<=", ">", ">=", "==", "!="})
_INLINE_ARITH: Final = frozenset({"+", "-", "*"})
_IDENTITY: Final = {"=?=": False, "is": False, "=!=": True, "isnt": True}
_INT_MIN: Final = -(1 << 63)
_INT_MAX: Final = (1 << 63) - 1

_BASE_NAMESPACE: Final[dict[str, Any]] = {
    "_M": runtime.MISSING,
    "_U": UNDEFINED,
    "_E": ERROR,
    "_EMPTY": {},
    "_resolve": runtime.resolve,
    "_scoped": runtime.scoped,
    "_select": runtime.select,
    "_SL": ScopedList,
    "_sl": runtime.scoped_list,
    "_rebind": runtime.rebind,
    "_subscript": runtime.subscript,
    "_adv": runtime.ad_value,
    "_cond": operators.condition,
    "_wrap": operators.wrap64,
    "_time": runtime.fn_time,
    "_random": runtime.fn_random,
    "_eval": runtime.fn_eval,
    "_unparse": runtime.fn_unparse_ref,
    "_INT_MIN": _INT_MIN,
    "_INT_MAX": _INT_MAX,
}


def _and_values(a: Any, b: Any) -> Any:
    return operators.logical_and(a, lambda: b)


def _or_values(a: Any, b: Any) -> Any:
    return operators.logical_or(a, lambda: b)


_BASE_NAMESPACE["_and"] = _and_values
_BASE_NAMESPACE["_or"] = _or_values


def _is_const(expr: Expr) -> bool:
    return type(expr) is Literal


def _strip(expr: Expr) -> Expr:
    while type(expr) is Paren:
        expr = expr.inner
    return expr


class _Codegen:
    """Emits the statements of one function; `gen` returns the name holding a node's value."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.indent = 1
        self.namespace: dict[str, Any] = dict(_BASE_NAMESPACE)
        self._temps = itertools.count()
        self._consts: dict[int, str] = {}
        self.uses: set[str] = set()

    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def temp(self) -> str:
        return f"_t{next(self._temps)}"

    def const(self, value: Any) -> str:
        """A name in the namespace bound to `value` (literals inline when exact)."""
        if value is True or value is False or value is None:
            return repr(value)
        if value is UNDEFINED:
            return "_U"
        if value is ERROR:
            return "_E"
        if type(value) is int or type(value) is str:
            return repr(value)
        name = self._consts.get(id(value))
        if name is None:
            name = f"_k{len(self.namespace)}"
            self.namespace[name] = value
            self._consts[id(value)] = name
        return name

    # -- nodes ---------------------------------------------------------------
    def gen(self, expr: Expr) -> str:
        expr = _strip(expr)
        folded = fold(expr)
        if folded is not None:
            value = self.const(folded.value)
            if value in ("True", "False", "None", "_U", "_E") or value.startswith("_k"):
                return value
            t = self.temp()
            self.emit(f"{t} = {value}")
            return t
        method = getattr(self, "_gen_" + type(expr).__name__)
        return method(expr)

    def _gen_AttrRef(self, expr: AttrRef) -> str:
        t = self.temp()
        key = repr(expr.key)
        if expr.scope is None:
            self.uses.add("scope")
            self.emit(f"{t} = _sc.get({key})")
            self.emit(f"if {t} is None: {t} = _resolve(scope, my, target, {key}, env)")
        elif expr.scope in ("my", "target"):
            d = "_mc" if expr.scope == "my" else "_tc"
            self.uses.add(expr.scope)
            # None is never a ClassAd value: it marks "no constant of that name".
            self.emit(f"{t} = {d}.get({key})")
            self.emit(
                f"if {t} is None: {t} = _scoped(scope, my, target, {expr.scope!r}, {key}, env)"
            )
        else:
            self.emit(f"{t} = _scoped(scope, my, target, {expr.scope!r}, {key}, env)")
        return t

    def _gen_Select(self, expr: Select) -> str:
        base = self.gen(expr.base)
        t = self.temp()
        self.emit(f"{t} = _select({base}, {expr.key!r}, scope, my, target, env)")
        return t

    def _gen_Subscript(self, expr: Subscript) -> str:
        base = self.gen(expr.base)
        index = self.gen(expr.index)
        t = self.temp()
        self.emit(f"{t} = _subscript({base}, {index}, my, target, env)")
        return t

    def _gen_Unary(self, expr: Unary) -> str:
        operand = self.gen(expr.operand)
        t = self.temp()
        fn = self.const(operators.UNARY[expr.op])
        self.emit(f"{t} = {fn}({operand})")
        return t

    def _gen_Binary(self, expr: Binary) -> str:
        op = expr.op
        if op == "&&" or op == "||":
            return self._logical(expr)
        left_node, right_node = _strip(expr.left), _strip(expr.right)
        # A literal operand is written in place (every use below is an operand
        # or a call argument, never `<literal> is ...`).
        a = self.const(left_node.value) if _is_const(left_node) else self.gen(left_node)  # type: ignore[attr-defined]
        b = self.const(right_node.value) if _is_const(right_node) else self.gen(right_node)  # type: ignore[attr-defined]
        t = self.temp()
        fn = self.const(operators.BINARY[op])
        if op in _IDENTITY:
            lit = right_node if _is_const(right_node) else left_node
            other = a if lit is right_node else b
            if _is_const(lit):
                test = self._identity_test(other, lit.value)  # type: ignore[attr-defined]
                if test is not None:
                    negate = _IDENTITY[op]
                    self.emit(f"{t} = {'not ' if negate else ''}({test})")
                    return t
            self.emit(f"{t} = {fn}({a}, {b})")
            return t
        if op in _INLINE_COMPARE or op in _INLINE_ARITH:
            fast = self._fast_numeric(a, b, left_node, right_node, op)
            if op in ("==", "!=") and fast is None:
                fast = self._fast_string_eq(a, b, left_node, right_node, op)
            if fast is not None:
                keyword = "if"
                for guard, value in fast:
                    self.emit(f"{keyword} {guard}: {t} = {value}")
                    keyword = "elif"
                self.emit(f"else: {t} = {fn}({a}, {b})")
                if op in _INLINE_ARITH:
                    self.emit(f"if type({t}) is int and not _INT_MIN <= {t} <= _INT_MAX:")
                    self.emit(f"    {t} = _wrap({t})")
                return t
        self.emit(f"{t} = {fn}({a}, {b})")
        return t

    @staticmethod
    def _identity_test(name: str, value: Any) -> str | None:
        if value is True or value is False:
            return f"{name} is {value!r}"
        if value is UNDEFINED:
            return f"{name} is _U"
        if value is ERROR:
            return f"{name} is _E"
        if type(value) is int or type(value) is str:
            return f"type({name}) is {type(value).__name__} and {name} == {value!r}"
        return None

    def _fast_numeric(
        self, a: str, b: str, left: Expr, right: Expr, op: str
    ) -> list[tuple[str, str]] | None:
        lv = left.value if _is_const(left) else None  # type: ignore[attr-defined]
        rv = right.value if _is_const(right) else None  # type: ignore[attr-defined]
        if type(lv) is int:
            guard = f"type({b}) is int"
        elif type(rv) is int:
            guard = f"type({a}) is int"
        elif _is_const(left) or _is_const(right):
            if op in _INLINE_ARITH:
                return None
            lit = lv if _is_const(left) else rv
            if type(lit) is not float:
                return None
            other = b if _is_const(left) else a
            guard = f"type({other}) is float"
        else:
            guard = f"type({a}) is type({b}) is int"
            if op in _INLINE_COMPARE:
                guard = f"(type({a}) is type({b}) is int or type({a}) is type({b}) is float)"
        return [(guard, f"{a} {op} {b}")]

    def _fast_string_eq(
        self, a: str, b: str, left: Expr, right: Expr, op: str
    ) -> list[tuple[str, str]] | None:
        lit = right if _is_const(right) else left
        if not _is_const(lit) or type(lit.value) is not str:  # type: ignore[attr-defined]
            return None
        text: str = lit.value  # type: ignore[attr-defined]
        if not text.isascii():
            return None
        other = a if lit is right else b
        folded = self.const(text.lower())
        exact = self.const(text)
        ascii_text = f"type({other}) is str and {other}.isascii()"
        if op == "==":
            # The exact spelling first: one comparison in the common case.
            return [(f"{other} == {exact}", "True"), (ascii_text, f"{other}.lower() == {folded}")]
        return [(ascii_text, f"{other}.lower() != {folded}")]

    def _logical(self, expr: Binary) -> str:
        # A chain `a && b && c` (left-associative) runs as a flat sequence of
        # steps at one indentation level, each skipped once the result is settled.
        op = expr.op
        operands: list[Expr] = []
        node: Expr = expr
        while type(node) is Binary and node.op == op:
            operands.append(node.right)
            node = _strip(node.left)
        operands.append(node)
        operands.reverse()
        is_and = op == "&&"
        stop = "False" if is_and else "True"
        go = "True" if is_and else "False"
        combine = "_and" if is_and else "_or"
        first = self.gen(operands[0])
        if first.startswith("_t"):
            t = first  # the operand's own temporary carries the result
        else:
            t = self.temp()
            self.emit(f"{t} = {first}")
        for operand in operands[1:]:
            self.emit(f"if {t} is {go} or {t} is not {stop} and {t} is not _E:")
            self.indent += 1
            b = self.gen(operand)
            # `go` and `go` stays `go` (the common case: nothing to store).
            self.emit(f"if {b} is not {go} or {t} is not {go}:")
            self.emit(f"    {t} = {b} if {t} is {go} and {b} is {stop} else {combine}({t}, {b})")
            self.indent -= 1
        return t

    def _branch(self, test: str, then: Expr, otherwise: Expr) -> str:
        t = self.temp()
        c = self.temp()
        self.emit(f"{c} = {test} if {test} is True or {test} is False else _cond({test})")
        self.emit(f"if {c} is True:")
        self.indent += 1
        self.emit(f"{t} = {self.gen(then)}")
        self.indent -= 1
        self.emit(f"elif {c} is False:")
        self.indent += 1
        self.emit(f"{t} = {self.gen(otherwise)}")
        self.indent -= 1
        self.emit(f"else: {t} = {c}")
        return t

    def _gen_Conditional(self, expr: Conditional) -> str:
        test = _strip(expr.test)
        if _is_const(test):
            c = operators.condition(test.value)  # type: ignore[attr-defined]
            if c is True:
                return self.gen(expr.then)
            if c is False:
                return self.gen(expr.otherwise)
            return self.const(c)
        return self._branch(self.gen(test), expr.then, expr.otherwise)

    def _gen_Elvis(self, expr: Elvis) -> str:
        v = self.gen(expr.test)
        t = self.temp()
        self.emit(f"if {v} is _U:")
        self.indent += 1
        self.emit(f"{t} = {self.gen(expr.otherwise)}")
        self.indent -= 1
        self.emit(f"else: {t} = {v}")
        return t

    def _gen_ListExpr(self, expr: ListExpr) -> str:
        items = [self.gen(i) for i in expr.items]
        t = self.temp()
        if expr.reads_context():
            exprs = self.const(expr.items)
            self.emit(f"{t} = _sl([{', '.join(items)}], {exprs}, scope, my, target)")
        else:
            self.emit(f"{t} = [{', '.join(items)}]")
        return t

    def _gen_AdExpr(self, expr: AdExpr) -> str:
        t = self.temp()
        self.uses.add("scope")
        self.emit(f"{t} = _adv({self.const(expr)}, scope)")
        return t

    def _gen_Call(self, expr: Call) -> str:
        key = expr.key
        args = expr.args
        t = self.temp()
        if key in runtime.CONTEXT_FUNCTIONS:
            if key == "ifthenelse":
                if len(args) != 3:
                    return "_E"
                return self._branch(self.gen(args[0]), args[1], args[2])
            if key == "time":
                self.emit(f"{t} = _time(env)" if not args else f"{t} = _E")
                return t
            if key == "unparse":
                arg = _strip(args[0]) if len(args) == 1 else None
                if type(arg) is not AttrRef:
                    return "_E"
                self.uses.add("scope")
                self.emit(f"{t} = _unparse(scope, my, target, {arg.scope!r}, {arg.key!r})")
                return t
            values = [self.gen(a) for a in args]
            if key == "random":
                self.emit(f"{t} = _random(env, [{', '.join(values)}])")
                return t
            # eval
            if len(values) != 1:
                return "_E"
            self.uses.add("scope")
            self.emit(f"{t} = _eval({values[0]}, scope, my, target, env)")
            return t
        fn = runtime.builtins().get(key)
        values = [self.gen(a) for a in args]
        if fn is None:
            return "_E"
        if key in runtime.LIST_READERS:
            # A list read item by item is evaluated here (runtime.rebind).
            for i, v in enumerate(values):
                if v.startswith("_t"):
                    r = values[i] = self.temp()
                    self.emit(
                        f"{r} = _rebind({v}, scope, my, target, env) if type({v}) is _SL else {v}"
                    )
        f = self.const(fn)
        self.emit(f"try: {t} = {f}({', '.join(values)})")
        self.emit(f"except (TypeError, ValueError, OverflowError): {t} = _E")
        return t


def fold(expr: Expr) -> Literal | None:
    """The literal an expression reduces to without any ad, or None."""
    expr = _strip(expr)
    t = type(expr)
    if t is Literal:
        return expr  # type: ignore[return-value]
    if t is Unary:
        inner = fold(expr.operand)  # type: ignore[attr-defined]
        if inner is not None:
            return _literal(operators.UNARY[expr.op](inner.value))  # type: ignore[attr-defined]
    if t is Conditional:
        test = fold(expr.test)  # type: ignore[attr-defined]
        if test is None:
            return None
        c = operators.condition(test.value)
        if c is True:
            return fold(expr.then)  # type: ignore[attr-defined]
        if c is False:
            return fold(expr.otherwise)  # type: ignore[attr-defined]
        return _literal(c)
    if t is Binary:
        op = expr.op  # type: ignore[attr-defined]
        left = fold(expr.left)  # type: ignore[attr-defined]
        if left is None:
            return None
        if op == "&&" or op == "||":
            c = operators.condition(left.value)
            if (op == "&&" and (c is False or c is ERROR)) or (
                op == "||" and (c is True or c is ERROR)
            ):
                return _literal(c)
        right = fold(expr.right)  # type: ignore[attr-defined]
        if right is None:
            return None
        if op == "&&":
            return _literal(operators.logical_and(left.value, lambda: right.value))
        if op == "||":
            return _literal(operators.logical_or(left.value, lambda: right.value))
        return _literal(operators.BINARY[op](left.value, right.value))
    return None


def _literal(value: Any) -> Literal | None:
    if value is UNDEFINED or value is ERROR or type(value) in (bool, int, float, str):
        return Literal(value)
    return None


def generate_source(expr: Expr) -> tuple[str, dict[str, Any]]:
    """The Python source of the function for `expr`, and the namespace it runs in."""
    cg = _Codegen()
    result = cg.gen(expr)
    prologue = ["    if scope is None: scope = my"]
    if "scope" in cg.uses:
        prologue.append("    _sc = scope._consts if scope is not None else _EMPTY")
    if "my" in cg.uses:
        prologue.append("    _mc = my._consts if my is not None else _EMPTY")
    if "target" in cg.uses:
        prologue.append("    _tc = target._consts if target is not None else _EMPTY")
    body = [*prologue, "    try:"]
    body += ["    " + line for line in cg.lines]
    body.append(f"        return {result}")
    body.append("    except RecursionError:")
    body.append("        return _E")
    source = "def _classad_expr(my=None, target=None, scope=None, env=None):\n" + "\n".join(body)
    return source + "\n", cg.namespace


def compile_expr(expr: Expr) -> Callable[..., Any]:
    """A callable `(my=None, target=None, scope=None, env=None) -> Value` for `expr`."""
    try:
        source, namespace = generate_source(expr)
        code = compile(source, "<classad>", "exec")
    except (RecursionError, SyntaxError, MemoryError):
        return _tree_walker(expr)
    exec(code, namespace)
    fn: Callable[..., Any] = namespace["_classad_expr"]
    return fn


def _tree_walker(expr: Expr) -> Callable[..., Any]:
    def run(my: Any = None, target: Any = None, scope: Any = None, env: Any = None) -> Any:
        try:
            return _evaluate.ev(expr, (my if scope is None else scope, my, target, env))
        except RecursionError:
            return ERROR

    return run
