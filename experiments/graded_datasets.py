"""Graded offline datasets from one `rwmu train-online` run, as in D4RL and RWM-U Table 1: "medium" and "mixed".

    python experiments/graded_datasets.py RUN --out results/datasets [--rows 1000000] [--episodes 32]

1. Every saved checkpoint of RUN is scored in MuJoCo on the built-in command schedules of the run's own task (as
   `rwmu evaluate`, unpenalised reward, no pushes; cached in RUN/checkpoint_eval/model_<k>.json, shared with
   expert_curve.py), and so are standing still (zero actions) and the shipped expert of that task, to give each
   checkpoint its normalised score. Where rwmu ships no expert for the task yet (go2_flat_deploy), the run's own
   expert (step 2) is the 1 of the score.
2. The run's own expert is its best checkpoint without falls. *medium* is the checkpoint before it whose normalised
   score is closest to 0.5 (halfway between standing and the shipped expert); *mixed* takes every checkpoint from 0
   to the run's expert, every --mixed-stride iterations: PPO replay across training stages.
3. Each dataset is recorded by the `rwmu collect` command printed beside it (skipped when OUT/<name>/dataset.rwmu
   exists, so a stopped run resumes).
4. OUT/datasets.csv, OUT/datasets.json and OUT/datasets.md: per dataset the command, the behaviour policies'
   evaluated return and normalised score (for mixed, the mean over its checkpoints, each weighted by its rows), and
   the data's own figures: rows, episodes, falls, the mean return of its episodes, speed coverage.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import torch

from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments.sweep_curve import curve_json
from rwmu.training.policy_loader import policy_task, shipped_expert
from rwmu.training.runner import saved_checkpoints
from rwmu.utils.io import to_jsonable, write_csv_atomic, write_json_atomic

COLUMNS = (
    "dataset",
    "checkpoints",
    "behaviour_return",
    "behaviour_normalized_score",
    "behaviour_fall_rate",
    "rows",
    "episodes",
    "falls",
    "fall_rate",
    "episode_return",
    "speed_xy_mean",
    "speed_xy_p90",
    "share_speed_ge_0.5",
    "yaw_rate_p90",
    "lin_vel_error",
    "command",
)


def scored(spec: str, config: EvaluationConfig, cache: Path, task) -> dict:
    """``rwmu evaluate`` of ``spec`` under ``config`` (no normalised score), cached in ``cache``."""
    wanted = to_jsonable(config)
    if cache.is_file():
        result = json.loads(cache.read_text())
        if result.get("config") == wanted:
            return result
    result = {**evaluate_policy(spec, config, task, progress=False), "config": wanted}
    write_json_atomic(cache, result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="folder of an rwmu train-online run")
    parser.add_argument("--out", type=Path, default=Path("results/datasets"))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per dataset")
    parser.add_argument("--episodes", type=int, default=32, help="evaluation episodes per checkpoint")
    parser.add_argument("--seed", type=int, default=0, help="seed of the evaluations and of the collection")
    parser.add_argument("--mixed-stride", type=int, default=50, help="iterations between the mixed checkpoints")
    parser.add_argument("--num-envs", type=int, default=64, help="rwmu collect --num-envs")
    parser.add_argument("--num-workers", type=int, default=2, help="rwmu collect --num-workers")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = policy_task(args.run, None)
    config = EvaluationConfig(episodes=args.episodes, seed=args.seed, score_reference=None)
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. Scores: every checkpoint, standing still, the shipped expert of the task (else the run's own expert).
    evals = {k: scored(str(c), config, curve_json(args.run, k), task) for k, c in saved_checkpoints(args.run)}
    if not evals:
        sys.exit(f"{args.run}: no model_<k>.pt checkpoints")
    safe = [k for k, r in evals.items() if r["fall_rate"] == 0] or list(evals)
    top = max(safe, key=lambda k: evals[k]["return_mean"])
    zero = scored("zero", config, args.out / "reference_zero.json", task)["return_mean"]
    shipped = shipped_expert(task.name) is not None
    expert = (
        scored("expert", config, args.out / "reference_expert.json", task)["return_mean"]
        if shipped
        else evals[top]["return_mean"]
    )
    for k, result in evals.items():
        result["normalized_score"] = (result["return_mean"] - zero) / (expert - zero)
        print(
            f"model_{k}: return {result['return_mean']:.3f}, normalised {result['normalized_score']:.2f}, "
            f"fall rate {result['fall_rate']:.2f}"
        )

    # 2. The run's expert, medium and mixed.
    medium = min((k for k in evals if k < top), key=lambda k: abs(evals[k]["normalized_score"] - 0.5))
    mixed = [k for k in evals if k <= top and k % args.mixed_stride == 0]
    print(f"run expert: model_{top}; medium: model_{medium}; mixed: {len(mixed)} checkpoints 0..{mixed[-1]}")

    # 3. Collect.
    rwmu = str(Path(sys.executable).parent / "rwmu")
    common = [
        "--task",
        task.name,
        "--steps",
        str(args.rows),
        "--num-envs",
        str(args.num_envs),
        "--num-workers",
        str(args.num_workers),
        "--seed",
        str(args.seed),
        "--format",
        "rwmu",
        "--no-progress",
    ]
    plans = {
        "medium": ([medium], ["--policy", str(args.run / f"model_{medium}.pt")]),
        "mixed": (mixed, ["--policy", str(args.run), "--checkpoints", f"0:{mixed[-1]}:{args.mixed_stride}"]),
    }
    rows = []
    for name, (ks, policy_args) in plans.items():
        folder = args.out / name
        command = ["rwmu", "collect", *policy_args, *common, "--out", str(folder)]
        if not (folder / "dataset.rwmu").is_file():
            print("$", " ".join(command), flush=True)
            subprocess.run([rwmu, *command[1:]], check=True)
        stats = json.loads((folder / "collect_stats.json").read_text())
        segments = stats.get("segments") or [{"checkpoint_iteration": ks[0], "rows": [0, stats["rows"]]}]
        weights = {s["checkpoint_iteration"]: s["rows"][1] - s["rows"][0] for s in segments}
        total = sum(weights.values())

        def weighted(key: str) -> float:
            return sum(evals[k][key] * w for k, w in weights.items()) / total  # noqa: B023

        coverage = stats["speed_coverage"]["measured"]
        share = coverage["speed_xy"]["share"]
        rows.append(
            {
                "dataset": name,
                "checkpoints": " ".join(f"model_{k}" for k in ks),
                "behaviour_return": weighted("return_mean"),
                "behaviour_normalized_score": weighted("normalized_score"),
                "behaviour_fall_rate": weighted("fall_rate"),
                "rows": stats["rows"],
                "episodes": stats["episodes"],
                "falls": stats["terminations"],
                "fall_rate": stats["terminations"] / max(stats["episodes"], 1),
                "episode_return": stats["episode_return_mean"],
                "speed_xy_mean": coverage["speed_xy"]["mean"],
                "speed_xy_p90": coverage["speed_xy"]["p90"],
                "share_speed_ge_0.5": share["0.5-0.75"] + share["0.75-1"] + share[">=1"],
                "yaw_rate_p90": coverage["yaw_rate"]["p90"],
                "lin_vel_error": stats["mean_lin_vel_error"],
                "command": " ".join(command),
            }
        )

    # 4. Tables.
    write_csv_atomic(args.out / "datasets.csv", COLUMNS, rows)
    write_json_atomic(
        args.out / "datasets.json",
        {
            "run": str(args.run),
            "task": task.name,
            "references": {"zero": zero, "expert": expert, "expert_is": "shipped" if shipped else f"model_{top}"},
            "run_expert": top,
            "evaluation": dataclasses.asdict(config) | {"schedules": list(config.schedules)},
            "datasets": rows,
            "checkpoints": {
                k: {key: evals[k][key] for key in ("return_mean", "normalized_score", "fall_rate")} for k in evals
            },
        },
    )
    lines = [
        "| dataset | behaviour policies | behaviour return (normalised) | rows | episodes | falls | episode "
        "return in the data | mean speed, p90 [m/s] | rows at >= 0.5 m/s | tracking error [m/s] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        policies = r["checkpoints"] if len(r["checkpoints"]) < 40 else f"{len(r['checkpoints'].split())} checkpoints"
        lines.append(
            f"| {r['dataset']} | {policies} | {r['behaviour_return']:.2f} ({r['behaviour_normalized_score']:.2f}) | "
            f"{r['rows']:,} | {r['episodes']:,} | {r['falls']:,} ({100 * r['fall_rate']:.1f}%) | "
            f"{r['episode_return']:.2f} | {r['speed_xy_mean']:.2f}, {r['speed_xy_p90']:.2f} | "
            f"{100 * r['share_speed_ge_0.5']:.0f}% | {r['lin_vel_error']:.3f} |"
        )
    (args.out / "datasets.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {args.out / 'datasets.csv'}, {args.out / 'datasets.json'} and {args.out / 'datasets.md'}")


if __name__ == "__main__":
    main()
