"""Runs ``rwmu export``; its flags are declared in :mod:`rwmu.cli.commands.export` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.export import Command
from rwmu.cli.common import check_output_folder
from rwmu.training.export import export_policy
from rwmu.training.unitree_export import export_unitree


def run(cmd: Command) -> int:
    check_output_folder(cmd.out, "--out")
    paths = export_unitree(cmd.policy, cmd.out) if cmd.format == "unitree" else export_policy(cmd.policy, cmd.out)
    for kind, path in paths.items():
        print(f"{kind:<12} {path}")
    return 0
