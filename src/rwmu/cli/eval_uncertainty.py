"""Runs ``rwmu eval-uncertainty``; its flags are declared in :mod:`rwmu.cli.commands.eval_uncertainty` (imported without torch for ``--help``)."""

from __future__ import annotations

from rwmu.cli.commands.eval_uncertainty import Command
from rwmu.cli.common import check_device, check_output_folder, resolve_task_and_dims
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation.uncertainty import evaluate_uncertainty, format_table, write_report
from rwmu.models.checkpoint import load_world_model
from rwmu.utils.io import write_run_config


def run(cmd: Command) -> int:
    config = cmd.eval
    config.check()
    check_device(config.device)
    check_output_folder(cmd.out, "--out")
    task, dims = resolve_task_and_dims(cmd.task, cmd.dims)
    model, ckpt = load_world_model(cmd.world_model, device=config.device, task=task, return_checkpoint=True)
    if dims is not None and dims != model.dims:
        raise RwmuError(
            f"--task/--dims give {dims.describe()}, but the world model {cmd.world_model} was built for "
            f"{model.dims.describe()}"
        )
    try:  # CSV data without --task/--dims is read with the model's column widths
        dataset = load_dataset(str(cmd.data), task=task, dims=dims if dims is not None else model.dims)
    except RwmuError as err:
        if dims is None:
            raise RwmuError(
                f"{err} (column widths taken from the world model {cmd.world_model}: {model.dims.describe()})"
            ) from None
        raise
    if dataset.dims != model.dims:
        raise RwmuError(
            f"{cmd.data}: holds {dataset.dims.describe()}, but the world model {cmd.world_model} "
            f"was built for {model.dims.describe()}; evaluate it on data with its columns"
        )
    pre_notes = []
    trained_on = ckpt.get("data") if isinstance(ckpt.get("data"), dict) else None
    if config.split == "heldout" and trained_on and trained_on.get("rows") not in (None, dataset.num_rows):
        pre_notes.append(
            f"the model was trained on {trained_on.get('rows')} rows ({trained_on.get('path')}), this "
            f"data has {dataset.num_rows}; the held-out part is recomputed on this data and is held out "
            "only if this is the training data"
        )
        print(f"note: {pre_notes[-1]}")

    print(
        f"eval-uncertainty: {cmd.world_model} on {cmd.data} ({dataset.num_rows} rows, "
        f"{dataset.num_trajectories} trajectories)"
    )
    evaluation = evaluate_uncertainty(model, dataset, config, train=ckpt.get("train"))
    evaluation.notes[:0] = pre_notes
    write_run_config(
        cmd.out,
        {
            "command": cmd,
            "task": task.name if task is not None else ckpt.get("task"),
            "resolved": {
                "history": evaluation.history,
                "horizon": evaluation.horizon,
                "reduction": evaluation.reduction,
                "split_settings": evaluation.split,
                "windows": int(evaluation.window_starts.size),
            },
        },
    )
    summary = write_report(evaluation, cmd.out, extra={"world_model": str(cmd.world_model), "data": str(cmd.data)})
    print(format_table(summary))
    print(f"results in {cmd.out}")
    return 0
