"""The in-memory dataset: :class:`TrajectoryDataset`, and :class:`DatasetSchema`, what the data layer needs to know
about a task.

A dataset is a float32 array ``data`` of shape ``(num_rows, num_columns)`` holding every trajectory one after the
other, plus ``trajectory_offsets`` (``int64``, shape ``(num_trajectories + 1,)``) marking where each one starts. The
columns follow the reference convention (docs/method.md section 2, :mod:`rwmu.data.layout`):
state | action | extension | contact | termination.

A dataset may also carry **context columns** (``context``, shape ``(num_rows, K)``, names in
``meta["context_names"]``): values recorded with each row that the world model neither reads nor predicts, such as
the velocity command the behaviour policy was tracking (:data:`COMMAND_CONTEXT_NAMES`). Model-free offline baselines
and hindsight analyses use them. The command of row ``t`` is the command in the policy's observation at ``s_t``, so
the reward of the step from row ``t`` to row ``t + 1`` tracks it.

Files: :mod:`rwmu.data.csv_format` (reference CSV folders), :mod:`rwmu.data.native_format` (``.rwmu`` files) and
:func:`rwmu.data.loading.load_dataset`, which picks the reader for a path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError

COMMAND_CONTEXT_NAMES = ("command_lin_vel_x", "command_lin_vel_y", "command_ang_vel_z")
"""Context columns of the velocity command [vx (m/s), vy (m/s), wz (rad/s)], as named in the policy observation."""


class DatasetSchema(Protocol):
    """What the data layer reads from a task: column widths, column names, control time step and a name.

    :class:`rwmu.tasks.base.Task` satisfies it; the data layer never looks a task up by name (callers resolve names
    with :func:`rwmu.tasks.get_task`).
    """

    @property
    def name(self) -> str: ...

    @property
    def dims(self) -> DataDims: ...

    @property
    def dt(self) -> float: ...

    @property
    def column_names(self) -> Sequence[str]: ...


def require_schema(task: Any, caller: str) -> None:
    """Refuse a task name where a task object (a :class:`DatasetSchema`) is expected."""
    if isinstance(task, str):
        raise TypeError(
            f"{caller}: task must be a task object, not the name {task!r}; resolve it with "
            f"rwmu.tasks.get_task({task!r})"
        )


@dataclass
class TrajectoryDataset:
    """All trajectories of a dataset, concatenated.

    Attributes:
        data: float32 array ``(num_rows, num_columns)``; columns state | action | extension | contact | termination.
        dims: widths of the column groups; ``dims.num_columns == data.shape[1]``.
        trajectory_offsets: int64 array ``(num_trajectories + 1,)``; trajectory ``i`` is
            ``data[offsets[i]:offsets[i + 1]]``. Starts at 0, ends at ``num_rows``, strictly increasing.
        meta: ``column_names`` (list of str), ``dt`` (float or None), ``task`` (str or None), ``provenance`` (dict),
            ``context_names`` (list of str, one per context column; empty without context).
        context: float32 array ``(num_rows, K)`` of context columns (module docstring), or None.
    """

    data: np.ndarray
    dims: DataDims
    trajectory_offsets: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    context: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data)
        if self.data.dtype != np.float32:
            self.data = self.data.astype(np.float32)
        self.trajectory_offsets = np.asarray(self.trajectory_offsets, dtype=np.int64)
        if self.data.ndim != 2:
            raise RwmuError(f"dataset array must be 2-D (rows, columns), got shape {self.data.shape}")
        if self.data.shape[1] != self.dims.num_columns:
            raise RwmuError(
                f"dataset has {self.data.shape[1]} columns but dims ({self.dims.describe()}) "
                f"add up to {self.dims.num_columns}"
            )
        offsets = self.trajectory_offsets
        if (
            offsets.ndim != 1
            or offsets.size < 2
            or offsets[0] != 0
            or offsets[-1] != self.data.shape[0]
            or np.any(np.diff(offsets) <= 0)
        ):
            raise RwmuError(
                f"trajectory offsets must start at 0, end at the row count {self.data.shape[0]} and strictly "
                f"increase; got {offsets.tolist()[:10]}{'...' if offsets.size > 10 else ''}"
            )
        self.meta = dict(self.meta)
        self.meta.setdefault("column_names", default_column_names(self.dims))
        self.meta.setdefault("dt", None)
        self.meta.setdefault("task", None)
        self.meta.setdefault("provenance", {})
        if len(self.meta["column_names"]) != self.dims.num_columns:
            raise RwmuError(
                f"dataset meta lists {len(self.meta['column_names'])} column names for {self.dims.num_columns} columns"
            )
        if self.context is None:
            self.meta["context_names"] = []
            return
        self.context = np.asarray(self.context)
        if self.context.dtype != np.float32:
            self.context = self.context.astype(np.float32)
        names = list(self.meta.get("context_names") or [])
        if self.context.ndim != 2 or self.context.shape[0] != self.data.shape[0]:
            raise RwmuError(
                f"context array must be (rows, K) with the dataset's {self.data.shape[0]} rows, "
                f"got shape {self.context.shape}"
            )
        if len(names) != self.context.shape[1]:
            raise RwmuError(
                f"dataset meta lists {len(names)} context names for {self.context.shape[1]} context columns"
            )
        self.meta["context_names"] = names

    # Column-group views, each (num_rows, width); they share memory with ``data``.
    @property
    def states(self) -> np.ndarray:
        return self.data[:, self.dims.state_slice]

    @property
    def actions(self) -> np.ndarray:
        return self.data[:, self.dims.action_slice]

    @property
    def extensions(self) -> np.ndarray:
        return self.data[:, self.dims.extension_slice]

    @property
    def contacts(self) -> np.ndarray:
        return self.data[:, self.dims.contact_slice]

    @property
    def terminations(self) -> np.ndarray:
        return self.data[:, self.dims.termination_slice]

    @property
    def context_names(self) -> list[str]:
        return list(self.meta["context_names"])

    def context_column(self, name: str) -> np.ndarray:
        """View ``(num_rows,)`` of the context column ``name``; a clear error if the dataset does not record it."""
        names = self.context_names
        if self.context is None or name not in names:
            have = ", ".join(names) if names else "no context columns"
            raise RwmuError(
                f"dataset has no context column {name!r} ({have}); record the data with `rwmu collect`, which "
                f"writes the commands"
            )
        return self.context[:, names.index(name)]

    @property
    def commands(self) -> np.ndarray | None:
        """``(num_rows, 3)`` recorded velocity commands [vx, vy, wz], or None if the data does not record them."""
        names = self.context_names
        if not all(n in names for n in COMMAND_CONTEXT_NAMES):
            return None
        return np.stack([self.context_column(n) for n in COMMAND_CONTEXT_NAMES], axis=1)

    @property
    def num_rows(self) -> int:
        return int(self.data.shape[0])

    @property
    def num_trajectories(self) -> int:
        return int(self.trajectory_offsets.size - 1)

    @property
    def trajectory_lengths(self) -> np.ndarray:
        """int64 ``(num_trajectories,)`` rows per trajectory."""
        return np.diff(self.trajectory_offsets)

    @property
    def column_names(self) -> list[str]:
        return list(self.meta["column_names"])

    @property
    def num_terminations(self) -> int:
        if self.dims.termination == 0:
            return 0
        return int(np.count_nonzero(self.terminations[:, 0]))

    @property
    def episode_ends(self) -> np.ndarray:
        """bool ``(num_rows,)``: rows that end an episode, a termination or the last row of a trajectory; the row
        after one starts the next episode (a reset state)."""
        ends = np.zeros(self.num_rows, dtype=bool)
        ends[self.trajectory_offsets[1:] - 1] = True
        if self.dims.termination:
            ends |= self.terminations[:, 0] > 0.5
        return ends

    @property
    def num_episodes(self) -> int:
        """Episodes: every termination ends one; a trajectory whose last row is not a termination ends another."""
        if self.dims.termination == 0:
            return self.num_trajectories
        last_rows = self.trajectory_offsets[1:] - 1
        open_tails = int(np.count_nonzero(self.terminations[last_rows, 0] == 0))
        return self.num_terminations + open_tails

    def trajectory(self, index: int) -> np.ndarray:
        """View ``(length, num_columns)`` of trajectory ``index``."""
        start, stop = self.trajectory_offsets[index], self.trajectory_offsets[index + 1]
        return self.data[start:stop]

    def summary(self) -> str:
        """One line: dims, rows, trajectories, episodes, terminations."""
        return (
            f"{self.dims.describe()} | {self.num_rows} rows, {self.num_trajectories} trajectories, "
            f"{self.num_episodes} episodes, {self.num_terminations} terminations"
        )

    def check_values(self, source: str = "dataset") -> None:
        """Raise :class:`RwmuError` on NaN/Inf or on contact/termination values outside {0, 1}."""
        check_array_values(self.data, self.dims, source, lambda i: i + 1)
        if self.context is not None:
            check_context_values(self.context, self.context_names, source, lambda i: i + 1)


def concatenate_datasets(parts: Sequence[TrajectoryDataset], meta: dict[str, Any] | None = None) -> TrajectoryDataset:
    """One dataset holding the trajectories of ``parts`` in order (same dims and context names required).

    ``meta`` replaces the first part's meta (column names, dt and task are checked to agree across parts).
    """
    if not parts:
        raise RwmuError("no datasets to concatenate")
    first = parts[0]
    for i, part in enumerate(parts[1:], start=1):
        for what, a, b in (
            ("dims", first.dims, part.dims),
            ("context columns", first.context_names, part.context_names),
            ("task", first.meta["task"], part.meta["task"]),
        ):
            if a != b:
                raise RwmuError(f"cannot concatenate datasets: part {i} has {what} {b}, part 0 has {a}")
    data = np.concatenate([p.data for p in parts], axis=0)
    lengths = np.concatenate([p.trajectory_lengths for p in parts])
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    context = None if first.context is None else np.concatenate([p.context for p in parts], axis=0)
    out_meta = dict(first.meta if meta is None else meta)
    out_meta["context_names"] = first.context_names
    return TrajectoryDataset(data=data, dims=first.dims, trajectory_offsets=offsets, meta=out_meta, context=context)


def default_column_names(dims: DataDims) -> list[str]:
    """Generic names ``state/0 .. action/0 .. extension/0 .. contact/0 .. termination``."""
    names = [f"state/{i}" for i in range(dims.state)]
    names += [f"action/{i}" for i in range(dims.action)]
    names += [f"extension/{i}" for i in range(dims.extension)]
    names += [f"contact/{i}" for i in range(dims.contact)]
    names += ["termination"] * dims.termination
    return names


def check_context_values(context: np.ndarray, names: Sequence[str], source: str, line_of: Callable[[int], int]) -> None:
    """Context values must be finite; the error names the row and the context column."""
    _check_finite(context, source, line_of, lambda col: f"context column {names[col]!r}")


def _check_finite(values: np.ndarray, source: str, line_of: Callable[[int], int], column: Callable[[int], str]) -> None:
    """Raise on the first NaN/Inf of ``values`` (rows, columns), naming its row and ``column(index)``."""
    finite = np.isfinite(values)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise RwmuError(
            f"{source}: row {line_of(int(row))}, {column(int(col))}: value {values[row, col]} is not finite; "
            f"remove or repair rows with NaN/Inf"
        )


def check_array_values(data: np.ndarray, dims: DataDims, source: str, line_of: Callable[[int], int]) -> None:
    """Finite everywhere; contacts and termination exactly 0 or 1. ``line_of(row_index)`` gives the 1-based row."""
    _check_finite(data, source, line_of, lambda col: f"column {col + 1}")
    start = dims.state + dims.action + dims.extension
    flags = data[:, start:]
    if flags.size:
        bad = (flags != 0) & (flags != 1)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            kind = "contact" if col < dims.contact else "termination"
            raise RwmuError(
                f"{source}: row {line_of(int(row))}, column {start + int(col) + 1}: {kind} value {flags[row, col]} "
                f"is not 0 or 1; check --task/--dims (column order: state|action|extension|contact|termination)"
            )
