"""Export a trained policy's actor for deployment: policy.pt (TorchScript), policy.onnx and policy.json.

Takes a policy run folder (its latest checkpoint) or a checkpoint model_<it>.pt written by rwmu train-policy.
Inputs of the exported networks are raw observations (any observation normalisation is folded into the first
layer); outputs are the mean actions. policy.json records the observation and action layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro

from rwmu.cli.common import check_output_folder
from rwmu.training.export import export_policy


@dataclass(frozen=True)
class Command:
    """Export a trained policy's actor to TorchScript and ONNX."""

    policy: tyro.conf.Positional[Path]
    """policy run folder (its latest checkpoint) or checkpoint model_<iteration>.pt"""
    out: Path
    """output folder"""


def run(cmd: Command) -> int:
    check_output_folder(cmd.out, "--out")
    paths = export_policy(cmd.policy, cmd.out)
    for kind, path in paths.items():
        print(f"{kind:<12} {path}")
    return 0
