"""HTCondor's operator semantics on ClassAd values, with no syntax tree.

The evaluator and the compiler (neighbours in this package) look operators up
in `BINARY` and `UNARY` and call them on already-evaluated values; `&&`, `||`
and `?:` need their second operand lazily, so they are `logical_and`,
`logical_or` and `condition` instead. Built-in functions (`functions.py`) reuse
the comparison helpers from here so that `member`, `min` and friends compare
exactly as the operators do.

The rules follow HTCondor's C++ ClassAd library, checked value by value against
it in `tests/classad/test_operators.py`:

* ERROR beats UNDEFINED: a strict operator with an ERROR operand is ERROR,
  otherwise with an UNDEFINED operand it is UNDEFINED. Only then are types
  checked; a type mismatch is ERROR.
* Booleans count as 0 and 1 in binary arithmetic and comparison, not in the
  bitwise and shift operators, nor under unary `-`/`+`.
* Integers are 64-bit signed and wrap around; `/` and `%` truncate toward
  zero; an integer `/` or `%` by zero is ERROR, and so is `%` on reals.
* A real result of positive infinity is ERROR (the C++ library checks for it);
  negative infinity and NaN stay values. A mixed integer/real comparison
  converts the integer to a double first, as C does.
* `==`, `<` and friends compare strings without regard to ASCII case;
  `=?=`/`is` need the same type and the same value, case-sensitively, and are
  never UNDEFINED. Lists and ads under `==` are ERROR, and so are two lists (or
  two ads) under `=?=`.
* Shift counts are taken modulo 64, as the x86 instructions HTCondor runs on
  do, except that `>>` of a negative number by a count <= 0 leaves it alone
  and by a count >= 64 gives -1; `>>>` shifts in zeros.
"""

from __future__ import annotations

import math
import operator as _op
from collections.abc import Callable, Mapping
from typing import Final

from skyflock.classad.values import ERROR, UNDEFINED, Error, Undefined, Value

INT_MIN: Final = -(1 << 63)
INT_MAX: Final = (1 << 63) - 1
_MASK: Final = (1 << 64) - 1
_INF: Final = math.inf

_BOOL: Final = bool
_INT: Final = int
_FLOAT: Final = float
_STR: Final = str
_UNDEF: Final = Undefined
_ERR: Final = Error


def wrap64(i: int) -> int:
    """Reduce a Python integer to the 64-bit two's-complement value C would hold."""
    if INT_MIN <= i <= INT_MAX:
        return i
    i &= _MASK
    return i - (1 << 64) if i > INT_MAX else i


_ASCII_LOWER: Final = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


def fold_case(s: str) -> str:
    """Lower-case ASCII letters only, as C's `strcasecmp` does in the C locale."""
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


def _num(v: Value) -> int | float | None:
    """The number a value stands for in arithmetic/comparison, or None."""
    t = type(v)
    if t is _INT or t is _FLOAT:
        return v  # type: ignore[return-value]
    if t is _BOOL:
        return 1 if v else 0
    return None


# --- arithmetic ---------------------------------------------------------------


def _real_result(r: float) -> Value:
    return ERROR if r == _INF else r


def _real_div(a: float, b: float) -> Value:
    if b == 0.0:
        if a != a or a == 0.0:
            return math.nan
        negative = (a < 0) != (math.copysign(1.0, b) < 0)
        return -_INF if negative else ERROR
    return _real_result(a / b)


def _int_div(a: int, b: int) -> Value:
    if b == 0:
        return ERROR
    if b == -1 and a == INT_MIN:
        return INT_MAX
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def _int_mod(a: int, b: int) -> Value:
    if b == 0:
        return ERROR
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _arith(
    int_op: Callable[[int, int], Value], real_op: Callable[[float, float], Value] | None
) -> Callable[[Value, Value], Value]:
    """A numeric operator: `int_op` on two integers, `real_op` once either is real
    (booleans count as 0 and 1). With no `real_op` (the bitwise operators)
    only two integers have a value."""

    def op(a: Value, b: Value) -> Value:
        ta = type(a)
        tb = type(b)
        if ta is _INT and tb is _INT:
            return int_op(a, b)  # type: ignore[arg-type]
        if ta is _ERR or tb is _ERR:
            return ERROR
        if ta is _UNDEF or tb is _UNDEF:
            return UNDEFINED
        if real_op is None:
            return ERROR
        x = _num(a)
        y = _num(b)
        if x is None or y is None:
            return ERROR
        if type(x) is _FLOAT or type(y) is _FLOAT:
            return real_op(float(x), float(y))
        return int_op(x, y)  # type: ignore[arg-type]

    return op


def _no_real(a: float, b: float) -> Value:
    return ERROR


add = _arith(lambda a, b: wrap64(a + b), lambda a, b: _real_result(a + b))
sub = _arith(lambda a, b: wrap64(a - b), lambda a, b: _real_result(a - b))
mul = _arith(lambda a, b: wrap64(a * b), lambda a, b: _real_result(a * b))
div = _arith(_int_div, _real_div)
mod = _arith(_int_mod, _no_real)


# --- comparison ---------------------------------------------------------------


def compare(a: Value, b: Value) -> int | Error | Undefined | None:
    """Three-way comparison as `<`/`==` see it: -1, 0, 1; None when unordered (NaN).

    ERROR/UNDEFINED operands and type mismatches are returned as ERROR/UNDEFINED.
    """
    ta = type(a)
    tb = type(b)
    if ta is _ERR or tb is _ERR:
        return ERROR
    if ta is _UNDEF or tb is _UNDEF:
        return UNDEFINED
    if ta is _STR:
        if tb is not _STR:
            return ERROR
        x = fold_case(a)  # type: ignore[arg-type]
        y = fold_case(b)  # type: ignore[arg-type]
        return -1 if x < y else (1 if x > y else 0)
    p = _num(a)
    q = _num(b)
    if p is None or q is None:
        return ERROR
    if type(p) is _FLOAT or type(q) is _FLOAT:
        p = float(p)
        q = float(q)
    if p < q:
        return -1
    if p > q:
        return 1
    if p == q:
        return 0
    return None


