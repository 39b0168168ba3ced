"""Settings of ``rwmu evaluate`` (:func:`rwmu.evaluation.simulator.evaluate_policy`); free of torch and MuJoCo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rwmu.evaluation.schedules import COMMAND_SCHEDULES


@dataclass(frozen=True)
class EvaluationConfig:
    """Settings of ``rwmu evaluate``."""

    episodes: int = 16
    """MuJoCo episodes, each up to the task's episode length; episode e runs schedule e mod the schedule count"""
    seed: int = 0
    """seed of the start states (the same seed gives the same episodes for every policy)"""
    max_envs: int = 16
    """environments run in parallel per wave"""
    num_workers: int = 1
    """processes stepping MuJoCo"""
    pushes: bool = False
    """random velocity pushes during evaluation (off: a clean tracking test)"""
    schedules: tuple[str, ...] = tuple(COMMAND_SCHEDULES)
    """built-in command schedules, cycled over the episodes"""
    commands: Path | None = None
    """a JSON or CSV file of further schedules (steps, vx, vy, wz segments), run beside the built-in ones"""
    score_reference: str | None = "expert"
    """the policy scoring 1 of the normalised score (0: zero actions, standing still), on the same episodes; None
    skips the score"""
    action_noise: float = 0.0
    """Gaussian noise std (action units) added to the policy's actions, as `rwmu collect --action-noise` records
    noisy data (the score references run without it)"""
