"""``rwmu train-model``: train an uncertainty-aware world model on an offline dataset."""

from __future__ import annotations

import argparse

from rwmu.cli.common import add_task_arguments, resolve_task_and_dims
from rwmu.utils.config import add_dataclass_arguments, config_from_dict, dataclass_from_args


def register(subparsers) -> None:
    from rwmu.training.world_model_config import TrainModelConfig

    p = subparsers.add_parser(
        "train-model",
        help="train a world model (ensemble, uncertainty) on a dataset",
        description="Train the RWM-U world model on a dataset (SPEC section 5 objective, paper Table S10 defaults). "
        "Writes model_latest.pt, model_best.pt, checkpoints/, tensorboard/, config.json and summary.json to --out.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--data", required=True, help="dataset: a folder of state_action_data_<k>.csv, CSV files, or .rwmu")
    p.add_argument("--out", required=True, help="output folder")
    add_task_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue from --out/model_latest.pt")
    add_dataclass_arguments(p, TrainModelConfig, title="training settings")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rwmu.data.dataset import load_dataset
    from rwmu.errors import RwmuError
    from rwmu.training.world_model import WorldModelTrainer
    from rwmu.training.world_model_config import TrainModelConfig

    task, dims = resolve_task_and_dims(args)
    config = dataclass_from_args(TrainModelConfig, args)
    if args.resume:
        import json
        from pathlib import Path

        cfg_path = Path(args.out) / "config.json"
        if cfg_path.exists():  # flags given now override the stored run's settings
            stored = json.loads(cfg_path.read_text())["config"]["train_model"]
            config = dataclass_from_args(TrainModelConfig, args, base=config_from_dict(TrainModelConfig, stored))
    data_paths = args.data
    window = config.architecture.history_horizon + config.optim.forecast_horizon
    dataset = load_dataset(data_paths, task=task, dims=dims, min_rows=window)
    if task is None and dataset.meta.get("task"):
        from rwmu.tasks import get_task

        try:
            task = get_task(dataset.meta["task"])
        except RwmuError:
            task = None
    trainer = WorldModelTrainer(dataset, task, args.out, config, resume=args.resume, data_path=str(args.data))
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
    print(f"results in {args.out}")
    return 0

