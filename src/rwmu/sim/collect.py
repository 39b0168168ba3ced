"""Collect an offline dataset by running a behaviour policy in the batched Go2 simulator.

:func:`collect_dataset` steps a :class:`~rwmu.sim.env.Go2VecEnv` with a policy until ``num_rows`` dataset rows exist
and returns them as a :class:`rwmu.data.dataset.TrajectoryDataset` (row convention and trajectory boundaries in
:mod:`rwmu.sim.recorder`). :func:`collect_mixture` does the same for several policies in turn (e.g. the checkpoints
of one training run: a "mixed" dataset as in RWM-U Table 1), each contributing its share of the rows. Everything is
drawn from seeded generators, so the dataset is identical for a seed, a policy and a number of environments, whatever
the number of worker processes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from tqdm import tqdm

from rwmu.data.dataset import COMMAND_CONTEXT_NAMES, TrajectoryDataset, concatenate_datasets
from rwmu.sim.chunks import ChunkStore, chunk_sizes
from rwmu.sim.collect_config import CollectConfig
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.recorder import TrajectoryRecorder
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.utils.snapshot import capture_state, restore_state


class Policy(Protocol):
    """What the simulator runs: observations (n, 48) -> actions (n, 12); ``reset`` at episode starts."""

    def act(self, obs: torch.Tensor) -> torch.Tensor: ...

    def reset(self, env_ids: torch.Tensor | None = None) -> None: ...


class NoisyPolicy:
    """Adds Gaussian noise of std ``std`` (action units) to another policy's actions, from a seeded generator."""

    def __init__(self, policy: Policy, std: float, seed: int = 0):
        self.policy = policy
        self.std = float(std)
        self.generator = torch.Generator().manual_seed(int(seed))

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        actions = self.policy.act(obs)
        return actions + self.std * torch.randn(actions.shape, generator=self.generator)

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        self.policy.reset(env_ids)


@dataclass
class CollectStats:
    """Summary of a collection run."""

    rows: int = 0
    steps: int = 0  # simulated environment steps (more than rows: the tail cut to the requested rows is not written)
    trajectories: int = 0
    episodes: int = 0
    falls: int = 0
    time_outs: int = 0
    mean_lin_vel_error: float = 0.0  # mean ||cmd_xy - v_xy|| over all steps [m/s]
    mean_yaw_rate_error: float = 0.0  # mean |cmd_wz - w_z| over all steps [rad/s]
    mean_step_reward: float = 0.0  # task reward per step (unpenalised)
    episode_return_mean: float = float("nan")  # true return of the episodes that ended (fell or timed out)
    episode_return_std: float = float("nan")
    completed_episodes: int = 0  # episodes behind episode_return_mean (those cut by the end of collection are not)

    def as_dict(self) -> dict[str, Any]:
        """Fields as JSON values (NaN, when no episode ended, as None)."""
        return {k: (None if isinstance(v, float) and v != v else v) for k, v in self.__dict__.items()}

    @staticmethod
    def combine(parts: Sequence[CollectStats]) -> CollectStats:
        """Stats of the datasets of ``parts`` put together (sums; means weighted by steps or episodes)."""
        out = CollectStats()
        for name in ("rows", "steps", "trajectories", "episodes", "falls", "time_outs", "completed_episodes"):
            setattr(out, name, sum(getattr(p, name) for p in parts))
        steps = max(out.steps, 1)
        for name in ("mean_lin_vel_error", "mean_yaw_rate_error", "mean_step_reward"):
            setattr(out, name, sum(getattr(p, name) * p.steps for p in parts) / steps)
        done = [p for p in parts if p.completed_episodes > 0]
        if done:
            count = sum(p.completed_episodes for p in done)
            mean = sum(p.episode_return_mean * p.completed_episodes for p in done) / count
            second = sum((p.episode_return_std**2 + p.episode_return_mean**2) * p.completed_episodes for p in done)
            out.episode_return_mean = mean
            out.episode_return_std = max(second / count - mean**2, 0.0) ** 0.5
        return out


