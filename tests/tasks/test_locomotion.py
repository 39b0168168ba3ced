"""The locomotion core shared by the imagination and MuJoCo environments: sums, resets, time-outs, logs, commands,
pushes, and the same meaning of each in both environments."""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np
import pytest
import torch

from rwmu.data.normalization import Normalization
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.envs.imagination import REWARD_NAMES, ImaginationConfig, ImaginationEnv
from rwmu.errors import RwmuError
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.sim.shard import Go2Shard
from rwmu.tasks import get_task
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.tasks.locomotion import LocomotionCore, reward_names
from rwmu.tasks.rewards import TERM_NAMES

TASK = get_task("anymal_d_flat")
N = 4


def _core(seed: int = 0, **kwargs) -> LocomotionCore:
    return LocomotionCore(TASK, N, "cpu", torch.Generator().manual_seed(seed), **kwargs)


def _inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    state = 0.1 * torch.randn(N, TASK.dims.state, generator=gen)
    state[:, 8] = -1.0  # upright
    action = 0.3 * torch.randn(N, TASK.dims.action, generator=gen)
    contacts = (torch.rand(N, TASK.dims.contact, generator=gen) > 0.5).float()
    return state, action, contacts


def test_episode_sums_time_outs_and_logs_reset_only_the_done_envs():
    core = _core(episode_length=3, penalty_names=("penalty",))
    assert core.reward_names == (*TERM_NAMES, "penalty", "task", "total")
    no = torch.zeros(N, dtype=torch.bool)
    penalty = {"penalty": torch.full((N,), -0.5)}
    totals = torch.zeros(N)
    tasks = torch.zeros(N)
    terminated_at_2 = torch.tensor([False, True, False, False])
    for step in (1, 2):
        state, action, contacts = _inputs(step)
        out = core.step(state, action, contacts, terminated_at_2 if step == 2 else no, penalty)
        torch.testing.assert_close(out.task_reward, sum(out.terms.values()))
        torch.testing.assert_close(out.reward, out.task_reward - 0.5)
        assert tuple(out.all_terms) == core.reward_names
        totals += out.reward
        tasks += out.task_reward
        if step == 1:
            assert out.log == {} and out.reset_ids.numel() == 0
    # Step 2: env 1 terminated (not a time-out); the log covers env 1 only.
    assert out.reset_ids.tolist() == [1] and not out.time_out.any()
    assert float(out.log["Episode_Reward/total"]) == pytest.approx(float(totals[1]))
    assert float(out.log["Episode_Reward/task"]) == pytest.approx(float(tasks[1]))
    assert float(out.log["Episode_Reward/penalty"]) == pytest.approx(-1.0)
    assert float(out.log["Episode_Termination/terminated"]) == 1.0
    assert float(out.log["Episode_Termination/time_out"]) == 0.0
    assert float(out.log["Episode/length"]) == 2.0
    before = {name: sums.clone() for name, sums in core.episode_sums.items()}
    core.reset(out.reset_ids)
    assert core.episode_length_buf.tolist() == [2, 0, 2, 2]
    for name, sums in core.episode_sums.items():
        assert float(sums[1]) == 0.0
        torch.testing.assert_close(sums[[0, 2, 3]], before[name][[0, 2, 3]])  # the others keep theirs
    # Step 3: envs 0, 2, 3 reach the episode length: time-outs; env 1 continues.
    out = core.step(*_inputs(3), no, penalty)
    assert out.time_out.tolist() == [True, False, True, True] and out.dones.tolist() == [True, False, True, True]
    assert float(out.log["Episode_Termination/time_out"]) == 3.0 and float(out.log["Episode/length"]) == 3.0
    with pytest.raises(RwmuError, match="penalties"):
        core.step(*_inputs(4), no)


def test_reset_restarts_commands_pushes_and_last_action():
    core = _core()
    state, _, contacts = _inputs()
    action = torch.ones(N, TASK.dims.action)
    core.step(state, action, contacts, torch.zeros(N, dtype=torch.bool))
    torch.testing.assert_close(core.last_actions, action)
    commands, timers = core.commands.clone(), core.push_scheduler.steps_until_push.clone()
    history_action = torch.full((1, TASK.dims.action), 0.5)
    core.reset(torch.tensor([2]), last_action=history_action)
    torch.testing.assert_close(core.last_actions[2], history_action[0])
    torch.testing.assert_close(core.last_actions[[0, 1, 3]], action[[0, 1, 3]])
    assert not torch.equal(core.commands[2], commands[2])
    torch.testing.assert_close(core.commands[[0, 1, 3]], commands[[0, 1, 3]])
    torch.testing.assert_close(core.push_scheduler.steps_until_push[[0, 1, 3]], timers[[0, 1, 3]])
    core.reset(torch.tensor([3]))  # a physics reset: no known last action
    assert float(core.last_actions[3].abs().sum()) == 0.0


