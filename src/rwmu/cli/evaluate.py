"""``rwmu evaluate``: score a policy in the MuJoCo Go2 simulator on the unpenalised task reward.

    rwmu evaluate --task go2_flat --policy PATH|scripted --episodes 16 --seed 0 [--json FILE] [--video FILE.mp4]

Prints a table (return mean +- std, per-term returns, falls, episode length, tracking errors, per command
schedule) and optionally writes the same as JSON (top-level ``return_mean``, ``return_std``, ``episodes``,
``terms``, ...). ``--video`` renders environment 0 offscreen (needs MUJOCO_GL=egl or osmesa).
"""

from __future__ import annotations

import argparse


# Names of rwmu.evaluation.simulator.COMMAND_SCHEDULES (kept here so that `rwmu --help` imports nothing heavy).
SCHEDULE_NAMES = ("forward_0.5", "forward_1.0", "backward_0.5", "lateral_0.5", "turn_1.0", "arc", "stand", "mixed")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a policy in the MuJoCo Go2 simulator (true, unpenalised reward)",
        description="Run a policy under fixed command schedules in MuJoCo and report its unpenalised return, "
        "per-term returns, falls, episode length and velocity-tracking errors.",
    )
    parser.add_argument("--task", default="go2_flat", help="simulated task (only go2_flat has a simulator)")
    parser.add_argument(
        "--policy", required=True, help="'scripted', an .onnx export, a TorchScript policy or an rsl_rl checkpoint .pt"
    )
    parser.add_argument("--episodes", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, metavar="FILE", help="write the results as JSON")
    parser.add_argument("--video", default=None, metavar="FILE", help="render env 0 to FILE (.mp4 or .gif)")
    parser.add_argument("--video-steps", type=int, default=None, metavar="N",
                        help="render only the first N control steps (default: the whole episode)")  # fmt: skip
    parser.add_argument("--max-envs", type=int, default=16, help="episodes simulated in parallel")
    parser.add_argument("--workers", type=int, default=1, help="processes stepping MuJoCo")
    parser.add_argument("--pushes", action="store_true", help="apply random velocity kicks during evaluation")
    parser.add_argument("--schedules", default=",".join(SCHEDULE_NAMES),
                        help=f"comma-separated command schedules, cycled over episodes "
                             f"(default: all of {', '.join(SCHEDULE_NAMES)})")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from rwmu.errors import RwmuError
    from rwmu.tasks import get_task

    task = get_task(args.task)
    if task.name != "go2_flat":
        raise RwmuError(f"--task {task.name}: no simulator for this task; rwmu evaluate simulates go2_flat only")
    if args.max_envs < 1 or args.workers < 1:
        raise RwmuError("--max-envs and --workers must be >= 1")
    if args.video and "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
        os.environ["MUJOCO_GL"] = "egl"  # headless: offscreen EGL (must be set before mujoco is imported)

    from rwmu.evaluation.simulator import EvaluationConfig, evaluate_policy, format_table
    from rwmu.utils.io import write_json_atomic

    schedules = tuple(s.strip() for s in args.schedules.split(",") if s.strip())
    config = EvaluationConfig(episodes=args.episodes, seed=args.seed, max_envs=args.max_envs,
                              num_workers=args.workers, pushes=args.pushes, schedules=schedules)  # fmt: skip
    result = evaluate_policy(args.policy, config, task, video_path=args.video, progress=not args.quiet,
                             video_steps=args.video_steps)  # fmt: skip
    result["policy"] = args.policy
    print(format_table(result))
    if args.json:
        from rwmu.utils.io import run_metadata, to_jsonable

        write_json_atomic(args.json, {**result, "config": to_jsonable(config), "meta": run_metadata()})
        print(f"wrote {args.json}")
    if args.video:
        print(f"wrote {args.video}")
    return 0
