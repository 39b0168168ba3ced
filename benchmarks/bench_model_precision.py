"""What ``--env.model-precision bfloat16`` costs in accuracy: a trained world model scored on its data twice, with its
matrix products in float32 and in bfloat16 (rwmu.models.fused_step).

For each precision, on the same held-out-style windows of the dataset (rwmu check-model's data column,
rwmu.evaluation.model_check.score_windows): one-step and open-loop relative state error, u (median, 90 % quantile),
predicted falls and contact accuracy. Then the open-loop rollouts of both precisions side by side: how far the
bfloat16 states drift from the float32 ones after ``--horizon`` steps, relative to the float32 model's own error
against the data (``drift / error``: well below 1 means bfloat16 changes the predictions far less than the model is
wrong anyway).

    python benchmarks/bench_model_precision.py results/grid/medium_noise/wm/model_best.pt \\
        results/datasets/medium_noise/dataset.rwmu --horizon 16 64 --json precision.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from rwmu.data.loading import load_dataset
from rwmu.data.windows import gather_windows, pick_windows, window_starts
from rwmu.evaluation.model_check import score_windows
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.models.checkpoint import load_world_model
from rwmu.models.rollout import open_loop_rollout, relative_error
from rwmu.tasks import get_task
from rwmu.utils.io import write_json_atomic

PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("world_model", type=Path)
    p.add_argument("data", type=Path)
    p.add_argument("--task", default="go2_flat")
    p.add_argument("--horizon", type=int, nargs="+", default=[16, 64], help="open-loop horizons [steps]")
    p.add_argument("--windows", type=int, default=1024)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = get_task(args.task)
    model = load_world_model(args.world_model, task=task).eval()
    dataset = load_dataset(str(args.data), task=task)
    results: dict = {"world_model": str(args.world_model), "data": str(args.data), "scores": {}, "drift": {}}
    dims, M = dataset.dims, model.history_horizon
    data = model.normalization.normalize_rows(torch.tensor(np.asarray(dataset.data, dtype=np.float32)), dims)
    for horizon in args.horizon:
        config = ModelCheckConfig(horizon=horizon, windows=args.windows)
        for name, dtype in PRECISIONS.items():
            model.inference_dtype = dtype
            score = score_windows(model, dataset, task, config)
            results["scores"].setdefault(name, {})[horizon] = score
            print(
                f"{name:8s} horizon {horizon:3d}: one-step error {score['one_step_rel_error']:.4f}, open-loop "
                f"error {score['open_loop_rel_error']:.4f}, u p50 {score['u']['p50']:.4f} p90 {score['u']['p90']:.4f}, "
                f"feet contacts {score['contacts']['feet_accuracy']:.4f}",
                flush=True,
            )
        # The two precisions' open-loop states on the windows score_windows drew.
        starts = pick_windows(window_starts(dataset, M + horizon), config.windows, config.seed)
        rows = gather_windows(data, torch.as_tensor(starts), M + horizon)
        rolls = {}
        for name, dtype in PRECISIONS.items():
            model.inference_dtype = dtype
            with torch.no_grad():
                rolls[name] = open_loop_rollout(
                    model, rows[..., dims.state_slice], rows[..., dims.action_slice], horizon
                )
        error = float(relative_error(rolls["float32"].state, rows[:, M:, dims.state_slice])[-1])
        drift = float(relative_error(rolls["bfloat16"].state, rolls["float32"].state)[-1])
        u_drift = float(
            (rolls["bfloat16"].epistemic - rolls["float32"].epistemic).abs().mean()
            / rolls["float32"].epistemic.abs().mean()
        )
        results["drift"][horizon] = {
            "state_drift": drift,
            "float32_error": error,
            "drift_over_error": drift / error,
            "u_mean_abs_drift_relative": u_drift,
        }
        print(
            f"horizon {horizon:3d}: bfloat16 against float32 states {drift:.4f} (float32 against the data {error:.4f}, "
            f"ratio {drift / error:.3f}); u differs by {u_drift:.4f} of its mean",
            flush=True,
        )
    if args.json:
        write_json_atomic(args.json, results)


if __name__ == "__main__":
    main()
