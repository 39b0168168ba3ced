"""Command sampling, push scheduling and the policy observation."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.tasks.base import CommandConfig, ObservationNoise, PushConfig
from rwmu.tasks.commands import CommandSampler, PushScheduler
from rwmu.tasks.observations import build_critic_observation, build_policy_observation, observation_names

TASK = get_task("anymal_d_flat")


def test_commands_in_range_with_standing_share():
    gen = torch.Generator().manual_seed(0)
    sampler = CommandSampler(CommandConfig(standing_fraction=0.2), 5000, generator=gen)
    cmd = sampler.commands
    assert cmd.shape == (5000, 3)
    assert float(cmd.abs().max()) <= 1.0
    standing = cmd.abs().sum(-1) == 0
    torch.testing.assert_close(standing, sampler.is_standing)
    assert 0.17 < standing.float().mean().item() < 0.23
    assert ((sampler.steps_until_resample >= 100) & (sampler.steps_until_resample < 120)).all()


def test_commands_resample_on_timer_and_reset_only():
    gen = torch.Generator().manual_seed(1)
    sampler = CommandSampler(TASK.commands, 64, generator=gen)
    before = sampler.commands.clone()
    timers = sampler.steps_until_resample.clone()
    for _ in range(1, 99):
        assert sampler.step().numel() == 0
    torch.testing.assert_close(sampler.commands, before)
    changed_at = torch.full((64,), -1)
    for step in range(99, 121):
        due = sampler.step()
        changed_at[due] = step
    # Each env was redrawn exactly when its own timer ran out.
    torch.testing.assert_close(changed_at, timers)
    sampler.reset(torch.tensor([3]))
    assert 100 <= int(sampler.steps_until_resample[3]) < 120


def test_commands_repeatable_with_seed():
    a = CommandSampler(TASK.commands, 10, generator=torch.Generator().manual_seed(7)).commands
    b = CommandSampler(TASK.commands, 10, generator=torch.Generator().manual_seed(7)).commands
    torch.testing.assert_close(a, b)


def test_push_scheduler_intervals_and_magnitude():
    gen = torch.Generator().manual_seed(0)
    pushes = PushScheduler(PushConfig(), 200, generator=gen)
    first_push = torch.full((200,), -1)
    for step in range(1, 100):
        kicks = pushes.step()
        assert kicks.shape == (200, 2)
        hit = kicks.abs().sum(-1) > 0
        torch.testing.assert_close(hit, pushes.pushed)
        assert float(kicks.abs().max()) <= 0.5
        first_push[hit & (first_push < 0)] = step
    assert ((first_push >= 48) & (first_push < 96)).all()
    disabled = PushScheduler(PushConfig(enabled=False), 5, generator=gen)
    for _ in range(100):
        assert float(disabled.step().abs().sum()) == 0.0


def test_observation_layout():
    state = torch.arange(45, dtype=torch.float32).unsqueeze(0)
    command = torch.tensor([[100.0, 101.0, 102.0]])
    last_action = torch.full((1, 12), -1.0)
    obs = build_policy_observation(state, command, last_action, TASK)
    assert obs.shape == (1, 48) == (1, TASK.observation_dim)
    torch.testing.assert_close(obs[0, :9], state[0, :9])
    torch.testing.assert_close(obs[0, 9:12], command[0])
    torch.testing.assert_close(obs[0, 12:36], state[0, 9:33])
    torch.testing.assert_close(obs[0, 36:], last_action[0])
    names = observation_names(TASK)
    assert len(names) == 48 and names[9] == "command_lin_vel_x" and names[12].startswith("joint_pos/")


def test_observation_noise_bounds():
    task = dataclasses.replace(TASK, observation_noise=ObservationNoise(enabled=True))
    state = torch.zeros(4000, 45)
    command = torch.zeros(4000, 3)
    obs = build_policy_observation(state, command, torch.zeros(4000, 12), task, torch.Generator().manual_seed(0))
    half = obs.abs().max(0).values
    assert half[0] <= 0.1 and half[0] > 0.09
    assert half[24] <= 1.5 and half[24] > 1.4  # first joint velocity
    assert float(half[9:12].sum()) == 0.0 and float(half[36:].sum()) == 0.0
    assert half[12] <= 0.01 and half[12] == pytest.approx(0.01, rel=0.05)


def test_the_deployable_go2_actor_reads_only_what_the_robot_measures():
    deploy, reference = get_task("go2_flat_deploy"), get_task("go2_flat")
    state = torch.arange(45, dtype=torch.float32).unsqueeze(0)
    command = torch.tensor([[100.0, 101.0, 102.0]])
    last_action = torch.full((1, 12), -1.0)
    quiet = dataclasses.replace(deploy, observation_noise=ObservationNoise(enabled=False))
    actor = build_policy_observation(state, command, last_action, quiet)
    assert actor.shape == (1, 45) == (1, deploy.observation_dim)
    torch.testing.assert_close(actor[0, :6], state[0, 3:9])  # angular velocity, projected gravity
    torch.testing.assert_close(actor[0, 6:9], command[0])
    torch.testing.assert_close(actor[0, 9:33], state[0, 9:33])  # joint positions and velocities
    torch.testing.assert_close(actor[0, 33:], last_action[0])
    names = observation_names(deploy)
    assert not any("lin_vel" in n and not n.startswith("command") for n in names) and len(names) == 45
    critic = build_critic_observation(state, command, last_action, deploy)  # privileged and noise-free
    assert critic.shape == (1, 60) == (1, deploy.critic_observation_dim)
    torch.testing.assert_close(critic[0, :9], state[0, :9])
    torch.testing.assert_close(critic[0, 9:12], command[0])
    torch.testing.assert_close(critic[0, 36:48], state[0, 33:45])  # joint torques
    torch.testing.assert_close(critic[0, 48:], last_action[0])
    # the reference task: the 48 numbers of docs/method.md section 3, the critic reads them too
    assert observation_names(reference)[:3] == ("base_lin_vel_x", "base_lin_vel_y", "base_lin_vel_z")
    assert reference.critic_observation_dim is None
    with pytest.raises(RwmuError, match="no critic observation of its own"):
        build_critic_observation(state, command, last_action, reference)


def test_deployable_go2_noise_perturbs_the_measured_terms_only():
    deploy = get_task("go2_flat_deploy")
    n = 4000
    obs = build_policy_observation(
        torch.zeros(n, 45), torch.zeros(n, 3), torch.zeros(n, 12), deploy, torch.Generator().manual_seed(0)
    )
    half = obs.abs().max(0).values
    assert 0.19 < float(half[0]) <= 0.2 and 0.045 < float(half[3]) <= 0.05  # gyro, gravity (Isaac Lab's Unoise)
    assert float(half[6:9].sum()) == 0.0 and float(half[33:].sum()) == 0.0  # command and last action are exact
    assert 1.4 < float(half[21]) <= 1.5  # first joint velocity


def test_a_task_refuses_unknown_observation_terms():
    with pytest.raises(ValueError, match="observation_terms"):
        dataclasses.replace(TASK, observation_terms=("base_lin_vel", "height_scan"))
    with pytest.raises(ValueError, match="critic_observation_terms"):
        dataclasses.replace(TASK, critic_observation_terms=("base_lin_vel", "base_lin_vel"))
