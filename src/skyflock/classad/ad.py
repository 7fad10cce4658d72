"""The ClassAd: a set of named expressions, the unit that jobs and slots are made of.

Names are case-insensitive but keep the spelling they were given. Each
attribute holds an `Expr`; setting a plain Python value stores the literal
for it. Internally the ad keeps dicts keyed by lower-case name: the
expressions, the spellings, the values of constant attributes (so compiled
code reads `Memory = 4096` with one dict probe) and the compiled code of the
others. Neighbours: `nodes` (expressions), `forms` (reading and printing the
new, old and JSON forms), `runtime` (how references resolve during evaluation).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from skyflock.classad.nodes import AdExpr, Expr, literal_of
from skyflock.classad.nodes import Literal as LiteralNode

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.values import Value

Form = Literal["new", "old", "json"]

_INT_MIN = -(1 << 63)
_INT_MAX = (1 << 63) - 1


class ClassAd:
    """A ClassAd. `ad[name] = value_or_expr`, `ad.lookup(name)`, `ad.eval(name, target)`."""

    __slots__ = ("__weakref__", "_busy", "_code", "_consts", "_exprs", "_names", "_parent")

    def __init__(self, mapping: Mapping[str, Any] | None = None) -> None:
        self._exprs: dict[str, Expr] = {}
        self._names: dict[str, str] = {}
        self._consts: dict[str, Any] = {}
        self._code: dict[str, Callable[..., Value]] = {}
        self._busy: set[str] = set()
        self._parent: ClassAd | None = None
        if mapping is not None:
            self.update(mapping)

    # -- reading -------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> ClassAd:
        """Read one ad in the new (`[a = 1]`), old (`a = 1` per line) or JSON form."""
        from skyflock.classad.forms import parse_ad

        return parse_ad(text)

    def format(self, form: Form = "new") -> str:
        """This ad as text in the `new`, `old` or `json` form."""
        from skyflock.classad.forms import format_ad

        return format_ad(self, form)

    # -- the mapping ---------------------------------------------------------
    def __setitem__(self, name: str, value: Any) -> None:
        if not name or not isinstance(name, str):
            raise KeyError(f"attribute names are non-empty strings, not {name!r}")
        # Fast paths for what ads are mostly built from: Python strings and
        # numbers (one Literal node each) and already-parsed expressions.
        t = type(value)
        key = name.lower()
        if t is str or t is float or t is bool or (t is int and _INT_MIN <= value <= _INT_MAX):
            self._consts[key] = value
            expr: Expr = LiteralNode(value)
        else:
            expr = value if isinstance(value, Expr) else literal_of(value)
            if type(expr) is LiteralNode:
                self._consts[key] = expr.value
            else:
                self._consts.pop(key, None)
        self._names[key] = name  # a re-assignment re-spells the name
        self._exprs[key] = expr
        if self._code:
            self._code.pop(key, None)

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        del self._exprs[key]
        del self._names[key]
        self._consts.pop(key, None)
        self._code.pop(key, None)

    def __getitem__(self, name: str) -> Value:
        """The evaluated value of an attribute (KeyError when the ad has no such name)."""
        key = name.lower()
        if key not in self._exprs:
            raise KeyError(name)
        return self.eval(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The evaluated value of `name`, or `default` when the ad lacks it."""
        return self.eval(name) if name.lower() in self._exprs else default

    def lookup(self, name: str) -> Expr | None:
        """The expression of `name`, or None."""
        return self._exprs.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._exprs

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names.values()))

    def __len__(self) -> int:
        return len(self._exprs)

    def keys(self) -> list[str]:
        return list(self._names.values())

    def items(self) -> list[tuple[str, Expr]]:
        """(spelled name, expression) pairs."""
        return [(self._names[k], e) for k, e in self._exprs.items()]

    def tables(self) -> tuple[Mapping[str, Expr], Mapping[str, Any]]:
        """The ad's two lookup tables, for code that reads many attributes of many ads.

        Returns `(expressions, constants)`, both keyed by lower-case name:
        `expressions` maps every attribute to its `Expr` (what `lookup` reads);
        `constants` maps each attribute whose expression is a literal to its
        Python value (a subset of the names). They are the ad's own tables,
        not copies, so reading them costs one dict probe per attribute and
        they follow later changes to the ad; they are read-only: change the
        ad only through `ad[name] = ...`, `del ad[name]` and `update`.
        """
        return self._exprs, self._consts

    def name_of(self, name: str) -> str | None:
        """The spelling this ad uses for `name`, or None."""
        return self._names.get(name.lower())

    def copy(self) -> ClassAd:
        """A new ad with the same attributes (expressions are immutable and shared)."""
        new = ClassAd()
        new._exprs = dict(self._exprs)
        new._names = dict(self._names)
        new._consts = dict(self._consts)
        new._code = dict(self._code)
        return new

    def update(self, other: ClassAd | Mapping[str, Any]) -> None:
        """Set every attribute of `other` here."""
        if isinstance(other, ClassAd):
            for key, expr in other._exprs.items():
                self[other._names[key]] = expr
        else:
            for name, value in other.items():
                self[name] = value

    def clear(self) -> None:
        for d in (self._exprs, self._names, self._consts, self._code):
            d.clear()

    # -- evaluation ----------------------------------------------------------
    def eval(
        self,
        name: str,
        target: ClassAd | None = None,
        *,
        now: int | None = None,
        rng: object | None = None,
    ) -> Value:
        """The value of attribute `name` with this ad as MY and `target` as TARGET."""
        from skyflock.classad import runtime

        return runtime.eval_attribute(self, name.lower(), target, now=now, rng=rng)

    @property
    def parent(self) -> ClassAd | None:
        """The enclosing ad of a nested ad reached during evaluation (None at top level)."""
        return self._parent

    def _view(self, parent: ClassAd | None) -> ClassAd:
        """This ad's attributes seen from inside `parent` (shares all storage)."""
        view = ClassAd.__new__(ClassAd)
        view._exprs = self._exprs
        view._names = self._names
        view._consts = self._consts
        view._code = self._code
        view._busy = self._busy
        view._parent = parent
        return view

    # -- comparison and display ---------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ClassAd):
            return NotImplemented
        return self._exprs == other._exprs

    __hash__ = None  # type: ignore[assignment]

    def same_spelling(self, other: ClassAd) -> bool:
        """Equal, and every name spelled the same way."""
        return self == other and self._names == other._names

    def __str__(self) -> str:
        return self.format("new")

    def __repr__(self) -> str:
        return f"ClassAd.parse({self.format('new')!r})"

    def as_expr(self) -> AdExpr:
        """This ad as a nested-ad expression."""
        return AdExpr(tuple((self._names[k], e) for k, e in self._exprs.items()))


tables_of: Callable[[ClassAd], tuple[Mapping[str, Expr], Mapping[str, Any]]] = operator.attrgetter(
    "_exprs", "_consts"
)
"""`ClassAd.tables` as a C-level callable, for passes over many ads
(`map(tables_of, ads)`): the same pair of read-only tables without a Python
call per ad, which is measurable when a negotiation cycle groups a million jobs."""
