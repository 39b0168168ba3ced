"""Trajectory datasets: the in-memory container, the reference CSV reader and the native ``.rwmu`` file format.

A dataset is a float32 array ``data`` of shape ``(num_rows, num_columns)`` holding every trajectory one after the
other, plus ``trajectory_offsets`` (``int64``, shape ``(num_trajectories + 1,)``) marking where each one starts. The
columns follow the reference convention (SPEC section 2, :mod:`rwmu.data.layout`):
state | action | extension | contact | termination.

Sources :func:`load_dataset` understands:

* a folder of ``state_action_data_<k>.csv`` files, read in numeric order of ``k`` (``10`` after ``9``);
* one CSV file, or a list of CSV files (read in the given order);
* a native ``.rwmu`` file written by :func:`save_dataset`.

CSV files have no header, one row per control step, one file per trajectory; their column widths come from a task or
explicit :class:`~rwmu.data.layout.DataDims`. Every reader error is an :class:`~rwmu.errors.RwmuError` naming the file
and, where there is one, the 1-based row (line) and column.

Native format (version 1), all integers little-endian::

    bytes 0-7    magic  b"RWMUDATA"
    bytes 8-11   uint32 format version (1)
    bytes 12-15  uint32 reserved (0)
    bytes 16-23  uint64 length H of the JSON header
    bytes 24-    H bytes of UTF-8 JSON: dims, num_rows, num_columns, dtype "<f4", trajectory_offsets,
                 column_names, dt, task, provenance, data_offset, crc32 of the data bytes
    ...          zero padding up to ``data_offset`` (a multiple of 64)
    data_offset  num_rows * num_columns little-endian float32, row-major

so the data loads with one ``np.fromfile`` (or ``np.memmap``) call. Truncation, a bad magic, an unreadable header
and altered data (CRC-32 mismatch) are reported as clear errors.
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError
from rwmu.utils.io import atomic_path

CSV_NAME_PATTERN = re.compile(r"^state_action_data_(\d+)\.csv$")
NATIVE_MAGIC = b"RWMUDATA"
NATIVE_VERSION = 1
NATIVE_SUFFIX = ".rwmu"
_PREAMBLE = struct.Struct("<8sIIQ")  # magic, version, reserved, header length
_DATA_ALIGNMENT = 64


@dataclass
class TrajectoryDataset:
    """All trajectories of a dataset, concatenated.

    Attributes:
        data: float32 array ``(num_rows, num_columns)``; columns state | action | extension | contact | termination.
        dims: widths of the column groups; ``dims.num_columns == data.shape[1]``.
        trajectory_offsets: int64 array ``(num_trajectories + 1,)``; trajectory ``i`` is
            ``data[offsets[i]:offsets[i + 1]]``. Starts at 0, ends at ``num_rows``, strictly increasing.
        meta: ``column_names`` (list of str), ``dt`` (float or None), ``task`` (str or None), ``provenance`` (dict).
    """

    data: np.ndarray
    dims: DataDims
    trajectory_offsets: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

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
        _check_values(self.data, self.dims, source, lambda i: i + 1)


def default_column_names(dims: DataDims) -> list[str]:
    """Generic names ``state/0 .. action/0 .. extension/0 .. contact/0 .. termination``."""
    names = [f"state/{i}" for i in range(dims.state)]
    names += [f"action/{i}" for i in range(dims.action)]
    names += [f"extension/{i}" for i in range(dims.extension)]
    names += [f"contact/{i}" for i in range(dims.contact)]
    names += ["termination"] * dims.termination
    return names


def _rwmu_version() -> str:
    from rwmu import __version__

    return __version__


# ----------------------------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------------------------


def load_dataset(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike],
    task: Any = None,
    dims: DataDims | None = None,
    *,
    min_rows: int = 1,
    mmap: bool = False,
) -> TrajectoryDataset:
    """Load a dataset from a CSV folder, CSV file(s) or a native ``.rwmu`` file.

    Args:
        path_or_paths: folder of ``state_action_data_<k>.csv``, a ``.csv`` file, a list of CSV files, or a ``.rwmu``.
        task: a :class:`rwmu.tasks.Task` (or its registered name) giving dims, column names and dt for CSV input.
        dims: explicit column widths for CSV input (when no task is given, or to cross-check the task).
        min_rows: every trajectory must have at least this many rows (the trainer passes ``M + N``).
        mmap: native files only: memory-map the data read-only instead of reading it.

    For native files ``task`` and ``dims`` are not needed; if given they must agree with the file's header.
    Never waits for files: a missing path is an immediate error.
    """
    if isinstance(task, str):
        from rwmu.tasks import get_task

        task = get_task(task)
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
            files = find_csv_files(path)
        elif is_native_file(path):
            ds = _read_native(path, mmap=mmap)
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
                files.extend(find_csv_files(item))
            elif not item.is_file():
                raise RwmuError(f"{item}: no such file or folder")
            elif is_native_file(item):
                raise RwmuError(f"{item}: a native .rwmu file cannot be mixed with other inputs; load it alone")
            else:
                files.append(item)
    return _read_csv_files(files, task, dims, min_rows)


def save_dataset(ds: TrajectoryDataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` in the native format, atomically (temporary file + rename). Returns the path.

    The values are checked first (finite, contacts and terminations in {0, 1}), so a native file is always valid.
    """
    path = Path(path)
    ds.check_values(source=f"dataset to save as {path}")
    data = np.ascontiguousarray(ds.data, dtype="<f4")
    provenance = dict(ds.meta.get("provenance") or {})
    provenance.setdefault("rwmu_version", _rwmu_version())
    provenance["saved_by_rwmu_version"] = _rwmu_version()
    header: dict[str, Any] = {
        "format": "rwmu-dataset",
        "version": NATIVE_VERSION,
        "dims": ds.dims.as_dict(),
        "num_rows": ds.num_rows,
        "num_columns": ds.dims.num_columns,
        "dtype": "<f4",
        "trajectory_offsets": ds.trajectory_offsets.tolist(),
        "column_names": list(ds.meta["column_names"]),
        "dt": ds.meta.get("dt"),
        "task": ds.meta.get("task"),
        "provenance": provenance,
        "crc32": zlib.crc32(memoryview(data).cast("B")),
        "data_offset": 0,
    }
    # The data offset depends on the header length, which depends on the offset's digits: iterate to a fixed point.
    for _ in range(4):
        body = json.dumps(header, separators=(",", ":")).encode("utf-8")
        end = _PREAMBLE.size + len(body)
        offset = -(-end // _DATA_ALIGNMENT) * _DATA_ALIGNMENT
        if header["data_offset"] == offset:
            break
        header["data_offset"] = offset
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(_PREAMBLE.pack(NATIVE_MAGIC, NATIVE_VERSION, 0, len(body)))
            f.write(body)
            f.write(b"\0" * (offset - end))
            f.write(memoryview(data).cast("B"))
    return path


def is_native_file(path: str | os.PathLike) -> bool:
    """True if ``path`` starts with the native magic, or is named ``*.rwmu`` (then a bad magic is an error later)."""
    path = Path(path)
    if path.suffix == NATIVE_SUFFIX:
        return True
    try:
        with open(path, "rb") as f:
            return f.read(len(NATIVE_MAGIC)) == NATIVE_MAGIC
    except OSError as err:
        raise RwmuError(f"{path}: cannot read ({err.strerror})") from None


def find_csv_files(folder: str | os.PathLike) -> list[Path]:
    """``state_action_data_<k>.csv`` files in ``folder``, sorted by the integer ``k``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RwmuError(f"{folder}: no such folder")
    numbered: dict[int, Path] = {}
    others = 0
    for entry in folder.iterdir():
        match = CSV_NAME_PATTERN.match(entry.name)
        if match is None or not entry.is_file():
            others += 1
            continue
        k = int(match.group(1))
        if k in numbered:
            raise RwmuError(
                f"{folder}: {numbered[k].name} and {entry.name} both have number {k}; rename or remove one"
            )
        numbered[k] = entry
    if not numbered:
        what = "is empty" if others == 0 else f"has {others} entries but none named state_action_data_<k>.csv"
        raise RwmuError(
            f"{folder}: folder {what}; expected files state_action_data_0.csv, state_action_data_1.csv, ..."
        )
    return [numbered[k] for k in sorted(numbered)]


# ----------------------------------------------------------------------------------------------------------------
# CSV reading
# ----------------------------------------------------------------------------------------------------------------


def _read_csv_files(files: list[Path], task: Any, dims: DataDims | None, min_rows: int) -> TrajectoryDataset:
    if dims is None and task is None:
        raise RwmuError(
            f"{files[0]}: CSV files have no header, so the column widths must be given: "
            f"pass --task (e.g. anymal_d_flat) or --dims STATE,ACTION,EXTENSION,CONTACT,TERMINATION"
        )
    dims = dims if dims is not None else task.dims
    arrays = [read_csv_trajectory(file, dims, min_rows=min_rows) for file in files]
    lengths = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    data = arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=0)
    meta = {
        "column_names": list(task.column_names) if task is not None else default_column_names(dims),
        "dt": float(task.dt) if task is not None else None,
        "task": task.name if task is not None else None,
        "provenance": {
            "source_format": "csv",
            "source_files": [str(f.resolve()) for f in files],
            "rwmu_version": _rwmu_version(),
        },
    }
    return TrajectoryDataset(data=data, dims=dims, trajectory_offsets=offsets, meta=meta)


def read_csv_trajectory(path: str | os.PathLike, dims: DataDims, min_rows: int = 1) -> np.ndarray:
    """Read one headerless CSV file into a float32 array ``(rows, dims.num_columns)``, validating everything.

    Blank lines are skipped; row numbers in messages are 1-based line numbers of the file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RwmuError(f"{path}: cannot read ({err.strerror})") from None
    if not raw.strip():
        raise RwmuError(f"{path}: file is empty; each CSV file must hold one trajectory, one row per step")
    ncols = dims.num_columns
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(
                path, delimiter=",", dtype=np.float32, ndmin=2, comments=None, encoding="utf-8"
            )
    except (ValueError, UnicodeDecodeError) as err:
        _diagnose_csv(path, raw, ncols)  # raises a precise error
        raise RwmuError(f"{path}: cannot parse as CSV ({err})") from None
    if data.shape[1] != ncols:
        _diagnose_csv(path, raw, ncols)
        raise RwmuError(f"{path}: {data.shape[1]} columns, expected {ncols} ({dims.describe()})")
    has_blank_lines = data.shape[0] != raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)

    def line_of(row_index: int) -> int:
        if not has_blank_lines:
            return row_index + 1
        return _nonblank_line_numbers(raw)[row_index]

    _check_values(data, dims, str(path), line_of)
    if data.shape[0] < min_rows:
        raise RwmuError(
            f"{path}: {data.shape[0]} rows, shorter than one training window of {min_rows} rows; "
            f"record longer trajectories, drop this file, or shorten the window (history + forecast steps)"
        )
    return data


