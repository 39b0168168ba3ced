"""The policy observation of a locomotion task, shared by imagination and the physics simulator.

Observation (docs/method.md section 3), in order: base linear velocity (3), base angular velocity (3), projected gravity (3),
command vx, vy, wz (3), joint positions relative to the default pose (J), joint velocities (J), last action (A):
48 numbers for ANYmal-D. Values are in physical units, unscaled (as Isaac Lab's velocity task); the policy may learn
its own normalisation (rsl_rl's ``obs_normalization``), which the exporter folds into the deployed actor.

Optional uniform noise (``task.observation_noise``, off by default) perturbs the measured parts only: half-widths
0.1 (lin vel), 0.2 (ang vel), 0.05 (gravity), 0.01 (joint pos), 1.5 (joint vel); command and last action are exact.
"""

from __future__ import annotations

import torch

from rwmu.tasks.base import Task


def observation_names(task: Task) -> tuple[str, ...]:
    """Names of the observation entries, in order (length ``task.observation_dim``)."""
    names = task.state_names
    lay = task.layout
    return (
        names[lay.lin_vel]
        + names[lay.ang_vel]
        + names[lay.gravity]
        + ("command_lin_vel_x", "command_lin_vel_y", "command_ang_vel_z")
        + names[lay.joint_pos]
        + names[lay.joint_vel]
        + tuple(f"last_action/{n}" for n in task.action_names)
    )


def observation_noise_half_widths(task: Task, device: str | torch.device = "cpu") -> torch.Tensor:
    """(obs_dim,) half-width of the uniform noise of every observation entry (zeros where none)."""
    noise = task.observation_noise
    j, a = task.num_joints, task.dims.action
    parts = [
        torch.full((3,), noise.lin_vel),
        torch.full((3,), noise.ang_vel),
        torch.full((3,), noise.gravity),
        torch.zeros(3),  # command
        torch.full((j,), noise.joint_pos),
        torch.full((j,), noise.joint_vel),
        torch.zeros(a),  # last action
    ]
    return torch.cat(parts).to(device=device, dtype=torch.float32)


def build_policy_observation(
    state: torch.Tensor,
    command: torch.Tensor,
    last_action: torch.Tensor,
    task: Task,
    noise_generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Policy observation of every environment.

    Args:
        state: (n, S) PHYSICAL state laid out as ``task.layout``.
        command: (n, 3) [vx, vy, wz].
        last_action: (n, A) the policy action applied at the previous step (zeros after a cold start).
        task: the task; noise is added only when ``task.observation_noise.enabled``.
        noise_generator: random source for the noise (on ``state``'s device); None uses torch's global one.

    Returns:
        (n, task.observation_dim) float tensor.
    """
    lay = task.layout
    obs = torch.cat(
        (
            state[:, lay.lin_vel],
            state[:, lay.ang_vel],
            state[:, lay.gravity],
            command,
            state[:, lay.joint_pos],
            state[:, lay.joint_vel],
            last_action,
        ),
        dim=-1,
    )
    if task.observation_noise.enabled:
        half = observation_noise_half_widths(task, obs.device)
        unit = torch.rand(obs.shape, generator=noise_generator, device=obs.device, dtype=obs.dtype)
        obs = obs + (2.0 * unit - 1.0) * half
    return obs
