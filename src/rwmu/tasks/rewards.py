"""Velocity-tracking reward terms, defined once for imagination and for the physics simulator.

The eleven terms and their weights are those of docs/method.md section 3 (Isaac Lab's ``anymal_d_flat`` velocity
task, as used by the RWM-U reference). Each term is returned already multiplied by ``weight * dt``, so the step
reward is their sum. The uncertainty penalty is not a task term; the imagination environment adds it on top. Both
environments call this class through :class:`rwmu.tasks.locomotion.LocomotionCore`.

Per-environment bookkeeping kept between calls (reset per environment with :meth:`RewardComputer.reset`):

- the previous policy action (``action_rate_l2``) and the previous joint velocity (``dof_acc_l2``); on the first
  step after a reset the current values stand in for them unless the caller supplies the true previous values;
- the feet air-time counters of Isaac Lab's ``ContactSensor`` at control-step resolution (the sensor's elapsed time
  is ``dt``): ``current_air_time``, ``current_contact_time`` and ``last_air_time``. A foot's *first contact* is a step
  on which it touches down after at least one step in the air, ``last_air_time`` is the length of that air phase
  (air steps plus the touchdown step, times ``dt``), exactly as ``ContactSensor._update_buffers_impl`` and
  ``compute_first_contact`` do it with the elapsed time equal to ``dt``.
"""

from __future__ import annotations

import dataclasses

import torch

from rwmu.tasks.base import RewardWeights, Task

# Names of the task reward terms, in the order of docs/method.md section 3.
TERM_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RewardWeights))

# Isaac Lab velocity-task constants (docs/method.md section 3; isaaclab_tasks locomotion velocity_env_cfg).
TRACKING_STD_SQUARED = 0.25  # exp(-error^2 / 0.25) for both tracking terms (std = 0.5)
FEET_AIR_TIME_THRESHOLD = 0.5  # [s] air time rewarded above, penalised below
FEET_AIR_TIME_MIN_COMMAND = 0.1  # [m/s] feet_air_time only counts when ||cmd_xy|| > this
STAND_STILL_MAX_COMMAND = 0.05  # stand_still only counts when ||cmd|| (vx, vy, wz) < this
CONTACT_THRESHOLD = 0.5  # a contact value above this is "in contact" (values are 0/1 or probabilities)


