"""Runs ``rwmu signals``; its flags are declared in :mod:`rwmu.cli.commands.signals` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.signals import Command
from rwmu.cli.common import check_output_folder
from rwmu.errors import RwmuError
from rwmu.evaluation.signals import SIGNALS_JSON, format_signals
from rwmu.experiments.steps import study_policy_signals
from rwmu.training.policy_loader import policy_task
from rwmu.utils.io import to_jsonable, write_run_config


def run(cmd: Command) -> int:
    task = policy_task(cmd.policy, cmd.task)
    cmd.study.check()
    check_output_folder(cmd.out, "--out")
    if (cmd.out / SIGNALS_JSON).is_file():
        raise RwmuError(f"--out {cmd.out}: already holds a signal study ({SIGNALS_JSON}); choose another folder")
    for path, flag in ((cmd.world_model, "--world-model"), (cmd.data, "--data")):
        if not path.exists():
            raise RwmuError(f"{flag} {path}: no such file or folder")
    write_run_config(cmd.out, to_jsonable(cmd), data=cmd.data)
    document = study_policy_signals(
        cmd.study, task, cmd.world_model, cmd.data, cmd.policy, cmd.out, progress=cmd.progress
    )
    print(f"signals: {cmd.world_model} on {cmd.policy}'s MuJoCo states")
    for line in format_signals(document):
        print(line)
    print(f"wrote {cmd.out / SIGNALS_JSON} and roc.png")
    return 0
