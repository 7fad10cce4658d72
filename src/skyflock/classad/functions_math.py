"""Built-in numeric functions: floor, ceiling, round, pow, quantize, and list aggregates.

Part of `BUILTINS` (assembled in `functions.py`). Aggregates (`sum`, `avg`,
`min`, `max`) and list predicates (`member`, `anyCompare`, ...) combine
elements with the operators of `operators.py`, so overflow, promotion and
string case follow the operators exactly. A few results copy quirks of
HTCondor's implementation on purpose (a negative integer base to an odd power
is one more than the true power; an integer `quantize` rounds
`(a + b - 1) / b`); the tests pin them against HTCondor's library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Final

from skyflock.classad.functions_convert import Builtin, fn_real, is_scalar, real_to_int
from skyflock.classad.operators import (
    BINARY,
    add,
    div,
    gt,
    identical,
    lt,
    mul,
    wrap64,
)
from skyflock.classad.values import ERROR, UNDEFINED, Value

# --- rounding ---------------------------------------------------------------------


def _rounding(to_integral: Callable[[float], float]) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 1:
            return ERROR
        v = args[0]
        if type(v) is int:
            return v
        r = fn_real(v)
        if type(r) is not float:
            return ERROR
        if r != r or math.isinf(r):
            return real_to_int(r)
        return real_to_int(to_integral(r))

    return fn


# --- pow ----------------------------------------------------------------------------


def _c_pow(x: float, y: float) -> float:
    """C's `pow`: infinities and NaN instead of Python's exceptions."""
    try:
        return math.pow(x, y)
    except OverflowError:
        odd = y == int(y) and int(y) % 2 == 1
        return -math.inf if x < 0 and odd else math.inf
    except ValueError:
        if x == 0.0:  # zero to a negative power
            odd = y == int(y) and int(y) % 2 == 1
            return -math.inf if odd and math.copysign(1.0, x) < 0 else math.inf
        return math.nan


def fn_pow(*args: Value) -> Value:
    if len(args) != 2:
        return ERROR
    base, exponent = args
    if type(base) is int and type(exponent) is int and exponent >= 0:
        b: int = base
        e: int = exponent
        magnitude = _c_pow(float(abs(b)), float(e))
        if b < 0 and e % 2 == 1:
            magnitude = -magnitude + 1.0
        return real_to_int(magnitude)
    x = fn_real(base)
    y = fn_real(exponent)
    if type(x) is not float or type(y) is not float:
        return ERROR
    return _c_pow(x, y)


# --- quantize -----------------------------------------------------------------------


def _quantum(a: Value, b: Value, original: Value) -> Value:
    """One step of quantize: the least multiple of `b` that is at least `a`.

    With no usable quantum (zero, or a quotient that is not finite) HTCondor
    gives back the first argument as it was written, a string included.
    """
    if type(a) is int and type(b) is int:
        if b == 0:
            return original
        q = div(wrap64(a + b - 1), b)
        return mul(q, b)
    x = fn_real(a)
    y = fn_real(b)
    if type(x) is not float or type(y) is not float:
        return ERROR
    if y == 0.0:
        return original
    q = x / y
    if math.isinf(q) or q != q:
        return original
    steps = float(math.ceil(q))
    if steps == 0.0:
        steps = math.copysign(0.0, q)  # C's ceil keeps the sign of zero and of a negative fraction
    return steps * y


def _number(v: Value) -> Value:
    return v if type(v) is int else fn_real(v)


def fn_quantize(*args: Value) -> Value:
    if len(args) != 2:
        return ERROR
    original, b = args
    if not is_scalar(original) or original is UNDEFINED or original is ERROR:
        return ERROR
    a = _number(original)
    if a is ERROR or a is UNDEFINED:
        return ERROR
    if not isinstance(b, list):
        return _quantum(a, b, original) if is_scalar(b) and b is not UNDEFINED else ERROR
    last: Value = None  # type: ignore[assignment]
    for item in b:
        if not is_scalar(item) or item is UNDEFINED or item is ERROR:
            return ERROR
        n = _number(item)
        if n is ERROR or n is UNDEFINED:
            return ERROR
        if not lt(n, a):
            return item
        last = n
    return original if last is None else _quantum(a, last, original)


# --- aggregates over lists --------------------------------------------------------


def _defined_items(args: tuple[Value, ...]) -> list[Value] | Value:
    if len(args) != 1:
        return ERROR
    items = args[0]
    if items is UNDEFINED or items is ERROR:
        return items
    if not isinstance(items, list):
        return ERROR
    out = []
    for v in items:
        if v is UNDEFINED:
            continue
        if type(v) not in (int, float, bool):
            return ERROR
        out.append(v)
    return out


def fn_sum(*args: Value) -> Value:
    items = _defined_items(args)
    if not isinstance(items, list):
        return items
    if not items:
        return 0
    total = items[0]
    for v in items[1:]:
        total = add(total, v)
    return total


def fn_avg(*args: Value) -> Value:
    items = _defined_items(args)
    if not isinstance(items, list):
        return items
    if not items:
        return 0
    return div(fn_sum(items), float(len(items)))


def _extreme(better: Callable[[Value, Value], Value]) -> Builtin:
    def fn(*args: Value) -> Value:
        items = _defined_items(args)
        if not isinstance(items, list):
            return items
        if not items:
            return UNDEFINED
        best = items[0]
        for v in items[1:]:
            if type(best) is float or type(v) is float:
                best, v = float(best), float(v)  # type: ignore[arg-type]
            else:
                best, v = int(best), int(v)  # type: ignore[arg-type]
            if better(v, best) is True:
                best = v
        return best

    return fn


# --- membership and comparisons over lists -----------------------------------------


def _membership(same: Callable[[Value, Value], Value]) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 2:
            return ERROR
        needle, items = args
        if items is UNDEFINED:
            return UNDEFINED
        if not is_scalar(needle):
            return ERROR
        if same is not identical and (needle is UNDEFINED or needle is ERROR):
            return needle
        if not isinstance(items, list):
            return ERROR
        return any(same(item, needle) is True for item in items)

    return fn


_COMPARE_OPS: Final = ("<", "<=", "==", "!=", ">", ">=", "is", "isnt")


def _list_compare(want_all: bool) -> Builtin:
    def fn(*args: Value) -> Value:
        if len(args) != 3:
            return ERROR
        op, items, target = args
        if op is UNDEFINED:
            return UNDEFINED
        if type(op) is not str or op not in _COMPARE_OPS:
            return ERROR
        if items is UNDEFINED:
            return UNDEFINED
        if not isinstance(items, list):
            return ERROR
        compare = BINARY[op]
        for item in items:
            r = compare(item, target)
            if r is ERROR:
                return ERROR
            if r is not True and r is not False:
                return False
            if want_all and r is False:
                return False
            if not want_all and r is True:
                return True
        return want_all

    return fn


MATH: Final[Mapping[str, Builtin]] = {
    "floor": _rounding(math.floor),
    "ceiling": _rounding(math.ceil),
    "round": _rounding(round),
    "pow": fn_pow,
    "quantize": fn_quantize,
    "sum": fn_sum,
    "avg": fn_avg,
    "min": _extreme(lt),
    "max": _extreme(gt),
    "member": _membership(BINARY["=="]),
    "identicalmember": _membership(identical),
    "anycompare": _list_compare(want_all=False),
    "allcompare": _list_compare(want_all=True),
}
