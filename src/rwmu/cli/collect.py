"""Runs ``rwmu collect``; its flags are declared in :mod:`rwmu.cli.commands.collect` (imported without torch for ``--help``)."""

from __future__ import annotations

import dataclasses

import rwmu.api as api
from rwmu.cli.commands.collect import Command
from rwmu.cli.commands.shared import stored_config
from rwmu.cli.common import check_resume_unchanged
from rwmu.data.statistics import format_speed_coverage
from rwmu.sim.chunks import ChunkStore
from rwmu.sim.collect_config import CollectConfig


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: the chunks (or shards) kept and how to continue."""
    if cmd.shards > 1:
        return (
            f"the finished shards and the chunks of the others are kept in {cmd.out / api.SHARDS_DIR}; continue "
            f"with: rwmu collect --out {cmd.out} --resume"
        )
    done = ChunkStore(cmd.out).completed()
    if done == 0:
        return (
            f"no chunk of {cmd.collect.chunk_rows} rows was completed yet in {cmd.out}; start again with the same "
            f"command"
        )
    return (
        f"kept {api.completed_chunks(done)} of {cmd.collect.chunk_rows} rows in {cmd.out / '.collect'}; continue "
        f"with: rwmu collect --out {cmd.out} --resume"
    )


def run(cmd: Command) -> int:
    if cmd.resume:
        check_resumed_command(cmd)
    result = api.collect(
        cmd.out,
        cmd.policy,
        task=cmd.task,
        config=cmd.collect,
        action_noise=cmd.action_noise,
        checkpoints=cmd.checkpoints,
        format=cmd.format,
        resume=cmd.resume,
        progress=cmd.progress,
        shards=cmd.shards,
        backend=cmd.backend,
    )
    stats = result.stats
    print(result.summary)
    print(
        f"falls {stats['falls']}, time-outs {stats['time_outs']}, mean |v_xy error| "
        f"{stats['mean_lin_vel_error']:.3f} m/s, mean |yaw-rate error| {stats['mean_yaw_rate_error']:.3f} rad/s, "
        f"mean step reward {stats['mean_step_reward']:.4f}, {_episode_returns(stats)}"
    )
    for line in format_speed_coverage(stats["speed_coverage"]) if stats["speed_coverage"] else []:
        print(line)
    written = "dataset.rwmu" if cmd.format == "rwmu" else f"{result.trajectories} files state_action_data_<k>.csv"
    rate = result.rows / max(result.seconds, 1e-9)
    print(f"wrote {written} to {cmd.out} in {result.seconds:.1f} s ({rate:.0f} rows/s)")
    return 0


def check_resumed_command(cmd: Command) -> None:
    """Refuse a ``--resume`` whose task, policy or data settings differ from the collection's stored command
    (``--num-workers``, ``--format`` and ``--progress`` may change: the data does not depend on them)."""
    stored = stored_config(cmd.out, Command)
    if stored is None:
        return
    for flag, before, now in (
        ("--task", stored.task, cmd.task),
        ("--policy", stored.policy, cmd.policy),
        ("--checkpoints", stored.checkpoints, cmd.checkpoints),
        ("--action-noise", stored.action_noise, cmd.action_noise),
        ("--shards", stored.shards, cmd.shards),
    ):
        check_resume_unchanged(cmd.out, flag, before, now)
    for field_ in dataclasses.fields(CollectConfig):
        if field_.name != "num_workers":
            flag = "--" + field_.name.replace("_", "-")
            before, now = getattr(stored.collect, field_.name), getattr(cmd.collect, field_.name)
            check_resume_unchanged(cmd.out, flag, before, now)


def _episode_returns(stats: dict) -> str:
    if not stats["completed_episodes"]:
        return "no episode ended (the episode return needs longer collection)"
    return (
        f"episode return {stats['episode_return_mean']:.3f} +- {stats['episode_return_std']:.3f} "
        f"({stats['completed_episodes']} episodes ended)"
    )
