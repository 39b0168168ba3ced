"""Every reward term of docs/method.md section 3 against hand-computed values."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from rwmu.tasks import get_task
from rwmu.tasks.base import RewardWeights
from rwmu.tasks.rewards import TERM_NAMES, RewardComputer, air_time_after_history

TASK = get_task("anymal_d_flat")
DT = 0.02
LAY = TASK.layout


def zero_inputs(n: int = 1):
    state = torch.zeros(n, 45)
    state[:, LAY.gravity] = torch.tensor([0.0, 0.0, -1.0])
    action = torch.zeros(n, 12)
    contacts = torch.zeros(n, 8)
    command = torch.zeros(n, 3)
    return state, action, contacts, command


def only(terms: dict, name: str) -> float:
    return float(terms[name][0])


def test_term_names_and_weights_follow_spec():
    assert TERM_NAMES == (
        "track_lin_vel_xy_exp",
        "track_ang_vel_z_exp",
        "lin_vel_z_l2",
        "ang_vel_xy_l2",
        "dof_torques_l2",
        "dof_acc_l2",
        "action_rate_l2",
        "feet_air_time",
        "undesired_contacts",
        "stand_still",
        "flat_orientation_l2",
    )
    rc = RewardComputer(TASK, 1)
    assert rc.weights["flat_orientation_l2"] == -5.0 and rc.weights["dof_acc_l2"] == -2.5e-7


def test_tracking_terms():
    rc = RewardComputer(TASK, 1)
    state, action, contacts, command = zero_inputs()
    state[0, LAY.lin_vel] = torch.tensor([0.3, -0.2, 0.0])
    state[0, LAY.ang_vel] = torch.tensor([0.0, 0.0, 0.4])
    command[0] = torch.tensor([0.5, 0.1, -0.1])
    _, terms = rc.compute(state, action, contacts, command)
    lin_err = (0.5 - 0.3) ** 2 + (0.1 + 0.2) ** 2
    assert only(terms, "track_lin_vel_xy_exp") == pytest.approx(1.0 * math.exp(-lin_err / 0.25) * DT, rel=1e-5)
    assert only(terms, "track_ang_vel_z_exp") == pytest.approx(0.5 * math.exp(-(0.5**2) / 0.25) * DT, rel=1e-5)


def test_velocity_and_orientation_penalties():
    rc = RewardComputer(TASK, 1)
    state, action, contacts, command = zero_inputs()
    state[0, LAY.lin_vel] = torch.tensor([1.0, 1.0, 0.3])
    state[0, LAY.ang_vel] = torch.tensor([0.2, -0.4, 3.0])
    state[0, LAY.gravity] = torch.tensor([0.1, -0.2, -0.97])
    _, terms = rc.compute(state, action, contacts, command)
    assert only(terms, "lin_vel_z_l2") == pytest.approx(-2.0 * 0.09 * DT, rel=1e-5)
    assert only(terms, "ang_vel_xy_l2") == pytest.approx(-0.05 * (0.04 + 0.16) * DT, rel=1e-5)
    assert only(terms, "flat_orientation_l2") == pytest.approx(-5.0 * (0.01 + 0.04) * DT, rel=1e-5)


def test_torque_penalty():
    rc = RewardComputer(TASK, 1)
    state, action, contacts, command = zero_inputs()
    state[0, LAY.joint_torque] = torch.arange(12, dtype=torch.float32)
    _, terms = rc.compute(state, action, contacts, command)
    assert only(terms, "dof_torques_l2") == pytest.approx(-2.5e-5 * sum(i * i for i in range(12)) * DT, rel=1e-5)


def test_dof_acc_and_action_rate_use_previous_step():
    rc = RewardComputer(TASK, 1)
    state, action, contacts, command = zero_inputs()
    state[0, LAY.joint_vel] = 1.0
    action[0] = 0.5
    _, first = rc.compute(state, action, contacts, command)
    # First step after construction/reset: the current values stand in for the previous ones.
    assert only(first, "dof_acc_l2") == 0.0 and only(first, "action_rate_l2") == 0.0
    state2, action2 = state.clone(), action.clone()
    state2[0, LAY.joint_vel.start] = 1.2  # one joint accelerates by 0.2 rad/s in 0.02 s -> 10 rad/s^2
    action2[0, :2] = torch.tensor([0.0, 1.5])  # differences -0.5 and +1.0
    _, second = rc.compute(state2, action2, contacts, command)
    assert only(second, "dof_acc_l2") == pytest.approx(-2.5e-7 * 10.0**2 * DT, rel=1e-4)
    assert only(second, "action_rate_l2") == pytest.approx(-0.01 * (0.25 + 1.0) * DT, rel=1e-5)


def test_reset_with_known_previous_values():
    rc = RewardComputer(TASK, 2)
    state, action, contacts, command = zero_inputs(2)
    rc.reset(torch.tensor([1]), previous_action=torch.ones(1, 12), previous_joint_vel=torch.full((1, 12), -1.0))
    _, terms = rc.compute(state, action, contacts, command)
    assert terms["action_rate_l2"][0] == 0.0
    assert float(terms["action_rate_l2"][1]) == pytest.approx(-0.01 * 12 * DT, rel=1e-5)
    assert float(terms["dof_acc_l2"][1]) == pytest.approx(-2.5e-7 * 12 * (1.0 / DT) ** 2 * DT, rel=1e-4)
    # A plain reset forgets them again.
    rc.reset(torch.tensor([1]))
    _, terms = rc.compute(state, action + 3.0, contacts, command)
    assert terms["action_rate_l2"][1] == 0.0
    assert float(terms["action_rate_l2"][0]) == pytest.approx(-0.01 * 12 * 9.0 * DT, rel=1e-5)


def test_undesired_contacts_counts_thighs_only():
    rc = RewardComputer(TASK, 1)
    state, action, contacts, command = zero_inputs()
    contacts[0] = torch.tensor([1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    _, terms = rc.compute(state, action, contacts, command)
    assert only(terms, "undesired_contacts") == pytest.approx(-1.0 * 3 * DT)


def test_stand_still_only_with_near_zero_command():
    rc = RewardComputer(TASK, 2)
    state, action, contacts, command = zero_inputs(2)
    state[:, LAY.joint_pos] = torch.linspace(-0.3, 0.3, 12)
    command[1] = torch.tensor([0.03, 0.0, 0.04])  # norm 0.05: not standing (strictly below required)
    _, terms = rc.compute(state, action, contacts, command)
    expected = -1.0 * float(torch.linspace(-0.3, 0.3, 12).abs().sum()) * DT
    assert float(terms["stand_still"][0]) == pytest.approx(expected, rel=1e-5)
    assert float(terms["stand_still"][1]) == 0.0


def test_feet_air_time_isaac_lab_bookkeeping():
    """Foot 0 (contact column 4) lifts for 29 steps, touches down: last_air_time = 30 * dt = 0.6 s."""
    rc = RewardComputer(TASK, 2)
    state, action, contacts, command = zero_inputs(2)
    command[:, 0] = 1.0
    command[1, 0] = 0.05  # ||cmd_xy|| <= 0.1: term off
    contacts[:, 4:] = 1.0
    _, terms = rc.compute(state, action, contacts, command)
    # Fresh counters, all four feet in contact: first contact with last_air_time 0, as after an Isaac Lab reset.
    assert float(terms["feet_air_time"][0]) == pytest.approx(0.5 * 4 * (0.0 - 0.5) * DT, rel=1e-5)
    _, terms = rc.compute(state, action, contacts, command)
    assert float(terms["feet_air_time"][0]) == 0.0  # still in contact: no first contact
    lifted = contacts.clone()
    lifted[:, 4] = 0.0
    for _ in range(29):
        _, terms = rc.compute(state, action, lifted, command)
        assert float(terms["feet_air_time"][0]) == 0.0
    _, terms = rc.compute(state, action, contacts, command)
    assert float(rc.last_air_time[0, 0]) == pytest.approx(0.6, abs=1e-5)
    assert float(terms["feet_air_time"][0]) == pytest.approx(0.5 * (0.6 - 0.5) * DT, rel=1e-4)
    assert float(terms["feet_air_time"][1]) == 0.0  # small command


def test_air_time_warm_up_matches_stepping():
    gen = torch.Generator().manual_seed(3)
    history = torch.rand(6, 20, 8, generator=gen) < 0.5
    history[0] = True
    history[1] = False
    rc = RewardComputer(TASK, 6)
    state, action, _, command = zero_inputs(6)
    for t in range(20):
        rc.compute(state, action, history[:, t].float(), command)
    warm = RewardComputer(TASK, 6)
    warm.reset(contact_history=history.float())
    torch.testing.assert_close(warm.current_air_time, rc.current_air_time, atol=1e-5, rtol=0)
    torch.testing.assert_close(warm.current_contact_time, rc.current_contact_time, atol=1e-5, rtol=0)
    torch.testing.assert_close(warm.last_air_time, rc.last_air_time, atol=1e-5, rtol=0)
    cur_air, cur_contact, last_air = air_time_after_history(history[:, :, 4:], DT)
    assert cur_air.shape == (6, 4) and float(cur_contact[0, 0]) == pytest.approx(20 * DT)
    assert float(cur_air[1, 0]) == pytest.approx(20 * DT) and float(last_air[1, 0]) == 0.0


def test_partial_reset_clears_only_those_envs():
    rc = RewardComputer(TASK, 3)
    state, action, contacts, command = zero_inputs(3)
    for _ in range(3):
        rc.compute(state, action, contacts, command)  # feet airborne: air time grows
    rc.reset(torch.tensor([1]))
    assert float(rc.current_air_time[1].abs().sum()) == 0.0
    assert float(rc.current_air_time[0, 0]) == pytest.approx(3 * DT)
    assert float(rc.current_air_time[2, 0]) == pytest.approx(3 * DT)


def test_reward_is_sum_of_terms_and_weights_overridable():
    task = dataclasses.replace(TASK, rewards=dataclasses.replace(RewardWeights(), lin_vel_z_l2=-4.0))
    rc = RewardComputer(task, 4)
    gen = torch.Generator().manual_seed(0)
    state = torch.randn(4, 45, generator=gen)
    action = torch.randn(4, 12, generator=gen)
    contacts = (torch.rand(4, 8, generator=gen) < 0.5).float()
    command = torch.randn(4, 3, generator=gen)
    reward, terms = rc.compute(state, action, contacts, command)
    assert list(terms) == list(TERM_NAMES)
    torch.testing.assert_close(reward, torch.stack(list(terms.values())).sum(0))
    torch.testing.assert_close(terms["lin_vel_z_l2"], -4.0 * state[:, 2] ** 2 * DT)
