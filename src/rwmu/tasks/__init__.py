"""Task registry: ``get_task("anymal_d_flat")``."""

from __future__ import annotations

from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError
from rwmu.tasks.anymal_d_flat import ANYMAL_D_FLAT
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import GO2_FLAT, GO2_FLAT_DEPLOY

_REGISTRY: dict[str, Task] = {task.name: task for task in (ANYMAL_D_FLAT, GO2_FLAT, GO2_FLAT_DEPLOY)}


def task_names() -> list[str]:
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """Return the registered task ``name``; a clear error lists the known tasks otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RwmuError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}") from None


def simulated_task(name: str) -> Task:
    """The task ``--task`` names, which must have a MuJoCo simulator (the Go2 tasks)."""
    task = get_task(name)
    if not task.simulated:
        simulated = ", ".join(n for n in task_names() if _REGISTRY[n].simulated)
        raise RwmuError(f"--task {task.name}: no simulator for this task; simulated tasks: {simulated}")
    return task


def resolve_task_and_dims(
    task_name: str | None, dims: tuple[int, int, int, int, int] | None
) -> tuple[Task | None, DataDims | None]:
    """``(task or None, DataDims or None)`` from ``--task`` / ``--dims``; they must agree if both are given.

    ``--task none`` (any case) means no task."""
    task = get_task(task_name) if task_name and task_name.lower() != "none" else None
    if dims is None:
        return task, task.dims if task is not None else None
    widths = DataDims(*dims)
    if task is not None and task.dims != widths:
        raise RwmuError(
            f"--dims {' '.join(map(str, dims))} disagrees with --task {task.name} "
            f"({task.dims.describe()}); give only one"
        )
    return task, widths


__all__ = ["Task", "get_task", "resolve_task_and_dims", "simulated_task", "task_names"]
