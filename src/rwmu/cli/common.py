"""Flags several subcommands share: which task / dimensions a dataset has, and where outputs go."""

from __future__ import annotations

import argparse


def add_task_arguments(parser: argparse.ArgumentParser, required: bool = False) -> None:
    """``--task NAME`` or ``--dims S,A,E,C,T`` (the column widths of a dataset row)."""
    parser.add_argument("--task", default=None, required=required,
                        help="task that names the dataset's columns, e.g. anymal_d_flat, go2_flat")  # fmt: skip
    parser.add_argument("--dims", default=None, metavar="S,A,E,C,T",
                        help="column widths state,action,extension,contact,termination (instead of --task)")  # fmt: skip


def resolve_task_and_dims(args: argparse.Namespace):
    """Return ``(task or None, DataDims or None)`` from ``--task`` / ``--dims``; they must agree if both given."""
    from rwmu.data.layout import DataDims
    from rwmu.errors import RwmuError
    from rwmu.tasks import get_task

    task = get_task(args.task) if getattr(args, "task", None) else None
    dims = None
    if getattr(args, "dims", None):
        try:
            values = [int(v) for v in args.dims.split(",")]
            if len(values) != 5:
                raise ValueError(f"got {len(values)} numbers")
            dims = DataDims(*values)
        except (ValueError, TypeError) as err:
            raise RwmuError(f"--dims {args.dims!r}: expected five integers S,A,E,C,T ({err})") from None
        if task is not None and task.dims != dims:
            raise RwmuError(f"--dims {args.dims} disagrees with --task {task.name} ({task.dims.describe()})")
    elif task is not None:
        dims = task.dims
    return task, dims
