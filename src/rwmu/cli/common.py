"""What several commands share: the task / column widths of a dataset, stored configs of resumed runs, and (from
the layers below, for the commands) the checks of outputs, devices and simulated tasks."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from rwmu.errors import RwmuError
from rwmu.tasks import resolve_task_and_dims, simulated_task
from rwmu.training.runner import saved_checkpoints
from rwmu.utils.checks import check_device, check_output_file, check_output_folder
from rwmu.utils.config import config_from_dict

T = TypeVar("T")
__all__ = [
    "check_device",
    "check_output_file",
    "check_output_folder",
    "resolve_task_and_dims",
    "simulated_task",
]

Dims = tuple[int, int, int, int, int]
"""Column widths ``state action extension contact termination`` of a dataset row, e.g. ``45 12 0 8 1``."""


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
