"""Train the RWM-U world model on an offline dataset (docs/method.md section 5).

Defaults are a recipe's world model (rwmu recipes, docs/recipes.md): the best measured recipe's CPU-scale GRU 1x128
unless --recipe names another (--recipe paper: Table S10, GRU 2x256, M = 32, batch 1024, 2500 iterations). Flags
override the recipe.

Writes model_latest.pt, model_best.pt, checkpoints/, tensorboard/, config.json and summary.json to --out.
`--resume` continues the run in --out with its stored settings (flags given now override them; the
architecture cannot change).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.commands.shared import Dims, resumed_command
from rwmu.recipes import (
    DEFAULT_RECIPE,
    RECIPES,
    RecipeName,
    get_recipe,
    recipe_help,
    world_model_for,
)
from rwmu.training.world_model_config import TrainModelConfig


@dataclass(frozen=True)
class Command:
    """Train the RWM-U world model on an offline dataset."""

    data: tuple[Path, ...]
    """dataset: a folder of state_action_data_<k>.csv, CSV files, or a .rwmu file"""
    out: Path
    """run folder"""
    task: str | None = None
    """task that names the dataset's columns (anymal_d_flat, go2_flat); or give --dims"""
    dims: Dims | None = None
    """column widths state action extension contact termination, instead of --task (e.g. 45 12 0 8 1)"""
    recipe: Annotated[RecipeName, tyro.conf.arg(help=recipe_help())] = DEFAULT_RECIPE
    resume: bool = False
    """continue the run in --out from model_latest.pt with its stored settings"""
    train: Annotated[TrainModelConfig, tyro.conf.arg(name="")] = field(default_factory=TrainModelConfig)


def defaults(argv: list[str]) -> Command:
    """The recipe's world-model settings; with ``--resume``, the stored command of the run in ``--out``."""
    resumed = resumed_command(argv, Command)
    if resumed is not None:
        return resumed
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--recipe", default=DEFAULT_RECIPE)
    name = parser.parse_known_args(argv)[0].recipe
    train = world_model_for(get_recipe(name)) if name in RECIPES else TrainModelConfig()
    return Command(data=tyro.MISSING, out=tyro.MISSING, recipe=name, train=train)