def _comparison(
    test: Callable[[int | None], bool], fast: Callable[[int, int], bool]
) -> Callable[[Value, Value], Value]:
    def op(a: Value, b: Value) -> Value:
        if type(a) is _INT and type(b) is _INT:
            return fast(a, b)
        c = compare(a, b)
        if c is ERROR or c is UNDEFINED:
            return c
        return test(c)  # type: ignore[arg-type]

    return op


lt = _comparison(lambda c: c == -1, _op.lt)
le = _comparison(lambda c: c == -1 or c == 0, _op.le)
gt = _comparison(lambda c: c == 1, _op.gt)
ge = _comparison(lambda c: c == 1 or c == 0, _op.ge)
eq = _comparison(lambda c: c == 0, _op.eq)
ne = _comparison(lambda c: c != 0, _op.ne)


def identical(a: Value, b: Value) -> bool | Error:
    """`=?=`: same type and same value, strings case-sensitive; never UNDEFINED."""
    ta = type(a)
    if ta is not type(b):
        # (A plain list and a values.ScopedList are both lists.)
        return ERROR if isinstance(a, list) and isinstance(b, list) else False
    if ta is _STR or ta is _INT or ta is _FLOAT or ta is _BOOL:
        return a == b
    if ta is _UNDEF or ta is _ERR:
        return True
    return ERROR


def not_identical(a: Value, b: Value) -> bool | Error:
    """`=!=`: the negation of `=?=` (still ERROR for two lists or two ads)."""
    r = identical(a, b)
    return r if r is ERROR else not r


# --- bitwise and shifts -------------------------------------------------------


def _rshift(a: int, n: int) -> int:
    if a >= 0:
        return a >> (n & 63)
    # HTCondor's sign-extending path for negative numbers: a non-positive count
    # leaves the number alone, a large one saturates at -1.
    return a if n <= 0 else a >> n


def _urshift(a: int, n: int) -> int:
    if a >= 0:
        return a >> (n & 63)
    return ((a >> 1) & INT_MAX) >> ((n - 1) & 63)


bit_and = _arith(lambda a, b: a & b, None)
bit_or = _arith(lambda a, b: a | b, None)
bit_xor = _arith(lambda a, b: a ^ b, None)
lshift = _arith(lambda a, n: wrap64(a << (n & 63)), None)
rshift = _arith(_rshift, None)
urshift = _arith(_urshift, None)


BINARY: Final[Mapping[str, Callable[[Value, Value], Value]]] = {
    "+": add,
    "-": sub,
    "*": mul,
    "/": div,
    "%": mod,
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
    "==": eq,
    "!=": ne,
    "=?=": identical,
    "=!=": not_identical,
    "is": identical,
    "isnt": not_identical,
    "<<": lshift,
    ">>": rshift,
    ">>>": urshift,
    "&": bit_and,
    "|": bit_or,
    "^": bit_xor,
}


# --- unary --------------------------------------------------------------------


def neg(a: Value) -> Value:
    t = type(a)
    if t is _INT:
        return wrap64(-a)  # type: ignore[operator, arg-type]
    if t is _FLOAT:
        return -a  # type: ignore[operator]
    if t is _UNDEF:
        return UNDEFINED
    return ERROR


def pos(a: Value) -> Value:
    t = type(a)
    if t is _INT or t is _FLOAT or t is _UNDEF:
        return a
    return ERROR


def not_(a: Value) -> Value:
    t = type(a)
    if t is _BOOL:
        return not a
    if t is _INT or t is _FLOAT:
        return a == 0
    if t is _UNDEF:
        return UNDEFINED
    return ERROR


def invert(a: Value) -> Value:
    t = type(a)
    if t is _INT:
        return ~a  # type: ignore[operator]
    if t is _UNDEF:
        return UNDEFINED
    return ERROR


UNARY: Final[Mapping[str, Callable[[Value], Value]]] = {
    "-": neg,
    "+": pos,
    "!": not_,
    "~": invert,
}


# --- logic --------------------------------------------------------------------


def condition(v: Value) -> bool | Undefined | Error:
    """How a value acts as a truth value (the test of `?:`, operands of `&&`/`||`).

    Booleans are themselves, numbers are true when non-zero (NaN is true),
    UNDEFINED stays UNDEFINED, anything else is ERROR.
    """
    t = type(v)
    if t is _BOOL:
        return v  # type: ignore[return-value]
    if t is _INT or t is _FLOAT:
        return v != 0
    if t is _UNDEF:
        return UNDEFINED
    return ERROR


def _logical(settled_by: bool) -> Callable[[Value, Callable[[], Value]], Value]:
    def op(a: Value, b: Callable[[], Value]) -> Value:
        x = a if type(a) is _BOOL else condition(a)
        if x is settled_by or x is ERROR:
            return x
        y = condition(b())
        if y is ERROR or y is settled_by:
            return y
        return x if x is UNDEFINED else y

    return op


logical_and: Final = _logical(False)
"""`a && b` with three-valued logic; `b` (a thunk) is only evaluated when `a` does not settle it."""
logical_or: Final = _logical(True)
"""`a || b` with three-valued logic; `b` (a thunk) is only evaluated when `a` does not settle it."""
