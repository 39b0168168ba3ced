"""The native ``.rwmu`` dataset file: :func:`save_dataset`, :func:`read_native_dataset`, :func:`read_native_header`.

Native format (version 3), all integers little-endian::

    bytes 0-7    magic  b"RWMUDATA"
    bytes 8-11   uint32 format version (3)
    bytes 12-15  uint32 CRC-32 of the H header bytes (version 3; 0 in versions 1 and 2)
    bytes 16-23  uint64 length H of the JSON header
    bytes 24-    H bytes of UTF-8 JSON: dims, num_rows, num_columns, dtype "<f4", trajectory_offsets,
                 column_names, dt, task, provenance, data_offset, crc32 of the data bytes, and (version 2)
                 context_names, context_offset, context_crc32
    ...          zero padding up to ``data_offset`` (a multiple of 64)
    data_offset  num_rows * num_columns little-endian float32, row-major
    ...          zero padding up to ``context_offset`` (a multiple of 64)
    context_offset  num_rows * K little-endian float32, row-major: the K context columns (K = 0: nothing)

so the data loads with one ``np.fromfile`` (or ``np.memmap``) call. Version 1 (no context block) and 2 (no header
checksum) files still read. Truncation, a bad magic, an altered header (its CRC-32, and every field's type and range)
and altered data (CRC-32 mismatch) are reported as clear errors.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from rwmu.data.dataset import TrajectoryDataset, default_column_names
from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError
from rwmu.utils.io import atomic_path
from rwmu.version import __version__

NATIVE_MAGIC = b"RWMUDATA"
NATIVE_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)
NATIVE_SUFFIX = ".rwmu"
_PREAMBLE = struct.Struct("<8sIIQ")  # magic, version, header CRC-32 (version 3), header length
_DATA_ALIGNMENT = 64


def save_dataset(ds: TrajectoryDataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` in the native format, atomically (temporary file + rename). Returns the path.

    The values are checked first (finite, contacts and terminations in {0, 1}), so a native file is always valid.
    """
    path = Path(path)
    ds.check_values(source=f"dataset to save as {path}")
    data = np.ascontiguousarray(ds.data, dtype="<f4")
    context = np.ascontiguousarray(ds.context if ds.context is not None else np.zeros((ds.num_rows, 0)), dtype="<f4")
    provenance = dict(ds.meta.get("provenance") or {})
    provenance.setdefault("rwmu_version", __version__)
    provenance["saved_by_rwmu_version"] = __version__
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
        "context_names": ds.context_names,
        "context_crc32": zlib.crc32(context.tobytes()) if context.size else 0,
        "context_offset": 0,
    }
    # The offsets depend on the header length, which depends on the offsets' digits: iterate to a fixed point.
    for _ in range(4):
        body = json.dumps(header, separators=(",", ":")).encode("utf-8")
        end = _PREAMBLE.size + len(body)
        offset = _aligned(end)
        context_offset = _aligned(offset + data.nbytes)
        if header["data_offset"] == offset and header["context_offset"] == context_offset:
            break
        header["data_offset"], header["context_offset"] = offset, context_offset
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(_PREAMBLE.pack(NATIVE_MAGIC, NATIVE_VERSION, zlib.crc32(body), len(body)))
            f.write(body)
            f.write(b"\0" * (offset - end))
            f.write(memoryview(data).cast("B"))
            if context.size:
                f.write(b"\0" * (context_offset - offset - data.nbytes))
                f.write(memoryview(context).cast("B"))
    return path


