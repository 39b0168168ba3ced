"""The batched Go2 environment: rsl_rl VecEnv contract, resets, commands, time-outs, rewards, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rwmu.behavior import TrotConfig, TrotController
from rwmu.errors import RwmuError
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.tasks.rewards import RewardComputer

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=12)


def _scripted(n: int, seed: int = 0) -> TrotController:
    return TrotController(n, TrotConfig(seed=seed))


def test_is_an_rsl_rl_vec_env_with_policy_observations():
    from rsl_rl.env import VecEnv

    env = Go2VecEnv(Go2EnvConfig(num_envs=3, seed=1))
    assert isinstance(env, VecEnv)
    obs = env.get_observations()
    assert obs["policy"].shape == (3, 48)
    assert env.num_actions == 12 and env.max_episode_length == 256
    obs, reward, dones, extras = env.step(torch.zeros(3, 12))
    assert obs["policy"].shape == (3, 48) and reward.shape == (3,) and dones.shape == (3,)
    assert extras["time_outs"].shape == (3,) and "log" in extras
    # Observation (docs/method.md section 3): lin vel, ang vel, gravity, command, joint pos, joint vel, last action.
    o, s = obs["policy"], env.states
    torch.testing.assert_close(o[:, 0:9], s[:, 0:9])
    torch.testing.assert_close(o[:, 9:12], env.commands)
    torch.testing.assert_close(o[:, 12:36], s[:, 9:33])
    torch.testing.assert_close(o[:, 36:48], env.last_actions)
    env.close()


def test_reset_state_commands_and_time_outs():
    env = Go2VecEnv(Go2EnvConfig(num_envs=4, seed=0, pushes=False), task=SHORT_TASK)
    assert torch.all(env.episode_length_buf == 0)
    assert torch.all(env.last_actions == 0)
    cmd = env.commands
    assert torch.all(cmd >= -1) and torch.all(cmd <= 1)  # docs/method.md section 3: uniform in [-1, 1]
    # Reset state: default pose plus at most 0.1 rad, upright, feet on the ground soon.
    assert torch.all(env.states[:, 9:21].abs() <= 0.1 + 1e-6)
    assert torch.all(env.states[:, 8] < -0.99)
    policy = _scripted(4)
    obs = env.get_observations()["policy"]
    for step in range(1, 13):
        obs_td, _, dones, extras = env.step(policy.act(obs))
        obs = obs_td["policy"]
        if step < 12:
            assert not torch.any(extras["time_outs"])
    # After 12 steps every episode that did not fall timed out and was reset.
    rec = env.last_step
    assert torch.all(rec.time_out | rec.terminated)
    assert torch.all(dones == 1)
    assert torch.all(env.episode_length_buf == 0)
    assert torch.all(env.last_actions == 0)
    env.close()


def test_fixed_command_schedule_is_followed_per_step():
    env = Go2VecEnv(Go2EnvConfig(num_envs=2, seed=0, pushes=False))
    schedule = torch.zeros(5, 3)
    schedule[:, 0] = torch.arange(5) * 0.1
    env.set_fixed_commands(schedule)
    env.reset()
    seen = []
    for _ in range(7):
        seen.append(env.commands[:, 0].clone())
        env.step(torch.zeros(2, 12))
        assert torch.allclose(env.last_step.command[:, 0], seen[-1])
    expected = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.4, 0.4, 0.4])  # holds the last entry
    torch.testing.assert_close(torch.stack(seen)[:, 0], expected)
    with pytest.raises((RwmuError, RuntimeError, ValueError)):
        env.set_fixed_commands(torch.zeros(5, 2))
    env.close()


def test_pushes_change_the_base_velocity():
    def run(pushes: bool) -> torch.Tensor:
        task = dataclasses.replace(GO2_FLAT, pushes=dataclasses.replace(GO2_FLAT.pushes, interval_steps=(3, 4)))
        env = Go2VecEnv(Go2EnvConfig(num_envs=2, seed=5, pushes=pushes), task=task)
        env.set_fixed_commands(torch.zeros(1, 3))
        for _ in range(3):
            env.step(torch.zeros(2, 12))
        velocity = env.states[:, 0:2].clone()
        env.close()
        return velocity

    pushed, calm = run(True), run(False)
    assert (pushed - calm).abs().max() > 0.05


def test_env_reward_equals_an_independent_reward_computer_on_the_extracted_state():
    """Issue 4 item 5: the simulator's reward is the imagination reward of the same state, contacts and command."""
    n = 4
    env = Go2VecEnv(Go2EnvConfig(num_envs=n, seed=2), task=SHORT_TASK)
    reference = RewardComputer(SHORT_TASK, n, "cpu")
    policy = _scripted(n, seed=3)
    obs = env.get_observations()["policy"]
    checked = 0
    for _ in range(30):  # spans resets (episodes of 12 steps)
        actions = policy.act(obs)
        obs_td, reward, dones, _ = env.step(actions)
        rec = env.last_step
        expected, terms = reference.compute(rec.state, rec.action, rec.contacts, rec.command)
        torch.testing.assert_close(reward, expected)
        for name, value in terms.items():
            torch.testing.assert_close(rec.terms[name], value)
        checked += int(reward.abs().sum() > 0)
        done_ids = torch.nonzero(dones, as_tuple=False).squeeze(-1)
        if done_ids.numel():
            reference.reset(done_ids)
            policy.reset(done_ids)
        obs = obs_td["policy"]
    assert checked == 30
    env.close()