def test_same_seed_same_commands_and_pushes():
    def run(seed):
        core = _core(seed)
        core.push_scheduler.config = dataclasses.replace(core.push_scheduler.config, interval_steps=(1, 3))
        commands, kicks = [core.commands.clone()], []
        for _ in range(150):
            kicks.append(core.advance())
            commands.append(core.commands.clone())
        return torch.stack(commands), torch.stack(kicks)

    (ca, ka), (cb, kb), (cc, _) = run(3), run(3), run(4)
    torch.testing.assert_close(ca, cb, rtol=0, atol=0)
    torch.testing.assert_close(ka, kb, rtol=0, atol=0)
    assert ka.abs().sum() > 0 and not torch.equal(ca, cc)


def test_fixed_command_schedule_follows_the_episode_step():
    core = _core()
    schedule = torch.zeros(3, 3)
    schedule[:, 0] = torch.tensor([0.1, 0.2, 0.3])
    core.set_fixed_commands(schedule)
    seen = [core.commands[:, 0].clone()]
    for _ in range(4):
        core.step(*_inputs(), torch.zeros(N, dtype=torch.bool))
        core.advance()
        seen.append(core.commands[:, 0].clone())
    torch.testing.assert_close(torch.stack(seen)[:, 0], torch.tensor([0.1, 0.2, 0.3, 0.3, 0.3]))
    core.reset(torch.tensor([1]))
    assert float(core.commands[1, 0]) == pytest.approx(0.1) and float(core.commands[0, 0]) == pytest.approx(0.3)
    with pytest.raises(RwmuError, match="schedule"):
        core.set_fixed_commands(torch.zeros(N + 1, 3, 3))
    core.set_fixed_commands(None)
    core.advance()
    assert core.fixed_commands is None


def _imagination_env(num_envs: int = 2, **overrides) -> ImaginationEnv:
    torch.manual_seed(0)
    config = WorldModelConfig(
        ensemble_size=2,
        history_horizon=3,
        base_type="mlp",
        mlp_base_shape=(16,),
        state_mean_shape=(16,),
        state_logstd_shape=(16,),
        contact_shape=(16,),
        termination_shape=(16,),
    )
    model = WorldModelEnsemble(config)
    model.normalization = Normalization.from_task(GO2_FLAT)
    dataset = make_synthetic_dataset(2, 30, task=GO2_FLAT, seed=0)
    settings = dict(num_envs=num_envs, episode_length=3, pushes=False)
    settings.update(overrides)
    return ImaginationEnv(model.eval(), dataset, GO2_FLAT, ImaginationConfig(**settings), seed=0)


def _never_terminate(env: ImaginationEnv) -> None:
    original = env._predict

    def predict(action_normalized):
        out = original(action_normalized)
        out.termination = torch.full_like(out.termination, -10.0)
        return out

    env._predict = predict


def test_both_environments_log_the_same_episode_keys():
    task = dataclasses.replace(GO2_FLAT, episode_length=3)
    sim = Go2VecEnv(Go2EnvConfig(num_envs=2, seed=0, pushes=False), task=task)
    imagined = _imagination_env()
    _never_terminate(imagined)
    logs = {}
    for name, env in (("sim", sim), ("imagination", imagined)):
        for _ in range(3):
            _, _, dones, extras = env.step(torch.zeros(2, 12))
        assert dones.all() and extras["time_outs"].all()
        logs[name] = extras["log"]
    sim.close()
    imagination_only = {"Episode_Reward/uncertainty_penalty", "Episode_Reward/total"}
    episode_keys = {k for k in logs["imagination"] if not k.startswith("Imagination/")}
    assert set(logs["sim"]) == episode_keys - imagination_only
    assert {f"Episode_Reward/{name}" for name in REWARD_NAMES} <= episode_keys
    assert {f"Episode_Reward/{name}" for name in reward_names()} == {k for k in logs["sim"] if "Reward" in k}
    for log in logs.values():
        assert float(log["Episode_Termination/time_out"]) == 2.0 and float(log["Episode/length"]) == 3.0


def _capture_kicks(env) -> list[torch.Tensor]:
    kicks: list[torch.Tensor] = []
    original = env.core.advance

    def advance():
        kicks.append(original())
        return kicks[-1]

    env.core.advance = advance
    env.core.push_scheduler.config = dataclasses.replace(env.core.push_scheduler.config, interval_steps=(1, 2))
    env.core.push_scheduler.reset()
    return kicks


