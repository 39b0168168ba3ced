"""Atomic file writing and run metadata.

Everything rwmu writes goes through a temporary file in the destination folder that is renamed into place, so an
interrupted run never leaves a half-written checkpoint, dataset or report behind.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import errno
import fcntl
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rwmu.errors import RwmuError
from rwmu.version import __version__


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` if the block succeeds.

    Example::

        with atomic_path("model.pt") as tmp:
            torch.save(obj, tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions of a new file
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder/.lock`` (released when the process ends, even if killed).

    Raises :class:`RwmuError` at once, naming the holder's pid, if another process holds it, so two invocations
    never work in one folder; a lock left by a dead process is free again (``flock`` dies with its process). Once
    held, the temporary files an interrupted run left in the folder (:func:`remove_stale_temp_files`) are removed.
    A folder it created is removed again if nothing but the lock was written into it (a run refused early).
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with _locked(folder, what):
            yield
    finally:
        # a run refused before it wrote anything leaves no folder behind
        if created and folder.is_dir() and [p.name for p in folder.iterdir()] == [".lock"]:
            (folder / ".lock").unlink(missing_ok=True)
            folder.rmdir()


@contextlib.contextmanager
def _locked(folder: Path, what: str) -> Iterator[None]:
    """:func:`folder_lock` on an existing ``folder``."""
    with open(folder / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            raise RwmuError(
                f"{folder}: {owner} is working in this folder; wait for it to finish or stop it, "
                "then re-run (finished work is kept)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{what} (pid {os.getpid()})")
        handle.flush()
        remove_stale_temp_files(folder)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_stale_temp_files(folder: str | os.PathLike) -> list[Path]:
    """Remove the ``.<name>.<random>.tmp`` files that killed :func:`atomic_path` writes left in ``folder`` and its
    subfolders (not in a subfolder with its own ``.lock``: another run's folder, cleaned when that run starts).
    Call it only while holding :func:`folder_lock` on ``folder``. Returns the removed paths."""
    removed = []
    for path in sorted(Path(folder).rglob(".*.tmp")):
        owners = path.relative_to(folder).parents
        if any((Path(folder) / owner / ".lock").exists() for owner in owners if str(owner) != "."):
            continue
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv_atomic(
    path: str | os.PathLike, columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]
) -> None:
    """Write a CSV with a header row of ``columns`` to ``path`` atomically.

    A row is a mapping (its values under ``columns``; a missing key is an empty cell) or a sequence in column order.
    ``None`` is an empty cell; numpy scalars are written as the Python numbers they hold (floats in full precision).
    """

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            values = [row.get(c) for c in columns] if isinstance(row, Mapping) else row
            writer.writerow([cell(v) for v in values])


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


LOW_DISK_BYTES = 64 * 2**20
"""Free space below which a failed write is reported as a full disk."""


def torch_save_atomic(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through a temporary file and a rename.

    torch reports a write that failed (a full disk, a quota) as a ``RuntimeError`` from its zip writer ("unexpected
    pos"); it is raised here as the ``OSError`` it is, naming ``path``, so the command ends with one line."""
    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as err:
            if "inline_container" not in str(err) and "unexpected pos" not in str(err):
                raise
            full = shutil.disk_usage(Path(path).parent).free < LOW_DISK_BYTES
            code = errno.ENOSPC if full else errno.EIO
            reason = os.strerror(code) if full else "the checkpoint could not be written"
            raise OSError(code, reason, str(path)) from None


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, paths, tuples and numpy/torch scalars to plain JSON types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return obj.tolist()
    return obj


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


PROVENANCE_PACKAGES = {"rsl_rl": "rsl-rl-lib", "mujoco": "mujoco", "numpy": "numpy"}
"""Distributions whose versions every run records (beside rwmu, Python and torch), by the name used in the record."""


@functools.cache
def source_revision() -> dict[str, Any] | None:
    """The git commit of the rwmu source tree this process runs from and whether it has uncommitted changes (a
    dirty tree), or None when it is not a git checkout (an installed wheel) or git is not available."""
    folder = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


@functools.lru_cache(maxsize=16)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def data_sha256(path: str | os.PathLike | Sequence | None) -> str | list | None:
    """SHA-256 of a dataset file (of a CSV folder's files, in name order; a list for a list of datasets), or None
    without one; computed once per file version in a process."""
    if isinstance(path, (list, tuple)):
        return [data_sha256(p) for p in path]
    if path is None or not Path(path).exists():
        return None
    files = sorted(p for p in Path(path).rglob("*") if p.is_file()) if Path(path).is_dir() else [Path(path)]
    digests = [_cached_sha256(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    if Path(path).is_file():
        return digests[0]
    return hashlib.sha256("".join(f"{f.relative_to(path)}:{d}" for f, d in zip(files, digests)).encode()).hexdigest()


RAY_ADDRESS_VARIABLE = "RWMU_RAY_ADDRESS"
"""Environment variable that tells a job's worker process the Ray cluster it runs on (rwmu experiment / sweep
--backend ray), recorded in its ``config.json``."""


def run_metadata(
    data: str | os.PathLike | None = None, device: str | None = None, ray_address: str | None = None
) -> dict[str, Any]:
    """Where a run's outputs came from, written next to them: the versions of rwmu, Python, torch, rsl_rl, MuJoCo and
    numpy, the platform, the command line, the git commit of the source (and whether it had uncommitted changes),
    and, where the run has them, the dataset's SHA-256, the torch device and the Ray cluster address."""
    versions = {}
    for name, distribution in PROVENANCE_PACKAGES.items():
        try:
            versions[name] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "rwmu_version": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        **versions,
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        "git": source_revision(),
        "data_sha256": data_sha256(data),
        "device": None if device is None else str(device),
        "ray_address": ray_address or os.environ.get(RAY_ADDRESS_VARIABLE),
    }


def write_run_config(
    out_dir: str | os.PathLike,
    config: Any,
    name: str = "config.json",
    *,
    data: str | os.PathLike | None = None,
    device: str | None = None,
) -> Path:
    """Write the fully resolved config plus :func:`run_metadata` (with the run's dataset and device) to
    ``out_dir/name``."""
    path = Path(out_dir) / name
    write_json_atomic(path, {"config": config, "meta": run_metadata(data=data, device=device)})
    return path
