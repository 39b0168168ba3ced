"""Closed-loop check of a world model on a policy's own states (docs/method.md section 8.4).

Rolls --policy in the MuJoCo Go2 simulator, replays its trajectories through --world-model under the recorded
actions, and prints, beside the same figures on the behaviour data: one-step and open-loop error, the uncertainty u
on the policy's states against the data's, predicted against real falls (precision, recall) and contacts. --json
writes every figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.evaluation.model_check_config import ModelCheckConfig


@dataclass(frozen=True)
class Command:
    """Score a world model on the trajectories a policy produces in MuJoCo, beside its behaviour data."""

    world_model: Path
    """world-model checkpoint"""
    data: Path
    """the behaviour dataset the model was trained on (.rwmu file or CSV folder)"""
    policy: str
    """a policy run folder, checkpoint, export, expert, scripted or zero"""
    task: str | None = None
    """simulated task; default: the one the policy was trained on"""
    json: Path | None = None
    """write the full report to this JSON file"""
    progress: bool = True
    """show a progress bar while rolling the policy"""
    check: Annotated[ModelCheckConfig, tyro.conf.arg(name="")] = field(default_factory=ModelCheckConfig)
