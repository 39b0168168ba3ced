"""The reference CSV convention: a folder of ``state_action_data_<k>.csv`` files, one trajectory per file.

CSV files have no header, one row per control step (columns state | action | extension | contact | termination,
docs/method.md section 2); their column widths come from a task or explicit :class:`~rwmu.data.layout.DataDims`.
A folder is read in numeric order of ``k`` (``10`` after ``9``). Every reader error is an
:class:`~rwmu.errors.RwmuError` naming the file and, where there is one, the 1-based row (line) and column.

:func:`write_csv_dataset` writes the same convention back, with enough digits that float32 values round-trip.

Context columns (the recorded commands, :mod:`rwmu.data.dataset`) are not part of the reference convention, so they
go beside it: ``context_<k>.csv`` holds the context of ``state_action_data_<k>.csv``, one row per row, after a
header line naming the columns. Tools that read the reference convention ignore these files; rwmu reads them when
every trajectory has one (some but not all is an error).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rwmu.data.dataset import (
    DatasetSchema,
    TrajectoryDataset,
    check_array_values,
    check_context_values,
    default_column_names,
    require_schema,
)
from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError
from rwmu.version import __version__

CSV_NAME_PATTERN = re.compile(r"^state_action_data_(\d+)\.csv$")
CONTEXT_PREFIX = "context_"
# float32 values need 9 significant digits to round-trip exactly through text.
CSV_FLOAT_FORMAT = "%.9g"


def find_csv_files(folder: str | os.PathLike) -> list[Path]:
    """``state_action_data_<k>.csv`` files in ``folder``, sorted by the integer ``k``; a gap in the numbering (a lost
    file) is refused."""
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
            raise RwmuError(f"{folder}: {numbered[k].name} and {entry.name} both have number {k}; rename or remove one")
        numbered[k] = entry
    if not numbered:
        what = "is empty" if others == 0 else f"has {others} entries but none named state_action_data_<k>.csv"
        raise RwmuError(
            f"{folder}: folder {what}; expected files state_action_data_0.csv, state_action_data_1.csv, ..."
        )
    missing = sorted(set(range(min(numbered), max(numbered) + 1)) - set(numbered))
    if missing:
        raise RwmuError(
            f"{folder}: state_action_data_{missing[0]}.csv is missing between "
            f"state_action_data_{min(numbered)}.csv and state_action_data_{max(numbered)}.csv "
            f"({len(missing)} missing); restore it, or renumber the files without a gap"
        )
    return [numbered[k] for k in sorted(numbered)]


def read_csv_dataset(
    files: Sequence[Path], task: DatasetSchema | None, dims: DataDims | None, min_rows: int = 1
) -> TrajectoryDataset:
    """Read CSV files (one trajectory each, in the given order) into one dataset.

    Column widths come from ``dims`` if given, else from ``task``; ``task`` also gives column names and dt.
    """
    require_schema(task, "read_csv_dataset")
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
    context, context_names = read_csv_context(files, lengths)
    meta = {
        "column_names": list(task.column_names) if task is not None else default_column_names(dims),
        "dt": float(task.dt) if task is not None else None,
        "task": task.name if task is not None else None,
        "provenance": {
            "source_format": "csv",
            "source_files": [str(f.resolve()) for f in files],
            "rwmu_version": __version__,
        },
        "context_names": context_names,
    }
    return TrajectoryDataset(data=data, dims=dims, trajectory_offsets=offsets, meta=meta, context=context)


def context_file(trajectory_file: Path) -> Path:
    """``.../context_<k>.csv`` beside ``.../state_action_data_<k>.csv``."""
    match = CSV_NAME_PATTERN.match(trajectory_file.name)
    suffix = match.group(1) + ".csv" if match else trajectory_file.stem + ".csv"
    return trajectory_file.with_name(CONTEXT_PREFIX + suffix)


def read_csv_context(files: Sequence[Path], lengths: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
    """The context columns beside ``files`` (module docstring): ``(context (rows, K), names)``, or ``(None, [])``.

    Every file needs its context file with the same names and row count, or none has one.
    """
    sidecars = [context_file(Path(f)) for f in files]
    present = [s.is_file() for s in sidecars]
    if not any(present):
        return None, []
    if not all(present):
        missing = sidecars[present.index(False)]
        raise RwmuError(f"{missing}: missing, but other trajectories have context files; add it or remove them all")
    arrays, names = [], None
    for sidecar, rows in zip(sidecars, lengths):
        try:
            with open(sidecar, encoding="utf-8") as f:
                header = f.readline().strip().split(",")
                values = np.loadtxt(f, delimiter=",", dtype=np.float32, ndmin=2, comments=None)
        except (OSError, ValueError, UnicodeDecodeError) as err:
            raise RwmuError(f"{sidecar}: cannot read the context columns ({err})") from None
        if names is None:
            names = header
        elif header != names:
            raise RwmuError(f"{sidecar}: context columns {header} differ from {names} of the other files")
        if values.shape != (int(rows), len(names)):
            raise RwmuError(
                f"{sidecar}: {values.shape[0]} rows x {values.shape[1]} columns, expected {int(rows)} x {len(names)} "
                f"(one row per row of its trajectory file, columns {', '.join(names)})"
            )
        arrays.append(values)
    context = np.concatenate(arrays, axis=0)
    check_context_values(context, names, str(sidecars[0].parent), lambda i: i + 1)
    return context, list(names)


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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.loadtxt(path, delimiter=",", dtype=np.float32, ndmin=2, comments=None, encoding="utf-8")
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

    check_array_values(data, dims, str(path), line_of)
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


def check_csv_target(folder: Path) -> None:
    """Refuse a folder that already holds dataset files: old and new files would read back as one dataset."""
    existing = (
        sorted([*folder.glob("state_action_data_*.csv"), *folder.glob("context_*.csv")]) if folder.is_dir() else []
    )
    if existing:
        raise RwmuError(
            f"{folder}: already holds dataset files ({existing[0].name}, ...); write into an empty folder, or "
            "remove them first"
        )


def write_csv_dataset(ds: TrajectoryDataset, folder: str | os.PathLike) -> list[Path]:
    """Write trajectory ``k`` of ``ds`` to ``folder/state_action_data_<k>.csv`` (and its ``context_<k>.csv``), all or
    nothing.

    A folder that already holds dataset files is refused (a mix of old and new files would read as one dataset).
    The files are written into a temporary folder inside ``folder`` and moved into place only when all are
    written, so a full disk or an interrupt leaves no partial dataset behind. Values are written with 9 significant
    digits, so reading the folder back gives the same float32 values. Returns the written paths in order.
    """
    folder = Path(folder)
    check_csv_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".csv_dataset.", suffix=".tmp", dir=folder))
    header = ",".join(ds.context_names)
    try:
        names = []
        for k in range(ds.num_trajectories):
            name = f"state_action_data_{k}.csv"
            np.savetxt(staging / name, ds.trajectory(k), fmt=CSV_FLOAT_FORMAT, delimiter=",")
            names.append(name)
            if ds.context is not None:
                start, stop = ds.trajectory_offsets[k], ds.trajectory_offsets[k + 1]
                context = context_file(staging / name)
                np.savetxt(
                    context, ds.context[start:stop], fmt=CSV_FLOAT_FORMAT, delimiter=",", header=header, comments=""
                )
                names.append(context.name)
        for name in names:  # every file is written: move them in (renames within one file system)
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [folder / f"state_action_data_{k}.csv" for k in range(ds.num_trajectories)]
