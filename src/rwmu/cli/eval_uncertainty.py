"""``rwmu eval-uncertainty``: does the world model's epistemic uncertainty track its open-loop prediction error?

    rwmu eval-uncertainty --world-model RUN/model_best.pt --data DATA --out DIR [--task T | --dims S,A,E,C,T]
        [--windows 32] [--horizon 200] [--history M] [--seed 0] [--split heldout|all]
        [--val-fraction F --block-length L --split-seed K] [--calibration-bins 10] [--reduction std_sum|var_sum]

The SPEC section 8 protocol (see :mod:`rwmu.evaluation.uncertainty`) on held-out windows, in both rollout modes
(ensemble mean, sampled member). Writes to ``--out``:

* ``summary.json``: ``world_model``, ``data``, ``protocol``, ``split``, ``split_settings`` (val_fraction,
  block_length, seed, train_window, source), ``windows``, ``history``, ``horizon``, ``requested_horizon``, ``seed``,
  ``reduction``, ``ensemble_size``, ``state_dim``, ``error``, ``window_starts``, ``no_change`` (final_l1, mean_l1,
  mean_rel_error), ``modes`` -> ``mean`` / ``sampled_member`` -> (pearson_all, pearson_step_averaged, spearman_all,
  spearman_step_averaged, final_l1, final_l1_std, final_epistemic, final_aleatoric, mean_l1, mean_epistemic,
  mean_aleatoric, mean_rel_error, final_rel_error, calibration [lower, upper, count, uncertainty_mean, error_mean,
  error_std per bin], member_ids), ``notes``, ``files``. Non-finite numbers are null.
* ``uncertainty_error_by_step.csv``: step, mode, l1_mean, epistemic_mean, aleatoric_mean, rel_error, l1_std,
  epistemic_std.
* ``uncertainty_error_points.csv``: mode, window, start_row, step, l1, epistemic, aleatoric.
* ``uncertainty_error_by_step_<mode>.png``, ``uncertainty_error_scatter_<mode>.png``, ``uncertainty_calibration.png``.
* ``config.json``: resolved settings and versions.
"""

from __future__ import annotations

import argparse

from rwmu.cli.common import add_task_arguments, resolve_task_and_dims
from rwmu.utils.config import add_dataclass_arguments, dataclass_from_args


def register(subparsers) -> None:
    from rwmu.evaluation.uncertainty import UncertaintyEvalConfig

    p = subparsers.add_parser(
        "eval-uncertainty",
        help="does the world model's uncertainty track its rollout error? (held-out data, SPEC section 8)",
        description="Condition the world model on M ground-truth steps of held-out windows, roll it out open loop "
        "for H steps under the recorded actions (ensemble mean and sampled member), and relate its epistemic "
        "uncertainty to its L1 error: Pearson/Spearman over all points and step-averaged, final-step values, "
        "calibration bins. Writes summary.json, per-step and per-point CSVs and PNG plots to --out.",
    )
    p.add_argument("--world-model", required=True, help="world-model checkpoint (rwmu or reference format)")
    p.add_argument("--data", required=True, help="dataset: a folder of state_action_data_<k>.csv, a CSV or .rwmu file")
    p.add_argument("--out", required=True, help="output folder")
    add_task_arguments(p)
    add_dataclass_arguments(p, UncertaintyEvalConfig, title="evaluation settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from rwmu.data.dataset import load_dataset
    from rwmu.errors import RwmuError
    from rwmu.evaluation.uncertainty import (
        UncertaintyEvalConfig,
        evaluate_uncertainty,
        format_table,
        write_report,
    )
    from rwmu.models.checkpoint import load_world_model
    from rwmu.utils.io import write_run_config

    config = dataclass_from_args(UncertaintyEvalConfig, args)
    config.check()
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {config.device}: no CUDA device is available here; use --device cpu")
    task, dims = resolve_task_and_dims(args)
    model, ckpt = load_world_model(args.world_model, device=config.device, task=task, return_checkpoint=True)
    if dims is not None and dims != model.dims:
        raise RwmuError(f"--task/--dims give {dims.describe()}, but the world model {args.world_model} was built for "
                        f"{model.dims.describe()}")  # fmt: skip
    try:  # CSV data without --task/--dims is read with the model's column widths
        dataset = load_dataset(args.data, task=task, dims=dims if dims is not None else model.dims)
    except RwmuError as err:
        if dims is None:
            raise RwmuError(f"{err} (column widths taken from the world model {args.world_model}: "
                            f"{model.dims.describe()})") from None  # fmt: skip
        raise
    if dataset.dims != model.dims:
        raise RwmuError(f"{args.data}: holds {dataset.dims.describe()}, but the world model {args.world_model} "
                        f"was built for {model.dims.describe()}; evaluate it on data with its columns")  # fmt: skip
    pre_notes = []
    trained_on = ckpt.get("data") if isinstance(ckpt.get("data"), dict) else None
    if config.split == "heldout" and trained_on and trained_on.get("rows") not in (None, dataset.num_rows):
        pre_notes.append(f"the model was trained on {trained_on.get('rows')} rows ({trained_on.get('path')}), this "
                         f"data has {dataset.num_rows}; the held-out part is recomputed on this data and is held out "
                         "only if this is the training data")  # fmt: skip
        print(f"note: {pre_notes[-1]}")

    print(f"eval-uncertainty: {args.world_model} on {args.data} ({dataset.num_rows} rows, "
          f"{dataset.num_trajectories} trajectories)")  # fmt: skip
    evaluation = evaluate_uncertainty(model, dataset, config, train=ckpt.get("train"))
    evaluation.notes[:0] = pre_notes
    write_run_config(args.out, {
        "eval_uncertainty": config, "world_model": args.world_model, "data": args.data,
        "task": task.name if task is not None else ckpt.get("task"),
        "resolved": {"history": evaluation.history, "horizon": evaluation.horizon, "reduction": evaluation.reduction,
                     "split_settings": evaluation.split, "windows": int(evaluation.window_starts.size)},
    })  # fmt: skip
    summary = write_report(evaluation, args.out, extra={"world_model": str(args.world_model), "data": str(args.data)})
    print(format_table(summary))
    print(f"results in {args.out}")
    return 0
