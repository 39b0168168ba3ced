"""Collected datasets: row convention, trajectory boundaries, round trip through rwmu.data, the collect CLI."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from rwmu.behavior import TrotConfig, TrotController
from rwmu.data.csv_format import write_csv_dataset
from rwmu.data.dataset import COMMAND_CONTEXT_NAMES
from rwmu.data.loading import load_dataset
from rwmu.data.native_format import save_dataset
from rwmu.sim.collect import collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.recorder import TrajectoryRecorder
from rwmu.tasks.go2_flat import GO2_FLAT

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=20)
PLAIN_DIMS = dataclasses.replace(GO2_FLAT.dims, extension=0)  # recorder tests: no extension columns


@pytest.fixture(scope="module")
def collected():
    config = CollectConfig(steps=300, num_envs=4, seed=0, min_trajectory_rows=1)  # keep every piece: exact rows
    policy = TrotController(4, TrotConfig(seed=1))
    return collect_dataset(policy, config, SHORT_TASK, progress=False)


def test_no_trajectory_shorter_than_the_minimum_and_exact_rows():
    config = CollectConfig(steps=700, num_envs=3, seed=0, min_trajectory_rows=64)
    ds, _ = collect_dataset(TrotController(3, TrotConfig(seed=1)), config, GO2_FLAT, progress=False)
    assert ds.num_rows == 700
    assert ds.trajectory_lengths.min() >= 64


def test_recorder_trims_an_earlier_trajectory_rather_than_write_a_short_tail():
    dims = PLAIN_DIMS
    rec = TrajectoryRecorder(1, dims)
    z = lambda k, w: np.zeros((k, w))  # noqa: E731
    for length in (100, 50):
        for _ in range(length):
            rec.add_rows([0], z(1, 45), z(1, 12), z(1, 8), [0])
        rec.close([0])
    assert rec.usable_rows(60) == 100
    data, offsets, _ = rec.finish(max_rows=110, min_length=30)  # 100 + a 10-row tail: borrow 20 rows from the first
    assert offsets.tolist() == [0, 80, 110]


def test_recorder_boundaries_fall_continues_time_out_splits():
    dims = PLAIN_DIMS
    rec = TrajectoryRecorder(2, dims)
    z = lambda k, w: np.zeros((k, w))  # noqa: E731
    rec.add_rows([0, 1], z(2, 45) + [[1], [2]], z(2, 12), z(2, 8), [0, 0])  # reset rows
    rec.add_rows([0, 1], z(2, 45) + [[3], [4]], z(2, 12) + 1, z(2, 8), [1, 0])  # env 0 falls, env 1 times out
    rec.close([1])
    rec.add_rows([0, 1], z(2, 45) + [[5], [6]], z(2, 12), z(2, 8), [0, 0])  # reset rows
    rec.add_rows([0, 1], z(2, 45) + [[7], [8]], z(2, 12) + 1, z(2, 8), [0, 0])
    data, offsets, _ = rec.finish()
    trajectories = [data[offsets[i] : offsets[i + 1], 0].tolist() for i in range(len(offsets) - 1)]
    assert trajectories == [[2, 4], [1, 3, 5, 7], [6, 8]]
    rec2 = TrajectoryRecorder(1, dims)
    rec2.add_rows([0], z(1, 45), z(1, 12), z(1, 8), [0])
    for _ in range(9):
        rec2.add_rows([0], z(1, 45), z(1, 12), z(1, 8), [0])
    data, offsets, _ = rec2.finish(max_rows=7)
    assert data.shape == (7, dims.num_columns) and offsets.tolist() == [0, 7]


def test_row_convention_and_boundaries(collected):
    ds, stats = collected
    assert ds.num_rows == 300
    assert ds.dims == GO2_FLAT.dims
    assert ds.meta["task"] == "go2_flat" and ds.meta["dt"] == pytest.approx(0.02)
    assert ds.meta["column_names"] == list(GO2_FLAT.column_names)
    ds.check_values()
    lengths = ds.trajectory_lengths
    # Episodes of 20 steps: a trajectory holds a reset row plus up to 20 steps per episode; only a fall continues it.
    term = ds.terminations[:, 0]
    for k in range(ds.num_trajectories):
        traj = ds.trajectory(k)
        np.testing.assert_array_equal(traj[0, 45:57], 0.0)  # the reset row: no action led to it
        falls = np.flatnonzero(traj[:, -1] > 0.5)
        episodes = len(falls) + (0 if len(falls) and falls[-1] == len(traj) - 1 else 1)
        assert lengths[k] <= 21 * episodes
        for f in falls[falls < len(traj) - 1]:
            np.testing.assert_array_equal(traj[f + 1, 45:57], 0.0)  # the row after a fall is a reset row
    acted = np.ones(ds.num_rows, bool)
    acted[ds.trajectory_offsets[:-1]] = False
    acted[1:][term[:-1] > 0.5] = False
    assert np.all(np.abs(ds.actions[acted]).sum(-1) > 0)  # every other row carries the action that led to it
    assert stats.rows == 300 and stats.episodes == ds.num_episodes


def test_recorder_keeps_context_beside_the_rows():
    rec = TrajectoryRecorder(2, GO2_FLAT.dims, context_dim=3)
    e = np.array([[0.3, 0.1, 0.1, 0.1, 0.1, 0.1], [0.31, 0.11, 0.1, 0.1, 0.1, 0.1]])
    z = lambda k, w: np.zeros((k, w))  # noqa: E731
    rec.add_rows([0, 1], z(2, 45) + [[1], [2]], z(2, 12), z(2, 8), [0, 0], [[1, 0, 0], [2, 0, 0]], e)
    rec.add_rows([0, 1], z(2, 45) + [[3], [4]], z(2, 12), z(2, 8), [0, 0], [[3, 0, 0], [4, 0, 0]], e)
    data, offsets, context = rec.finish()
    assert data.shape == (4, GO2_FLAT.dims.num_columns) and context.shape == (4, 3)
    np.testing.assert_array_equal(context[:, 0], data[:, 0])  # each context row stays with its own row
    np.testing.assert_allclose(data[:, GO2_FLAT.dims.extension_slice], np.concatenate([e[[0]], e[[0]], e[[1]], e[[1]]]))
    with pytest.raises(ValueError, match="context"):
        rec.add_rows([0], z(1, 45), z(1, 12), z(1, 8), [0], None, e[:1])
    with pytest.raises(ValueError, match="extension"):
        rec.add_rows([0], z(1, 45), z(1, 12), z(1, 8), [0], [[0, 0, 0]])


class ObservationLog:
    """Wraps a policy and keeps the command (obs columns 9-11) of every observation it acts on."""

    def __init__(self, policy):
        self.policy, self.commands = policy, []

    def act(self, obs):
        self.commands.append(obs[:, 9:12].clone())
        return self.policy.act(obs)

    def reset(self, env_ids=None):
        self.policy.reset(env_ids)


def test_collected_commands_are_those_the_policy_observed():
    # One env, no time-out within the run: the policy acts on every row but a fall row (the reset row follows it) and
    # the last one, in order.
    task = dataclasses.replace(GO2_FLAT, episode_length=1000)
    policy = ObservationLog(TrotController(1, TrotConfig(seed=1)))
    config = CollectConfig(steps=300, num_envs=1, seed=2, min_trajectory_rows=1)
    ds, _ = collect_dataset(policy, config, task, progress=False)
    assert ds.context_names == list(COMMAND_CONTEXT_NAMES)
    observed = torch.cat(policy.commands).numpy()
    acted = ds.commands[ds.terminations[:, 0] == 0][:-1]
    assert ds.num_trajectories == 1 and len(observed) >= len(acted)
    np.testing.assert_allclose(acted, observed[: len(acted)], atol=1e-6)
    assert len(np.unique(ds.commands, axis=0)) > 1  # the commands were redrawn during the run


def test_round_trip_through_the_data_reader(collected, tmp_path):
    ds, _ = collected
    assert ds.commands is not None and ds.commands.shape == (ds.num_rows, 3)
    write_csv_dataset(ds, tmp_path / "csv")
    back = load_dataset(tmp_path / "csv", task=GO2_FLAT)
    np.testing.assert_array_equal(back.data, ds.data)
    np.testing.assert_array_equal(back.trajectory_offsets, ds.trajectory_offsets)
    np.testing.assert_array_equal(back.commands, ds.commands)
    save_dataset(ds, tmp_path / "d.rwmu")
    native = load_dataset(tmp_path / "d.rwmu")
    np.testing.assert_array_equal(native.data, ds.data)
    np.testing.assert_array_equal(native.commands, ds.commands)
    assert native.meta["task"] == "go2_flat"


class RewardLog(Go2VecEnv):
    """The simulator, keeping every step's rewards and dones."""

    def step(self, actions):
        obs, reward, dones, extras = super().step(actions)
        self.log = getattr(self, "log", []) + [(reward.clone(), dones.clone())]
        return obs, reward, dones, extras


