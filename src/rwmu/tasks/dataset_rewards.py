"""The task's reward of every recorded step of a dataset, and the return of every recorded episode.

Row ``t`` of a trajectory holds ``s_t`` and the action that led to it (docs/method.md section 2); the step from row
``t - 1`` to row ``t`` earns :class:`rwmu.tasks.rewards.RewardComputer`'s reward of ``(s_t, a_{t-1}, contacts_t,
command_{t-1})``, where ``command_{t-1}`` is row ``t - 1``'s command (the command the policy saw when it chose
``a_{t-1}``; context columns :data:`rwmu.data.dataset.COMMAND_CONTEXT_NAMES`). This is exactly the simulator's
reward (the same class, the same bookkeeping; a test checks the episode returns against the simulator's own).

Reset rows (a trajectory's first row, and the row after a termination) earn nothing and start an episode, with the
reward bookkeeping cleared as the simulator's reset does. An episode is *complete* when it ends in a termination or
after the task's episode length (a time-out); the others were cut by the end of the collection.

Trajectories are processed side by side (one batch of ``RewardComputer`` environments) with one loop over time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rwmu.data.dataset import TrajectoryDataset
from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.rewards import RewardComputer

__all__ = ["DatasetRewards", "dataset_rewards", "recorded_commands"]


@dataclass
class DatasetRewards:
    """Rewards of a dataset's rows and returns of its episodes.

    Attributes:
        rewards: (N,) float32, the reward of the step into each row; 0 on reset rows.
        reset_rows: (N,) bool, rows that start an episode (no reward).
        episode_of_row: (N,) int64, the episode each row belongs to (0 .. E-1, in row order).
        episode_returns: (E,) float64, sum of the rewards of each episode's rows.
        episode_lengths: (E,) int64, rewarded steps of each episode.
        episode_complete: (E,) bool, ended by a termination or a time-out (module docstring).
    """

    rewards: np.ndarray
    reset_rows: np.ndarray
    episode_of_row: np.ndarray
    episode_returns: np.ndarray
    episode_lengths: np.ndarray
    episode_complete: np.ndarray


def recorded_commands(dataset: TrajectoryDataset, task: Task, source: str, purpose: str) -> np.ndarray:
    """The dataset's (N, 3) commands, after checking that it has them and ``task``'s dims; ``purpose`` completes
    the error line ("so <purpose> cannot be ...")."""
    if dataset.commands is None:
        raise RwmuError(f"{source}: the dataset has no command columns, so {purpose}; collect it with rwmu collect")
    dims, want = dataset.dims, task.dims
    if (dims.state, dims.action, dims.contact) != (want.state, want.action, want.contact):
        raise RwmuError(f"{source}: dataset dims ({dims.describe()}) do not match task {task.name}'s")
    return dataset.commands


def dataset_rewards(dataset: TrajectoryDataset, task: Task, source: str = "dataset") -> DatasetRewards:
    """Every row's reward and every episode's return (module docstring)."""
    commands = recorded_commands(dataset, task, source, "its rewards cannot be computed")
    offsets = dataset.trajectory_offsets
    starts, lengths = offsets[:-1], np.diff(offsets)
    n_traj, t_max = len(starts), int(lengths.max())
    terminated = dataset.terminations[:, 0] > 0.5
    ends = dataset.episode_ends
    reset_rows = np.concatenate(([True], ends[:-1]))  # the row after an episode's end

    computer = RewardComputer(task, n_traj)
    rewards = np.zeros(dataset.num_rows, dtype=np.float32)
    states = torch.from_numpy(dataset.states)
    actions = torch.from_numpy(dataset.actions)
    contacts = torch.from_numpy(dataset.contacts)
    command = torch.from_numpy(commands)
    with torch.inference_mode():
        for t in range(t_max):
            active = np.flatnonzero(lengths > t)
            rows = starts[active] + t
            # Inactive trajectories repeat their last row; their values are never read.
            batch_rows = np.minimum(starts + t, offsets[1:] - 1)
            prev_rows = np.maximum(batch_rows - 1, starts)
            reward, _ = computer.compute(
                states[batch_rows], actions[batch_rows], contacts[batch_rows], command[prev_rows]
            )
            rewards[rows] = reward.numpy()[active]
            resetting = active[reset_rows[rows]]
            if resetting.size:
                computer.reset(torch.from_numpy(resetting))
    rewards[reset_rows] = 0.0
    episode_of_row = np.cumsum(reset_rows) - 1
    num_episodes = int(episode_of_row[-1]) + 1
    episode_returns = np.bincount(episode_of_row, weights=rewards, minlength=num_episodes)
    episode_lengths = np.bincount(episode_of_row, minlength=num_episodes) - 1
    complete = terminated[ends] | (episode_lengths >= task.episode_length)
    return DatasetRewards(
        rewards, reset_rows, episode_of_row, episode_returns, episode_lengths.astype(np.int64), complete
    )
