"""Train a locomotion policy with rsl_rl's PPO entirely inside a world model (MOPO-PPO, RWM-U).

Imagined episodes start from histories drawn from --data, are rolled out by --world-model, and earn the task's
reward minus an uncertainty penalty (docs/method.md section 6):

    r~ = r - lambda * u * dt     (lambda = --env.uncertainty-penalty >= 0, u = epistemic uncertainty, dt = 0.02 s)

The reference code writes the same thing as r += weight * u * dt with a NEGATIVE weight: its weight -1.0 is
lambda = 1.0 here (the paper's value). Defaults are a recipe's (rwmu recipes lists them, docs/recipes.md): the best
measured one unless --recipe names another (--recipe paper: Table S11 from a random actor, 4096 envs x 100 steps,
2500 iterations; --recipe reference: 8192 envs x 24 steps, 500 iterations). Flags override the recipe;
--rewards.* default to the task's weights. Writes rsl_rl checkpoints model_<it>.pt,
run_info.json, config.json, TensorBoard logs and summary.json to --out. --resume continues the run in --out
with its stored settings (--iterations is the total to reach).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.commands.shared import resumed_command
from rwmu.recipes import DEFAULT_RECIPE, RECIPES, RecipeName, get_recipe, recipe_help
from rwmu.tasks import get_task
from rwmu.tasks.base import RewardWeights
from rwmu.training.policy_config import PolicyTrainingConfig


@dataclass(frozen=True)
class Command:
    """Train a policy with MOPO-PPO in a world model's imagination."""

    task: str
    """task name: anymal_d_flat or go2_flat"""
    world_model: Path
    """world-model checkpoint (rwmu train-model, or a reference .pt)"""
    data: tuple[Path, ...]
    """dataset the imagined episodes start from: CSV folder, CSV files or .rwmu"""
    out: Path
    """run folder"""
    recipe: Annotated[RecipeName, tyro.conf.arg(help=recipe_help())] = DEFAULT_RECIPE
    resume: bool = False
    """continue the run in --out from its latest model_<it>.pt, with its stored settings"""
    train: Annotated[PolicyTrainingConfig, tyro.conf.arg(name="")] = field(default_factory=PolicyTrainingConfig)
    rewards: RewardWeights = field(default_factory=RewardWeights)
    """task reward weights: reward = sum weight * value * dt (default: the task's)"""


def _known_flags(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--task")
    parser.add_argument("--recipe", default=DEFAULT_RECIPE)
    return parser.parse_known_args(argv)[0]


def defaults(argv: list[str]) -> Command:
    """The recipe's settings and the task's reward weights; with ``--resume``, the stored run's command."""
    resumed = resumed_command(argv, Command)
    if resumed is not None:
        return resumed
    known = _known_flags(argv)
    rewards = get_task(known.task).rewards if known.task else RewardWeights()
    train = get_recipe(known.recipe).policy_config() if known.recipe in RECIPES else PolicyTrainingConfig()
    return Command(
        task=known.task or tyro.MISSING,
        world_model=tyro.MISSING,
        data=tyro.MISSING,
        out=tyro.MISSING,
        recipe=known.recipe,
        train=train,
        rewards=rewards,
    )