def collect_dataset(
    policy: Policy,
    config: CollectConfig = CollectConfig(),
    task: Task = GO2_FLAT,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
    env: Go2VecEnv | None = None,
) -> tuple[Any, CollectStats]:
    """Run ``policy`` in ``config.num_envs`` simulated Go2s until ``config.steps`` rows are recorded.

    Args:
        policy: behaviour policy for ``config.num_envs`` environments.
        config: collection settings.
        task: the task (its dims, column names and dt go into the dataset).
        provenance: extra entries for ``dataset.meta["provenance"]``.
        progress: show a tqdm progress bar.
        env: an existing environment to use instead of building one from ``config`` (it is not closed).

    Returns:
        (TrajectoryDataset, CollectStats). The dataset has exactly ``config.steps`` rows, none of its trajectories
        shorter than ``config.min_trajectory_rows`` (capped at the episode length); only when episodes are too short
        to trim can it hold up to that many rows fewer. Its context columns record the command of every row
        (:data:`rwmu.data.dataset.COMMAND_CONTEXT_NAMES`: the command in the policy's observation at that row's
        state; on a fall or time-out row, the command the step was tracking).
    """
    own_env = env is None
    if env is None:
        env = Go2VecEnv(config.env_config(), task)
    n = env.num_envs
    dims = task.dims
    recorder = TrajectoryRecorder(n, dims, context_dim=len(COMMAND_CONTEXT_NAMES))
    zeros_action = np.zeros((n, dims.action), dtype=np.float32)
    zeros_flag = np.zeros(n, dtype=np.float32)
    all_ids = np.arange(n)
    stats = CollectStats()
    # A time-out closes a trajectory after episode_length rows, so no longer minimum can be met.
    min_len = max(1, min(config.min_trajectory_rows, config.steps, task.episode_length))
    lin_err_sum = yaw_err_sum = reward_sum = 0.0
    num_steps = 0
    running_return = torch.zeros(n, dtype=torch.float64)
    episode_returns: list[torch.Tensor] = []
    try:
        obs = env.reset()[0]["policy"]
        policy.reset(None)
        recorder.add_rows(
            all_ids,
            env.states.numpy(),
            zeros_action,
            env.contacts.numpy(),
            zeros_flag,
            env.commands.numpy(),
            env.extension.numpy(),
        )
        bar = tqdm(total=config.steps, desc="collect", unit="row", disable=not progress, dynamic_ncols=True)
        with bar:
            # Enough rows in long-enough trajectories, and one trajectory long enough to trim so that exactly
            # config.steps rows are written without a short tail.
            while recorder.usable_rows(min_len) < config.steps + min_len or recorder.longest_rows() < min(
                2 * min_len, config.steps, task.episode_length
            ):
                before = recorder.num_rows
                actions = policy.act(obs)
                obs_td, reward, dones, extras = env.step(actions)
                rec = env.last_step
                done = dones.bool()
                # The next observation's command; an ended episode keeps the command its last step tracked.
                row_commands = torch.where(done[:, None], rec.command, env.commands)
                recorder.add_rows(
                    all_ids,
                    rec.state.numpy(),
                    rec.action.numpy(),
                    rec.contacts.numpy(),
                    rec.terminated.numpy(),
                    row_commands.numpy(),
                    rec.extension.numpy(),
                )
                time_out_ids = torch.nonzero(rec.time_out, as_tuple=False).squeeze(-1)
                done_ids = torch.nonzero(done, as_tuple=False).squeeze(-1)
                recorder.close(time_out_ids.numpy())  # a time-out ends the trajectory; a fall does not
                running_return += rec.reward.double()
                if done_ids.numel() > 0:
                    d = done_ids.numpy()
                    recorder.add_rows(
                        d,
                        env.states[done_ids].numpy(),
                        zeros_action[d],
                        env.contacts[done_ids].numpy(),
                        zeros_flag[d],
                        env.commands[done_ids].numpy(),
                        env.extension[done_ids].numpy(),
                    )
                    policy.reset(done_ids)
                    episode_returns.append(running_return[done_ids].clone())
                    running_return[done_ids] = 0.0
                stats.falls += int(rec.terminated.sum())
                stats.time_outs += int(rec.time_out.sum())
                lin_err_sum += float(torch.linalg.vector_norm(rec.command[:, :2] - rec.state[:, 0:2], dim=-1).sum())
                yaw_err_sum += float((rec.command[:, 2] - rec.state[:, 5]).abs().sum())
                reward_sum += float(reward.sum())
                num_steps += n
                obs = obs_td["policy"]
                bar.update(min(recorder.num_rows, config.steps) - before)
                bar.set_postfix(falls=stats.falls, refresh=False)
    finally:
        if own_env:
            env.close()
    data, offsets, context = recorder.finish(max_rows=config.steps, min_length=min_len)
    meta = {
        "column_names": list(task.column_names),
        "dt": task.dt,
        "task": task.name,
        "provenance": {"source": "rwmu collect (MuJoCo Go2)", **(provenance or {})},
        "context_names": list(COMMAND_CONTEXT_NAMES),
    }
    dataset = TrajectoryDataset(data=data, dims=dims, trajectory_offsets=offsets, meta=meta, context=context)
    if episode_returns:
        returns = torch.cat(episode_returns)
        stats.completed_episodes = int(returns.numel())
        stats.episode_return_mean = float(returns.mean())
        stats.episode_return_std = float(returns.std(unbiased=False))
    stats.rows = dataset.num_rows
    stats.steps = num_steps
    stats.trajectories = dataset.num_trajectories
    stats.episodes = dataset.num_episodes
    stats.mean_lin_vel_error = lin_err_sum / max(num_steps, 1)
    stats.mean_yaw_rate_error = yaw_err_sum / max(num_steps, 1)
    stats.mean_step_reward = reward_sum / max(num_steps, 1)
    return dataset, stats


