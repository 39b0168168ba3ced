"""Runs ``rwmu experiment``; its flags are declared in :mod:`rwmu.cli.commands.experiment` (imported without torch for ``--help``)."""

from __future__ import annotations

import rwmu.api as api
from rwmu.cli.commands.experiment import Run


def interrupted(cmd: Run) -> str:
    """After Ctrl-C or SIGTERM: the running workers were stopped, every run kept its last checkpoint."""
    return f"every run in {cmd.out} keeps its last checkpoint; run the same command again to continue"


def run(cmd: Run) -> int:
    result = api.run_experiment(
        cmd.file, cmd.out, jobs=cmd.jobs, device=cmd.device, backend=cmd.backend, publish_results=cmd.publish
    )
    print(f"results: {', '.join(map(str, result.tables))}")
    return 0
