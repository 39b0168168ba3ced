"""The observations of a locomotion task, shared by imagination and the physics simulator.

An observation is a concatenation of named terms (Isaac Lab's ``mdp`` names, which Unitree's deploy stack also
reads), in the order the task lists them:

========================  ======  ===========================================================  ==================
term                      size    value                                                        noise half-width
========================  ======  ===========================================================  ==================
``base_lin_vel``          3       base linear velocity, body frame [m/s]                       0.1
``base_ang_vel``          3       base angular velocity, body frame [rad/s]                    0.2
``projected_gravity``     3       gravity unit vector in the body frame                        0.05
``velocity_commands``     3       command vx, vy [m/s], wz [rad/s]                             exact
``joint_pos_rel``         J       joint positions relative to the default pose [rad]           0.01
``joint_vel_rel``         J       joint velocities [rad/s]                                     1.5
``joint_effort``          J       applied joint torques [Nm]                                   (critic only)
``last_action``           A       the policy action of the previous step                       exact
========================  ======  ===========================================================  ==================

The actor reads ``task.observation_terms`` (group ``policy``); the reference task's 48 numbers are the first six
terms and ``last_action`` (docs/method.md section 3). A task with ``critic_observation_terms`` gives the critic its
own group ``critic``, without noise (asymmetric actor-critic, as rsl_rl's observation groups allow): the deployable
Go2 task's actor reads only what the robot measures in low-level mode, its critic also the base velocity and the
torques. Values are in physical units, unscaled (as Isaac Lab's velocity task); the policy learns its own
normalisation (rsl_rl's ``obs_normalization``), which the exporter folds into the deployed actor.

Optional uniform noise (``task.observation_noise``; the half-widths above, Isaac Lab's ``Unoise`` of the velocity
task) perturbs the measured terms of the actor's observation only.
"""

from __future__ import annotations

import torch

from rwmu.errors import RwmuError
from rwmu.tasks.base import Task


def _state_slices(task: Task) -> dict[str, slice]:
    lay = task.layout
    return {
        "base_lin_vel": lay.lin_vel,
        "base_ang_vel": lay.ang_vel,
        "projected_gravity": lay.gravity,
        "joint_pos_rel": lay.joint_pos,
        "joint_vel_rel": lay.joint_vel,
        "joint_effort": lay.joint_torque,
    }


def term_names(task: Task, term: str) -> tuple[str, ...]:
    """The entry names of one observation ``term`` (length = the term's size)."""
    if term == "velocity_commands":
        return ("command_lin_vel_x", "command_lin_vel_y", "command_ang_vel_z")
    if term == "last_action":
        return tuple(f"last_action/{n}" for n in task.action_names)
    return task.state_names[_state_slices(task)[term]]


def term_noise(task: Task, term: str) -> float:
    """Half-width of the uniform noise on ``term`` when the task's noise is on (0: exact)."""
    noise = task.observation_noise
    return {
        "base_lin_vel": noise.lin_vel,
        "base_ang_vel": noise.ang_vel,
        "projected_gravity": noise.gravity,
        "joint_pos_rel": noise.joint_pos,
        "joint_vel_rel": noise.joint_vel,
    }.get(term, 0.0)


def observation_names(task: Task, terms: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Names of the observation entries, in order (default: the actor's terms, length ``task.observation_dim``)."""
    return tuple(
        name for term in (task.observation_terms if terms is None else terms) for name in term_names(task, term)
    )


def observation_noise_half_widths(
    task: Task, device: str | torch.device = "cpu", terms: tuple[str, ...] | None = None
) -> torch.Tensor:
    """(obs_dim,) half-width of the uniform noise of every observation entry (zeros where none)."""
    terms = task.observation_terms if terms is None else terms
    widths = [torch.full((len(term_names(task, term)),), term_noise(task, term)) for term in terms]
    return torch.cat(widths).to(device=device, dtype=torch.float32)


def build_observation(
    state: torch.Tensor,
    command: torch.Tensor,
    last_action: torch.Tensor,
    task: Task,
    terms: tuple[str, ...],
) -> torch.Tensor:
    """(n, sum of the terms' sizes) the ``terms`` of every environment, without noise.

    Args:
        state: (n, S) PHYSICAL state laid out as ``task.layout``.
        command: (n, 3) [vx, vy, wz].
        last_action: (n, A) the policy action applied at the previous step (zeros after a cold start).
    """
    slices = _state_slices(task)
    parts = []
    for term in terms:
        if term == "velocity_commands":
            parts.append(command)
        elif term == "last_action":
            parts.append(last_action)
        else:
            parts.append(state[:, slices[term]])
    return torch.cat(parts, dim=-1)


def build_policy_observation(
    state: torch.Tensor,
    command: torch.Tensor,
    last_action: torch.Tensor,
    task: Task,
    noise_generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The actor's observation (group ``policy``) of every environment, with the task's noise when it is on.

    Args:
        state: (n, S) PHYSICAL state laid out as ``task.layout``.
        command: (n, 3) [vx, vy, wz].
        last_action: (n, A) the policy action applied at the previous step (zeros after a cold start).
        task: the task; noise is added only when ``task.observation_noise.enabled``.
        noise_generator: random source for the noise (on ``state``'s device); None uses torch's global one.

    Returns:
        (n, task.observation_dim) float tensor.
    """
    obs = build_observation(state, command, last_action, task, task.observation_terms)
    if task.observation_noise.enabled:
        half = observation_noise_half_widths(task, obs.device)
        unit = torch.rand(obs.shape, generator=noise_generator, device=obs.device, dtype=obs.dtype)
        obs = obs + (2.0 * unit - 1.0) * half
    return obs


def build_critic_observation(
    state: torch.Tensor, command: torch.Tensor, last_action: torch.Tensor, task: Task
) -> torch.Tensor:
    """(n, task.critic_observation_dim) the critic's privileged observation (group ``critic``), without noise; only
    for a task with ``critic_observation_terms``."""
    if task.critic_observation_terms is None:
        raise RwmuError(f"task {task.name} has no critic observation of its own; its critic reads group 'policy'")
    return build_observation(state, command, last_action, task, task.critic_observation_terms)
