"""Runs ``rwmu train-model``; its flags are declared in :mod:`rwmu.cli.commands.train_model` (imported without torch for ``--help``)."""

from __future__ import annotations

import rwmu.api as api
from rwmu.cli.commands.shared import stored_config
from rwmu.cli.commands.train_model import Command
from rwmu.cli.common import check_resume_unchanged, resume_note
from rwmu.errors import RwmuError


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: what the run saved and how to continue it."""
    return resume_note("rwmu train-model", cmd.out, cmd.out / "model_latest.pt")


def run(cmd: Command) -> int:
    if cmd.resume:
        check_resumed_command(cmd)
    result = api.train_model(
        cmd.data if len(cmd.data) > 1 else cmd.data[0],
        cmd.out,
        task=cmd.task,
        dims=cmd.dims,
        recipe=cmd.recipe,
        config=cmd.train,
        resume=cmd.resume,
        command=cmd,
    )
    print(f"world model: {result.checkpoint} (best on validation), {result.latest}")
    if result.validation:
        print(
            "validation relative error, mean over forecast steps: "
            f"{result.validation.get('val/rel_error_forecast_mean', float('nan')):.4f} "
            f"(no-change baseline {result.validation.get('val/no_change_rel_error_forecast_mean', float('nan')):.4f}); "
            f"{result.windows_per_second:.0f} windows/s"
        )
    print(f"results in {cmd.out}")
    return 0


def check_resumed_command(cmd: Command) -> None:
    """Refuse a ``--resume`` whose data, task, dims or architecture differ from the run's stored command."""
    stored = stored_config(cmd.out, Command)
    if stored is None:
        return
    if stored.train.architecture != cmd.train.architecture:
        raise RwmuError(
            f"--resume: the run in {cmd.out} was trained with another architecture; drop the "
            f"--architecture.* flags or start a new --out"
        )
    for flag, before, now in (
        ("--data", stored.data, cmd.data),
        ("--task", stored.task, cmd.task),
        ("--dims", stored.dims, cmd.dims),
    ):
        check_resume_unchanged(cmd.out, flag, before, now)
