"""The changing state of an object graph (an environment, a policy): captured to a checkpoint, restored in place.

:func:`capture_state` walks the attributes of rwmu objects from a root and records, by dotted path:

- tensors (copies), except the parameters and buffers of ``torch.nn`` modules (weights, saved on their own);
- the states of ``torch.Generator`` and ``numpy.random.Generator`` objects;
- sequences (list, tuple, deque) of tensors and numbers, as one entry (not those holding module parameters);
- integers held in private attributes (``_name``): counters. Public scalars are settings, which come from the
  command that builds the object and are never overwritten.

Dictionaries and the objects of rwmu classes and their subclasses (and ``nn.Module`` attributes) are walked, except
frozen dataclasses (settings); everything else (strings, functions, objects of other libraries) is left alone. An
object reached twice (a generator shared by several parts) is recorded once, at its first path.
:func:`restore_state` writes a captured state into an object built the same way (same settings and sizes): tensors
of the same shape are copied in place, so views and shared buffers stay shared. What a checkpoint holds is plain
tensors, numbers, lists and dicts, readable with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Collection
from typing import Any

import numpy as np
import torch

SECTIONS = ("tensors", "generators", "numpy_generators", "sequences", "counters")


def _is_leaf_value(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, int, float, bool)) or value is None


def _walkable(value: Any) -> bool:
    if dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen:  # type: ignore[attr-defined]
        return False
    return isinstance(value, torch.nn.Module) or any(c.__module__.split(".")[0] == "rwmu" for c in type(value).__mro__)


def capture_state(root: Any, skip: Collection[str] = ()) -> dict[str, dict[str, Any]]:
    """The changing state of ``root``'s object graph (module docstring), as ``{section: {path: value}}``.

    Args:
        root: the object to capture.
        skip: dotted paths (relative to ``root``) of what not to walk, e.g. data that never changes; what they name
            is not recorded under another path either.
    """
    state: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    seen: set[int] = set()

    def visit(value: Any, path: str, private: bool) -> None:
        if id(value) in seen:
            return
        if path in skip:
            if not isinstance(value, (int, float, bool, str)):
                seen.add(id(value))  # not reached by another path either
            return
        if isinstance(value, torch.Tensor):
            seen.add(id(value))
            state["tensors"][path] = value.detach().clone()
        elif isinstance(value, torch.Generator):
            seen.add(id(value))
            state["generators"][path] = value.get_state()
        elif isinstance(value, np.random.Generator):
            seen.add(id(value))
            state["numpy_generators"][path] = value.bit_generator.state
        elif isinstance(value, (list, tuple, deque)):
            if any(isinstance(v, torch.nn.Parameter) for v in value):
                return
            if all(_is_leaf_value(v) for v in value):
                state["sequences"][path] = [v.detach().clone() if isinstance(v, torch.Tensor) else v for v in value]
            else:
                for i, item in enumerate(value):
                    visit(item, f"{path}.{i}", False)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "." not in key:
                    visit(item, f"{path}.{key}", False)
        elif isinstance(value, int) and not isinstance(value, bool):
            if private:
                state["counters"][path] = int(value)
        elif _walkable(value):
            seen.add(id(value))
            attributes = vars(value) if hasattr(value, "__dict__") else {}
            if isinstance(value, torch.nn.Module):
                children = attributes.get("_modules", {})
                attributes = {k: v for k, v in attributes.items() if k not in ("_parameters", "_buffers", "_modules")}
                attributes.update(children)
            for name, item in attributes.items():
                visit(item, f"{path}.{name}" if path else name, name.startswith("_"))

    visit(root, "", False)
    return state


def _parent_and_key(root: Any, path: str) -> tuple[Any, str]:
    *head, last = path.split(".")
    node = root
    for part in head:
        node = _get(node, part)
    return node, last


def _get(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node[key]
    if isinstance(node, (list, tuple, deque)):
        return node[int(key)]
    return getattr(node, key)


def _set(node: Any, key: str, value: Any) -> None:
    if isinstance(node, dict):
        node[key] = value
    elif isinstance(node, list):
        node[int(key)] = value
    else:
        object.__setattr__(node, key, value)  # frozen dataclasses too


def restore_state(root: Any, state: dict[str, dict[str, Any]]) -> None:
    """Write ``state`` (from :func:`capture_state` on an object built like ``root``) into ``root``.

    Raises:
        ValueError: a recorded path does not exist in ``root`` (it was built differently).
    """
    with torch.inference_mode():  # buffers that the object updates inside inference mode are inference tensors
        for section in SECTIONS:
            for path, value in state.get(section, {}).items():
                try:
                    parent, key = _parent_and_key(root, path)
                    current = _get(parent, key) if _has(parent, key) else None
                except (AttributeError, KeyError, IndexError, ValueError) as err:
                    raise ValueError(f"{path}: not in the object to restore ({err})") from None
                if section in ("generators", "numpy_generators") and current is None:
                    raise ValueError(f"{path}: the object to restore has no random generator there")
                if section == "tensors":
                    same = isinstance(current, torch.Tensor) and (current.shape, current.dtype) == (
                        value.shape,
                        value.dtype,
                    )
                    if same:
                        current.copy_(value)
                    else:
                        _set(parent, key, value.to(current.device) if isinstance(current, torch.Tensor) else value)
                elif section == "generators":
                    current.set_state(value)
                elif section == "numpy_generators":
                    current.bit_generator.state = value
                elif section == "counters":
                    _set(parent, key, int(value))
                else:
                    _restore_sequence(parent, key, current, value)


def _has(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node
    if isinstance(node, (list, tuple, deque)):
        return 0 <= int(key) < len(node)
    return hasattr(node, key)


def _restore_sequence(parent: Any, key: str, current: Any, value: list) -> None:
    if isinstance(current, deque):
        current.clear()
        current.extend(value)
    elif isinstance(current, list):
        current[:] = value
    elif (
        isinstance(current, tuple)
        and len(current) == len(value)
        and all(
            isinstance(c, torch.Tensor) and isinstance(v, torch.Tensor) and c.shape == v.shape
            for c, v in zip(current, value)
        )
    ):
        for c, v in zip(current, value):
            c.copy_(v)
    else:
        _set(parent, key, tuple(value) if isinstance(current, tuple) else value)
