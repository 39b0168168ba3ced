"""Which uncertainty signal sees a policy's failures? (docs/signals.md)

Rolls --policy in the MuJoCo Go2 simulator, reads every candidate signal of --world-model on the real histories
(the paper's one-step std_sum, normalised std, pairwise distance, multi-step member disagreement, accumulated u,
value-aware disagreement, fall-probability disagreement, nearest-data distance) and scores each: AUROC for a fall
within k steps, Spearman correlation with the real h-step open-loop error, and its level on the policy's states over
its level on the data. Writes signals.json, signals.npz (every point, for pooling) and roc.png into --out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.evaluation.signals_config import SignalStudyConfig


@dataclass(frozen=True)
class Command:
    """Score every uncertainty signal of a world model on the states a policy visits in MuJoCo."""

    world_model: Path
    """world-model checkpoint (B >= 2 members)"""
    data: Path
    """the behaviour dataset the model was trained on (.rwmu file or CSV folder, with its commands)"""
    policy: str
    """a policy run folder, checkpoint, export folder, .onnx file, expert or scripted"""
    out: Path
    """output folder (signals.json, signals.npz, roc.png, config.json)"""
    task: str | None = None
    """simulated task; default: the one the policy was trained on"""
    progress: bool = True
    """show progress bars"""
    study: Annotated[SignalStudyConfig, tyro.conf.arg(name="")] = field(default_factory=SignalStudyConfig)
