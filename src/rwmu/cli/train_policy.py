"""Runs ``rwmu train-policy``; its flags are declared in :mod:`rwmu.cli.commands.train_policy` (imported without torch for ``--help``)."""

from __future__ import annotations

from dataclasses import replace

import rwmu.api as api
from rwmu.cli.commands.shared import stored_config
from rwmu.cli.commands.train_policy import Command
from rwmu.cli.common import check_resume_unchanged, resume_note
from rwmu.tasks import get_task


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: what the run saved and how to continue it."""
    return resume_note("rwmu train-policy", cmd.out)


def run(cmd: Command) -> int:
    if cmd.resume:
        check_resumed_command(cmd)
    result = api.train_policy(
        cmd.world_model,
        list(cmd.data) if len(cmd.data) > 1 else cmd.data[0],
        cmd.out,
        task=replace(get_task(cmd.task), rewards=cmd.rewards),
        config=cmd.train,
        resume=cmd.resume,
        command=cmd,
    )
    print(
        f"imagined reward per step (last iteration): {result.imagined_reward:.5f} penalised, "
        f"{result.imagined_task_reward:.5f} task only; mean epistemic uncertainty "
        f"{result.epistemic_uncertainty:.4f}"
    )
    if result.resumed_exactly is False:
        print(
            "note: resumed without the state of the imagined episodes (no matching resume_<it>.pt, or --env.* or "
            "--seed changed): the continuation starts fresh episodes and is not bitwise the uninterrupted run"
        )
    print(f"policy: {result.checkpoint}; results in {cmd.out}")
    return 0


def check_resumed_command(cmd: Command) -> None:
    """Refuse a ``--resume`` whose task, data, world model or networks differ from the run's stored command."""
    stored = stored_config(cmd.out, Command)
    if stored is None:
        return
    for flag, before, now in (
        ("--task", stored.task, cmd.task),
        ("--data", stored.data, cmd.data),
        ("--world-model", stored.world_model, cmd.world_model),
    ):
        check_resume_unchanged(cmd.out, flag, before, now)
    for name in ("actor_hidden_dims", "critic_hidden_dims", "activation", "obs_normalization"):
        flag = "--policy." + name.replace("_", "-")
        check_resume_unchanged(cmd.out, flag, getattr(stored.train.policy, name), getattr(cmd.train.policy, name))
