"""A group of Go2 MuJoCo instances stepped together in one process (numpy in, numpy out, no randomness).

Every decision that needs random numbers (reset poses, pushes, randomised parameters) is drawn by the caller and
passed in, so the physics of environment ``i`` does not depend on how environments are split over worker processes.

Stepping keeps the invariant "``mj_step1`` has been run on the current state": a control step sets the joint targets,
then runs ``decimation`` times ``mj_step2`` (actuation, constraint forces, integration) followed by ``mj_step1``
(kinematics, collision detection, sensors of the new state). The cost equals ``decimation`` calls of ``mj_step``, and
afterwards ``data.contact`` describes the state that is returned, while ``data.actuator_force`` holds the torques
applied during the last physics step (the torque that led to the state).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import mujoco
import numpy as np

from rwmu.sim.model import go2_indices, load_go2_model, standing_height
from rwmu.sim.state import (
    EXTENSION_DIM,
    NUM_CONTACTS,
    STATE_DIM,
    clearances,
    contact_flags,
    quat_to_matrix,
    states_from_arrays,
    tilted,
)
from rwmu.tasks.go2_flat import GO2_ACTUATION, Go2ActuationConfig


@dataclass
class StepOutput:
    """What one control step (or an observation) of ``n`` environments returns.

    Attributes:
        states: (n, 45) float64 task states (``rwmu.sim.state``).
        contacts: (n, 8) float64 in {0, 1}.
        terminated: (n,) bool: base/hip/thigh on the floor or tilted beyond the limit.
        base_pos: (n, 3) float64 world position of the trunk [m] (diagnostics, not part of the state).
        extension: (n, 6) float64 [base height, body clearance, leg clearance FL, FR, RL, RR] [m], the task's
            extension columns (``rwmu.tasks.go2_flat.EXTENSION_NAMES``): what the fall and contact rules read.
    """

    states: np.ndarray
    contacts: np.ndarray
    terminated: np.ndarray
    base_pos: np.ndarray
    extension: np.ndarray

    def select(self, rows: np.ndarray) -> StepOutput:
        return StepOutput(**{name: getattr(self, name)[rows] for name in _FIELDS})

    @staticmethod
    def concatenate(parts: list[StepOutput]) -> StepOutput:
        return StepOutput(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS})


_FIELDS = ("states", "contacts", "terminated", "base_pos", "extension")


class Go2Shard:
    """``num_envs`` Go2 simulations sharing one process.

    Args:
        num_envs: number of environments in this shard.
        actuation: physics step, decimation and PD gains.
        per_env_models: give every environment its own ``MjModel`` copy (needed for domain randomisation).
    """

    def __init__(self, num_envs: int, actuation: Go2ActuationConfig = GO2_ACTUATION, per_env_models: bool = False):
        self.num_envs = int(num_envs)
        self.actuation = actuation
        base_model = load_go2_model(actuation)
        self.indices = go2_indices(base_model)
        self.base_model = base_model
        if per_env_models:
            self.models = [copy.deepcopy(base_model) for _ in range(num_envs)]
        else:
            self.models = [base_model] * num_envs
        self.datas = [mujoco.MjData(m) for m in self.models]
        self.spawn_height = standing_height(base_model, self.indices)
        # Nominal parameters that randomisation scales (read from the unmodified model).
        self._robot_geoms = self.indices.robot_geoms
        self._nominal_friction = float(base_model.geom_friction[self.indices.floor_geom, 0])
        self._nominal_base_mass = float(base_model.body_mass[self.indices.base_body])
        self._nominal_base_inertia = base_model.body_inertia[self.indices.base_body].copy()
        self._nominal_gain = base_model.actuator_gainprm[:, 0].copy()
        self._nominal_bias = base_model.actuator_biasprm[:, :3].copy()
        self._nominal_forcerange = base_model.actuator_forcerange.copy()
        self.reset(
            np.arange(self.num_envs),
            np.zeros((self.num_envs, 12)),
            np.zeros((self.num_envs, 6)),
            np.zeros(self.num_envs),
        )

    # ------------------------------------------------------------------------------------------------------------
    def set_parameters(
        self, env_ids: np.ndarray, friction: np.ndarray, added_base_mass: np.ndarray, motor_strength: np.ndarray
    ) -> None:
        """Domain randomisation for ``env_ids`` (k,): floor/robot friction (k,), mass added to the trunk (k,) [kg]
        with its inertia scaled alike, and a motor strength factor (k,) scaling Kp, Kd and the torque limits."""
        for j, env in enumerate(np.asarray(env_ids)):
            model = self.models[env]
            if model is self.base_model and self.num_envs > 1:
                raise ValueError("set_parameters needs per_env_models=True")
            model.geom_friction[self.indices.floor_geom, 0] = friction[j]
            model.geom_friction[self._robot_geoms, 0] = friction[j]
            mass = self._nominal_base_mass + added_base_mass[j]
            model.body_mass[self.indices.base_body] = mass
            model.body_inertia[self.indices.base_body] = self._nominal_base_inertia * (mass / self._nominal_base_mass)
            model.actuator_gainprm[:, 0] = self._nominal_gain * motor_strength[j]
            model.actuator_biasprm[:, :3] = self._nominal_bias * motor_strength[j]
            model.actuator_forcerange[:] = self._nominal_forcerange * motor_strength[j]

    def reset(
        self, env_ids: np.ndarray, joint_offsets: np.ndarray, base_velocity: np.ndarray, yaw: np.ndarray
    ) -> StepOutput:
        """Put ``env_ids`` (k,) back to the start pose and return their observation.

        Args:
            joint_offsets: (k, 12) offsets from the default pose [rad], task joint order.
            base_velocity: (k, 6) initial base velocity: linear (world frame) [m/s], angular (body frame) [rad/s].
            yaw: (k,) heading [rad].
        """
        idx = self.indices
        env_ids = np.asarray(env_ids, dtype=np.int64)
        for j, env in enumerate(env_ids):
            model, data = self.models[env], self.datas[env]
            mujoco.mj_resetData(model, data)
            data.qpos[0:3] = (0.0, 0.0, self.spawn_height)
            data.qpos[3:7] = (np.cos(yaw[j] / 2), 0.0, 0.0, np.sin(yaw[j] / 2))
            joint_pos = idx.default_joint_pos + joint_offsets[j]
            data.qpos[idx.qpos_joint] = joint_pos
            data.qvel[0:6] = base_velocity[j]
            data.ctrl[idx.actuator] = joint_pos
            mujoco.mj_forward(model, data)
        return self.observe(env_ids)

    def push(self, env_ids: np.ndarray, delta_velocity_xy: np.ndarray) -> None:
        """Velocity kick: add ``delta_velocity_xy`` (k, 2) [m/s] to the BODY-FRAME base vx, vy of ``env_ids`` (k,).

        The free joint's linear velocity is in the world frame, so the kick (dvx, dvy, 0) is rotated by the base
        orientation ``R`` first: ``v_world += R @ (dvx, dvy, 0)`` changes the body-frame velocity ``R^T v_world`` (the
        state's columns 0-2) by exactly (dvx, dvy, 0) (the convention of :mod:`rwmu.tasks.locomotion`).
        """
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if len(env_ids) == 0:
            return
        quat = np.stack([self.datas[e].qpos[3:7] for e in env_ids])
        rot = quat_to_matrix(quat / np.linalg.norm(quat, axis=-1, keepdims=True))  # (k, 3, 3) body -> world
        kick_body = np.concatenate([delta_velocity_xy, np.zeros((len(env_ids), 1))], axis=-1)  # (k, 3)
        kick_world = np.einsum("kij,kj->ki", rot, kick_body)
        for j, env in enumerate(env_ids):
            self.datas[env].qvel[0:3] += kick_world[j]

    def step(self, joint_targets: np.ndarray) -> StepOutput:
        """One control step of every environment; ``joint_targets`` (n, 12) [rad], task joint order."""
        act = self.indices.actuator
        decimation = self.actuation.decimation
        for env in range(self.num_envs):
            model, data = self.models[env], self.datas[env]
            data.ctrl[act] = joint_targets[env]
            for _ in range(decimation):
                mujoco.mj_step2(model, data)
                mujoco.mj_step1(model, data)
        return self.observe(np.arange(self.num_envs))

    def observe(self, env_ids: np.ndarray) -> StepOutput:
        """State, contacts, termination and base position of ``env_ids`` without stepping."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        k = len(env_ids)
        if k == 0:
            empty = (
                np.zeros((0, STATE_DIM)),
                np.zeros((0, NUM_CONTACTS)),
                np.zeros(0, bool),
                np.zeros((0, 3)),
                np.zeros((0, EXTENSION_DIM)),
            )
            return StepOutput(*empty)
        datas = [self.datas[e] for e in env_ids]
        qpos = np.stack([d.qpos for d in datas])
        qvel = np.stack([d.qvel for d in datas])
        force = np.stack([d.actuator_force for d in datas])
        states = states_from_arrays(qpos, qvel, force, self.indices)
        contacts = np.zeros((k, NUM_CONTACTS))
        body_contact = np.zeros(k, dtype=bool)
        for j, d in enumerate(datas):
            contacts[j], body_contact[j] = contact_flags(d, self.indices)
        # Geom sizes are the same in every model copy (randomisation changes friction, mass and motors only).
        extension = np.concatenate([qpos[:, 2:3], clearances(datas, self.base_model, self.indices)], axis=-1)
        terminated = body_contact | tilted(states)
        return StepOutput(
            states=states, contacts=contacts, terminated=terminated, base_pos=qpos[:, 0:3].copy(), extension=extension
        )

    def get_qpos(self, env_id: int) -> np.ndarray:
        """Full ``qpos`` of one environment (for rendering)."""
        return self.datas[env_id].qpos.copy()
