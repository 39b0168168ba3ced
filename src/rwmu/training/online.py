"""PPO online in the MuJoCo simulator (``rwmu train-online``): the expert that walks, the upper bound for offline
policies and the source of graded offline datasets.

rsl_rl's ``OnPolicyRunner`` (:class:`OnlineRunner`, the same :class:`~rwmu.training.runner.RwmuRunner` as MOPO-PPO)
trains on :class:`OnlineGo2Env`: the batched MuJoCo environment of :mod:`rwmu.sim.env`, stepped by worker
processes, with the task, commands, observation and reward of the shared locomotion core
(:mod:`rwmu.tasks.locomotion`), exactly those imagination and evaluation use. Two training-only settings, common
in the field, sit on top; the reward a policy is scored on stays the task's (``rwmu evaluate``):

- **Positive clipping** (:class:`TrainingRewardConfig`, legged_gym's ``only_positive_rewards``): the step reward is
  clipped at 0, so ending an episode never pays more than living on (PPO on the raw reward first learns to fall
  early, then to stand still); an optional termination penalty is added after the clip.
- **A command curriculum** (:class:`CommandCurriculumConfig`, as unitree_rl_lab's Go2 velocity task): commands are
  drawn from ``scale`` times the task's ranges, ``scale`` starting small and widening by ``step`` whenever the
  finished episodes tracked their linear-velocity command well (mean tracking kernel above ``threshold``), up to
  the task's full ranges.

The run folder receives rsl_rl checkpoints ``model_<it>.pt`` (with ``infos["rwmu"]``, so every command that takes a
policy takes them and the folder), ``config.json``, ``run_info.json``, TensorBoard logs (``Episode_Reward/*``,
``Curriculum/command_scale``, ``Train/task_reward``) and ``summary.json`` (control steps per second, wall time and
the per-iteration history of the mean episode return, length and curriculum scale).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import torch

from rwmu.errors import RwmuError
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.tasks.base import Task
from rwmu.training.online_config import (
    TRACKING_TERM,
    CommandCurriculumConfig,
    OnlineTrainingConfig,
    TrainingRewardConfig,
)
from rwmu.training.runner import (
    RwmuRunner,
    check_run_start,
    checkpoint_info,
    earlier_summary,
    refuse_distributed,
    rsl_rl_train_cfg,
    seed_everything,
)
from rwmu.utils.io import to_jsonable, write_json_atomic, write_run_config


class OnlineGo2Env(Go2VecEnv):
    """:class:`~rwmu.sim.env.Go2VecEnv` whose step returns the training reward (positive clipping, termination
    penalty) and whose commands follow the curriculum. ``extras["log"]`` adds ``Train/task_reward`` (the unshaped
    reward per step) and ``Curriculum/command_scale``; ``last_step.reward`` stays the task reward."""

    def __init__(
        self, config: Go2EnvConfig, task: Task, reward: TrainingRewardConfig, curriculum: CommandCurriculumConfig
    ):
        super().__init__(config, task)
        self.reward_cfg = reward
        self.curriculum = curriculum
        self.full_commands = self.task.commands
        self.command_scale = curriculum.initial_scale if curriculum.enabled else 1.0
        self._pooled = [0.0, 0.0, 0]  # tracking kernel x episodes, length x episodes, episodes
        self._steps_since_decision = 0
        self.set_command_scale(self.command_scale)
        self.core.command_sampler.resample()  # the commands drawn at construction used the full ranges
        self._update_observations()

    def set_command_scale(self, scale: float) -> None:
        full = self.full_commands
        ranges = {
            name: tuple(scale * v for v in getattr(full, name)) for name in ("lin_vel_x", "lin_vel_y", "ang_vel_z")
        }
        self.core.command_sampler.config = dataclasses.replace(full, **ranges)
        self.command_scale = scale

    def _update_curriculum(self, log: dict[str, torch.Tensor]) -> None:
        cfg = self.curriculum
        if not cfg.enabled or self.command_scale >= 1.0:
            return
        if "Episode/length" in log:
            finished = float(log["Episode_Termination/terminated"] + log["Episode_Termination/time_out"])
            weight = getattr(self.task.rewards, TRACKING_TERM)
            self._pooled[0] += float(log[f"Episode_Reward/{TRACKING_TERM}"]) / (weight * self.task.dt) * finished
            self._pooled[1] += float(log["Episode/length"]) * finished
            self._pooled[2] += finished
        self._steps_since_decision += 1
        if self._steps_since_decision < cfg.interval or self._pooled[1] == 0:
            return
        kernel = self._pooled[0] / self._pooled[1]  # mean exp(-err^2 / 0.25) per step of the finished episodes
        if kernel > cfg.threshold:
            self.set_command_scale(min(1.0, self.command_scale + cfg.step))
        self._pooled = [0.0, 0.0, 0]
        self._steps_since_decision = 0

    def step(self, actions: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, dict]:
        obs, task_reward, dones, extras = super().step(actions)
        reward = task_reward.clamp(min=0.0) if self.reward_cfg.only_positive else task_reward
        if self.reward_cfg.termination_penalty:
            reward = reward + self.reward_cfg.termination_penalty * self.last_step.terminated.float()
        log = extras["log"]
        self._update_curriculum(log)
        log["Train/task_reward"] = task_reward.mean()
        log["Curriculum/command_scale"] = torch.tensor(self.command_scale)
        return obs, reward, dones, extras


class OnlineRunner(RwmuRunner):
    """:class:`~rwmu.training.runner.RwmuRunner` on the MuJoCo environment; the progress bar shows the mean return
    (training reward) and length of the last finished episodes and the curriculum's command scale."""

    progress_label = "PPO (MuJoCo)"

    def iteration_statistics(self) -> dict[str, float]:
        return {**super().iteration_statistics(), "command_scale": float(self.env.command_scale)}

    def progress_postfix(self, stats: dict[str, float]) -> dict[str, str]:
        return {**super().progress_postfix(stats), "commands": f"{stats['command_scale']:.1f}"}

    def check_resumable(self, path: str, loaded: dict) -> None:
        task = ((loaded.get("infos") or {}).get("rwmu") or {}).get("task")
        if task is not None and task != self.rwmu_info["task"]:
            raise RwmuError(
                f"{path}: trained on task {task!r}, this run is {self.rwmu_info['task']!r}; resume with "
                f"the same --task or start a new --out"
            )


