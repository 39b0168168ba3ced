"""Task registry: ``get_task("anymal_d_flat")``."""

from __future__ import annotations

from typing import Callable

from rwmu.errors import RwmuError
from rwmu.tasks.base import Task


def _anymal_d_flat() -> Task:
    from rwmu.tasks.anymal_d_flat import ANYMAL_D_FLAT

    return ANYMAL_D_FLAT


def _go2_flat() -> Task:
    from rwmu.tasks.go2_flat import GO2_FLAT

    return GO2_FLAT


_REGISTRY: dict[str, Callable[[], Task]] = {
    "anymal_d_flat": _anymal_d_flat,
    "go2_flat": _go2_flat,
}


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """Return the registered task ``name``; a clear error lists the known tasks otherwise."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise RwmuError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}") from None
    return factory()


__all__ = ["Task", "get_task", "task_names"]