def test_a_push_changes_the_body_frame_velocity_by_the_kick_in_both_environments():
    # MuJoCo: random headings; the physics and the env's state agree on the pushed body-frame velocity.
    sim = Go2VecEnv(Go2EnvConfig(num_envs=3, seed=1, pushes=True))
    kicks = _capture_kicks(sim)
    sim.step(torch.zeros(3, 12))
    assert bool(sim.core.pushed.all()) and kicks[-1].abs().min() > 0
    torch.testing.assert_close(sim.states[:, :2] - sim.last_step.state[:, :2], kicks[-1])
    torch.testing.assert_close(sim.states[:, 2:], sim.last_step.state[:, 2:])
    physics = torch.from_numpy(sim.pool.observe(np.arange(3)).states).float()
    torch.testing.assert_close(physics, sim.states, atol=1e-5, rtol=1e-5)
    sim.close()
    # Imagination: the kick is added to the predicted body-frame velocity.
    imagined = _imagination_env(pushes=True)
    kicks = _capture_kicks(imagined)
    predicted = []
    original = imagined._predict
    imagined._predict = lambda a: predicted.append(original(a)) or predicted[-1]
    _never_terminate(imagined)
    imagined.step(torch.zeros(2, 12))
    before = imagined.normalization.denormalize_state(predicted[-1].state)
    torch.testing.assert_close(imagined.state_physical[:, :2] - before[:, :2], kicks[-1])
    torch.testing.assert_close(imagined.state_physical[:, 2:], before[:, 2:])


def test_mujoco_push_is_in_the_body_frame_whatever_the_orientation():
    shard = Go2Shard(2)
    shard.reset(np.arange(2), np.zeros((2, 12)), np.zeros((2, 6)), np.array([0.7, -2.0]))
    data = shard.datas[1]  # tilt env 1: roll 0.3 rad on top of its heading
    roll, yaw = np.zeros(4), np.zeros(4)
    mujoco.mju_axisAngle2Quat(roll, np.array([1.0, 0.0, 0.0]), 0.3)
    mujoco.mju_axisAngle2Quat(yaw, np.array([0.0, 0.0, 1.0]), -2.0)
    mujoco.mju_mulQuat(data.qpos[3:7], yaw, roll)
    mujoco.mj_forward(shard.models[1], data)
    before = shard.observe(np.arange(2)).states
    kick = np.array([[0.3, -0.2], [-0.4, 0.1]])
    shard.push(np.arange(2), kick)
    after = shard.observe(np.arange(2)).states
    np.testing.assert_allclose(after[:, :3] - before[:, :3], np.c_[kick, np.zeros(2)], atol=1e-12)
    np.testing.assert_allclose(after[:, 3:], before[:, 3:])


def test_rsl_rl_may_set_random_episode_lengths():
    env = Go2VecEnv(Go2EnvConfig(num_envs=2, seed=0, pushes=False))
    env.episode_length_buf = torch.tensor([5, 7])  # OnPolicyRunner.learn(init_at_random_ep_len=True)
    assert env.core.episode_length_buf.tolist() == [5, 7] and env.episode_length_buf is env.core.episode_length_buf
    env.step(torch.zeros(2, 12))
    assert env.episode_length_buf.tolist() == [6, 8]
    env.close()


def test_go2_termination_rule_reads_tilt_and_clearance():
    task = get_task("go2_flat")
    rule, layout = task.termination_rule, task.layout
    state = torch.zeros(4, task.dims.state)
    state[:, 8] = torch.tensor([-1.0, -1.0, -0.4, -0.6])  # upright, upright, tilted past 60 degrees, 53 degrees
    extension = torch.tensor([[0.3, 0.1], [0.1, -0.002], [0.3, 0.1], [0.3, 0.1]]).repeat(1, 3)
    assert rule(state, extension, layout).tolist() == [False, True, True, False]
    assert rule(state, None, layout).tolist() == [False, False, True, False]  # without extensions: tilt only
    assert get_task("anymal_d_flat").termination_rule is None


def test_go2_contact_rule_sets_undesired_contacts_from_leg_clearances():
    task = get_task("go2_flat")
    contacts = torch.tensor([[1.0, 0, 0, 0, 1, 1, 1, 1]])
    extension = torch.tensor([[0.3, 0.1, 0.05, 0.0005, 0.2, -0.01]])  # contact within the 1 mm margin
    out = task.contact_rule(contacts, extension)
    assert out.tolist() == [[0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]]  # feet untouched, legs from the clearances
    assert contacts[0, 0] == 1.0  # the input is not modified
