"""Runs ``rwmu play-imagination``; its flags are declared in :mod:`rwmu.cli.commands.play_imagination` (imported without torch for ``--help``)."""

from __future__ import annotations

import dataclasses

import torch

from rwmu.cli.commands.play_imagination import Command
from rwmu.cli.common import check_device, check_output_file
from rwmu.data.loading import load_dataset
from rwmu.envs.imagination import ImaginationEnv
from rwmu.errors import RwmuError
from rwmu.models.checkpoint import load_world_model
from rwmu.tasks import get_task
from rwmu.tasks.base import RewardWeights
from rwmu.training.export import load_actor
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.policy_play import format_play_report, play_policy
from rwmu.utils.config import config_from_dict
from rwmu.utils.io import write_json_atomic


def run(cmd: Command) -> int:
    if cmd.steps < 1 or cmd.num_envs < 1:
        raise RwmuError("--steps and --num-envs must be >= 1")
    check_device(cmd.device)
    if cmd.json is not None:
        check_output_file(cmd.json, "--json")
    actor, info = load_actor(cmd.policy, device=cmd.device)
    task = get_task(cmd.task or info["task"])
    if cmd.task is None and info.get("reward_weights"):
        task = dataclasses.replace(task, rewards=config_from_dict(RewardWeights, info["reward_weights"]))
    if task.observation_dim != int(info["observation_dim"]):
        raise RwmuError(
            f"--task {task.name} has {task.observation_dim} observations, the policy takes {info['observation_dim']}"
        )
    world_model = cmd.world_model or info["world_model"]["path"]
    data = [str(p) for p in cmd.data] if cmd.data else info["data"]
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    trained = config_from_dict(PolicyTrainingConfig, info.get("config") or {})
    env_cfg = dataclasses.replace(
        trained.env,
        num_envs=cmd.num_envs,
        uncertainty_penalty=(
            cmd.uncertainty_penalty if cmd.uncertainty_penalty is not None else trained.env.uncertainty_penalty
        ),
        dynamics=cmd.dynamics or trained.env.dynamics,
        log_window=cmd.steps,
    )
    model = load_world_model(world_model, device=cmd.device, task=task)
    dataset = load_dataset(data, task=task)
    torch.manual_seed(cmd.seed)
    env = ImaginationEnv(model, dataset, task, env_cfg, device=cmd.device, seed=cmd.seed)
    result = play_policy(env, actor, cmd.steps, stochastic=cmd.stochastic, progress=True)
    result.update(
        {
            "policy": str(cmd.policy),
            "world_model": str(world_model),
            "task": task.name,
            "uncertainty_penalty": env_cfg.uncertainty_penalty,
            "dynamics": env_cfg.dynamics,
        }
    )
    print(format_play_report(result))
    if cmd.json:
        write_json_atomic(cmd.json, result)
    return 0
