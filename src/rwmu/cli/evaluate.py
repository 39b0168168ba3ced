"""Runs ``rwmu evaluate``; its flags are declared in :mod:`rwmu.cli.commands.evaluate` (imported without torch for ``--help``)."""

from __future__ import annotations

import rwmu.api as api
from rwmu.cli.commands.evaluate import Command
from rwmu.evaluation.tables import format_evaluation_table


def run(cmd: Command) -> int:
    score = api.evaluate(
        cmd.policy,
        task=cmd.task,
        config=cmd.eval,
        json_path=cmd.json,
        video=cmd.video,
        video_steps=cmd.video_steps,
        progress=cmd.progress,
        command=cmd,
    )
    print(format_evaluation_table(score.result))
    for path in (cmd.json, cmd.video):
        if path:
            print(f"wrote {path}")
    return 0
