"""Learning curve of a `rwmu train-online` run: the true return of every saved checkpoint, in MuJoCo, against PPO
iterations and training wall time.

    python experiments/expert_curve.py results/go2_expert [--episodes 32] [--seed 0]

Each `model_<k>.pt` is scored on the built-in command schedules (as `rwmu evaluate`, unpenalised reward, no pushes)
once; the result is cached in RUN/checkpoint_eval/model_<k>.json, so re-running scores only new checkpoints (it may
run while training continues). Writes RUN/expert_curve.csv and RUN/expert_curve.png. Wall time at checkpoint k is
the sum of rsl_rl's collection and learning times of iterations 0..k, read from the run's TensorBoard scalars
(Perf/collection_time, Perf/learning_time).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rwmu.evaluation.plots import new_figure, save_figure
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments.report import label_true_return_axes, read_tensorboard_scalars
from rwmu.experiments.sweep_curve import curve_json
from rwmu.training.policy_loader import policy_task
from rwmu.training.runner import saved_checkpoints
from rwmu.utils.io import to_jsonable, write_csv_atomic, write_json_atomic

COLUMNS = (
    "iterations",
    "wall_time_min",
    "true_return_mean",
    "true_return_std",
    "fall_rate",
    "lin_vel_error",
    "yaw_rate_error",
    "checkpoint",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = policy_task(args.run, None)  # the run's own task
    config = EvaluationConfig(episodes=args.episodes, seed=args.seed)
    perf = read_tensorboard_scalars(args.run, ("Perf/collection_time", "Perf/learning_time"))
    (_, collect), (_, learn) = (perf.get(tag, ([], [])) for tag in ("Perf/collection_time", "Perf/learning_time"))
    seconds = np.cumsum(np.add(collect, learn)) if len(collect) == len(learn) else np.array([])
    rows = []
    for k, checkpoint in saved_checkpoints(args.run):
        cached = curve_json(args.run, k)
        if not cached.is_file():
            result = evaluate_policy(str(checkpoint), config, task, progress=False)
            write_json_atomic(cached, {**result, "config": to_jsonable(config)})
        result = json.loads(cached.read_text())
        rows.append(
            {
                "iterations": k + 1,
                "wall_time_min": float(seconds[k]) / 60 if k < len(seconds) else None,
                "true_return_mean": result["return_mean"],
                "true_return_std": result["return_std"],
                "fall_rate": result["fall_rate"],
                "lin_vel_error": result["lin_vel_error_mean"],
                "yaw_rate_error": result["yaw_rate_error_mean"],
                "checkpoint": str(checkpoint),
            }
        )
        print(
            f"model_{k}: return {result['return_mean']:.3f} +- {result['return_std']:.3f}, falls "
            f"{result['fall_rate']:.2f}, lin vel err {result['lin_vel_error_mean']:.3f} m/s"
        )
    write_csv_atomic(args.run / "expert_curve.csv", COLUMNS, rows)
    fig = new_figure(10.0, 4.0)
    for i, (x_key, label) in enumerate(
        (("iterations", "PPO iterations"), ("wall_time_min", "training wall time [min]"))
    ):
        ax = fig.add_subplot(1, 2, i + 1)
        points = [r for r in rows if r[x_key] is not None]
        x = [r[x_key] for r in points]
        mean = np.array([r["true_return_mean"] for r in points])
        std = np.array([r["true_return_std"] for r in points])
        ax.plot(x, mean, marker="o", markersize=3, label="PPO in MuJoCo")
        ax.fill_between(x, mean - std, mean + std, alpha=0.15)
        label_true_return_axes(ax, None, label, "True return of saved checkpoints (+- std over episodes)")
    print(f"wrote {save_figure(fig, args.run / 'expert_curve.png')} and {args.run / 'expert_curve.csv'}")


if __name__ == "__main__":
    main()
