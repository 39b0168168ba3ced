"""Runs ``rwmu demo``; its flags are declared in :mod:`rwmu.cli.commands.demo` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.demo import Command
from rwmu.cli.common import check_output_folder
from rwmu.experiments.demo import run_demo


def run(cmd: Command) -> int:
    check_output_folder(cmd.out, "--out")
    run_demo(cmd.out, cmd.demo)
    return 0
