"""Record an offline dataset by running a behaviour policy in N simulated Go2s (MuJoCo).

Writes DIR/state_action_data_<k>.csv with the commands in DIR/context_<k>.csv (--format csv, the reference
convention) or DIR/dataset.rwmu (--format rwmu), plus DIR/config.json (resolved settings and versions) and
DIR/collect_stats.json (falls, tracking errors, mean reward and episode return, speed coverage, and with
--checkpoints the same per checkpoint). The data is identical for a seed, policy and --num-envs, whatever
--num-workers. Rows are recorded in chunks of --chunk-rows, each kept in DIR/.collect/ until the dataset is
written: an interrupted collection continues after its last completed chunk with --resume, and gives the same
dataset as one never interrupted. --shards N splits the collection into N seeds collected one after the other, or
side by side as Ray tasks with --backend ray (docs/scaling.md), and merges them.

Graded datasets (docs/go2.md): ``--policy RUN --checkpoints 0:700:50`` collects a "mixed" dataset from a series of
checkpoints of one training run (RWM-U Table 1); ``--policy RUN/model_450.pt`` a "medium" one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from rwmu.cli.commands.shared import resumed_command
from rwmu.experiments.backend_config import BackendConfig
from rwmu.sim.collect_config import CollectConfig


@dataclass(frozen=True)
class Command:
    """Record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator."""

    out: Path
    """output folder (must not hold a dataset yet)"""
    task: str | None = None
    """simulated task; default: the one the policy was trained on (go2_flat for scripted)"""
    policy: str = "scripted"
    """'scripted' (trotting controller with per-episode gait diversity and action noise), a policy run folder, an
    rsl_rl checkpoint, an export folder, a TorchScript .pt or an .onnx file"""
    format: Literal["csv", "rwmu"] = "csv"
    """csv: state_action_data_<k>.csv files; rwmu: DIR/dataset.rwmu"""
    action_noise: float | None = None
    """Gaussian action-noise std (action units). Scripted policy: this std in every episode instead of a
    per-episode draw in [0, 0.3]; other policies: added to their deterministic actions"""
    checkpoints: str | None = None
    """with --policy RUN (a run folder, or a folder of model_<k>/ export folders): collect from several of its checkpoints in turn, each an equal share of
    --steps (a "mixed" dataset): 'all', iterations '0,50,100' or a range 'START:STOP:STEP' (STOP included)"""
    progress: bool = True
    """show a progress bar"""
    resume: bool = False
    """continue the interrupted collection in --out after its last completed chunk, with its stored settings"""
    shards: int = 1
    """split --steps into N collections (shard k with seed --seed + k), run one after the other or as Ray tasks
    (--backend ray), merged into one dataset whose provenance lists each shard"""
    backend: Annotated[BackendConfig, tyro.conf.arg(name="")] = BackendConfig()
    collect: Annotated[CollectConfig, tyro.conf.arg(name="")] = field(default_factory=CollectConfig)


def defaults(argv: list[str]) -> Command | None:
    """With ``--resume``: the stored command of the collection in ``--out``."""
    return resumed_command(argv, Command)
