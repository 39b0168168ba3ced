"""Runs ``rwmu sweep``; its flags are declared in :mod:`rwmu.cli.commands.sweep` (imported without torch for ``--help``)."""

from __future__ import annotations

import contextlib
import io

import tyro

from rwmu.cli.commands import train_policy
from rwmu.cli.commands.sweep import Command
from rwmu.cli.common import check_output_folder
from rwmu.cli.tyro_errors import one_line
from rwmu.errors import RwmuError
from rwmu.experiments.sweep import run_sweep
from rwmu.utils.io import to_jsonable


def policy_command(cmd: Command) -> train_policy.Command:
    """The ``rwmu train-policy`` command these flags describe (its typed config), or a one-line error."""
    argv = [
        "--task",
        cmd.sweep.task,
        "--world-model",
        cmd.sweep.world_model,
        "--data",
        cmd.sweep.data,
        "--out",
        str(cmd.out / "runs"),
        *cmd.train_policy_flags(),
    ]
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), contextlib.redirect_stdout(captured):
            return tyro.cli(train_policy.Command, args=argv, default=train_policy.defaults(argv))
    except SystemExit:
        reason = one_line(captured.getvalue()) or "see rwmu train-policy --help"
        raise RwmuError(f"--train-args / the run flags are not rwmu train-policy flags: {reason}") from None


def interrupted(cmd: Command) -> str:
    """After Ctrl-C or SIGTERM: the running workers were stopped, every run kept its last checkpoint."""
    return f"the runs in {cmd.out / 'runs'} keep their last checkpoints; run the same command again to continue"


def run(cmd: Command) -> int:
    check_output_folder(cmd.out, "--out")
    policy = policy_command(cmd)
    policy.train.check()
    run_sweep(
        cmd.out,
        cmd.sweep,
        policy.train,
        backend=cmd.backend,
        recipe=policy.recipe,
        rewards=to_jsonable(policy.rewards),
    )
    return 0
