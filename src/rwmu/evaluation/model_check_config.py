"""Settings of ``rwmu check-model`` (:func:`rwmu.evaluation.model_check.check_model`); free of torch and MuJoCo."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelCheckConfig:
    """Settings of ``rwmu check-model``."""

    episodes: int = 16
    """policy episodes rolled in MuJoCo (each up to the task's episode length)"""
    num_envs: int = 16
    """simulated robots stepped together"""
    seed: int = 0
    horizon: int = 16
    """open-loop horizon [steps] of the reported error"""
    windows: int = 1024
    """most windows scored per source (policy, data)"""
