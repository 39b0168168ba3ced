"""Task registry: ``get_task("anymal_d_flat")``."""

from __future__ import annotations

from rwmu.errors import RwmuError
from rwmu.tasks.anymal_d_flat import ANYMAL_D_FLAT
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import GO2_FLAT

_REGISTRY: dict[str, Task] = {task.name: task for task in (ANYMAL_D_FLAT, GO2_FLAT)}


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """Return the registered task ``name``; a clear error lists the known tasks otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RwmuError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}") from None


__all__ = ["Task", "get_task", "task_names"]