@dataclass(frozen=True)
class CollectSegment:
    """One behaviour policy's share of a dataset collected from several policies."""

    make_policy: Callable[[], Policy]  # builds the policy for ``config.num_envs`` environments, when its turn comes
    steps: int  # rows this policy contributes
    provenance: dict[str, Any]  # what the policy is (e.g. its checkpoint and iteration), recorded in the dataset


# The simulator processes (their physics is reset at the start of every chunk) and the record of the last step.
ENV_STATE_SKIP = ("pool", "last_step")


def collect_mixture(
    segments: Sequence[CollectSegment],
    config: CollectConfig = CollectConfig(),
    task: Task = GO2_FLAT,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
    store: ChunkStore | None = None,
    describe_segments: bool = True,
) -> tuple[TrajectoryDataset, CollectStats, list[CollectStats]]:
    """Collect ``segment.steps`` rows with each segment's policy in turn, in one simulator, into one dataset.

    Each segment's rows are recorded in chunks of ``config.chunk_rows`` (:func:`~rwmu.sim.chunks.chunk_sizes`), each
    chunk from fresh episodes (:func:`collect_dataset` on the same simulator); the trajectories of a chunk follow
    those of the previous one. With ``describe_segments``, the dataset's provenance lists the segments with their row
    and trajectory ranges and statistics.

    Args:
        store: where completed chunks are kept (each with the random and task state of the simulator and the
            policy at its end); chunks it already holds are read back instead of collected again, and the
            collection continues after them exactly as if it had not stopped.

    Returns:
        (dataset with ``sum(segment.steps)`` rows, combined stats, stats per segment).
    """
    if not segments:
        raise ValueError("collect_mixture needs at least one segment")
    plan = [(s, rows) for s, segment in enumerate(segments) for rows in chunk_sizes(segment.steps, config.chunk_rows)]
    done = store.completed() if store is not None else 0
    parts: list[TrajectoryDataset] = []
    chunk_stats: list[CollectStats] = []
    for k in range(min(done, len(plan))):
        parts.append(store.dataset(k))  # type: ignore[union-attr]
        chunk_stats.append(CollectStats(**store.record(k)["stats"]))  # type: ignore[union-attr]
    policies: dict[int, Policy] = {}
    if len(parts) < len(plan):
        env = Go2VecEnv(config.env_config(), task)
        try:
            if parts:  # continue after the last completed chunk: its end state, and its policy if it goes on
                record = store.record(len(parts) - 1)  # type: ignore[union-attr]
                restore_state(env, record["env"])
                segment = plan[len(parts) - 1][0]
                if plan[len(parts)][0] == segment:
                    policies[segment] = segments[segment].make_policy()
                    restore_state(policies[segment], record["policy"])
            for k in range(len(parts), len(plan)):
                segment, rows = plan[k]
                if segment not in policies:
                    policies[segment] = segments[segment].make_policy()
                policy = policies[segment]
                part, stats = collect_dataset(
                    policy, dataclasses.replace(config, steps=rows), task, progress=progress, env=env
                )
                if store is not None:
                    store.save(
                        k,
                        part,
                        {
                            "stats": dict(stats.__dict__),
                            "env": capture_state(env, ENV_STATE_SKIP),
                            "policy": capture_state(policy),
                        },
                    )
                parts.append(part)
                chunk_stats.append(stats)
        finally:
            env.close()
    part_stats, described = [], []
    row = trajectory = 0
    for s, segment in enumerate(segments):
        chunks = [k for k, (owner, _) in enumerate(plan) if owner == s]
        stats = chunk_stats[chunks[0]] if len(chunks) == 1 else CollectStats.combine([chunk_stats[k] for k in chunks])
        rows = sum(parts[k].num_rows for k in chunks)
        trajectories = sum(parts[k].num_trajectories for k in chunks)
        part_stats.append(stats)
        described.append(
            {
                **segment.provenance,
                "rows": [row, row + rows],
                "trajectories": [trajectory, trajectory + trajectories],
                "stats": stats.as_dict(),
            }
        )
        row += rows
        trajectory += trajectories
    meta = dict(parts[0].meta)
    meta["provenance"] = {"source": "rwmu collect (MuJoCo Go2)", **(provenance or {})}
    if describe_segments:
        meta["provenance"]["segments"] = described
    dataset = concatenate_datasets(parts, meta=meta)
    combined = part_stats[0] if len(part_stats) == 1 else CollectStats.combine(part_stats)
    return dataset, combined, part_stats
