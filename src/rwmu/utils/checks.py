"""Checks every entry point runs before any work: an output file or folder that can be written, a torch device that
exists here. Each failure is one :class:`rwmu.errors.RwmuError` line naming the flag."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch

from rwmu.errors import RwmuError

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
