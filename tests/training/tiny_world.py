"""A small, untrained world model and a synthetic ANYmal-shaped dataset on disk, and a tiny MOPO-PPO run in it,
shared by the policy tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from rwmu.data.native_format import save_dataset
from rwmu.data.normalization import Normalization
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.models.checkpoint import save_world_model
from rwmu.tasks import get_task
from rwmu.training.online import train_online
from rwmu.training.online_config import OnlineTrainingConfig
from rwmu.training.policy import train_policy
from rwmu.training.policy_config import PolicyTrainingConfig

TASK = get_task("anymal_d_flat")


def write_untrained_world(folder: Path, task=TASK):
    """Write ``folder/wm.pt`` and ``folder/data.rwmu`` for ``task``; return ``(wm_path, data_path, model, dataset)``."""
    torch.manual_seed(0)
    model = WorldModelEnsemble(
        WorldModelConfig(
            ensemble_size=2,
            history_horizon=4,
            rnn_hidden_size=16,
            rnn_num_layers=1,
            state_mean_shape=(16,),
            state_logstd_shape=(16,),
            contact_shape=(16,),
            termination_shape=(16,),
            extension_dim=task.dims.extension,
        )
    )
    model.normalization = Normalization.from_task(task)
    save_world_model(folder / "wm.pt", model)
    dataset = make_synthetic_dataset(2, 80, task=task, seed=1)
    save_dataset(dataset, folder / "data.rwmu")
    return folder / "wm.pt", folder / "data.rwmu", model, dataset


def train_tiny_policy(
    folder: Path,
    *,
    iterations: int,
    steps_per_env: int,
    num_envs: int,
    save_interval: int = 1000,
    uncertainty_penalty: float = 1.0,
    obs_normalization: bool = False,
    actor_hidden_dims: tuple[int, ...] = (128, 128, 128),
):
    """Write the tiny world and data into ``folder`` and train ``folder/run`` on one thread.

    Returns:
        ``(summary, model, dataset)``: the run's summary, the world model and the dataset it was trained in.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, _, model, dataset = write_untrained_world(folder)
        base = PolicyTrainingConfig(iterations=iterations, steps_per_env=steps_per_env, save_interval=save_interval)
        config = dataclasses.replace(
            base,
            env=dataclasses.replace(base.env, num_envs=num_envs, uncertainty_penalty=uncertainty_penalty),
            policy=dataclasses.replace(
                base.policy, obs_normalization=obs_normalization, actor_hidden_dims=actor_hidden_dims
            ),
        )
        summary = train_policy(TASK, folder / "wm.pt", folder / "data.rwmu", folder / "run", config, progress=False)
        return summary, model, dataset
    finally:
        torch.set_num_threads(before)


def tiny_online(task, out: Path) -> Path:
    """One iteration of PPO in MuJoCo on ``task`` (4 envs, 16-unit networks) into ``out``; returns ``out``."""
    base = OnlineTrainingConfig()
    config = dataclasses.replace(
        base,
        iterations=1,
        steps_per_env=4,
        save_interval=1,
        env=dataclasses.replace(base.env, num_envs=4, num_workers=1),
        policy=dataclasses.replace(base.policy, actor_hidden_dims=(16,), critic_hidden_dims=(16,)),
    )
    train_online(task, out, config, progress=False)
    return out