def _nonblank_line_numbers(raw: bytes) -> list[int]:
    return [i + 1 for i, line in enumerate(raw.split(b"\n")) if line.strip()]


def _diagnose_csv(path: Path, raw: bytes, ncols: int) -> None:
    """Find the first bad line (column count or non-numeric cell) and raise an error naming row and column."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise RwmuError(f"{path}: row {line}: not UTF-8 text; is this really a CSV file?") from None
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != ncols:
            hint = " (columns must be separated by commas)" if len(cells) == 1 else ""
            raise RwmuError(
                f"{path}: row {line_number} has {len(cells)} columns, expected {ncols}{hint}; check --task/--dims "
                f"and that every row is complete"
            )
        for column, cell in enumerate(cells, start=1):
            try:
                float(cell)
            except ValueError:
                hint = " (CSV files must not have a header row)" if line_number == 1 else ""
                raise RwmuError(
                    f"{path}: row {line_number}, column {column}: {cell.strip()[:40]!r} is not a number{hint}"
                ) from None


def _check_values(data: np.ndarray, dims: DataDims, source: str, line_of) -> None:
    """Finite everywhere; contacts and termination exactly 0 or 1. ``line_of(row_index)`` gives the 1-based row."""
    finite = np.isfinite(data)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise RwmuError(
            f"{source}: row {line_of(int(row))}, column {int(col) + 1}: value {data[row, col]} is not finite; "
            f"remove or repair rows with NaN/Inf"
        )
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


def _check_min_rows(ds: TrajectoryDataset, min_rows: int, path: Path) -> None:
    lengths = ds.trajectory_lengths
    short = np.flatnonzero(lengths < min_rows)
    if short.size:
        i = int(short[0])
        raise RwmuError(
            f"{path}: trajectory {i} has {int(lengths[i])} rows, shorter than one training window of {min_rows} "
            f"rows; shorten the window (history + forecast steps) or use longer recordings"
        )


# ----------------------------------------------------------------------------------------------------------------
# Native format
# ----------------------------------------------------------------------------------------------------------------


def read_native_header(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the preamble and JSON header of a native file (not the data)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            preamble = f.read(_PREAMBLE.size)
            if len(preamble) < _PREAMBLE.size:
                raise RwmuError(f"{path}: truncated native dataset ({size} bytes, too short for the header)")
            magic, version, _reserved, header_len = _PREAMBLE.unpack(preamble)
            if magic != NATIVE_MAGIC:
                raise RwmuError(f"{path}: not an rwmu dataset (bad magic bytes); convert CSVs with `rwmu data convert`")
            if version != NATIVE_VERSION:
                raise RwmuError(
                    f"{path}: native dataset format version {version} is not supported by this rwmu "
                    f"(reads version {NATIVE_VERSION}); upgrade rwmu or re-convert the data"
                )
            if _PREAMBLE.size + header_len > size:
                raise RwmuError(f"{path}: truncated native dataset (header cut off)")
            body = f.read(header_len)
    except OSError as err:
        raise RwmuError(f"{path}: cannot read ({err.strerror})") from None
    try:
        header = json.loads(body.decode("utf-8"))
        dims = DataDims(**header["dims"])
        rows, cols, offset = int(header["num_rows"]), int(header["num_columns"]), int(header["data_offset"])
        header["trajectory_offsets"]
        header["crc32"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise RwmuError(f"{path}: corrupt native dataset header ({type(err).__name__}: {err})") from None
    if cols != dims.num_columns or header.get("dtype") != "<f4":
        raise RwmuError(f"{path}: corrupt native dataset header (columns/dtype inconsistent with dims)")
    expected = offset + rows * cols * 4
    if size != expected:
        state = "truncated" if size < expected else "has trailing bytes"
        raise RwmuError(
            f"{path}: native dataset {state}: {size} bytes, header says {expected}; re-create it with "
            f"`rwmu data convert`"
        )
    header["_dims"] = dims
    return header


def _read_native(path: Path, mmap: bool = False) -> TrajectoryDataset:
    header = read_native_header(path)
    dims: DataDims = header["_dims"]
    rows, cols, offset = header["num_rows"], header["num_columns"], header["data_offset"]
    if mmap:
        data = np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=(rows, cols))
    else:
        data = np.fromfile(path, dtype="<f4", count=rows * cols, offset=offset).reshape(rows, cols)
    if zlib.crc32(memoryview(np.ascontiguousarray(data)).cast("B")) != header["crc32"]:
        raise RwmuError(f"{path}: native dataset is corrupt (data checksum mismatch); re-create it")
    if data.dtype != np.float32:  # big-endian hosts
        data = data.astype(np.float32)
    provenance = dict(header.get("provenance") or {})
    provenance["loaded_from"] = str(path.resolve())
    meta = {
        "column_names": header.get("column_names") or default_column_names(dims),
        "dt": header.get("dt"),
        "task": header.get("task"),
        "provenance": provenance,
    }
    try:
        return TrajectoryDataset(data=data, dims=dims, trajectory_offsets=header["trajectory_offsets"], meta=meta)
    except RwmuError as err:
        raise RwmuError(f"{path}: corrupt native dataset header ({err})") from None


def _check_native_against(ds: TrajectoryDataset, path: Path, task: Any, dims: DataDims | None) -> None:
    if task is not None and task.dims != ds.dims:
        raise RwmuError(
            f"{path}: file holds {ds.dims.describe()}, but task {task.name} needs {task.dims.describe()}; "
            f"use the matching task"
        )
    if dims is not None and dims != ds.dims:
        raise RwmuError(f"{path}: file holds {ds.dims.describe()}, but --dims give {dims.describe()}")
