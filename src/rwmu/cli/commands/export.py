"""Export a trained policy's actor for deployment: policy.pt (TorchScript), policy.onnx and policy.json.

Takes a policy run folder (its latest checkpoint) or a checkpoint model_<it>.pt written by rwmu train-policy or
rwmu train-online. Inputs of the exported networks are raw observations (the learnt observation normalisation is
inside the network); outputs are the mean actions. policy.json records the observation and action layout and, for a
Go2 policy, the deployment facts (joint map to the SDK's motor order, PD gains, default pose, action scale), which
also go into the ONNX file's metadata_props. --format unitree writes the layout Unitree's Go2 deploy stack reads:
OUT/exported/policy.onnx and OUT/params/deploy.yaml (docs/go2.md); only go2_flat_deploy policies, whose actor reads
what the robot measures, export this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro


@dataclass(frozen=True)
class Command:
    """Export a trained policy's actor to TorchScript and ONNX."""

    policy: tyro.conf.Positional[Path]
    """policy run folder (its latest checkpoint) or checkpoint model_<iteration>.pt"""
    out: Path
    """output folder"""
    format: Literal["rwmu", "unitree"] = "rwmu"
    """rwmu: OUT/policy.{pt,onnx,json}; unitree: OUT/exported/policy.onnx and OUT/params/deploy.yaml"""
