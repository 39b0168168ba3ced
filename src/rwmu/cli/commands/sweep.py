"""MOPO-PPO over lambda x seeds, each policy scored in MuJoCo on the unpenalised reward (the paper's Figure 4).

The runs' training config is what `rwmu train-policy` would take from these flags (--recipe, --iterations, ...,
--train-args), parsed once into its typed config; each (lambda, seed) run gets it in a job.json and is trained,
scored in MuJoCo and checked by a worker process, --jobs side by side, in OUT/runs/lam<lambda>_seed<seed>/ (log.txt
there). Writes OUT/sweep.csv (per run), OUT/sweep.json (per run, and
mean/std over seeds per lambda; the behaviour controller's return), OUT/sweep.png and OUT/sweep.md. Re-running
continues: finished runs are skipped, interrupted ones resume from their last checkpoint, and a larger
--iterations continues finished runs to the new total. --curve also scores every saved checkpoint. --backend ray
runs every run as a Ray task, on a local instance or a cluster (--ray-address; docs/scaling.md).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.experiments.backend_config import BackendConfig
from rwmu.experiments.sweep_config import SweepConfig
from rwmu.recipes import RecipeName


@dataclass(frozen=True)
class Command:
    """Train and score MOPO-PPO policies over a grid of uncertainty penalties and seeds."""

    out: Path
    """sweep folder (re-run with the same folder to continue)"""
    sweep: Annotated[SweepConfig, tyro.conf.arg(name="")]
    backend: Annotated[BackendConfig, tyro.conf.arg(name="")] = BackendConfig()
    recipe: RecipeName | None = None
    """rwmu train-policy --recipe of every run (default: train-policy's, rwmu recipes lists them)"""
    iterations: int | None = None
    """PPO iterations of every run (default: the recipe's)"""
    num_envs: int | None = None
    """imagined environments of every run (train-policy --env.num-envs)"""
    steps_per_env: int | None = None
    """imagined steps per env per iteration (train-policy --steps-per-env)"""
    device: str | None = None
    """torch device of every run (train-policy --device)"""
    train_args: str = ""
    """further rwmu train-policy flags, one quoted string: --train-args="--env.dynamics mean" """

    def train_policy_flags(self) -> tuple[str, ...]:
        """The ``rwmu train-policy`` flags every run gets."""
        flags: list[str] = []
        for flag, value in (
            ("--recipe", self.recipe),
            ("--iterations", self.iterations),
            ("--env.num-envs", self.num_envs),
            ("--steps-per-env", self.steps_per_env),
            ("--device", self.device),
        ):
            if value is not None:
                flags += [flag, str(value)]
        return tuple(flags + shlex.split(self.train_args))
