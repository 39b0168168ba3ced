"""What several commands share: the task / column widths of a dataset, devices, stored configs of resumed runs."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, TypeVar

import torch

from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.tasks.base import Task
from rwmu.training.runner import saved_checkpoints
from rwmu.utils.config import config_from_dict

T = TypeVar("T")

Dims = tuple[int, int, int, int, int]
"""Column widths ``state action extension contact termination`` of a dataset row, e.g. ``45 12 0 8 1``."""


def resolve_task_and_dims(task_name: str | None, dims: Dims | None) -> tuple[Task | None, DataDims | None]:
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


def simulated_task(name: str) -> Task:
    """The task ``--task`` names, which must have a MuJoCo simulator (go2_flat)."""
    task = get_task(name)
    if task.name != "go2_flat":
        raise RwmuError(f"--task {task.name}: no simulator for this task; only go2_flat is simulated")
    return task


MIN_FREE_BYTES = 1 << 20
"""Free space an output location needs to be worth starting a command (1 MiB: a config and a first file)."""


def check_output_file(path: Path, flag: str) -> None:
    """Refuse, before any work, an output file that cannot be written: a folder, or a parent that is not a folder,
    cannot be created, is not writable or sits on a full disk."""
    path = Path(path)
    if path.is_dir():
        raise RwmuError(f"{flag} {path}: is a folder; give a file name")
    _check_writable_location(path, path.parent if str(path.parent) else Path("."), flag)


def check_output_folder(path: Path, flag: str) -> None:
    """Refuse, before any work, an output folder that cannot be used: an existing file, or a location that is not
    a folder, cannot be created, is not writable or sits on a full disk. Creates nothing."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RwmuError(f"{flag} {path}: exists and is a file, not a folder; give a folder name")
    _check_writable_location(path, path, flag)


def _check_writable_location(path: Path, folder: Path, flag: str) -> None:
    """Check that ``folder`` (``path``'s folder) exists or can be created, by writing a probe folder into its
    nearest existing ancestor and removing it again."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise RwmuError(f"{flag} {path}: {existing} is not a folder; choose another location")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".rwmu-probe-", dir=existing))
    except OSError as err:
        raise RwmuError(
            f"{flag} {path}: cannot write in {existing} ({err.strerror}); choose another location"
        ) from None
    if shutil.disk_usage(existing).free < MIN_FREE_BYTES:
        raise RwmuError(
            f"{flag} {path}: the disk holding {existing} is full; free some space or choose another location"
        )


def check_device(device: str) -> None:
    """Refuse a device torch does not know, and a CUDA device where none is available (before any work starts)."""
    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise RwmuError(f"--device {device}: not a torch device; give cpu, cuda or cuda:<index>") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {device}: no CUDA device is available here; use --device cpu")


def resumed_command(argv: list[str], cls: type[T]) -> T | None:
    """With ``--resume`` among ``argv``: the command the run in ``--out`` was started with (its ``config.json``),
    with ``out`` and ``resume`` set, as the defaults the flags given now override; else None."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--resume", action="store_true")
    known = parser.parse_known_args(argv)[0]
    if not known.resume or known.out is None:
        return None
    stored = stored_config(known.out, cls)
    return dataclasses.replace(stored, out=known.out, resume=True) if stored is not None else None


def stored_config(out: Path, cls: type[T]) -> T | None:
    """The command config a run in ``out`` was started with (its ``config.json``), or None if there is none."""
    path = Path(out) / "config.json"
    if not path.is_file():
        return None
    try:
        stored: Any = json.loads(path.read_text(encoding="utf-8"))["config"]["command"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise RwmuError(
            f"{path}: not a config.json written by rwmu (unreadable, or without the key config.command); "
            f"resume only a run rwmu started, or choose a new --out"
        ) from None
    return config_from_dict(cls, stored)


def check_resume_unchanged(out: Path, flag: str, stored: Any, given: Any) -> None:
    """Refuse ``--resume`` with a ``flag`` whose value ``given`` differs from the ``stored`` one of the run in
    ``out`` (a resumed run continues on the same data, task and architecture)."""
    if stored == given:
        return
    raise RwmuError(
        f"--resume: {flag} {_flag_value(given)} differs from {_flag_value(stored)} of the run in {out}; "
        f"drop {flag} to continue the run, or start a new --out"
    )


def _flag_value(value: Any) -> str:
    """A flag's value as it is typed on the command line."""
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    return str(value)


def resume_note(program: str, out: Path, saved: Path | None = None) -> str:
    """What an interrupted run left in ``out`` (its checkpoint ``saved``; by default the latest ``model_<it>.pt`` of
    a policy run) and how to continue it."""
    if saved is None:
        found = saved_checkpoints(out) if out.is_dir() else []
        saved = found[-1][1] if found else None
    if saved is not None and saved.is_file():
        return f"saved {saved}; continue with: {program} --out {out} --resume"
    return f"no checkpoint was saved yet in {out}; start again with the same command"