def _trajectory(num_workers: int, seed: int, steps: int = 15, randomize: bool = False) -> torch.Tensor:
    from rwmu.sim.env_config import DomainRandomizationConfig

    config = Go2EnvConfig(
        num_envs=4, num_workers=num_workers, seed=seed, randomization=DomainRandomizationConfig(enabled=randomize)
    )
    env = Go2VecEnv(config, task=SHORT_TASK)
    policy = _scripted(4, seed=seed)
    obs = env.get_observations()["policy"]
    states = []
    for _ in range(steps):
        obs_td, _, dones, _ = env.step(policy.act(obs))
        states.append(env.last_step.state.clone())
        done_ids = torch.nonzero(dones, as_tuple=False).squeeze(-1)
        if done_ids.numel():
            policy.reset(done_ids)
        obs = obs_td["policy"]
    env.close()
    return torch.stack(states)


def test_same_seed_same_trajectory_different_seed_differs():
    a, b, c = _trajectory(1, seed=7), _trajectory(1, seed=7), _trajectory(1, seed=8)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (a - c).abs().max() > 1e-3


def test_worker_processes_give_the_same_physics():
    torch.testing.assert_close(
        _trajectory(2, seed=4, randomize=True), _trajectory(1, seed=4, randomize=True), rtol=0, atol=0
    )


def test_domain_randomization_draws_parameters_in_range():
    from rwmu.sim.env_config import DomainRandomizationConfig

    r = DomainRandomizationConfig(enabled=True)
    env = Go2VecEnv(Go2EnvConfig(num_envs=6, seed=0, randomization=r))
    p = env.physics_parameters
    assert np.all((p["friction"] >= r.friction[0]) & (p["friction"] <= r.friction[1]))
    assert np.all((p["motor_strength"] >= r.motor_strength[0]) & (p["motor_strength"] <= r.motor_strength[1]))
    shard = env.pool._shard
    masses = [m.body_mass[shard.indices.base_body] for m in shard.models]
    np.testing.assert_allclose(np.array(masses) - 6.921, p["added_base_mass"])
    assert len({id(m) for m in shard.models}) == 6  # one model per environment
    env.close()


def test_rsl_rl_ppo_runs_online_in_the_simulator(tmp_path):
    """Model-free PPO (rsl_rl's OnPolicyRunner) trains in Go2VecEnv; rsl_rl's own TorchScript export of it evaluates
    in MuJoCo, and its bare checkpoint (no rwmu metadata) is refused with the way out."""
    from rsl_rl.runners import OnPolicyRunner

    from rwmu.evaluation.simulator import evaluate_policy
    from rwmu.evaluation.simulator_config import EvaluationConfig

    gaussian = {"class_name": "rsl_rl.modules.distribution:GaussianDistribution", "init_std": 1.0, "std_type": "scalar"}
    cfg = {
        "num_steps_per_env": 4,
        "save_interval": 100,
        "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
        "logger": "tensorboard",
        "check_for_nan": True,
        "algorithm": {"class_name": "rsl_rl.algorithms:PPO", "num_learning_epochs": 1, "num_mini_batches": 1},
        "actor": {
            "class_name": "rsl_rl.models:MLPModel",
            "hidden_dims": [16],
            "activation": "elu",
            "obs_normalization": True,
            "distribution_cfg": gaussian,
        },
        "critic": {
            "class_name": "rsl_rl.models:MLPModel",
            "hidden_dims": [16],
            "activation": "elu",
            "obs_normalization": True,
        },
    }
    env = Go2VecEnv(Go2EnvConfig(num_envs=4, seed=0), task=SHORT_TASK)
    runner = OnPolicyRunner(env, cfg, log_dir=str(tmp_path), device="cpu")
    runner.learn(2)
    runner.save(str(tmp_path / "model_2.pt"))
    runner.export_policy_to_jit(str(tmp_path / "exported"))
    env.close()
    config = EvaluationConfig(episodes=1, schedules=("stand",))
    result = evaluate_policy(str(tmp_path / "exported" / "policy.pt"), config, SHORT_TASK, progress=False)
    assert result["episodes"] == 1 and np.isfinite(result["return_mean"])
    with pytest.raises(RwmuError, match="export_policy_to_jit"):
        evaluate_policy(str(tmp_path / "model_2.pt"), config, SHORT_TASK, progress=False)


def test_extension_columns_reproduce_the_termination_and_contact_rules():
    # A standing robot: base at its spawn height, body well clear of the floor, no termination.
    env = Go2VecEnv(Go2EnvConfig(num_envs=2, seed=4, pushes=False), GO2_FLAT)
    try:
        assert env.extension.shape == (2, 6)
        torch.testing.assert_close(env.extension[:, 0], env.base_pos[:, 2])
        assert bool((env.extension[:, 1] > 0.05).all())
        # Fold the legs (large negative thigh and calf targets) until the body reaches the floor: the rule on the
        # recorded extension (clearance < 0) and the projected gravity agrees with the simulator on every step.
        rule, contact_rule, agree, falls, leg_contacts = GO2_FLAT.termination_rule, GO2_FLAT.contact_rule, [], 0, 0
        actions = torch.zeros(2, 12)
        actions[:, 4:8], actions[:, 8:12] = -8.0, 8.0
        for _ in range(80):
            env.step(actions)
            rec = env.last_step
            predicted = rule(rec.state, rec.extension, GO2_FLAT.layout)
            agree.append(bool((predicted == rec.terminated).all()))
            # The undesired contacts (thigh or calf on the floor) follow from the leg clearances.
            agree.append(
                bool(
                    torch.equal(contact_rule(torch.zeros_like(rec.contacts), rec.extension)[:, :4], rec.contacts[:, :4])
                )
            )
            falls += int(rec.terminated.sum())
            leg_contacts += int(rec.contacts[:, :4].sum())
        assert falls > 0 and leg_contacts > 0 and all(agree)
    finally:
        env.close()
