"""The values a ClassAd expression evaluates to.

Evaluation yields plain Python values (`bool`, `int`, `float`, `str`, `list`,
`ClassAd`) or one of two singletons, `UNDEFINED` and `ERROR`, which take part
in HTCondor's three-valued logic. They are singletons so that `v is UNDEFINED`
is the (fast) test everywhere. A list literal whose items read attributes
evaluates to a `ScopedList`, a `list` that also remembers its items'
expressions and where they were evaluated (see `runtime.rebind`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias, final

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd
    from skyflock.classad.nodes import Expr


@final
class Undefined:
    """The value of a reference to an attribute no ad defines."""

    __slots__ = ()
    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        raise TypeError("UNDEFINED has no truth value; compare with `is UNDEFINED`")

    def __reduce__(self) -> str:
        return "UNDEFINED"


@final
class Error:
    """The value of an expression that cannot be evaluated (type error, 1/0, cycles)."""

    __slots__ = ()
    _instance: Error | None = None

    def __new__(cls) -> Error:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ERROR"

    def __bool__(self) -> bool:
        raise TypeError("ERROR has no truth value; compare with `is ERROR`")

    def __reduce__(self) -> str:
        return "ERROR"


class ScopedList(list):
    """A list value, plus the expressions of its items and the context they were evaluated in.

    HTCondor keeps a list as its unevaluated item expressions. `l[i]`
    evaluates item i where the list was written, which is what the values
    held here are; but a function that reads every item (`sum`, `member`,
    `quantize`, `join` ...) and `l.name` evaluate each item where *they*
    stand, so `min(TARGET.l)` with `l = {MY.a}` in the target reads the
    caller's `a`. `runtime.rebind` gives those readers the items again in
    their own context. Only lists whose items read the context are kept
    this way; everything else treats a `ScopedList` as the plain list it is,
    and it pickles and copies as one.
    """

    __slots__ = ("exprs", "my", "scope", "target")

    exprs: tuple[Expr, ...]
    scope: ClassAd | None
    my: ClassAd | None
    target: ClassAd | None

    def __reduce__(self) -> tuple[type, tuple[list[Value]]]:
        return (list, (list(self),))


UNDEFINED: Final = Undefined()
ERROR: Final = Error()

Value: TypeAlias = "bool | int | float | str | list[Value] | ClassAd | Undefined | Error"
"""What `Expr.eval` returns."""
