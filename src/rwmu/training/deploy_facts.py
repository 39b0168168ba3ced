"""The deployment facts of a Go2 policy: what a robot runtime needs beside the network.

The layout is that of the ``deploy.yaml`` unitree_rl_lab's ``export_deploy_cfg`` writes (Unitree's Go2 deploy stack
reads it; :mod:`rwmu.training.unitree_export` writes the file):

- ``joint_ids_map``: for policy joint ``i`` (the task's joint order), the SDK motor index it drives
  (``lowcmd.motor_cmd[joint_ids_map[i]].q = target[i]``); the SDK orders the Go2's motors FR, FL, RR, RL;
- ``step_dt``: the control period [s];
- ``stiffness``, ``damping``: the PD gains Kp [Nm/rad], Kd [Nms/rad] per motor, in SDK order;
- ``default_joint_pos``: the default pose [rad], in policy order;
- ``commands.base_velocity.ranges``: the command ranges the policy was trained on;
- ``actions.JointPositionAction``: ``target = offset + scale * clip(action)``, per joint in policy order
  (``offset`` = the default pose, ``clip`` = the environment's action bound);
- ``observations``: each term of the policy input, in order, with its scale, clip and history length
  (rwmu observes physical units: scale 1, no clip, one frame; the learnt normalisation is inside the network).

``rwmu export`` writes the same facts into ``policy.json`` (key ``deploy``) and, as strings, into the ONNX file's
``metadata_props`` (as mjlab does; lists comma-separated) for every Go2 policy.
"""

from __future__ import annotations

import json
from typing import Any

from rwmu.errors import RwmuError
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, DEPLOY_OBSERVATION, GO2_ACTUATION, JOINT_NAMES, SDK_JOINT_NAMES
from rwmu.tasks.observations import observation_names

UNITREE_OBSERVATION_TERMS = DEPLOY_OBSERVATION
"""The observation terms Unitree's deploy stack computes on the robot (unitree_rl_lab
``deploy/include/isaaclab/envs/mdp/observations.h``): those of the deployable Go2 task."""


def joint_ids_map(joint_names: tuple[str, ...] = JOINT_NAMES) -> list[int]:
    """For each policy joint (``joint_names``, the task's order), its SDK motor index (:data:`SDK_JOINT_NAMES`)."""
    return [SDK_JOINT_NAMES.index(name) for name in joint_names]


def deploy_facts(task: Task) -> dict[str, Any]:
    """The ``deploy.yaml`` content (module docstring) of a policy trained on the Go2 ``task``."""
    if not task.simulated:
        raise RwmuError(f"task {task.name} is not a Go2 task; only Go2 policies export for Unitree's deploy stack")
    ids = joint_ids_map()
    num = len(ids)
    stiffness, damping = [0.0] * num, [0.0] * num
    for motor in ids:  # per motor, in SDK order (policy joint i drives motor ids[i])
        stiffness[motor], damping[motor] = float(GO2_ACTUATION.kp), float(GO2_ACTUATION.kd)
    clip = Go2EnvConfig().clip_actions
    cmd = task.commands
    observations = {}
    for term in task.observation_terms:
        size = task.observation_term_size(term)
        observations[term] = {
            "params": {"command_name": "base_velocity"} if term == "velocity_commands" else {},
            "clip": None,
            "scale": [1.0] * size,
            "history_length": 1,
        }
    return {
        "joint_ids_map": ids,
        "step_dt": float(task.dt),
        "stiffness": stiffness,
        "damping": damping,
        "default_joint_pos": [float(q) for q in DEFAULT_JOINT_POS],
        "commands": {
            "base_velocity": {
                "ranges": {
                    "lin_vel_x": list(map(float, cmd.lin_vel_x)),
                    "lin_vel_y": list(map(float, cmd.lin_vel_y)),
                    "ang_vel_z": list(map(float, cmd.ang_vel_z)),
                    "heading": None,
                }
            }
        },
        "actions": {
            "JointPositionAction": {
                "clip": [[-float(clip), float(clip)]] * num if clip is not None else None,
                "joint_names": [".*"],
                "scale": [float(GO2_ACTUATION.action_scale)] * num,
                "offset": [float(q) for q in DEFAULT_JOINT_POS],
                "joint_ids": None,
            }
        },
        "observations": observations,
    }


def onnx_metadata(task: Task, facts: dict[str, Any]) -> dict[str, str]:
    """The deployment facts as ONNX ``metadata_props`` (strings; lists comma-separated, as mjlab writes them)."""

    def joined(values) -> str:
        return ",".join(str(v) for v in values)

    action = facts["actions"]["JointPositionAction"]
    return {
        "task": task.name,
        "step_dt": str(facts["step_dt"]),
        "joint_names": joined(JOINT_NAMES),
        "sdk_joint_names": joined(SDK_JOINT_NAMES),
        "joint_ids_map": joined(facts["joint_ids_map"]),
        "default_joint_pos": joined(facts["default_joint_pos"]),
        "joint_stiffness": joined(facts["stiffness"]),
        "joint_damping": joined(facts["damping"]),
        "action_scale": joined(action["scale"]),
        "action_clip": str(action["clip"][0][1]) if action["clip"] else "",
        "observation_terms": joined(task.observation_terms),
        "observation_names": joined(observation_names(task)),
        "command_ranges": json.dumps(facts["commands"]["base_velocity"]["ranges"]),
    }
