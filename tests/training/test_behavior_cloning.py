"""Behaviour cloning around MOPO-PPO: the (observation, action) pairs, the actor fit, the regulariser and warm-up."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rwmu.data.dataset import COMMAND_CONTEXT_NAMES, TrajectoryDataset
from rwmu.data.native_format import save_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.tasks.dataset_rewards import dataset_rewards
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.tasks.observations import build_policy_observation
from rwmu.training.behavior_cloning import behavior_pairs
from rwmu.training.behavior_cloning_config import BehaviorCloningConfig
from rwmu.training.policy import train_policy
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import read_policy_checkpoint, rsl_rl_train_cfg
from tests.training.tiny_world import TASK, write_untrained_world


def with_commands(dataset: TrajectoryDataset, seed: int = 0) -> TrajectoryDataset:
    commands = np.random.default_rng(seed).uniform(-1, 1, (dataset.num_rows, 3)).astype(np.float32)
    meta = {**dataset.meta, "context_names": list(COMMAND_CONTEXT_NAMES)}
    return TrajectoryDataset(dataset.data.copy(), dataset.dims, dataset.trajectory_offsets, meta, commands)


def test_pairs_are_the_observation_at_a_row_and_the_action_of_the_next():
    ds = with_commands(make_synthetic_dataset(3, 40, task=TASK, seed=2))
    ds.data[10, ds.dims.termination_slice] = 1.0  # an episode ends at row 10 (the next row is a reset)
    obs, actions = behavior_pairs(ds, TASK)
    ends = {int(o) - 1 for o in ds.trajectory_offsets[1:]} | {10}
    rows = [r for r in range(ds.num_rows) if r not in ends]
    assert obs.shape == (len(rows), TASK.observation_dim) and actions.shape == (len(rows), TASK.dims.action)
    k = rows.index(11)  # the reset row after the fall: its last action is the row's (zero-filled) action column
    expected = build_policy_observation(
        torch.from_numpy(ds.states[[11]]), torch.from_numpy(ds.commands[[11]]), torch.from_numpy(ds.actions[[11]]), TASK
    )
    torch.testing.assert_close(obs[k : k + 1], expected)
    np.testing.assert_array_equal(actions[k].numpy(), ds.actions[12])
    assert 9 in rows and 10 not in rows and 39 not in rows  # no pair crosses an episode or trajectory end


def test_pairs_need_commands():
    with pytest.raises(RwmuError, match="no command columns"):
        behavior_pairs(make_synthetic_dataset(2, 20, task=TASK, seed=0), TASK)


def test_config_is_checked():
    for bad in ({"init_steps": 0}, {"action_std": 0.0}, {"regularizer_steps": -1}, {"regularizer_coef": -1.0}):
        with pytest.raises(RwmuError):
            BehaviorCloningConfig(**bad).validate()


def test_algorithm_is_plain_ppo_unless_the_regulariser_or_warmup_is_on():
    assert rsl_rl_train_cfg(PolicyTrainingConfig(), GO2_FLAT)["algorithm"]["class_name"] == "rsl_rl.algorithms:PPO"
    config = dataclasses.replace(PolicyTrainingConfig(), behavior=BehaviorCloningConfig(regularizer_steps=3))
    algorithm = rsl_rl_train_cfg(config, GO2_FLAT)["algorithm"]
    assert algorithm["class_name"].endswith(":BehaviorRegularizedPPO") and algorithm["regularizer_steps"] == 3


def _run(folder, behavior: BehaviorCloningConfig, iterations: int, resume: bool = False, seed: int = 0):
    wm = folder / "wm.pt"
    if not wm.exists():
        _, _, _, dataset = write_untrained_world(folder)
        save_dataset(with_commands(dataset), folder / "cmd.rwmu")
    base = PolicyTrainingConfig(iterations=iterations, steps_per_env=4, save_interval=1, seed=seed)
    config = dataclasses.replace(
        base,
        env=dataclasses.replace(base.env, num_envs=8),
        behavior=behavior,
        policy=dataclasses.replace(base.policy, actor_hidden_dims=(32,)),
    )
    return train_policy(TASK, wm, folder / "cmd.rwmu", folder / "run", config, resume=resume or None, progress=False)


def _actor(path):
    return read_policy_checkpoint(path)["actor_state_dict"]


def test_initialisation_fits_the_data_and_sets_the_std(tmp_path, one_thread):
    behavior = BehaviorCloningConfig(init=True, init_steps=300, batch_size=64, critic_warmup=2)
    summary = _run(tmp_path, behavior, iterations=3)
    fit = summary["behavior_cloning"]
    obs, actions = behavior_pairs(with_commands(make_synthetic_dataset(2, 80, task=TASK, seed=1)), TASK)
    baseline = float(actions.var(0).mean())  # the MSE of the best constant action
    assert fit["pairs"] == obs.shape[0] and fit["mse"] < 0.8 * baseline
    first, second = _actor(tmp_path / "run/model_0.pt"), _actor(tmp_path / "run/model_1.pt")
    for name in first:  # the critic warm-up froze the actor for the first two updates
        torch.testing.assert_close(first[name], second[name])
    std = first["distribution.std_param"]
    assert torch.all(std >= behavior.min_action_std) and abs(float(std.mean()) - fit["action_std"]) < 1e-5
    third = _actor(tmp_path / "run/model_2.pt")
    assert any(not torch.equal(first[n], third[n]) for n in first)  # after the warm-up it learns


def test_regulariser_pulls_the_actor_to_the_data(tmp_path, one_thread):
    off = _run(tmp_path / "off", BehaviorCloningConfig(init=True, init_steps=1, batch_size=64), iterations=4)
    on = _run(
        tmp_path / "on",
        BehaviorCloningConfig(init=True, init_steps=1, batch_size=64, regularizer_steps=200),
        iterations=4,
    )
    assert off["behavior_cloning"]["pairs"] == on["behavior_cloning"]["pairs"]
    obs, actions = behavior_pairs(with_commands(make_synthetic_dataset(2, 80, task=TASK, seed=1)), TASK)

    def mse(folder):
        state = _actor(folder / "run/model_3.pt")
        weights = [state[k] for k in sorted(state) if k.startswith("mlp.") and k.endswith("weight")]
        biases = [state[k] for k in sorted(state) if k.startswith("mlp.") and k.endswith("bias")]
        x = obs
        for i, (w, b) in enumerate(zip(weights, biases)):
            x = x @ w.T + b
            if i < len(weights) - 1:
                x = torch.nn.functional.elu(x)
        return float((x - actions).pow(2).mean())

    assert mse(tmp_path / "on") < 0.7 * mse(tmp_path / "off")


def test_resumed_run_keeps_the_warmup_count(tmp_path, one_thread):
    behavior = BehaviorCloningConfig(init=True, init_steps=5, batch_size=32, regularizer_steps=2, critic_warmup=3)
    _run(tmp_path, behavior, iterations=2)
    saved = read_policy_checkpoint(tmp_path / "run/model_1.pt")
    assert saved["behavior_updates_done"] == 2
    before = _actor(tmp_path / "run/model_1.pt")
    summary = _run(tmp_path, behavior, iterations=3, resume=True)
    assert summary["iterations"] == 3 and "mse" not in summary["behavior_cloning"]  # no second fit on resume
    after = _actor(tmp_path / "run/model_2.pt")
    for name in before:  # update 3 of 3 was still warm-up: the actor did not move
        torch.testing.assert_close(before[name], after[name])


def test_filtered_pairs_come_from_the_best_complete_episodes():
    ds = with_commands(make_synthetic_dataset(6, 300, task=TASK, seed=4))
    scored = dataset_rewards(ds, TASK)
    complete = scored.episode_complete
    assert complete.sum() >= 4
    threshold = np.quantile(scored.episode_returns[complete], 0.5)
    best = complete & (scored.episode_returns >= threshold)
    all_obs, all_actions = behavior_pairs(ds, TASK)
    obs, actions = behavior_pairs(ds, TASK, top_fraction=0.5)
    assert 0 < obs.shape[0] < all_obs.shape[0]
    # Exactly the pairs whose row lies in one of the best episodes, in row order.
    ends = np.zeros(ds.num_rows, dtype=bool)
    ends[ds.trajectory_offsets[1:] - 1] = True
    ends |= ds.terminations[:, 0] > 0.5
    rows = np.flatnonzero(~ends & best[scored.episode_of_row])
    np.testing.assert_array_equal(actions.numpy(), ds.actions[rows + 1])
    with pytest.raises(RwmuError, match="top-fraction"):
        BehaviorCloningConfig(top_fraction=0.0).validate()


def test_a_resumed_regularised_run_equals_the_uninterrupted_one(tmp_path, one_thread):
    behavior = BehaviorCloningConfig(init=True, init_steps=5, batch_size=32, regularizer_steps=2, critic_warmup=1)
    _run(tmp_path / "whole", behavior, iterations=4)
    _run(tmp_path / "resumed", behavior, iterations=2)
    assert "behavior_generator_state" in read_policy_checkpoint(tmp_path / "resumed/run/model_1.pt")
    _run(tmp_path / "resumed", behavior, iterations=4, resume=True)
    expected, got = _actor(tmp_path / "whole/run/model_3.pt"), _actor(tmp_path / "resumed/run/model_3.pt")
    assert all(torch.equal(expected[name], got[name]) for name in expected)


def test_regulariser_stops_after_its_iterations(tmp_path, one_thread):
    behavior = BehaviorCloningConfig(
        init=True, init_steps=5, batch_size=32, regularizer_steps=2, critic_warmup=1, regularizer_iterations=3
    )
    _run(tmp_path, behavior, iterations=5)
    logged = EventAccumulator(str(tmp_path / "run")).Reload()
    steps = [event.step for event in logged.Scalars("Loss/behavior")]
    assert steps == [1, 2]  # update 0 is the critic warm-up, updates 3 and 4 come after the regulariser's three
    with pytest.raises(RwmuError, match="regularizer-iterations"):
        BehaviorCloningConfig(regularizer_iterations=-1).validate()


def test_mopo_ppo_trains_the_deployable_go2_with_an_asymmetric_critic(tmp_path, one_thread):
    """go2_flat_deploy in imagination: the actor (behaviour-cloned from the data's rows, without base velocity) reads
    45 numbers, the critic 60; the world model still predicts the full state."""
    deploy = get_task("go2_flat_deploy")
    wm, _, _, dataset = write_untrained_world(tmp_path, deploy)
    save_dataset(with_commands(dataset), tmp_path / "data.rwmu")
    obs, _ = behavior_pairs(with_commands(dataset), deploy)
    assert obs.shape[1] == 45
    base = PolicyTrainingConfig(iterations=1, steps_per_env=4, save_interval=1000)
    config = dataclasses.replace(
        base,
        env=dataclasses.replace(base.env, num_envs=8),
        behavior=dataclasses.replace(base.behavior, init=True, init_steps=2, batch_size=32),
        policy=dataclasses.replace(base.policy, actor_hidden_dims=(16,), critic_hidden_dims=(16,)),
    )
    summary = train_policy(deploy, wm, tmp_path / "data.rwmu", tmp_path / "run", config, progress=False)
    saved = torch.load(summary["final_checkpoint"], weights_only=True)
    actor_in = next(v for k, v in saved["actor_state_dict"].items() if k.endswith("weight")).shape[1]
    critic_in = next(v for k, v in saved["critic_state_dict"].items() if k.endswith("weight")).shape[1]
    assert (actor_in, critic_in) == (45, 60)
    assert saved["infos"]["rwmu"]["rsl_rl_cfg"]["obs_groups"]["critic"] == ["critic"]