def test_episode_returns_of_collection_are_the_sums_of_the_step_rewards():
    config = CollectConfig(steps=200, num_envs=2, seed=0, min_trajectory_rows=1)
    env = RewardLog(config.env_config(), SHORT_TASK)
    try:
        _, stats = collect_dataset(TrotController(2, TrotConfig(seed=1)), config, SHORT_TASK, progress=False, env=env)
    finally:
        env.close()
    running, ended = np.zeros(2), []
    for reward, dones in env.log:
        running += reward.double().numpy()
        for i in np.flatnonzero(dones.numpy()):
            ended.append(running[i])
            running[i] = 0.0
    assert stats.completed_episodes == len(ended) >= 8  # 20-step episodes
    assert stats.episode_return_mean == pytest.approx(np.mean(ended), rel=1e-9)
    assert stats.episode_return_std == pytest.approx(np.std(ended), rel=1e-6)


def test_collect_cli_writes_both_formats_deterministically(tmp_path):
    from rwmu.cli.main import main

    args = [
        "collect",
        "--task",
        "go2_flat",
        "--steps",
        "150",
        "--policy",
        "scripted",
        "--seed",
        "3",
        "--num-envs",
        "3",
        "--no-progress",
    ]
    assert main(args + ["--out", str(tmp_path / "a"), "--format", "csv"]) == 0
    assert main(args + ["--out", str(tmp_path / "b"), "--format", "rwmu"]) == 0
    csv = load_dataset(tmp_path / "a", task=GO2_FLAT)
    native = load_dataset(tmp_path / "b" / "dataset.rwmu")
    np.testing.assert_array_equal(csv.data, native.data)
    assert csv.num_rows == 150
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["config"]["command"]["collect"]["seed"] == 3 and "rwmu_version" in config["meta"]
    stats = json.loads((tmp_path / "a" / "collect_stats.json").read_text())
    assert stats["rows"] == 150
    assert main(args + ["--out", str(tmp_path / "a")]) == 2  # refuses to mix into an existing dataset folder
    assert main(["collect", "--task", "anymal_d_flat", "--steps", "5", "--out", str(tmp_path / "c")]) == 2
