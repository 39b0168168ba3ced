"""Closed-loop check of a world model on a policy's own states (docs/method.md section 8.4).

Rolls --policy in the MuJoCo Go2 simulator, replays its trajectories through --world-model under the recorded
actions, and prints, beside the same figures on the behaviour data: one-step and open-loop error, the uncertainty u
on the policy's states against the data's, predicted against real falls (precision, recall) and contacts. --json
writes every figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.common import check_output_file, simulated_task
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation.model_check import ModelCheckConfig, check_model, format_model_check
from rwmu.models.checkpoint import load_world_model
from rwmu.utils.io import write_json_atomic


@dataclass(frozen=True)
class Command:
    """Score a world model on the trajectories a policy produces in MuJoCo, beside its behaviour data."""

    world_model: Path
    """world-model checkpoint"""
    data: Path
    """the behaviour dataset the model was trained on (.rwmu file or CSV folder)"""
    policy: str
    """a policy run folder, checkpoint, export, expert, scripted or zero"""
    task: str = "go2_flat"
    """simulated task"""
    json: Path | None = None
    """write the full report to this JSON file"""
    progress: bool = True
    """show a progress bar while rolling the policy"""
    check: Annotated[ModelCheckConfig, tyro.conf.arg(name="")] = field(default_factory=ModelCheckConfig)


def run(cmd: Command) -> int:
    task = simulated_task(cmd.task)
    if cmd.json is not None:
        check_output_file(cmd.json, "--json")
    model = load_world_model(cmd.world_model, task=task)
    if model.dims != task.dims:
        raise RwmuError(
            f"{cmd.world_model}: the world model predicts {model.dims.describe()}, task {task.name} has "
            f"{task.dims.describe()}; train it on {task.name} data"
        )
    dataset = load_dataset(str(cmd.data), task=task)
    report = check_model(model, cmd.policy, dataset, task, cmd.check, progress=cmd.progress)
    print(
        f"check-model: {cmd.world_model} on {cmd.policy} ({report['policy']['rows']} MuJoCo rows, "
        f"{report['policy']['falls']} falls) and {cmd.data} ({dataset.num_rows} rows)"
    )
    for line in format_model_check(report):
        print(line)
    if cmd.json is not None:
        write_json_atomic(
            cmd.json, {"world_model": str(cmd.world_model), "data": str(cmd.data), "policy": cmd.policy, **report}
        )
        print(f"wrote {cmd.json}")
    return 0
