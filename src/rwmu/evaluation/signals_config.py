"""Settings of ``rwmu signals`` (:mod:`rwmu.evaluation.signals`); free of torch and MuJoCo."""

from __future__ import annotations

from dataclasses import dataclass

from rwmu.errors import RwmuError

ONE_STEP_SIGNALS = ("std_sum", "std_norm_max", "std_norm_sum", "pairwise_max", "fall_prob_std", "nearest_data")
"""Signals read from the one-step prediction on the real history."""


@dataclass(frozen=True)
class SignalStudyConfig:
    """Settings of ``rwmu signals`` (defaults: docs/signals.md)."""

    episodes: int = 32
    """policy episodes rolled in MuJoCo (4 per built-in schedule in ``rwmu evaluate``; here the task's commands)"""
    num_envs: int = 16
    """simulated robots stepped together"""
    seed: int = 0
    """seed of the MuJoCo rollouts and of every sample"""
    fall_windows: tuple[int, ...] = (25, 50)
    """k of "falls within the next k steps" (0.5 s and 1 s at 50 Hz)"""
    error_horizons: tuple[int, ...] = (1, 8, 32)
    """h of the real h-step open-loop error"""
    disagreement_horizons: tuple[int, ...] = (8, 16)
    """h of the multi-step member disagreement"""
    path_horizon: int = 16
    """steps of each member's own imagined path for the accumulated and the value-aware signals"""
    max_points: int = 40_000
    """most policy states scored (all of them below this; a seeded sample above)"""
    data_points: int = 4096
    """behaviour-data states scored for the level"""
    neighbours: int = 100_000
    """dataset state-action pairs searched for the nearest-data distance"""
    batch: int = 1024
    """states scored together (each is imagined once per member)"""

    def check(self) -> None:
        for name in ("episodes", "num_envs", "max_points", "data_points", "neighbours", "batch", "path_horizon"):
            if getattr(self, name) < 1:
                raise RwmuError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("fall_windows", "error_horizons", "disagreement_horizons"):
            values = getattr(self, name)
            if not values or min(values) < 1:
                raise RwmuError(f"--{name.replace('_', '-')} must list steps >= 1, got {list(values)}")

    def signal_names(self) -> tuple[str, ...]:
        """Every signal of the study, in table order."""
        return (
            *ONE_STEP_SIGNALS[:4],
            *(f"multistep_h{h}" for h in self.disagreement_horizons),
            f"accumulated_u_h{self.path_horizon}",
            f"value_std_h{self.path_horizon}",
            *ONE_STEP_SIGNALS[4:],
        )
