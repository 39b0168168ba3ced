"""Episodes under command schedules: the per-step commands of a schedule, and the summary of scored episodes that
``rwmu evaluate`` (:mod:`rwmu.evaluation.simulator`) and ``rwmu sim2sim`` (:mod:`rwmu.evaluation.sim2sim`) report."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rwmu.errors import RwmuError
from rwmu.evaluation.schedules import COMMAND_SCHEDULES, read_schedule_file
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.tasks.base import Task


def episode_schedules(config: EvaluationConfig, length: int) -> dict[str, torch.Tensor]:
    """name -> (length, 3) per-step commands of every schedule ``config`` runs, in order: the built-in ones it names,
    then those of its ``--commands`` file; episode ``e`` runs schedule ``e mod len``. Bad settings are one line."""
    unknown = [s for s in config.schedules if s not in COMMAND_SCHEDULES]
    if unknown:
        raise RwmuError(f"unknown command schedule(s) {unknown}; known: {', '.join(COMMAND_SCHEDULES)}")
    available = {**COMMAND_SCHEDULES, **(read_schedule_file(config.commands) if config.commands else {})}
    names = tuple(config.schedules) + tuple(name for name in available if name not in COMMAND_SCHEDULES)
    if not names:
        raise RwmuError("no command schedule to run: give --schedules or --commands")
    if config.episodes < 1:
        raise RwmuError(f"--episodes must be >= 1, got {config.episodes}")
    return {name: schedule_tensor(available[name], length) for name in names}


def schedule_tensor(segments: list[tuple[int, float, float, float]], length: int) -> torch.Tensor:
    """(length, 3) per-step commands of a schedule."""
    rows: list[tuple[float, float, float]] = []
    for steps, vx, vy, wz in segments:
        rows.extend([(vx, vy, wz)] * min(int(steps), length - len(rows)))  # never more rows than the episode holds
        if len(rows) >= length:
            break
    rows = rows + [rows[-1]] * (length - len(rows))
    return torch.tensor(rows, dtype=torch.float32)


def summarize_episodes(episodes: list[dict[str, Any]], task: Task, config: EvaluationConfig) -> dict[str, Any]:
    """Aggregate per-episode results into the JSON of ``rwmu evaluate``.

    Top-level keys: ``return_mean``, ``return_std`` (population std over episodes), ``episodes`` (count),
    ``terms`` (mean per-term return), ``episode_length_mean``, ``falls``, ``fall_rate``, ``lin_vel_error_mean``
    [m/s], ``yaw_rate_error_mean`` [rad/s], ``max_return`` (perfect tracking, no penalties, full length),
    ``per_schedule`` and ``per_episode``.
    """
    returns = np.array([e["return"] for e in episodes], dtype=np.float64)
    term_names = list(episodes[0]["terms"]) if episodes else []
    per_schedule: dict[str, dict[str, float]] = {}
    for name in dict.fromkeys(e["schedule"] for e in episodes):
        group = [e for e in episodes if e["schedule"] == name]
        per_schedule[name] = {
            "episodes": len(group),
            "return_mean": float(np.mean([e["return"] for e in group])),
            "falls": int(sum(e["fell"] for e in group)),
            "lin_vel_error_mean": float(np.mean([e["lin_vel_error"] for e in group])),
            "yaw_rate_error_mean": float(np.mean([e["yaw_rate_error"] for e in group])),
            "episode_length_mean": float(np.mean([e["length"] for e in group])),
        }
    weights = task.rewards
    max_return = (weights.track_lin_vel_xy_exp + weights.track_ang_vel_z_exp) * task.dt * task.episode_length
    falls = int(sum(e["fell"] for e in episodes))
    return {
        "task": task.name,
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "episodes": len(episodes),
        "terms": {name: float(np.mean([e["terms"][name] for e in episodes])) for name in term_names},
        "episode_length_mean": float(np.mean([e["length"] for e in episodes])),
        "falls": falls,
        "fall_rate": falls / max(len(episodes), 1),
        "lin_vel_error_mean": float(np.mean([e["lin_vel_error"] for e in episodes])),
        "yaw_rate_error_mean": float(np.mean([e["yaw_rate_error"] for e in episodes])),
        "max_return": max_return,
        "seed": config.seed,
        "pushes": config.pushes,
        "per_schedule": per_schedule,
        "per_episode": episodes,
    }