def _aligned(position: int) -> int:
    return -(-position // _DATA_ALIGNMENT) * _DATA_ALIGNMENT


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


def read_native_header(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check the preamble and JSON header of a native file (not the data)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            preamble = f.read(_PREAMBLE.size)
            if len(preamble) < _PREAMBLE.size:
                raise RwmuError(f"{path}: truncated native dataset ({size} bytes, too short for the header)")
            magic, version, header_crc32, header_len = _PREAMBLE.unpack(preamble)
            if magic != NATIVE_MAGIC:
                raise RwmuError(f"{path}: not an rwmu dataset (bad magic bytes); convert CSVs with `rwmu data convert`")
            if version not in _READABLE_VERSIONS:
                raise RwmuError(
                    f"{path}: native dataset format version {version} is not supported by this rwmu "
                    f"(reads versions {', '.join(map(str, _READABLE_VERSIONS))}); upgrade rwmu or re-convert the data"
                )
            if _PREAMBLE.size + header_len > size:
                raise RwmuError(f"{path}: truncated native dataset (header cut off)")
            body = f.read(header_len)
    except OSError as err:
        raise RwmuError(f"{path}: cannot read ({err.strerror})") from None
    if version >= 3 and zlib.crc32(body) != header_crc32:
        raise RwmuError(f"{path}: corrupt native dataset header (checksum mismatch); re-create the file")
    try:
        header = json.loads(body.decode("utf-8"))
        dims = DataDims(**header["dims"])
        rows, cols, offset = int(header["num_rows"]), int(header["num_columns"]), int(header["data_offset"])
        header["trajectory_offsets"]
        header["crc32"]
        header.setdefault("context_names", [])
        num_context = len(header["context_names"])
        context_offset = int(header["context_offset"]) if num_context else 0
        header["context_crc32"] if num_context else None
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise RwmuError(f"{path}: corrupt native dataset header ({type(err).__name__}: {err})") from None
    if cols != dims.num_columns or header.get("dtype") != "<f4":
        raise RwmuError(f"{path}: corrupt native dataset header (columns/dtype inconsistent with dims)")
    _check_fields(path, header, rows)
    if num_context and context_offset < offset + rows * cols * 4:
        raise RwmuError(f"{path}: corrupt native dataset header (context block overlaps the data)")
    expected = context_offset + rows * num_context * 4 if num_context else offset + rows * cols * 4
    if size != expected:
        state = "truncated" if size < expected else "has trailing bytes"
        raise RwmuError(
            f"{path}: native dataset {state}: {size} bytes, header says {expected}; re-create it with "
            f"`rwmu data convert`"
        )
    header["_dims"] = dims
    return header


def _check_fields(path: Path, header: dict[str, Any], rows: int) -> None:
    """Every header field of the type and range a writer gives it (one line naming the field otherwise)."""

    def bad(field: str, why: str) -> RwmuError:
        return RwmuError(f"{path}: corrupt native dataset header ({field} {why}); re-create the file")

    if rows < 1:
        raise bad("num_rows", f"is {rows}: the file holds no rows")
    offsets = header["trajectory_offsets"]
    if not isinstance(offsets, list) or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets):
        raise bad("trajectory_offsets", "are not whole numbers")
    for field in ("column_names", "context_names"):
        names = header.get(field)
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            raise bad(field, "are not a list of names")
    dt = header.get("dt")
    if dt is not None and (isinstance(dt, bool) or not isinstance(dt, (int, float)) or not 0 < dt < 1):
        raise bad("dt", f"{dt!r} is not a control period in seconds (0 < dt < 1)")
    task = header.get("task")
    if task is not None and not isinstance(task, str):
        raise bad("task", "is not a name")


def _read_block(path: Path, offset: int, shape: tuple[int, int], crc32: int, what: str, mmap: bool) -> np.ndarray:
    """A float32 block ``shape`` at byte ``offset``, its CRC-32 checked; memory-mapped read-only with ``mmap``."""
    if mmap:
        block = np.memmap(path, dtype="<f4", mode="r", offset=offset, shape=shape)
    else:
        block = np.fromfile(path, dtype="<f4", count=shape[0] * shape[1], offset=offset).reshape(shape)
    if zlib.crc32(memoryview(np.ascontiguousarray(block)).cast("B")) != crc32:
        raise RwmuError(f"{path}: native dataset is corrupt ({what} checksum mismatch); re-create it")
    return block if block.dtype == np.float32 else block.astype(np.float32)  # big-endian hosts


def read_native_dataset(path: str | os.PathLike, mmap: bool = False) -> TrajectoryDataset:
    """Read a native file, checking the header and the data's CRC-32; ``mmap`` maps the data read-only."""
    path = Path(path)
    header = read_native_header(path)
    dims: DataDims = header["_dims"]
    rows, cols = header["num_rows"], header["num_columns"]
    data = _read_block(path, header["data_offset"], (rows, cols), header["crc32"], "data", mmap)
    context = None
    if header["context_names"]:
        shape = (rows, len(header["context_names"]))
        context = _read_block(path, header["context_offset"], shape, header["context_crc32"], "context", mmap)
    provenance = dict(header.get("provenance") or {})
    provenance["loaded_from"] = str(path.resolve())
    meta = {
        "column_names": header.get("column_names") or default_column_names(dims),
        "dt": header.get("dt"),
        "task": header.get("task"),
        "provenance": provenance,
        "context_names": list(header["context_names"]),
    }
    try:
        return TrajectoryDataset(
            data=data, dims=dims, trajectory_offsets=header["trajectory_offsets"], meta=meta, context=context
        )
    except RwmuError as err:
        raise RwmuError(f"{path}: corrupt native dataset header ({err})") from None
