"""A small world model against the paper's, on the same data: accuracy, uncertainty calibration and speed
(docs/performance.md, "A smaller world model").

For each architecture (GRU 1x128, the demo's and the cpu world model of rwmu.recipes; GRU 2x256, paper Table S7), with the
same data, seed, history (M = 16), batch, learning rate and number of iterations:
  1. ``rwmu train-model``: the held-out forecast error (relative L1 at 8 and 32 steps) from its summary;
  2. ``rwmu eval-uncertainty``: how the epistemic uncertainty u tracks the open-loop error on held-out windows
     (Spearman correlation over windows and steps) and the mean error over the 200-step rollouts;
  3. ``benchmarks/bench_world_model.py``: one imagination step (the version ImaginationEnv runs) at 512 and 4096
     environments on this machine.
Writes OUT/table.md and OUT/table.json; resumes (a finished stage is skipped).

    python experiments/world_model_size.py --data results/medium/medium/data/dataset.rwmu --out results/wm_size
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from rwmu.experiments import report as rep
from rwmu.utils.io import write_json_atomic, write_text_atomic

ARCHITECTURES = {"gru_1x128": (128, 1), "gru_2x256": (256, 2)}  # name -> (hidden size, layers)
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_world_model.py"


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--task", default="go2_flat")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--envs", type=int, nargs="+", default=[512, 4096])
    args = p.parse_args()
    rows = []
    for name, (hidden, layers) in ARCHITECTURES.items():
        folder = args.out / name
        model = folder / "wm" / "model_best.pt"
        if not model.is_file():
            run(
                [
                    "rwmu",
                    "train-model",
                    "--task",
                    args.task,
                    "--data",
                    str(args.data),
                    "--out",
                    str(folder / "wm"),
                    "--architecture.history-horizon",
                    "16",
                    "--architecture.rnn-hidden-size",
                    str(hidden),
                    "--architecture.rnn-num-layers",
                    str(layers),
                    "--optim.iterations",
                    str(args.iterations),
                    "--optim.batch-size",
                    "256",
                    "--optim.learning-rate",
                    "1e-3",
                    "--validation.interval",
                    "500",
                    "--validation.windows",
                    "64",
                    "--validation.horizons",
                    "8",
                    "32",
                    "--checkpoint-interval",
                    "500",
                    "--no-progress",
                ]
            )
        uncertainty = folder / "uncertainty" / "summary.json"
        if not uncertainty.is_file():
            run(
                [
                    "rwmu",
                    "eval-uncertainty",
                    "--world-model",
                    str(model),
                    "--data",
                    str(args.data),
                    "--out",
                    str(folder / "uncertainty"),
                    "--task",
                    args.task,
                ]
            )
        speed = folder / "speed.json"
        if not speed.is_file():
            run(
                [
                    sys.executable,
                    str(BENCH),
                    "--batch",
                    "--envs",
                    *map(str, args.envs),
                    "--rnn-hidden-size",
                    str(hidden),
                    "--rnn-num-layers",
                    str(layers),
                    "--json",
                    str(speed),
                ]
            )
        train = json.loads((folder / "wm" / "summary.json").read_text())
        unc = json.loads(uncertainty.read_text())
        mode = unc["modes"].get("mean") or next(iter(unc["modes"].values()))
        bench = json.loads(speed.read_text())
        final = train["final_validation"]
        row = {
            "architecture": name,
            "forecast_rel_error_8": final.get("val/rel_error_at_8"),
            "forecast_rel_error_32": final.get("val/rel_error_at_32"),
            "best_forecast_rel_error": train.get("best_val_rel_error_forecast_mean"),
            "u_error_spearman": mode.get("spearman_all"),
            "rollout_mean_l1": mode.get("mean_l1"),
            "training_windows_per_s": train.get("windows_per_second"),
        }
        for envs in args.envs:
            row[f"imagine_env_steps_per_s_{envs}"] = bench["imagination"][str(envs)]["imagine"]["env_steps_per_second"]
        rows.append(row)
    write_json_atomic(args.out / "table.json", {"data": str(args.data), "iterations": args.iterations, "rows": rows})
    columns = list(rows[0])
    write_text_atomic(
        args.out / "table.md", rep.markdown_table(columns, [[r[c] for c in columns] for r in rows]) + "\n"
    )
    print((args.out / "table.md").read_text())


if __name__ == "__main__":
    main()
