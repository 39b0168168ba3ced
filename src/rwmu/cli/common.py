"""What several command runners share: the checks of a resumed run's flags and the note after an interrupt, and (from
the layers below) the checks of outputs, devices and tasks. (What the declarations share is in
:mod:`rwmu.cli.commands.shared`.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.tasks import resolve_task_and_dims, simulated_task
from rwmu.training.runner import saved_checkpoints
from rwmu.utils.checks import check_device, check_output_file, check_output_folder

__all__ = [
    "check_device",
    "check_output_file",
    "check_output_folder",
    "resolve_task_and_dims",
    "simulated_task",
]


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