def train_online(
    task: Task,
    out_dir: str | Path,
    config: OnlineTrainingConfig = OnlineTrainingConfig(),
    resume: bool = False,
    progress: bool = True,
    command: Any = None,
) -> dict:
    """Train a policy with PPO in MuJoCo; return the summary (also written to ``out_dir/summary.json``).

    Args:
        task: the simulated task (go2_flat).
        out_dir: run folder.
        config: :class:`OnlineTrainingConfig`.
        resume: continue from the latest checkpoint in ``out_dir``; ``config.iterations`` is the total.
        progress: show a progress bar (ignored with ``config.verbose``).
        command: the whole command config (``rwmu train-online``), recorded in config.json.
    """
    refuse_distributed("rwmu.train_online")
    out_dir = Path(out_dir)
    resume_path = check_run_start(out_dir, config, resume)
    if not 0.0 < config.curriculum.initial_scale <= 1.0 or config.curriculum.step <= 0:
        raise RwmuError("--curriculum.initial-scale must be in (0, 1] and --curriculum.step > 0")
    seed_everything(config.seed)
    env_config = dataclasses.replace(config.env, seed=config.seed)
    env = OnlineGo2Env(env_config, task, config.reward, config.curriculum)
    try:
        info = checkpoint_info(task, config, trained_in="mujoco")
        runner = OnlineRunner(
            env,
            rsl_rl_train_cfg(config, task),
            log_dir=str(out_dir),
            device="cpu",
            rwmu_info=info,
            verbose=config.verbose,
            progress=progress,
            log_code_state=config.log_code_state,
            print_networks=config.print_networks,
        )
        info["rsl_rl_cfg"] = to_jsonable(runner.cfg)
        done, remaining = runner.continue_from(resume_path, config.iterations)
        if resume_path is not None:  # the curriculum continues where it stopped
            scale = (earlier_summary(out_dir, done).get("history", {}).get("command_scale") or [None])[-1]
            if scale is not None:
                env.set_command_scale(float(scale))
        out_dir.mkdir(parents=True, exist_ok=True)
        write_run_config(
            out_dir, {"command": command, "train_online": config, "task": task, "rsl_rl": info["rsl_rl_cfg"]}
        )
        write_json_atomic(out_dir / "run_info.json", info)
        start = time.perf_counter()
        runner.learn(remaining, init_at_random_ep_len=config.init_at_random_ep_len and resume_path is None)
        wall = time.perf_counter() - start
    finally:
        env.close()
    earlier = earlier_summary(out_dir, done) if resume_path is not None else {}
    final_iteration = int(runner.current_learning_iteration)
    history_keys = ("episode_return", "episode_length", "command_scale", "collect_time", "learn_time")
    summary = {
        "iterations": final_iteration + 1,
        "final_checkpoint": str(out_dir / f"model_{final_iteration}.pt"),
        "num_envs": env.num_envs,
        "steps_per_env": config.steps_per_env,
        "control_steps_per_second": remaining * config.steps_per_env * env.num_envs / wall,
        "wall_time_s": wall + float(earlier.get("wall_time_s", 0.0)),
        "command_scale": env.command_scale,
        "history": {
            key: list(earlier.get("history", {}).get(key, [])) + [h[key] for h in runner.iteration_stats]
            for key in history_keys
        },
        "definitions": {
            "control_steps_per_second": "simulated control steps (all envs) per second of this invocation, PPO "
            "updates included",
            "episode_return": "rsl_rl's mean return of the last <= 100 finished episodes, TRAINING reward (clipped)",
            "wall_time_s": "training wall time, summed over the invocations of a resumed run",
        },
    }
    write_json_atomic(out_dir / "summary.json", summary)
    return summary
