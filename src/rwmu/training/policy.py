"""MOPO-PPO: rsl_rl's PPO, unchanged, on the uncertainty-penalised imagination environment (docs/method.md section 6).

:func:`train_policy` loads a world model and its dataset, builds an :class:`~rwmu.envs.imagination.ImaginationEnv`
and runs :class:`ImaginationRunner` (rsl_rl's ``OnPolicyRunner``) on it. The run folder receives:

- ``model_<it>.pt``: rsl_rl checkpoints (``actor_state_dict``, ``critic_state_dict``, ``optimizer_state_dict``,
  ``iter``, ``infos``); ``infos["rwmu"]`` records the task, the world model's path and SHA-256, the data, the
  normalisation, the observation layout and the rsl_rl config, so a checkpoint is self-describing (export, play);
- ``resume_<it>.pt`` beside the latest checkpoint: the random states, the imagined episodes in progress and the
  logger's buffers, so that ``resume`` continues exactly as the uninterrupted run (:class:`RwmuRunner`);
- ``run_info.json``: the same facts beside the checkpoints; ``config.json``: resolved config + versions;
- TensorBoard event files (or W&B with ``logger="wandb"``); rsl_rl's ``git/*.diff`` code state only with
  ``log_code_state``;
- ``summary.json``: ``imagined_reward`` / ``imagined_task_reward``, the mean reward per environment step over the
  last iteration with and without the uncertainty penalty (defined even if no episode ended), the mean epistemic
  uncertainty, rsl_rl's mean episode return when episodes ended, and ``behavior_cloning`` (pairs, fit MSE and
  action std, with ``--behavior.*``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from rwmu.data.loading import load_dataset
from rwmu.envs.imagination import ImaginationEnv
from rwmu.errors import RwmuError
from rwmu.models.checkpoint import load_world_model
from rwmu.training.behavior_cloning import BehaviorRegularizedPPO, behavior_pairs, fit_actor
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import (
    RwmuRunner,
    check_run_start,
    checkpoint_info,
    earlier_summary,
    refuse_distributed,
    rsl_rl_train_cfg,
    seed_everything,
)
from rwmu.utils.io import file_sha256, to_jsonable, write_json_atomic, write_run_config


class ImaginationRunner(RwmuRunner):
    """:class:`~rwmu.training.runner.RwmuRunner` on the imagination environment: per-iteration statistics from
    ``env.step_statistics()`` (reward, task reward, uncertainty), and a resumed run must use the same world model.

    Attributes:
        iteration_stats: per iteration, ``env.step_statistics()`` and rsl_rl's ``collect_time`` / ``learn_time``.
    """

    progress_label = "MOPO-PPO"
    # The world model's weights, the dataset and the settings do not change while training: not saved for --resume.
    env_state_skip = (
        "model._fused_step",
        "model.normalization",
        "history_sampler",
        "normalization",
        "uncertainty_reference",
    )

    def iteration_statistics(self) -> dict[str, float]:
        return self.env.step_statistics(self.cfg["num_steps_per_env"])

    def progress_postfix(self, stats: dict[str, float]) -> dict[str, str]:
        return {
            "reward": f"{stats['reward']:.4f}",
            "task": f"{stats['task_reward']:.4f}",
            "u": f"{stats['epistemic_uncertainty']:.3f}",
        }

    def check_resumable(self, path: str, loaded: dict) -> None:
        trained_on = ((loaded.get("infos") or {}).get("rwmu") or {}).get("world_model", {}).get("sha256")
        if trained_on is not None and trained_on != self.rwmu_info["world_model"]["sha256"]:
            raise RwmuError(
                f"{path}: this policy was trained in another world model (SHA-256 "
                f"{trained_on[:12]}..., --world-model is {self.rwmu_info['world_model']['sha256'][:12]}"
                "...); resume with the same --world-model or start a new --out"
            )


def clone_behavior(runner: RwmuRunner, dataset, task, config: PolicyTrainingConfig, fit: bool) -> dict | None:
    """Behaviour cloning around PPO as ``config.behavior`` asks (:mod:`rwmu.training.behavior_cloning`): fit the
    actor to the data (a new run only) and hand the regulariser its pairs. Returns the fit's figures, or None."""
    settings = config.behavior
    if not settings.uses_data:
        return None
    observations, actions = behavior_pairs(dataset, task, top_fraction=settings.top_fraction)
    generator = torch.Generator(device=config.device).manual_seed(config.seed)
    result: dict = {"pairs": int(observations.shape[0])}
    if settings.init and fit:
        # the uncompiled actor (rsl_rl's handle for state_dict and export): the same parameters either way
        result.update(fit_actor(runner.alg._raw_actor, observations, actions, settings, generator))
    if isinstance(runner.alg, BehaviorRegularizedPPO):
        runner.alg.set_behavior_data(observations, actions, generator)
    return result


