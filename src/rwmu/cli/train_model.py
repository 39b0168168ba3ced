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

from rwmu.cli.common import (
    Dims,
    check_device,
    check_output_folder,
    check_resume_unchanged,
    resolve_task_and_dims,
    resume_note,
    resumed_command,
    stored_config,
)
from rwmu.data.layout import DataDims
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.recipes import (
    DEFAULT_RECIPE,
    RECIPES,
    RecipeName,
    get_recipe,
    recipe_help,
    world_model_for,
)
from rwmu.tasks import get_task, task_names
from rwmu.tasks.base import Task
from rwmu.training.world_model import WorldModelTrainer
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.io import folder_lock


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
    cmd.train.check()
    task, dims = resolve_task_and_dims(cmd.task, cmd.dims)
    check_device(cmd.train.device)
    check_output_folder(cmd.out, "--out")
    with folder_lock(cmd.out, "rwmu train-model"):
        return _train(cmd, task, dims)


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


def _train(cmd: Command, task: Task | None, dims: DataDims | None) -> int:
    """Check a resumed run against its stored settings, load the data and train (``--out`` is locked)."""
    if cmd.resume:
        check_resumed_command(cmd)
    window = cmd.train.architecture.history_horizon + cmd.train.optim.forecast_horizon
    sources = [str(p) for p in cmd.data]
    dataset = load_dataset(sources[0] if len(sources) == 1 else sources, task=task, dims=dims, min_rows=window)
    if task is None and dataset.meta.get("task") in task_names():  # a native file names its task
        task = get_task(dataset.meta["task"])
    trainer = WorldModelTrainer(
        dataset, task, cmd.out, cmd.train, resume=cmd.resume, data_path=" ".join(sources), command=cmd
    )
    summary = trainer.train()
    print(f"world model: {summary['checkpoints']['best']} (best on validation), {summary['checkpoints']['latest']}")
    final = summary["final_validation"]
    if final:
        print(
            "validation relative error, mean over forecast steps: "
            f"{final.get('val/rel_error_forecast_mean', float('nan')):.4f} "
            f"(no-change baseline {final.get('val/no_change_rel_error_forecast_mean', float('nan')):.4f}); "
            f"{summary['windows_per_second']:.0f} windows/s"
        )
    print(f"results in {cmd.out}")
    return 0
