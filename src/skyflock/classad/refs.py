"""References and partial evaluation (placeholder until the full version lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from skyflock.classad.nodes import Expr

if TYPE_CHECKING:  # pragma: no cover - typing only
    from skyflock.classad.ad import ClassAd


def external_refs(expr: Expr, my: ClassAd | None = None) -> set[str]:
    raise NotImplementedError


def internal_refs(expr: Expr, my: ClassAd | None = None) -> set[str]:
    raise NotImplementedError


def flatten(expr: Expr, ad: ClassAd) -> Expr:
    raise NotImplementedError
