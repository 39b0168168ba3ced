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

import rwmu.api as api
from rwmu.cli.common import (
    Dims,
    check_resume_unchanged,
    resume_note,
    resumed_command,
    stored_config,
)
from rwmu.errors import RwmuError
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


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: what the run saved and how to continue it."""
    return resume_note("rwmu train-model", cmd.out, cmd.out / "model_latest.pt")


def run(cmd: Command) -> int:
    if cmd.resume:
        check_resumed_command(cmd)
    result = api.train_model(
        cmd.data if len(cmd.data) > 1 else cmd.data[0],
        cmd.out,
        task=cmd.task,
        dims=cmd.dims,
        recipe=cmd.recipe,
        config=cmd.train,
        resume=cmd.resume,
        command=cmd,
    )
    print(f"world model: {result.checkpoint} (best on validation), {result.latest}")
    if result.validation:
        print(
            "validation relative error, mean over forecast steps: "
            f"{result.validation.get('val/rel_error_forecast_mean', float('nan')):.4f} "
            f"(no-change baseline {result.validation.get('val/no_change_rel_error_forecast_mean', float('nan')):.4f}); "
            f"{result.windows_per_second:.0f} windows/s"
        )
    print(f"results in {cmd.out}")
    return 0


def check_resumed_command(cmd: Command) -> None:
    """Refuse a ``--resume`` whose data, task, dims or architecture differ from the run's stored command."""
    stored = stored_config(cmd.out, Command)
    if stored is None:
        return
    if stored.train.architecture != cmd.train.architecture:
        raise RwmuError(
            f"--resume: the run in {cmd.out} was trained with another architecture; drop the "
            f"--architecture.* flags or start a new --out"
        )
    for flag, before, now in (
        ("--data", stored.data, cmd.data),
        ("--task", stored.task, cmd.task),
        ("--dims", stored.dims, cmd.dims),
    ):
        check_resume_unchanged(cmd.out, flag, before, now)