class RewardComputer:
    """Vectorised reward terms of a locomotion task with per-environment bookkeeping.

    Args:
        task: the task; uses ``task.layout`` (where quantities sit in the state), ``task.rewards`` (weights),
            ``task.dt``, ``task.foot_contact_ids`` and ``task.undesired_contact_ids``.
        num_envs: number of environments ``n``.
        device: torch device of every tensor passed in.
    """

    def __init__(self, task: Task, num_envs: int, device: str | torch.device = "cpu"):
        self.task = task
        self.num_envs = int(num_envs)
        self.device = torch.device(device)
        self.dt = float(task.dt)
        self.layout = task.layout
        self.weights: dict[str, float] = {name: float(getattr(task.rewards, name)) for name in TERM_NAMES}
        self._foot_ids = torch.as_tensor(task.foot_contact_ids, dtype=torch.long, device=self.device)
        self._undesired_ids = torch.as_tensor(task.undesired_contact_ids, dtype=torch.long, device=self.device)
        num_feet = len(task.foot_contact_ids)
        n, a, j = self.num_envs, task.dims.action, task.num_joints
        self.previous_action = torch.zeros(n, a, device=self.device)  # (n, A)
        self.previous_joint_vel = torch.zeros(n, j, device=self.device)  # (n, J)
        # True where the previous action / joint velocity are unknown (first step after a reset).
        self._previous_action_unknown = torch.ones(n, dtype=torch.bool, device=self.device)
        self._previous_joint_vel_unknown = torch.ones(n, dtype=torch.bool, device=self.device)
        self.current_air_time = torch.zeros(n, num_feet, device=self.device)  # (n, F) [s]
        self.current_contact_time = torch.zeros(n, num_feet, device=self.device)  # (n, F) [s]
        self.last_air_time = torch.zeros(n, num_feet, device=self.device)  # (n, F) [s]
        self.last_terms: dict[str, torch.Tensor] = {}  # the terms of the latest compute()

    # ------------------------------------------------------------------------------------------------------------
    def _ids(self, env_ids: torch.Tensor | None) -> torch.Tensor:
        if env_ids is None:
            return torch.arange(self.num_envs, device=self.device)
        return torch.as_tensor(env_ids, dtype=torch.long, device=self.device).reshape(-1)

    def reset(
        self,
        env_ids: torch.Tensor | None = None,
        *,
        previous_action: torch.Tensor | None = None,
        previous_joint_vel: torch.Tensor | None = None,
        contact_history: torch.Tensor | None = None,
    ) -> None:
        """Clear the bookkeeping of ``env_ids`` (all envs if None).

        Optional knowledge of the past makes the first step after a reset exact instead of approximate:

        Args:
            previous_action: (k, A) the action applied last before the reset state (e.g. a history's last action);
                otherwise the first computed step uses its own action (action rate 0).
            previous_joint_vel: (k, J) the joint velocity at the reset state; otherwise the first step uses its own
                (joint acceleration 0).
            contact_history: (k, T, C) contacts of the T steps up to and including the reset state, oldest first;
                the air-time counters are then those Isaac Lab's sensor would hold after these steps. Without it the
                counters start at zero, as after an Isaac Lab reset.
        """
        ids = self._ids(env_ids)
        if previous_action is None:
            self._previous_action_unknown[ids] = True
        else:
            self.previous_action[ids] = previous_action.to(self.previous_action)
            self._previous_action_unknown[ids] = False
        if previous_joint_vel is None:
            self._previous_joint_vel_unknown[ids] = True
        else:
            self.previous_joint_vel[ids] = previous_joint_vel.to(self.previous_joint_vel)
            self._previous_joint_vel_unknown[ids] = False
        if contact_history is None or self._foot_ids.numel() == 0:
            self.current_air_time[ids] = 0.0
            self.current_contact_time[ids] = 0.0
            self.last_air_time[ids] = 0.0
        else:
            feet = contact_history.to(self.device).index_select(-1, self._foot_ids) > CONTACT_THRESHOLD
            air, contact, last_air = air_time_after_history(feet, self.dt)
            self.current_air_time[ids] = air
            self.current_contact_time[ids] = contact
            self.last_air_time[ids] = last_air

    # ------------------------------------------------------------------------------------------------------------
    def _update_air_time(self, foot_contacts: torch.Tensor) -> torch.Tensor:
        """Advance the air-time counters by one step; return first_contact (n, F) as float."""
        is_contact = foot_contacts > CONTACT_THRESHOLD
        is_first_contact = (self.current_air_time > 0) & is_contact
        # In-place updates keep the buffers usable both inside and outside torch.inference_mode().
        self.last_air_time.copy_(torch.where(is_first_contact, self.current_air_time + self.dt, self.last_air_time))
        self.current_air_time.copy_(
            torch.where(is_contact, torch.zeros_like(self.current_air_time), self.current_air_time + self.dt)
        )
        self.current_contact_time.copy_(
            torch.where(is_contact, self.current_contact_time + self.dt, torch.zeros_like(self.current_contact_time))
        )
        # ContactSensor.compute_first_contact(dt): in contact for at most one step.
        first_contact = (self.current_contact_time > 0) & (self.current_contact_time < self.dt + 1e-8)
        return first_contact.float()

    def term_values(
        self, state: torch.Tensor, action: torch.Tensor, contacts: torch.Tensor, command: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Unweighted term values (n,) each, and advance the bookkeeping by one step (see :meth:`compute`)."""
        lay = self.layout
        lin_vel = state[:, lay.lin_vel]
        ang_vel = state[:, lay.ang_vel]
        gravity = state[:, lay.gravity]
        joint_pos = state[:, lay.joint_pos]
        joint_vel = state[:, lay.joint_vel]
        torque = state[:, lay.joint_torque]

        previous_action = torch.where(self._previous_action_unknown[:, None], action, self.previous_action)
        previous_joint_vel = torch.where(self._previous_joint_vel_unknown[:, None], joint_vel, self.previous_joint_vel)
        command_xy_norm = torch.linalg.vector_norm(command[:, :2], dim=-1)

        values = {
            "track_lin_vel_xy_exp": torch.exp(
                -torch.sum(torch.square(command[:, :2] - lin_vel[:, :2]), dim=-1) / TRACKING_STD_SQUARED
            ),
            "track_ang_vel_z_exp": torch.exp(-torch.square(command[:, 2] - ang_vel[:, 2]) / TRACKING_STD_SQUARED),
            "lin_vel_z_l2": torch.square(lin_vel[:, 2]),
            "ang_vel_xy_l2": torch.sum(torch.square(ang_vel[:, :2]), dim=-1),
            "dof_torques_l2": torch.sum(torch.square(torque), dim=-1),
            "dof_acc_l2": torch.sum(torch.square((joint_vel - previous_joint_vel) / self.dt), dim=-1),
            "action_rate_l2": torch.sum(torch.square(action - previous_action), dim=-1),
        }
        if self._foot_ids.numel() > 0:
            first_contact = self._update_air_time(contacts.index_select(-1, self._foot_ids))
            air_time = torch.sum((self.last_air_time - FEET_AIR_TIME_THRESHOLD) * first_contact, dim=-1)
            values["feet_air_time"] = air_time * (command_xy_norm > FEET_AIR_TIME_MIN_COMMAND)
        else:
            values["feet_air_time"] = torch.zeros(state.shape[0], device=state.device)
        if self._undesired_ids.numel() > 0:
            undesired = contacts.index_select(-1, self._undesired_ids) > CONTACT_THRESHOLD
            values["undesired_contacts"] = undesired.float().sum(dim=-1)
        else:
            values["undesired_contacts"] = torch.zeros(state.shape[0], device=state.device)
        standing = torch.linalg.vector_norm(command, dim=-1) < STAND_STILL_MAX_COMMAND
        values["stand_still"] = torch.sum(torch.abs(joint_pos), dim=-1) * standing
        values["flat_orientation_l2"] = torch.sum(torch.square(gravity[:, :2]), dim=-1)

        self.previous_action.copy_(action)
        self.previous_joint_vel.copy_(joint_vel)
        self._previous_action_unknown.zero_()
        self._previous_joint_vel_unknown.zero_()
        return values

    def compute(
        self, state: torch.Tensor, action: torch.Tensor, contacts: torch.Tensor, command: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Reward of one step for every environment, and advance the bookkeeping.

        Args:
            state: (n, S) state reached by the step, PHYSICAL units, laid out as ``task.layout``.
            action: (n, A) the policy action that led to ``state``.
            contacts: (n, C) contacts at ``state``, 0/1 (anything > 0.5 counts as contact).
            command: (n, 3) velocity command [vx, vy, wz].

        Returns:
            reward (n,) = sum of the terms; terms: name -> (n,) each ``weight * value * dt``, in ``TERM_NAMES`` order.
            The terms are also kept as ``self.last_terms``.
        """
        values = self.term_values(state, action, contacts, command)
        terms = {name: values[name] * (self.weights[name] * self.dt) for name in TERM_NAMES}
        reward = torch.stack(list(terms.values()), dim=0).sum(dim=0)
        self.last_terms = terms
        return reward, terms


def air_time_after_history(foot_contacts: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Air-time counters after stepping zeroed counters through a contact history, without a loop over time.

    Equivalent to calling :meth:`RewardComputer._update_air_time` on each of the T steps in order.

    Args:
        foot_contacts: (k, T, F) bool, oldest step first.
        dt: control step [s].

    Returns:
        current_air_time, current_contact_time, last_air_time: (k, F) each [s].
    """
    k, t_len, num_feet = foot_contacts.shape
    device = foot_contacts.device
    steps = torch.arange(t_len, device=device).view(1, t_len, 1).expand(k, t_len, num_feet)
    minus_one = torch.full_like(steps, -1)
    # Index of the latest contact / non-contact step at or before each t (-1 if none).
    last_contact_upto = torch.cummax(torch.where(foot_contacts, steps, minus_one), dim=1).values
    last_air_upto = torch.cummax(torch.where(~foot_contacts, steps, minus_one), dim=1).values
    final = t_len - 1
    # Trailing runs at the end of the history.
    current_air = (final - last_contact_upto[:, -1]).float() * dt  # 0 when the last step is a contact
    current_contact = (final - last_air_upto[:, -1]).float() * dt  # 0 when the last step is airborne
    # First contacts: contact at t >= 1 after an airborne step at t - 1. The air phase ending at t - 1 lasted
    # (t - 1) - last_contact_upto[t - 1] steps; the sensor adds the touchdown step: last_air_time = (that + 1) * dt.
    if t_len > 1:
        first = foot_contacts[:, 1:] & ~foot_contacts[:, :-1]  # (k, T-1, F), event at t = index + 1
        air_steps = (steps[:, :-1] - last_contact_upto[:, :-1]).float()  # air run ending at t - 1
        event_time = torch.where(first, steps[:, 1:], minus_one[:, 1:])
        latest_event = event_time.max(dim=1).values  # (k, F), -1 if none
        has_event = latest_event >= 0
        gather_at = (latest_event - 1).clamp(min=0).unsqueeze(1)  # index into the (T-1) axis
        latest_air_steps = torch.gather(air_steps, 1, gather_at).squeeze(1)
        last_air = torch.where(has_event, (latest_air_steps + 1.0) * dt, torch.zeros_like(latest_air_steps))
    else:
        last_air = torch.zeros(k, num_feet, device=device)
    return current_air, current_contact, last_air
