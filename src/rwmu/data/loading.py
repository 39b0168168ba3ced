"""Load a dataset from wherever it lies: :func:`load_dataset` picks the reader for a path and cross-checks widths.

Sources it understands:

* a folder of ``state_action_data_<k>.csv`` files, read in numeric order of ``k`` (``10`` after ``9``);
* one CSV file, or a list of CSV files (read in the given order);
* a native ``.rwmu`` file written by :func:`rwmu.data.native_format.save_dataset`.

CSV column widths come from a task object or explicit :class:`~rwmu.data.layout.DataDims`
(:mod:`rwmu.data.csv_format`); a native file carries its own (:mod:`rwmu.data.native_format`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rwmu.data.csv_format import find_csv_files, read_csv_dataset
from rwmu.data.dataset import DatasetSchema, TrajectoryDataset, require_schema
from rwmu.data.layout import DataDims
from rwmu.data.native_format import is_native_file, read_native_dataset
from rwmu.errors import RwmuError


def load_dataset(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike],
    task: DatasetSchema | None = None,
    dims: DataDims | None = None,
    *,
    min_rows: int = 1,
    mmap: bool = False,
) -> TrajectoryDataset:
    """Load a dataset from a CSV folder, CSV file(s) or a native ``.rwmu`` file.

    Args:
        path_or_paths: folder of ``state_action_data_<k>.csv``, a ``.csv`` file, a list of CSV files, or a ``.rwmu``.
        task: a task object (:class:`~rwmu.data.dataset.DatasetSchema`, e.g. :class:`rwmu.tasks.base.Task`; not its
            name: resolve names with :func:`rwmu.tasks.get_task`) giving dims, column names and dt for CSV input.
        dims: explicit column widths for CSV input (when no task is given, or to cross-check the task).
        min_rows: every trajectory must have at least this many rows (the trainer passes ``M + N``).
        mmap: native files only: memory-map the data read-only instead of reading it.

    For native files ``task`` and ``dims`` are not needed; if given they must agree with the file's header.
    Never waits for files: a missing path is an immediate error.
    """
    require_schema(task, "load_dataset")
    if task is not None and dims is not None and task.dims != dims:
        raise RwmuError(
            f"--dims ({dims.describe()}) disagree with task {task.name} ({task.dims.describe()}); give only one"
        )
    if isinstance(path_or_paths, (str, os.PathLike)):
        path = Path(path_or_paths)
        if not path.exists():
            raise RwmuError(
                f"{path}: no such file or folder; give a folder of state_action_data_<k>.csv files, "
                f"a .csv file or a .rwmu file"
            )
        if path.is_dir():
            check_recorded_task(path, *recorded_task(path), task)
            files = find_csv_files(path)
        elif is_native_file(path):
            ds = read_native_dataset(path, mmap=mmap)
            check_recorded_task(path, ds.meta.get("task"), "its header", task)
            _check_native_against(ds, path, task, dims)
            _check_min_rows(ds, min_rows, path)
            return ds
        else:
            files = [path]
    else:
        paths = [Path(p) for p in path_or_paths]
        if not paths:
            raise RwmuError("no dataset files given")
        if len(paths) == 1:
            return load_dataset(paths[0], task=task, dims=dims, min_rows=min_rows, mmap=mmap)
        files = []
        for item in paths:  # folders expand to their numbered CSV files, in the given order of the list
            if item.is_dir():
                check_recorded_task(item, *recorded_task(item), task)
                files.extend(find_csv_files(item))
            elif not item.is_file():
                raise RwmuError(f"{item}: no such file or folder")
            elif is_native_file(item):
                raise RwmuError(f"{item}: a native .rwmu file cannot be mixed with other inputs; load it alone")
            else:
                files.append(item)
    return read_csv_dataset(files, task, dims, min_rows)


RUN_CONFIGS = ("config.json", "example_config.json")
"""The files rwmu writes beside a CSV dataset it records (rwmu collect, rwmu data example), with the task under
``config.task``."""


def recorded_task(folder: Path) -> tuple[str | None, str]:
    """``(task name, where it was read)`` that rwmu recorded beside the CSV files in ``folder``, or ``(None, "")``
    (data from elsewhere, or recorded without a task)."""
    for name in RUN_CONFIGS:
        path = folder / name
        try:
            recorded = json.loads(path.read_text())["config"]["task"] if path.is_file() else None
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(recorded, dict):  # rwmu collect records the whole task object
            recorded = recorded.get("name")
        if isinstance(recorded, str):
            return recorded, str(path)
    return None, ""


def check_recorded_task(path: Path, recorded: str | None, source: str, task: DatasetSchema | None) -> None:
    """Refuse data recorded for another task than ``task``, naming both (nothing to check if either is None)."""
    if task is None or recorded is None or recorded == task.name:
        return
    raise RwmuError(
        f"{path}: the data was recorded for task {recorded} ({source}), not {task.name}; give "
        f"--task {recorded}, or data recorded for {task.name}"
    )


def _check_min_rows(ds: TrajectoryDataset, min_rows: int, path: Path) -> None:
    lengths = ds.trajectory_lengths
    short = np.flatnonzero(lengths < min_rows)
    if short.size:
        i = int(short[0])
        raise RwmuError(
            f"{path}: trajectory {i} has {int(lengths[i])} rows, shorter than one training window of {min_rows} "
            f"rows; shorten the window (history + forecast steps) or use longer recordings"
        )


def _check_native_against(ds: TrajectoryDataset, path: Path, task: DatasetSchema | None, dims: DataDims | None) -> None:
    if task is not None and task.dims != ds.dims:
        raise RwmuError(
            f"{path}: file holds {ds.dims.describe()}, but task {task.name} needs {task.dims.describe()}; "
            f"use the matching task"
        )
    if dims is not None and dims != ds.dims:
        raise RwmuError(f"{path}: file holds {ds.dims.describe()}, but --dims give {dims.describe()}")
    dt, task_dt = ds.meta.get("dt"), getattr(task, "dt", None)
    if task is not None and dt is not None and task_dt is not None and abs(dt - task_dt) > 1e-9:
        raise RwmuError(
            f"{path}: recorded at dt = {dt} s, but task {task.name} steps at {task_dt} s; use the matching task or "
            "re-record the data"
        )
