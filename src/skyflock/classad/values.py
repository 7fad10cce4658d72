"""The values a ClassAd expression evaluates to.

Evaluation yields plain Python values (`bool`, `int`, `float`, `str`, `list`,
`ClassAd`) or one of two singletons, `UNDEFINED` and `ERROR`, which take part
in HTCondor's three-valued logic. They are singletons so that `v is UNDEFINED`
is the (fast) test everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, TypeAlias, final

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd


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


UNDEFINED: Final = Undefined()
ERROR: Final = Error()

Value: TypeAlias = "bool | int | float | str | list[Value] | ClassAd | Undefined | Error"
"""What `Expr.eval` returns."""
