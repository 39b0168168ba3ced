"""Export a trained policy's actor for deployment: policy.pt (TorchScript), policy.onnx and policy.json.

Takes a policy run folder (its latest checkpoint) or a checkpoint model_<it>.pt written by rwmu train-policy.
Inputs of the exported networks are raw observations (any observation normalisation is folded into the first
layer); outputs are the mean actions. policy.json records the observation and action layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass(frozen=True)
class Command:
    """Export a trained policy's actor to TorchScript and ONNX."""

    policy: tyro.conf.Positional[Path]
    """policy run folder (its latest checkpoint) or checkpoint model_<iteration>.pt"""
    out: Path
    """output folder"""