def train_policy(
    task,
    world_model_path: str | Path,
    data_path: str | Path | list,
    out_dir: str | Path,
    config: PolicyTrainingConfig = PolicyTrainingConfig(),
    resume: str | Path | bool | None = None,
    progress: bool = True,
    command: Any = None,
) -> dict:
    """Train a policy with MOPO-PPO in imagination; return the summary (also written to ``out_dir/summary.json``).

    Args:
        task: the :class:`~rwmu.tasks.base.Task` (reward weights included).
        world_model_path: world-model checkpoint (rwmu or reference format).
        data_path: dataset the starting histories come from (anything :func:`rwmu.data.loading.load_dataset` reads).
        out_dir: run folder.
        config: :class:`PolicyTrainingConfig`.
        resume: ``True`` to continue from the latest checkpoint in ``out_dir``, or a checkpoint path.
            ``config.iterations`` is the total: a resumed run performs the remaining iterations.
        progress: show a tqdm progress bar (ignored with ``config.verbose``).
        command: the whole command config that started the run (``rwmu train-policy``), recorded in config.json so
            that ``--resume`` continues with the same settings.
    """
    refuse_distributed("rwmu.train_policy")
    out_dir = Path(out_dir)
    device = str(config.device)
    resume_path = check_run_start(out_dir, config, resume)
    config.behavior.validate()
    seed_everything(config.seed)
    world_model_path = Path(world_model_path)
    model = load_world_model(world_model_path, device=device, task=task)
    dataset = load_dataset(data_path, task=task)
    env_config = dataclasses.replace(config.env, log_window=config.steps_per_env)
    env = ImaginationEnv(model, dataset, task, env_config, device=device, seed=config.seed)

    info = checkpoint_info(
        task,
        config,
        world_model={"path": str(world_model_path.resolve()), "sha256": file_sha256(world_model_path)},
        data=[str(p) for p in data_path] if isinstance(data_path, (list, tuple)) else str(data_path),
        normalization=env.normalization.to_dict(),
    )
    train_cfg = rsl_rl_train_cfg(config, task)
    runner = ImaginationRunner(
        env,
        train_cfg,
        log_dir=str(out_dir),
        device=device,
        rwmu_info=info,
        verbose=config.verbose,
        progress=progress,
        log_code_state=config.log_code_state,
        print_networks=config.print_networks,
    )
    info["rsl_rl_cfg"] = to_jsonable(runner.cfg)
    behavior = clone_behavior(runner, dataset, task, config, fit=resume_path is None)
    done_iterations, remaining = runner.continue_from(resume_path, config.iterations)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(
        out_dir,
        {"command": command, "train_policy": config, "task": task, "rsl_rl": info["rsl_rl_cfg"]},
        data=data_path,
        device=config.device,
    )
    write_json_atomic(out_dir / "run_info.json", info)

    start = time.perf_counter()
    runner.learn(remaining, init_at_random_ep_len=config.init_at_random_ep_len and resume_path is None)
    wall = time.perf_counter() - start

    earlier = earlier_summary(out_dir, done_iterations) if resume_path is not None else {}
    stats = env.step_statistics(config.steps_per_env)
    rewbuffer = list(runner.logger.rewbuffer)
    lenbuffer = list(runner.logger.lenbuffer)
    final_iteration = int(runner.current_learning_iteration)
    summary = {
        "imagined_reward": stats["reward"],
        "imagined_task_reward": stats["task_reward"],
        "epistemic_uncertainty": stats["epistemic_uncertainty"],
        "mean_episode_return": sum(rewbuffer) / len(rewbuffer) if rewbuffer else None,
        "mean_episode_length": sum(lenbuffer) / len(lenbuffer) if lenbuffer else None,
        "iterations": final_iteration + 1,
        "final_checkpoint": str(out_dir / f"model_{final_iteration}.pt"),
        "num_envs": env.num_envs,
        "steps_per_env": config.steps_per_env,
        "uncertainty_penalty": config.env.uncertainty_penalty,
        "dynamics": config.env.dynamics,
        "reduction": config.env.reduction or model.config.reduction,
        "env_steps_per_second": remaining * config.steps_per_env * env.num_envs / wall,
        "wall_time_s": wall + float(earlier.get("wall_time_s", 0.0)),
        "world_model": info["world_model"],
        "behavior_cloning": behavior,
        "resumed_exactly": runner.resumed_exactly,
        "history": {
            key: list(earlier.get("history", {}).get(key, [])) + [h[stat] for h in runner.iteration_stats]
            for key, stat in (
                ("imagined_reward", "reward"),
                ("imagined_task_reward", "task_reward"),
                ("epistemic_uncertainty", "epistemic_uncertainty"),
            )
        },
        "definitions": {
            "imagined_reward": "mean reward per env step over the last iteration, uncertainty penalty included",
            "imagined_task_reward": "same without the penalty (the task reward alone)",
            "epistemic_uncertainty": "mean epistemic uncertainty u per env step over the last iteration",
            "mean_episode_return": "rsl_rl's mean return (penalised) of the last <=100 finished episodes",
            "history": "the first three, per iteration (earlier invocations of a resumed run included)",
            "wall_time_s": "training wall time, summed over the invocations of a resumed run",
            "resumed_exactly": "null for a run never resumed; true when the last --resume continued exactly as "
            "the uninterrupted run (resume_<it>.pt restored), false when it started fresh "
            "imagined episodes from the saved policy",
        },
    }
    write_json_atomic(out_dir / "summary.json", summary)
    return summary
