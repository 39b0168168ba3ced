"""ANYmal-D on flat ground, velocity tracking: the RWM-U reference task (docs/method.md section 3)."""

from __future__ import annotations

from rwmu.data.layout import DataDims
from rwmu.tasks.base import Task, locomotion_state_names

# Isaac Lab's joint order for ANYmal: grouped by joint type (HAA, HFE, KFE), legs LF, LH, RF, RH.
JOINT_NAMES = tuple(f"{leg}_{joint}" for joint in ("HAA", "HFE", "KFE") for leg in ("LF", "LH", "RF", "RH"))
LEGS = ("LF", "LH", "RF", "RH")

# Normalisation of the reference offline config (docs/method.md section 3).
_STATE_MEAN = (
    (0.0, 0.0, 0.0)  # base linear velocity
    + (0.0, 0.0, 0.0)  # base angular velocity
    + (0.0, 0.0, -1.0)  # projected gravity
    + (0.0,) * 12  # joint positions (relative to default)
    + (0.0,) * 12  # joint velocities
    + (-2.0, -2.0, 2.0, 2.0, -6.0, 8.0, -6.0, 8.0, 12.0, -12.0, 12.0, -12.0)  # joint torques
)
_STATE_STD = (
    (0.5, 0.5, 0.1)
    + (0.3, 0.3, 0.5)
    + (0.02, 0.02, 0.04)
    + (0.15,) * 12
    + (1.0,) * 4
    + (1.5,) * 4
    + (2.5,) * 4
    + (15.0,) * 12
)

ANYMAL_D_FLAT = Task(
    name="anymal_d_flat",
    dims=DataDims(state=45, action=12, extension=0, contact=8, termination=1),  # 66 columns
    dt=0.02,
    state_names=locomotion_state_names(JOINT_NAMES),
    action_names=tuple(f"joint_pos_target/{j}" for j in JOINT_NAMES),
    contact_names=tuple(f"{leg}_THIGH" for leg in LEGS) + tuple(f"{leg}_FOOT" for leg in LEGS),
    state_mean=_STATE_MEAN,
    state_std=_STATE_STD,
    action_mean=(0.0,) * 12,
    action_std=(1.0,) * 12,
    undesired_contact_ids=(0, 1, 2, 3),
    foot_contact_ids=(4, 5, 6, 7),
    episode_length=256,
)
