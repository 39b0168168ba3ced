"""Record an offline dataset by running a behaviour policy in N simulated Go2s (MuJoCo).

Writes DIR/state_action_data_<k>.csv with the commands in DIR/context_<k>.csv (--format csv, the reference
convention) or DIR/dataset.rwmu (--format rwmu), plus DIR/config.json (resolved settings and versions) and
DIR/collect_stats.json (falls, tracking errors, mean reward and episode return, speed coverage, and with
--checkpoints the same per checkpoint). The data is identical for a seed, policy and --num-envs, whatever
--num-workers. Rows are recorded in chunks of --chunk-rows, each kept in DIR/.collect/ until the dataset is
written: an interrupted collection continues after its last completed chunk with --resume, and gives the same
dataset as one never interrupted. --shards N splits the collection into N seeds collected one after the other, or
side by side as Ray tasks with --backend ray (docs/scaling.md), and merges them.

Graded datasets (docs/go2.md): ``--policy RUN --checkpoints 0:700:50`` collects a "mixed" dataset from a series of
checkpoints of one training run (RWM-U Table 1); ``--policy RUN/model_450.pt`` a "medium" one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

import rwmu.api as api
from rwmu.cli.common import check_resume_unchanged, resumed_command, stored_config
from rwmu.data.statistics import format_speed_coverage
from rwmu.experiments.backend import BackendConfig
from rwmu.sim.chunks import ChunkStore
from rwmu.sim.collect import CollectConfig


@dataclass(frozen=True)
class Command:
    """Record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator."""

    out: Path
    """output folder (must not hold a dataset yet)"""
    task: str = "go2_flat"
    """simulated task (only go2_flat has a simulator)"""
    policy: str = "scripted"
    """'scripted' (trotting controller with per-episode gait diversity and action noise), a policy run folder, an
    rsl_rl checkpoint, an export folder, a TorchScript .pt or an .onnx file"""
    format: Literal["csv", "rwmu"] = "csv"
    """csv: state_action_data_<k>.csv files; rwmu: DIR/dataset.rwmu"""
    action_noise: float | None = None
    """Gaussian action-noise std (action units). Scripted policy: this std in every episode instead of a
    per-episode draw in [0, 0.3]; other policies: added to their deterministic actions"""
    checkpoints: str | None = None
    """with --policy RUN (a run folder, or a folder of model_<k>/ export folders): collect from several of its checkpoints in turn, each an equal share of
    --steps (a "mixed" dataset): 'all', iterations '0,50,100' or a range 'START:STOP:STEP' (STOP included)"""
    progress: bool = True
    """show a progress bar"""
    resume: bool = False
    """continue the interrupted collection in --out after its last completed chunk, with its stored settings"""
    shards: int = 1
    """split --steps into N collections (shard k with seed --seed + k), run one after the other or as Ray tasks
    (--backend ray), merged into one dataset whose provenance lists each shard"""
    backend: Annotated[BackendConfig, tyro.conf.arg(name="")] = BackendConfig()
    collect: Annotated[CollectConfig, tyro.conf.arg(name="")] = field(default_factory=CollectConfig)


def defaults(argv: list[str]) -> Command | None:
    """With ``--resume``: the stored command of the collection in ``--out``."""
    return resumed_command(argv, Command)


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
