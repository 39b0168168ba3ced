"""Score a policy in the MuJoCo Go2 simulator on the true, unpenalised task reward (docs/method.md section 8).

Runs the policy under fixed command schedules and prints its return (mean +- std), per-term returns, falls,
episode length and velocity-tracking errors, per schedule; --json writes the same as JSON (top-level
return_mean, return_std, episodes, terms, ...). --video renders environment 0 offscreen (MUJOCO_GL=egl or osmesa).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.evaluation.simulator_config import EvaluationConfig


@dataclass(frozen=True)
class Command:
    """Score a policy in MuJoCo on the true, unpenalised task reward."""

    policy: str
    """'scripted', a policy run folder (its latest checkpoint), an rsl_rl checkpoint, an export folder, a TorchScript
    .pt or an .onnx file"""
    task: str | None = None
    """simulated task; default: the one the policy was trained on (go2_flat for scripted and zero)"""
    json: Path | None = None
    """also write the results as JSON to this file"""
    video: Path | None = None
    """render environment 0 to this file (.mp4 or .gif)"""
    video_steps: int | None = None
    """render only the first N control steps (default: the whole episode)"""
    progress: bool = True
    """show a progress bar"""
    eval: Annotated[EvaluationConfig, tyro.conf.arg(name="")] = field(default_factory=EvaluationConfig)
