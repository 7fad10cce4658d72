"""Compiles an expression into a Python callable (placeholder: wraps the tree walker)."""

from __future__ import annotations

from typing import Any

from skyflock.classad import evaluate as _evaluate
from skyflock.classad.nodes import Expr
from skyflock.classad.values import ERROR


def compile_expr(expr: Expr) -> Any:
    def run(my: Any = None, target: Any = None, scope: Any = None, env: Any = None) -> Any:
        try:
            return _evaluate.ev(expr, (my if scope is None else scope, my, target, env))
        except RecursionError:
            return ERROR

    return run
