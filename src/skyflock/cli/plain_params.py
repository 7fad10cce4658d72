"""Command-line values turned into Python values without pydantic.

The pinned typer converts every non-flag parameter (`-limit 5`, a job id, a
path) through a pydantic `TypeAdapter`, and importing pydantic and building
those adapters costs more than everything else a client command loads. Our
commands take only strings, numbers (with `min`/`max`), paths, and lists or
tuples of those; `PlainCommand` converts these directly, with the same checks
and `Invalid value for ...` messages, and leaves any other kind of parameter
(enums, dates, custom parsers, files) to typer's own conversion.

This leans on two of typer's internals (`_TyperParameter._runtime_param` and
`RuntimeParam`); when they are not there, commands keep typer's conversion and
only lose the speed (tests/cli/test_plain_params.py notices).
Neighbours: `cli.main` makes the app a `PlainGroup` and every command a
`PlainCommand`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer's internals; see the module docstring
    from typer._coercion import RuntimeParam, TypeDescriptor
    from typer._param_types import coerce_cli_path
    from typer.models import ParameterInfo
except ImportError:  # pragma: no cover - another typer: keep its own conversion
    RuntimeParam = None  # type: ignore[assignment,misc]

Convert = Callable[[Any, Any, Any], Any]
"""(value, param, ctx) -> converted value, or raises typer.BadParameter."""


def _text(value: Any, param: Any, ctx: Any) -> str:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    return str(value)


_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"", "0", "false", "f", "no", "n", "off"}


def _flag(value: Any, param: Any, ctx: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise typer.BadParameter(f"{value!r} is not a valid boolean.", ctx=ctx, param=param)


def _number(kind: type[int] | type[float], info: ParameterInfo) -> Convert:
    word = "integer" if kind is int else "number"

    def convert(value: Any, param: Any, ctx: Any) -> int | float:
        if isinstance(value, kind) and not isinstance(value, bool):
            number: int | float = value
        else:
            try:
                number = kind(str(value).strip())
            except ValueError:
                raise typer.BadParameter(
                    f"{value!r} is not a valid {word}.", ctx=ctx, param=param
                ) from None
        if info.clamp:
            if info.min is not None and number < info.min:
                number = kind(info.min)
            if info.max is not None and number > info.max:
                number = kind(info.max)
            return number
        if info.min is not None and number < info.min:
            raise typer.BadParameter(
                f"must be at least {info.min:g}, not {number}.", ctx=ctx, param=param
            )
        if info.max is not None and number > info.max:
            raise typer.BadParameter(
                f"must be at most {info.max:g}, not {number}.", ctx=ctx, param=param
            )
        return number

    return convert


def _path(info: ParameterInfo) -> Convert:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        path = value if isinstance(value, Path) else Path(os.fsdecode(value))
        # typer's own checks (exists, file_okay, readable...) on a Path do not need pydantic
        return coerce_cli_path(path, info, path_type=Path, param=param, ctx=ctx)

    return convert


def _converter(annotation: Any, info: ParameterInfo) -> Convert | None:
    """How to convert one value of this annotation, or None to leave it to typer."""
    if info.parser is not None or getattr(info, "click_type", None) is not None:
        return None
    origin = get_origin(annotation)
    if origin is list:
        (item_type,) = get_args(annotation)
        item = _converter(item_type, info)
        if item is None:
            return None

        def convert_list(value: Any, param: Any, ctx: Any) -> list[Any]:
            values = value if isinstance(value, list | tuple) else [value]
            return [item(v, param, ctx) for v in values]

        return convert_list
    if origin is tuple:
        items = [_converter(t, info) for t in get_args(annotation)]
        if not items or any(i is None for i in items) or Ellipsis in get_args(annotation):
            return None
        converters = [i for i in items if i is not None]

        def convert_tuple(value: Any, param: Any, ctx: Any) -> tuple[Any, ...]:
            if not isinstance(value, list | tuple) or len(value) != len(converters):
                raise typer.BadParameter(
                    f"{len(converters)} values are required.", ctx=ctx, param=param
                )
            return tuple(c(v, param, ctx) for c, v in zip(converters, value, strict=True))

        return convert_tuple
    if origin is not None:
        return None
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation is int or annotation is float:
        return _number(annotation, info)
    if annotation is Path and info.path_type in (None, Path):
        return _path(info)
    return None


if RuntimeParam is not None:

    class PlainRuntimeParam(RuntimeParam):
        """typer's runtime conversion contract, fulfilled by a plain converter."""

        # a dataclass field would make the frozen base's __init__ reject it
        convert: Convert

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            return self.convert(value, param, ctx)

    def plain_runtime_param(descriptor: TypeDescriptor) -> RuntimeParam | None:
        if descriptor.file_annotation is not None:
            return None
        convert = _converter(descriptor.annotation, descriptor.parameter_info)
        if convert is None:
            return None
        runtime = PlainRuntimeParam(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
        )
        object.__setattr__(runtime, "convert", convert)
        return runtime


def _make_plain(params: list[Any]) -> list[Any]:
    if RuntimeParam is None:  # pragma: no cover
        return params
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", "missing") is not None:
            continue
        runtime = plain_runtime_param(descriptor)
        if runtime is not None:
            param._runtime_param = runtime
    return params


class PlainCommand(TyperCommand):
    """A typer command whose plain parameters are converted without pydantic."""

    def get_params(self, ctx: Any) -> list[Any]:
        # its parameters and the --help option typer adds to them
        return _make_plain(super().get_params(ctx))


class PlainGroup(TyperGroup):
    """The command group, whose only parameter (--help) is converted the same way."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _make_plain(super().get_params(ctx))


def use_plain_params(app: typer.Typer) -> None:
    """Make every command registered on `app` so far a `PlainCommand`."""
    for info in app.registered_commands:
        if info.cls is None or info.cls is TyperCommand:
            info.cls = PlainCommand
