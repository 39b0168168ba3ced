"""Runs ``rwmu check-model``; its flags are declared in :mod:`rwmu.cli.commands.check_model` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.check_model import Command
from rwmu.cli.common import check_output_file
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation.model_check import check_model, format_model_check
from rwmu.models.checkpoint import load_world_model
from rwmu.training.policy_loader import policy_task
from rwmu.utils.io import write_json_atomic


def run(cmd: Command) -> int:
    task = policy_task(cmd.policy, cmd.task)
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
