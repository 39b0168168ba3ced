"""Runs ``rwmu train-online``; its flags are declared in :mod:`rwmu.cli.commands.train_online` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.train_online import Command
from rwmu.cli.common import check_output_folder, resume_note, simulated_task
from rwmu.training.online import train_online
from rwmu.training.runner import refuse_distributed
from rwmu.utils.io import folder_lock


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: what the run saved and how to continue it."""
    return resume_note("rwmu train-online", cmd.out)


def run(cmd: Command) -> int:
    refuse_distributed("rwmu train-online")
    task = simulated_task(cmd.task)
    check_output_folder(cmd.out, "--out")
    with folder_lock(cmd.out, "rwmu train-online"):
        summary = train_online(task, cmd.out, cmd.train, resume=cmd.resume, command=cmd)
    print(
        f"{summary['iterations']} iterations, {summary['control_steps_per_second']:.0f} control steps/s, "
        f"{summary['wall_time_s'] / 60:.1f} min; command scale {summary['command_scale']:.1f}"
    )
    print(f"policy: {summary['final_checkpoint']}; score it with rwmu evaluate --policy {cmd.out}")
    return 0
