"""Does the world model's epistemic uncertainty track its open-loop prediction error? (docs/method.md section 8)

Conditions the model on M ground-truth steps of held-out windows, rolls it out open loop for H steps under the
recorded actions (ensemble mean and sampled member), and relates its epistemic uncertainty to its L1 error:
Pearson/Spearman over all points and step-averaged, final-step values, calibration bins. Writes to --out:
summary.json (every figure; non-finite numbers are null), uncertainty_error_by_step.csv,
uncertainty_error_points.csv, PNG plots (error and uncertainty by step, scatter, calibration) and config.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.commands.shared import Dims
from rwmu.evaluation.uncertainty_config import UncertaintyEvalConfig


@dataclass(frozen=True)
class Command:
    """Relate a world model's epistemic uncertainty to its open-loop error on held-out trajectories."""

    world_model: Path
    """world-model checkpoint (rwmu or reference format)"""
    data: Path
    """dataset: a folder of state_action_data_<k>.csv, a CSV file or a .rwmu file"""
    out: Path
    """output folder"""
    task: str | None = None
    """task that names the dataset's columns; default: the world model's column widths"""
    dims: Dims | None = None
    """column widths state action extension contact termination, instead of --task"""
    eval: Annotated[UncertaintyEvalConfig, tyro.conf.arg(name="")] = field(default_factory=UncertaintyEvalConfig)
