"""Read the task state, contacts and termination out of MuJoCo data (numpy, no torch).

State layout (docs/method.md section 3, ``task.layout``), 45 values:
0-2 base linear velocity in the body frame [m/s]; 3-5 base angular velocity in the body frame [rad/s]; 6-8 gravity
direction in the body frame (unit vector); 9-20 joint positions minus the default pose [rad]; 21-32 joint velocities
[rad/s]; 33-44 applied joint torques [Nm] (the clipped PD torques of the last physics step). Joints in task order.

MuJoCo's free joint stores the linear velocity in the world frame (``qvel[0:3]``, of the body origin) and the angular
velocity in the body frame (``qvel[3:6]``); the body-frame linear velocity is ``R^T qvel[0:3]`` with ``R`` the body
orientation from the quaternion ``qpos[3:7]``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from rwmu.sim.model import BASE, CALF, FOOT, THIGH, Go2Indices
from rwmu.tasks.go2_flat import EXTENSION_NAMES, GO2_TERMINATION_RULE

STATE_DIM = 45
NUM_CONTACTS = 8
EXTENSION_DIM = len(EXTENSION_NAMES)  # base height, body clearance, 4 leg clearances
# Projected gravity z above this means the body is tilted more than TERMINATION_TILT_RAD from upright.
TILT_GRAVITY_Z = GO2_TERMINATION_RULE.max_gravity_z


def quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) from unit quaternions (..., 4) in MuJoCo's (w, x, y, z) order."""
    w, x, y, z = np.moveaxis(quat, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def states_from_arrays(
    qpos: np.ndarray, qvel: np.ndarray, actuator_force: np.ndarray, indices: Go2Indices
) -> np.ndarray:
    """Task states (n, 45) float64 from stacked ``qpos`` (n, nq), ``qvel`` (n, nv), ``actuator_force`` (n, nu)."""
    quat = qpos[:, 3:7] / np.linalg.norm(qpos[:, 3:7], axis=-1, keepdims=True)
    rot = quat_to_matrix(quat)  # (n, 3, 3) body -> world
    lin_vel_body = np.einsum("nji,nj->ni", rot, qvel[:, 0:3])  # R^T v
    gravity_body = -rot[:, 2, :]  # R^T (0, 0, -1)
    return np.concatenate(
        [
            lin_vel_body,
            qvel[:, 3:6],
            gravity_body,
            qpos[:, indices.qpos_joint] - indices.default_joint_pos,
            qvel[:, indices.qvel_joint],
            actuator_force[:, indices.actuator],
        ],
        axis=-1,
    )


def contact_flags(data: mujoco.MjData, indices: Go2Indices) -> tuple[np.ndarray, bool]:
    """Contacts of one environment with the floor.

    Returns:
        contacts: (8,) float64 in {0, 1}: 0-3 thigh or calf of leg FL, FR, RL, RR on the floor (undesired),
            4-7 foot FL, FR, RL, RR on the floor.
        body_contact: True if a base, hip or thigh collision geom touches the floor (a termination).
    """
    flags = np.zeros(NUM_CONTACTS)
    ncon = data.ncon
    if ncon == 0:
        return flags, False
    geoms = data.contact.geom[:ncon]  # (ncon, 2)
    floor = indices.floor_geom
    with_floor = (geoms[:, 0] == floor) | (geoms[:, 1] == floor)
    other = np.where(geoms[:, 0] == floor, geoms[:, 1], geoms[:, 0])[with_floor]
    category = indices.geom_category[other]
    leg = indices.geom_leg[other]
    leg_part = (category == THIGH) | (category == CALF)
    flags[leg[leg_part]] = 1.0
    flags[4 + leg[category == FOOT]] = 1.0
    body_contact = bool(np.any((category == BASE) | (category == THIGH)))
    return flags, body_contact


def lowest_points(xpos: np.ndarray, xmat: np.ndarray, kind: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Height [m] of the lowest point of each geom: ``(k, G)`` from ``xpos`` (k, G, 3), ``xmat`` (k, G, 9).

    ``kind`` (G,) and ``size`` (G, 3) are the geoms' MuJoCo type and size. Lowest points: a sphere's centre minus its
    radius; a capsule's also minus half its length times the vertical part of its axis; a box's minus each half-size
    times the vertical part of that axis. (Read after ``mj_step1``, as the contacts are.)
    """
    vertical = xmat.reshape(*xmat.shape[:-1], 3, 3)[..., 2, :]  # (k, G, 3): world z of each local axis
    reach = np.where(
        kind == mujoco.mjtGeom.mjGEOM_BOX,
        np.abs(vertical * size).sum(-1),
        np.where(kind == mujoco.mjtGeom.mjGEOM_CAPSULE, size[:, 0] + size[:, 1] * np.abs(vertical[..., 2]), size[:, 0]),
    )
    return xpos[..., 2] - reach


def clearances(datas: list[mujoco.MjData], model: mujoco.MjModel, indices: Go2Indices) -> np.ndarray:
    """``(k, 5)`` clearances [m] above the floor of ``k`` environments: the body (base, hips and thighs: what ends an
    episode), then the thigh and calf of leg FL, FR, RL, RR (what makes an undesired contact). A contact needs a
    clearance of about 0 (MuJoCo reports it once a geom reaches the floor plane)."""
    geoms = indices.clearance_geoms
    xpos = np.stack([d.geom_xpos[geoms] for d in datas])  # (k, G, 3)
    xmat = np.stack([d.geom_xmat[geoms] for d in datas])  # (k, G, 9)
    low = lowest_points(xpos, xmat, model.geom_type[geoms], model.geom_size[geoms])  # (k, G)
    return np.stack([low[:, group].min(-1) for group in indices.clearance_groups], axis=-1)


def tilted(states: np.ndarray) -> np.ndarray:
    """(n,) bool: body tilted beyond ``TERMINATION_TILT_RAD`` (projected gravity z above ``TILT_GRAVITY_Z``)."""
    return states[:, 8] > TILT_GRAVITY_Z
