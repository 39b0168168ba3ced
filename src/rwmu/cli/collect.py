"""``rwmu collect``: record an offline dataset by running a behaviour policy in the MuJoCo Go2 simulator.

    rwmu collect --task go2_flat --steps 100000 --policy scripted --seed 0 --out data/go2 [--format csv|rwmu]
                 [--num-envs 64] [--workers 2] [--no-pushes] [--randomize]

Writes ``DIR/state_action_data_<k>.csv`` (``--format csv``, the reference convention) or ``DIR/dataset.rwmu``
(``--format rwmu``), plus ``DIR/config.json`` (resolved settings and versions) and ``DIR/collect_stats.json``
(falls, tracking errors, mean reward). The data is identical for a seed, policy and ``--num-envs``, whatever
``--workers``.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator",
        description="Run a behaviour policy (the scripted trotting controller, or a policy file) in N simulated "
        "Go2s and write the trajectories in the reference CSV convention or the native .rwmu format.",
    )
    parser.add_argument("--task", default="go2_flat", help="simulated task (only go2_flat has a simulator)")
    parser.add_argument("--steps", type=int, required=True, help="dataset rows to record")
    parser.add_argument("--min-trajectory-rows", type=int, default=64,
                        help="shorter trajectories (pieces cut off when collection stops) are not written, so each "
                             "holds a training window (default 64 > M + N = 40)")  # fmt: skip
    parser.add_argument("--policy", default="scripted",
                        help="'scripted' (trotting controller with per-episode gait diversity and action noise), "
                             "an .onnx export, a TorchScript policy or an rsl_rl checkpoint")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--format", choices=("csv", "rwmu"), default="csv",
                        help="csv: state_action_data_<k>.csv files; rwmu: DIR/dataset.rwmu")  # fmt: skip
    parser.add_argument("--num-envs", type=int, default=64, help="environments simulated together")
    parser.add_argument("--workers", type=int, default=1, help="processes stepping MuJoCo (2 uses both cores)")
    parser.add_argument("--no-pushes", action="store_true", help="disable the random velocity kicks")
    parser.add_argument("--randomize", action="store_true",
                        help="domain randomisation per env: friction, added base mass, motor strength")  # fmt: skip
    parser.add_argument("--action-noise", type=float, default=None, metavar="STD",
                        help="Gaussian action-noise std (action units). Scripted policy: the same std in every "
                             "episode instead of a per-episode draw in [0, 0.3]; policy files: added to their "
                             "deterministic actions (default none)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import time
    from pathlib import Path

    from rwmu.errors import RwmuError
    from rwmu.tasks import get_task

    task = get_task(args.task)
    if task.name != "go2_flat":
        raise RwmuError(f"--task {task.name}: no simulator for this task; rwmu collect simulates go2_flat only")
    if args.steps < 1:
        raise RwmuError(f"--steps must be >= 1, got {args.steps}")
    if args.num_envs < 1 or args.workers < 1:
        raise RwmuError("--num-envs and --workers must be >= 1")

    from rwmu.behavior import TrotConfig, TrotDiversity
    from rwmu.data.dataset import save_dataset
    from rwmu.data.writer import write_csv_dataset
    from rwmu.evaluation.simulator import load_policy
    from rwmu.sim.collect import CollectConfig, NoisyPolicy, collect_dataset
    from rwmu.sim.env import DomainRandomizationConfig
    from rwmu.utils.io import file_sha256, write_json_atomic, write_run_config

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise RwmuError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and (any(out.glob("state_action_data_*.csv")) or (out / "dataset.rwmu").exists()):
        raise RwmuError(f"--out {out}: already holds a dataset (state_action_data_*.csv or dataset.rwmu); "
                        f"choose an empty folder")
    config = CollectConfig(
        steps=args.steps, min_trajectory_rows=args.min_trajectory_rows, num_envs=args.num_envs, num_workers=args.workers, seed=args.seed,
        pushes=not args.no_pushes, randomization=DomainRandomizationConfig(enabled=args.randomize),
    )  # fmt: skip
    scripted = None
    if args.policy == "scripted":
        diversity = TrotDiversity()
        if args.action_noise is not None:
            diversity = dataclasses.replace(diversity, action_noise_std=(args.action_noise, args.action_noise))
        scripted = TrotConfig(diversity=diversity, seed=args.seed + 1)
    policy = load_policy(args.policy, config.num_envs, task, seed=args.seed, scripted_config=scripted)
    if args.policy != "scripted" and args.action_noise:
        policy = NoisyPolicy(policy, args.action_noise, seed=args.seed + 1)
    provenance = {
        "policy": args.policy if args.policy == "scripted" else str(Path(args.policy).resolve()),
        "policy_sha256": None if args.policy == "scripted" else file_sha256(args.policy),
        "seed": args.seed, "num_envs": args.num_envs, "pushes": config.pushes, "randomization": args.randomize,
        "scripted_config": dataclasses.asdict(scripted) if scripted else None, "action_noise": args.action_noise,
    }  # fmt: skip
    start = time.perf_counter()
    dataset, stats = collect_dataset(policy, config, task, provenance=provenance, progress=not args.quiet)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    if args.format == "csv":
        write_csv_dataset(dataset, out)
        written = f"{dataset.num_trajectories} files state_action_data_<k>.csv"
    else:
        save_dataset(dataset, out / "dataset.rwmu")
        written = "dataset.rwmu"
    write_run_config(out, {"collect": config, "task": task.name, "policy": args.policy, "format": args.format,
                           "scripted": scripted})  # fmt: skip
    write_json_atomic(out / "collect_stats.json", {**stats.as_dict(), "seconds": seconds})
    print(f"{dataset.summary()}")
    print(f"falls {stats.falls}, time-outs {stats.time_outs}, mean |v_xy error| {stats.mean_lin_vel_error:.3f} m/s, "
          f"mean |yaw-rate error| {stats.mean_yaw_rate_error:.3f} rad/s, mean step reward {stats.mean_step_reward:.4f}")
    print(f"wrote {written} to {out} in {seconds:.1f} s ({dataset.num_rows / max(seconds, 1e-9):.0f} rows/s)")
    return 0
