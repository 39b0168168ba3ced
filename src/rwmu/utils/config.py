"""Typed dataclass configs on the command line.

``add_dataclass_arguments(parser, Cfg)`` adds one ``--field-name`` flag per leaf field; nested dataclasses are
flattened (their field names must be unique across the tree). ``dataclass_from_args(Cfg, args, base)`` builds the
config back, keeping ``base``'s value for every flag the user did not give. Defaults live in the dataclasses alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, TypeVar

from rwmu.errors import RwmuError

T = TypeVar("T")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _dest(path: tuple[str, ...]) -> str:
    return "cfg__" + "__".join(path)


def _parse_value(kind: Any, text: str) -> Any:
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin is typing.Union or origin is types.UnionType:
        if text.lower() in ("none", "null", ""):
            return None
        return _parse_value([a for a in args if a is not type(None)][0], text)
    if origin in (tuple, list):
        inner = args[0] if args else float
        return tuple(_parse_value(inner, p) for p in text.replace(" ", "").split(",") if p != "")
    if origin is typing.Literal:
        if text not in args:
            raise ValueError(f"choose one of {', '.join(map(str, args))}")
        return text
    if kind is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


def _leaves(cls: type, path: tuple[str, ...] = ()):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from _leaves(kind, path + (f.name,))
        else:
            yield path + (f.name,), f, kind


def _metavar(kind: Any) -> str:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):  # Optional[X]: describe X
        return _metavar([a for a in typing.get_args(kind) if a is not type(None)][0])
    if typing.get_origin(kind) is typing.Literal:
        return "{" + ",".join(map(str, typing.get_args(kind))) + "}"
    if typing.get_origin(kind) in (tuple, list):
        return "A,B,..."
    return getattr(kind, "__name__", "VALUE").upper()


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                            title: str | None = None) -> None:  # fmt: skip
    """Add a ``--field-name`` flag for every leaf field of dataclass ``cls`` (defaults shown in the help)."""
    group = parser.add_argument_group(title or f"{cls.__name__} (every setting)")
    defaults = cls()
    seen: set[str] = set()
    for path, f, kind in _leaves(cls):
        if f.name in skip:
            continue
        if f.name in seen:
            raise ValueError(f"{cls.__name__}: field name {f.name!r} appears twice; flags must be unique")
        seen.add(f.name)
        default: Any = defaults
        for part in path:
            default = getattr(default, part)
        help_text = f.metadata.get("help", "") if f.metadata else ""
        group.add_argument(_flag(f.name), dest=_dest(path), default=None, metavar=_metavar(kind),
                           help=f"{help_text} (default: {default})".strip())  # fmt: skip


def dataclass_from_args(cls: type[T], args: argparse.Namespace, base: T | None = None) -> T:
    """Build ``cls`` from parsed flags, starting from ``base`` (or the defaults) for flags not given."""
    result = base if base is not None else cls()
    for path, f, kind in _leaves(cls):
        text = getattr(args, _dest(path), None)
        if text is None:
            continue
        try:
            value = _parse_value(kind, text)
        except ValueError as err:
            raise RwmuError(f"{_flag(f.name)} {text!r}: {err}") from None
        result = _replace_path(result, path, value)
    return result


def _replace_path(obj: Any, path: tuple[str, ...], value: Any) -> Any:
    if len(path) == 1:
        return dataclasses.replace(obj, **{path[0]: value})
    return dataclasses.replace(obj, **{path[0]: _replace_path(getattr(obj, path[0]), path[1:], value)})


def config_from_dict(cls: type, data: dict) -> Any:
    """Rebuild a (nested) frozen dataclass from its :func:`rwmu.utils.io.to_jsonable` form; unknown keys ignored."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if dataclasses.is_dataclass(hints[f.name]) and isinstance(value, dict):
            value = config_from_dict(hints[f.name], value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)
