"""Train a model-free offline RL baseline (BC, TD3+BC, IQL or CQL, from d3rlpy) on an rwmu dataset.

The observations, actions and rewards are the ones MOPO-PPO sees (docs/baselines.md): policy observations rebuilt
from each row's state, command and last action, the task's reward terms computed from the data, episode ends from
the data. Writes to --out: checkpoint.d3 and progress.pt (every epoch; --resume continues from them and gives the
same weights as an uninterrupted run), TensorBoard logs, config.json, summary.json, and export/ (policy.pt,
policy.onnx, policy.json) that ``rwmu evaluate --policy OUT/export`` scores like any other policy.

d3rlpy (with the old gym it imports) is loaded by this command alone: :mod:`rwmu.training.offline_baselines` is
imported in :func:`run`, so that the other commands do not pay its ~2 s import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.commands.shared import resumed_command
from rwmu.training.offline_config import OfflineBaselineConfig


@dataclass(frozen=True)
class Command:
    """Train a model-free offline RL baseline (d3rlpy) on an rwmu dataset."""

    task: str
    """task name: go2_flat or anymal_d_flat (the observations and rewards are the task's)"""
    data: Path
    """dataset with command columns (rwmu collect): CSV folder or .rwmu"""
    out: Path
    """run folder"""
    resume: bool = False
    """continue the run in --out from its last epoch checkpoint, with its stored settings"""
    progress: bool = True
    """show a progress bar"""
    baseline: Annotated[OfflineBaselineConfig, tyro.conf.arg(name="")] = field(default_factory=OfflineBaselineConfig)


def defaults(argv: list[str]) -> Command | None:
    """With ``--resume``: the stored command of the run in ``--out``."""
    return resumed_command(argv, Command)
