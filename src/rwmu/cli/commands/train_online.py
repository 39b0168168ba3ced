"""Train a locomotion policy with PPO online in the MuJoCo simulator (rsl_rl's OnPolicyRunner, as in Isaac Lab).

The task, commands, observation and reward are those of imagination and evaluation (the shared locomotion core);
training adds positive reward clipping and a command curriculum (--reward.*, --curriculum.*), the scored reward
stays the task's. MuJoCo steps in --env.num-workers processes. Writes rsl_rl checkpoints model_<it>.pt every
--save-interval iterations, config.json, run_info.json, TensorBoard logs and summary.json (control steps per second,
wall time, per-iteration history) to --out; --resume continues the run in --out. Score the result with
`rwmu evaluate --policy OUT`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.commands.shared import resumed_command
from rwmu.training.online_config import OnlineTrainingConfig


@dataclass(frozen=True)
class Command:
    """Train a policy with PPO online in the MuJoCo simulator."""

    out: Path
    """run folder"""
    task: str = "go2_flat_deploy"
    """simulated task: go2_flat_deploy (the actor reads the robot's own sensors; rwmu export --format unitree), or
    go2_flat (the reference observation, base velocity included)"""
    resume: bool = False
    """continue the run in --out from its latest model_<it>.pt, with its stored settings"""
    train: Annotated[OnlineTrainingConfig, tyro.conf.arg(name="")] = field(default_factory=OnlineTrainingConfig)


def defaults(argv: list[str]) -> Command | None:
    """With ``--resume``: the stored command of the run in ``--out``."""
    return resumed_command(argv, Command)
