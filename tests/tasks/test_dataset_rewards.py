"""Rewards recomputed from a dataset equal the simulator's own, episode by episode."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rwmu.behavior import TrotConfig, TrotController
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError
from rwmu.sim.collect import NoisyPolicy, collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks import get_task
from rwmu.tasks.dataset_rewards import dataset_rewards
from rwmu.tasks.go2_flat import GO2_FLAT

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=40)


class FoldingFirstRobot:
    """Trots noisily, except robot 0, which folds its legs until it falls (again after every reset)."""

    def __init__(self, num_envs: int):
        self.trot = NoisyPolicy(TrotController(num_envs, TrotConfig(seed=3)), std=0.3, seed=1)

    def act(self, obs):
        actions = self.trot.act(obs)
        actions[0, 4:8], actions[0, 8:12] = -8.0, 8.0
        return actions

    def reset(self, env_ids=None):
        self.trot.reset(env_ids)


@pytest.fixture(scope="module")
def collected():
    # Episodes end by falls (robot 0) and by time-outs (the others).
    policy = FoldingFirstRobot(4)
    config = CollectConfig(steps=1200, num_envs=4, seed=5, min_trajectory_rows=1)
    return collect_dataset(policy, config, SHORT_TASK, progress=False)


def test_episode_returns_are_the_simulators(collected):
    ds, stats = collected
    scored = dataset_rewards(ds, SHORT_TASK)
    complete = scored.episode_complete
    assert ds.num_terminations > 0 and complete.sum() > ds.num_terminations  # falls and time-outs both
    assert complete.sum() == stats.completed_episodes
    assert scored.episode_returns[complete].mean() == pytest.approx(stats.episode_return_mean, rel=1e-5)
    assert scored.episode_returns[complete].std() == pytest.approx(stats.episode_return_std, rel=1e-4)
    # Reset rows earn nothing; every other row belongs to the episode its reset row opened.
    assert np.all(scored.rewards[scored.reset_rows] == 0)
    assert scored.reset_rows.sum() == len(scored.episode_returns) == ds.num_episodes
    assert np.all(scored.episode_lengths[complete & (scored.episode_lengths < SHORT_TASK.episode_length)] > 0)


def test_rewards_need_commands():
    task = get_task("anymal_d_flat")
    with pytest.raises(RwmuError, match="no command columns"):
        dataset_rewards(make_synthetic_dataset(2, 20, task=task, seed=0), task)
