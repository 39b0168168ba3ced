"""The one reader of torch checkpoint files: ``torch.load(..., weights_only=True)`` with one-line errors.

Every checkpoint rwmu reads (world models, rsl_rl policies) goes through :func:`read_torch_checkpoint`, so a missing
file, a file that is not a torch checkpoint, and a checkpoint that pickles Python objects (refused: unpickling them
could run arbitrary code) each give one :class:`~rwmu.errors.RwmuError` line naming the file and what was expected.
The callers add only their own key checks.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from rwmu.errors import RwmuError

PICKLE_MAGIC = b"\x80"
"""First byte of a pickle stream of protocol 2 or later (a bare pickle, or torch's legacy format)."""


def is_torchscript_archive(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a TorchScript archive (``torch.jit.save``), told from a ``torch.save`` file by its
    ``constants.pkl`` entry."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/constants.pkl") or name == "constants.pkl" for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def refusal(path: Path, torch_error: str, what: str) -> str:
    """Why torch's ``weights_only`` reader refused ``path``, in one line that never quotes torch's advice to load it
    unsafely: it pickles Python objects (code could run), it is a bare pickle, or it is no checkpoint at all."""
    unsafe = re.search(r"GLOBAL ([\w.]+)", torch_error)  # the pickle names a callable/class torch refused
    if unsafe:
        return (
            f"{path}: refused, not a plain-tensor checkpoint: it holds the Python object {unsafe.group(1)}, and "
            f"loading it could run code; give {what} (only tensors, numbers, strings, lists and dicts)"
        )
    if _starts_with(path, PICKLE_MAGIC):
        return (
            f"{path}: refused, not a torch checkpoint file but a bare Python pickle, and loading it could run "
            f"code; give {what}"
        )
    return f"{path}: not a torch checkpoint file (nor any checkpoint: not written by torch.save); give {what}"


def _starts_with(path: Path, prefix: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(prefix)) == prefix
    except OSError:
        return False


def read_torch_checkpoint(
    path: str | os.PathLike, what: str = "a checkpoint", map_location: str | torch.device | None = "cpu"
) -> dict[str, Any]:
    """Load a plain-tensor torch checkpoint dictionary with ``weights_only=True``.

    Args:
        path: the ``.pt`` file.
        what: what the caller expects, for the error messages (e.g. ``"a world-model checkpoint (.pt)"``).
        map_location: ``torch.load``'s ``map_location``.

    Raises:
        RwmuError: a missing file or a folder, a file that is not a torch checkpoint (a TorchScript module
            included), a checkpoint holding pickled Python objects, or one that is not a dictionary.
    """
    p = Path(path)
    if not p.exists():
        raise RwmuError(f"{p}: no such file; give the path of {what}")
    if p.is_dir():
        raise RwmuError(f"{p}: is a folder; give the path of {what}")
    if is_torchscript_archive(p):
        raise RwmuError(f"{p}: is a TorchScript module (an exported policy), not a checkpoint; give {what}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files; the error says enough
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - refused pickles, truncated zips, wrong magic numbers, empty files
        raise RwmuError(refusal(p, str(err), what)) from None
    if not isinstance(obj, dict):
        raise RwmuError(f"{p}: holds a {type(obj).__name__}, not a checkpoint dictionary; give {what}")
    return obj
