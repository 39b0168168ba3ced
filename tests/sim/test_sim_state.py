"""The Go2 model, state extraction against MuJoCo's own quantities, contacts and termination."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest

from rwmu.sim.model import FOOT_RADIUS, SPAWN_CLEARANCE, go2_indices, load_go2_model, standing_height
from rwmu.sim.shard import Go2Shard
from rwmu.sim.state import contact_flags, states_from_arrays
from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, GO2_ACTUATION, GO2_FLAT, JOINT_NAMES


@pytest.fixture(scope="module")
def model():
    return load_go2_model()


def test_model_has_pd_servos_with_the_motor_torque_limits(model):
    idx = go2_indices(model)
    assert model.opt.timestep == pytest.approx(GO2_ACTUATION.physics_dt)
    assert GO2_ACTUATION.physics_dt * GO2_ACTUATION.decimation == pytest.approx(GO2_FLAT.dt)
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], GO2_ACTUATION.kp)
    np.testing.assert_allclose(model.actuator_biasprm[:, 1], -GO2_ACTUATION.kp)
    np.testing.assert_allclose(model.actuator_biasprm[:, 2], -GO2_ACTUATION.kd)
    limits = model.actuator_forcerange[idx.actuator, 1]
    # go2.xml: hip and thigh motors 23.7 Nm, calf (knee) motors 45.43 Nm; task order hips, thighs, calves.
    np.testing.assert_allclose(limits, [23.7] * 8 + [45.43] * 4)
    for k, name in enumerate(JOINT_NAMES):
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        assert idx.qpos_joint[k] == model.jnt_qposadr[jid]
        assert model.actuator_trnid[idx.actuator[k], 0] == jid


def test_spawn_height_puts_the_lowest_foot_just_above_the_floor(model):
    idx = go2_indices(model)
    data = mujoco.MjData(model)
    data.qpos[2] = standing_height(model, idx)
    data.qpos[3:7] = (1, 0, 0, 0)
    data.qpos[idx.qpos_joint] = DEFAULT_JOINT_POS
    mujoco.mj_kinematics(model, data)
    lowest = data.geom_xpos[idx.foot_geoms, 2].min() - FOOT_RADIUS
    assert lowest == pytest.approx(SPAWN_CLEARANCE, abs=1e-9)


def test_state_matches_mujoco_quantities(model):
    """Body-frame velocities, gravity, joint state and torques against mj_objectVelocity, xmat and named access."""
    idx = go2_indices(model)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    for _ in range(5):
        data.qpos[0:3] = rng.normal(size=3)
        quat = rng.normal(size=4)
        data.qpos[3:7] = quat / np.linalg.norm(quat)
        data.qpos[7:] = rng.uniform(-0.5, 0.5, size=12)
        data.qvel[:] = rng.normal(size=model.nv)
        data.ctrl[:] = rng.uniform(-2, 2, size=12)  # large targets: some torques saturate
        mujoco.mj_forward(model, data)
        state = states_from_arrays(data.qpos[None], data.qvel[None], data.actuator_force[None], idx)[0]
        assert state.shape == (45,)
        velocity = np.zeros(6)  # [angular; linear] of the trunk frame, in the trunk frame
        mujoco.mj_objectVelocity(model, data, mujoco.mjtObj.mjOBJ_XBODY, idx.base_body, velocity, 1)
        np.testing.assert_allclose(state[0:3], velocity[3:6], atol=1e-9)
        np.testing.assert_allclose(state[3:6], velocity[0:3], atol=1e-9)
        rot = data.xmat[idx.base_body].reshape(3, 3)
        np.testing.assert_allclose(state[6:9], rot.T @ np.array([0.0, 0.0, -1.0]), atol=1e-9)
        for k, name in enumerate(JOINT_NAMES):
            assert state[9 + k] == pytest.approx(data.joint(name).qpos[0] - DEFAULT_JOINT_POS[k])
            assert state[21 + k] == pytest.approx(data.joint(name).qvel[0])
            actuator = data.actuator(name.replace("_joint", ""))
            assert state[33 + k] == pytest.approx(actuator.force[0])
        # PD law with clipping: force = clip(kp (target - q) - kd qdot, +-limit)
        q, qd = data.qpos[idx.qpos_joint], data.qvel[idx.qvel_joint]
        expected = GO2_ACTUATION.kp * (data.ctrl[idx.actuator] - q) - GO2_ACTUATION.kd * qd
        limit = model.actuator_forcerange[idx.actuator, 1]
        np.testing.assert_allclose(state[33:45], np.clip(expected, -limit, limit), atol=1e-9)
        assert np.any(np.isclose(np.abs(state[33:45]), limit))  # saturation happened


def test_standing_robot_has_four_feet_down_and_is_not_terminated():
    shard = Go2Shard(1)
    targets = np.asarray(DEFAULT_JOINT_POS)[None]
    for _ in range(50):
        out = shard.step(targets)
    np.testing.assert_array_equal(out.contacts[0], [0, 0, 0, 0, 1, 1, 1, 1])
    assert not out.terminated[0]
    assert out.states[0, 8] == pytest.approx(-1.0, abs=0.01)  # upright
    assert 0.2 < out.base_pos[0, 2] < 0.35


def test_robot_dropped_upside_down_is_terminated_by_base_contact():
    shard = Go2Shard(1)
    data, model = shard.datas[0], shard.models[0]
    data.qpos[0:3] = (0.0, 0.0, 0.5)
    data.qpos[3:7] = (0.0, 1.0, 0.0, 0.0)  # 180 degrees about x: upside down
    mujoco.mj_forward(model, data)
    targets = np.asarray(DEFAULT_JOINT_POS)[None]
    for _ in range(40):
        out = shard.step(targets)
    flags, body_contact = contact_flags(data, shard.indices)
    assert body_contact
    assert out.terminated[0]
    assert out.states[0, 8] > 0.9  # gravity points up in the body frame
    assert out.contacts[0, 4:].sum() == 0  # feet in the air


def test_tilt_alone_terminates_without_any_contact():
    shard = Go2Shard(1)
    data, model = shard.datas[0], shard.models[0]
    angle = math.radians(70.0)
    data.qpos[0:3] = (0.0, 0.0, 1.0)  # high above the floor: no contact
    data.qpos[3:7] = (math.cos(angle / 2), math.sin(angle / 2), 0.0, 0.0)
    mujoco.mj_forward(model, data)
    out = shard.observe(np.array([0]))
    assert out.contacts.sum() == 0
    assert out.terminated[0]
    data.qpos[3:7] = (math.cos(0.25), math.sin(0.25), 0.0, 0.0)  # 29 degrees: within the limit
    mujoco.mj_forward(model, data)
    assert not shard.observe(np.array([0])).terminated[0]


def test_leg_on_the_floor_is_an_undesired_contact_of_that_leg(model):
    """Kneel on the FR knee alone: contact 1 (FR thigh/calf) only, no foot, no base contact."""
    idx = go2_indices(model)
    data = mujoco.MjData(model)
    q = np.zeros(12)
    q[4:8] = -0.5  # thighs swung forward and up ...
    q[8:12] = -2.7  # ... calves folded: knees are the lowest points
    q[5] = 0.0  # FR thigh straight down: the FR knee is lowest of all
    data.qpos[3:7] = (1, 0, 0, 0)
    data.qpos[idx.qpos_joint] = q
    for height in np.arange(0.5, 0.0, -0.002):  # lower the robot until the first contact
        data.qpos[2] = height
        mujoco.mj_forward(model, data)
        flags, body_contact = contact_flags(data, idx)
        if flags.any() or body_contact:
            break
    np.testing.assert_array_equal(flags, [0, 1, 0, 0, 0, 0, 0, 0])
    assert not body_contact
