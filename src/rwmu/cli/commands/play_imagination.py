"""Roll a trained policy inside a world model and print its per-term imagined returns.

For every reward term, the uncertainty penalty, the task reward and the total: the return per environment over
the rollout and the mean per step. Task, world model, data and penalty default to those recorded with the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class Command:
    """Roll a trained policy in a world model and print per-term imagined returns."""

    policy: Path
    """policy run folder (its latest checkpoint) or checkpoint model_<iteration>.pt"""
    world_model: Path | None = None
    """world-model checkpoint (default: the one the policy was trained in)"""
    data: tuple[Path, ...] | None = None
    """dataset for the starting histories (default: the training's)"""
    task: str | None = None
    """task (default: the policy's, with its reward weights)"""
    steps: int = 256
    """control steps per environment"""
    num_envs: int = 256
    """parallel imagined environments"""
    seed: int = 0
    device: str = "cpu"
    """torch device"""
    uncertainty_penalty: float | None = None
    """lambda >= 0 of the penalty column, r~ = r - lambda*u*dt (default: the training's)"""
    dynamics: Literal["member", "mean"] | None = None
    """member (reference) or mean (paper Eq. 4) (default: the training's)"""
    stochastic: bool = False
    """sample actions instead of taking the policy's mean"""
    json: Path | None = None
    """also write the result as JSON to this file"""
