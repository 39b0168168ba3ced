"""Typed dataclass configs back from their JSON form (``config.json`` of a run, ``infos`` of a checkpoint)."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _convert(kind: Any, value: Any) -> Any:
    """``value`` read from JSON, turned into the field type ``kind`` where JSON lost it (tuples, paths, dataclasses)."""
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        return _convert(typing.get_args(kind)[0], value)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return _convert(options[0], value) if len(options) == 1 else value
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return config_from_dict(kind, value)
    if origin in (tuple, list) and isinstance(value, (list, tuple)):
        args = [a for a in typing.get_args(kind) if a is not Ellipsis]
        inner = args[0] if len(args) == 1 else None
        return tuple(_convert(inner, v) if inner is not None else v for v in value)
    if kind is Path and isinstance(value, str):
        return Path(value)
    return value


def config_from_dict(cls: type[T], data: dict) -> T:
    """Rebuild a (nested) dataclass from its :func:`rwmu.utils.io.to_jsonable` form; unknown keys are ignored."""
    hints = typing.get_type_hints(cls, include_extras=True)
    kwargs = {f.name: _convert(hints[f.name], data[f.name]) for f in dataclasses.fields(cls) if f.name in data}
    return cls(**kwargs)
