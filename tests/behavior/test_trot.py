"""The scripted trotting controller: leg kinematics against MuJoCo, walking, turning, standing, diversity."""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from rwmu.behavior import TrotConfig, TrotController, TrotDiversity
from rwmu.behavior.trot import LEG_SIDE, leg_forward_kinematics, leg_inverse_kinematics, legs_to_task, task_to_legs
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.sim.model import go2_indices, load_go2_model
from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS


def test_forward_kinematics_matches_mujoco_and_inverse_kinematics_inverts_it():
    model = load_go2_model()
    idx = go2_indices(model)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    q = np.asarray(DEFAULT_JOINT_POS) + rng.uniform(-0.3, 0.3, 12)
    data.qpos[3:7] = (1, 0, 0, 0)
    data.qpos[idx.qpos_joint] = q
    mujoco.mj_kinematics(model, data)
    hips = np.stack([data.body(f"{leg}_hip").xpos for leg in ("FL", "FR", "RL", "RR")])
    feet = data.geom_xpos[idx.foot_geoms] - hips
    side = torch.tensor(LEG_SIDE, dtype=torch.float64)
    fk = leg_forward_kinematics(task_to_legs(torch.tensor(q)), side).numpy()
    np.testing.assert_allclose(fk, feet, atol=3e-3)  # the model's foot sits 2 mm behind the calf axis
    back = legs_to_task(leg_inverse_kinematics(torch.tensor(fk), side)).numpy()
    np.testing.assert_allclose(back, q, atol=1e-6)


def _run(commands: torch.Tensor, steps: int, seed: int = 0):
    n = commands.shape[0]
    env = Go2VecEnv(Go2EnvConfig(num_envs=n, seed=seed, pushes=False))
    env.set_fixed_commands(commands[:, None, :])
    policy = TrotController(n, TrotConfig(diversity=TrotDiversity(enabled=False), seed=seed))
    obs = env.get_observations()["policy"]
    velocities, falls = [], torch.zeros(n)
    for _ in range(steps):
        obs_td, _, dones, _ = env.step(policy.act(obs))
        velocities.append(env.last_step.state[:, [0, 1, 5]])
        falls += env.last_step.terminated.float()
        obs = obs_td["policy"]
    env.close()
    return torch.stack(velocities), falls


def test_walks_forward_backward_sideways_turns_and_stands():
    commands = torch.tensor([[0.5, 0, 0], [-0.5, 0, 0], [0, 0.5, 0], [0, 0, 1.0], [0, 0, 0]])
    velocities, falls = _run(commands, 120)
    mean = velocities[60:].mean(0)  # after the start-up
    assert torch.all(falls == 0)
    assert mean[0, 0] > 0.25 and mean[1, 0] < -0.25  # forward, backward
    assert mean[2, 1] > 0.25  # sideways
    assert mean[3, 2] > 0.5  # turning
    assert velocities[60:, 4].abs().max() < 0.1  # standing still


def test_diversity_draws_per_episode_parameters_and_noise():
    policy = TrotController(64, TrotConfig(seed=0))
    assert policy.frequency.std() > 0 and policy.noise_std.max() > 0.1
    obs = torch.zeros(64, 48)
    obs[:, 8] = -1.0
    obs[:, 9] = 0.5
    a1 = policy.act(obs)
    quiet = TrotController(64, TrotConfig(diversity=TrotDiversity(enabled=False)))
    b1, b2 = quiet.act(obs), TrotController(64, TrotConfig(diversity=TrotDiversity(enabled=False))).act(obs)
    torch.testing.assert_close(b1, b2)  # nominal controller: deterministic for a seed
    assert (a1 - b1).abs().max() > 0.1
