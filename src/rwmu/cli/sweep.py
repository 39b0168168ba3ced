"""``rwmu sweep``: MOPO-PPO over lambda x seeds, each policy scored in MuJoCo on the unpenalised reward.

    rwmu sweep --world-model WM.pt --data DATA --out DIR [--lambdas 0,0.5,1,2,5] [--seeds 0,1,2] [--jobs 2]
               [--iterations N] [--num-envs N] [--steps-per-env N] [--preset paper|reference] [--episodes 16]
               [--train-args "--dynamics mean ..."] [--curve] [--report-only]

Runs ``rwmu train-policy`` then ``rwmu evaluate`` per (lambda, seed) as subprocesses, --jobs side by side, in
DIR/runs/lam<lambda>_seed<seed>/ (log.txt there). Writes DIR/sweep.csv (per run), DIR/sweep.json (per run and
mean/std over seeds per lambda, behaviour controller's return), DIR/sweep.png (true return vs lambda with std
error bars; imagined rewards) and DIR/sweep.md. Re-running continues: finished runs (summary.json and
evaluation.json present) are skipped, interrupted ones resume from their last checkpoint, and a larger
--iterations continues finished runs to the new total. --curve also scores every saved checkpoint (true return
against PPO iterations: DIR/sweep_curve.csv, DIR/sweep_curve.png).
"""

from __future__ import annotations

import argparse


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep",
        help="MOPO-PPO over a grid of lambda and seeds; true (MuJoCo) return vs lambda",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--world-model", required=True, help="world-model checkpoint")
    p.add_argument("--data", required=True, help="dataset the imagination starts from")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep folder (re-run to continue)")
    p.add_argument("--task", default="go2_flat", help="task (MuJoCo evaluation exists for go2_flat)")
    p.add_argument("--lambdas", type=_floats, default=(0.0, 0.5, 1.0, 2.0, 5.0), help="default 0,0.5,1,2,5")
    p.add_argument("--seeds", type=_ints, default=(0, 1, 2), help="default 0,1,2")
    p.add_argument("--jobs", type=int, default=1, help="runs side by side (CPU threads are split between them)")
    p.add_argument("--episodes", type=int, default=16, help="MuJoCo evaluation episodes per policy")
    p.add_argument("--eval-seed", type=int, default=0, help="seed of the evaluation episodes (same for all)")
    p.add_argument("--no-behavior", action="store_true", help="do not evaluate the scripted behaviour controller")
    p.add_argument("--report-only", action="store_true",
                   help="write sweep.csv/json/png/md (and the curve) from the runs finished so far; run nothing")
    p.add_argument("--curve", action="store_true",
                   help="also score every saved checkpoint in MuJoCo: true return against PPO iterations "
                        "(sweep_curve.csv, sweep_curve.png)")  # fmt: skip
    g = p.add_argument_group("policy training (passed to rwmu train-policy)")
    g.add_argument("--preset", choices=("paper", "reference"), default=None)
    g.add_argument("--iterations", type=int, default=None)
    g.add_argument("--num-envs", type=int, default=None)
    g.add_argument("--steps-per-env", type=int, default=None)
    g.add_argument("--device", default=None)
    g.add_argument("--train-args", default="", metavar="'FLAGS'",
                   help="any further rwmu train-policy flags, one quoted string, e.g. '--dynamics mean'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import shlex

    from rwmu.experiments.sweep import SweepConfig, run_sweep

    train_args: list[str] = []
    for flag, value in (("--preset", args.preset), ("--iterations", args.iterations),
                        ("--num-envs", args.num_envs), ("--steps-per-env", args.steps_per_env),
                        ("--device", args.device)):  # fmt: skip
        if value is not None:
            train_args += [flag, str(value)]
    train_args += shlex.split(args.train_args)
    config = SweepConfig(world_model=args.world_model, data=args.data, lambdas=args.lambdas, seeds=args.seeds,
                         jobs=args.jobs, task=args.task, episodes=args.episodes, eval_seed=args.eval_seed,
                         behavior=not args.no_behavior, train_args=tuple(train_args),
                         curve=args.curve, report_only=args.report_only)  # fmt: skip
    run_sweep(args.out, config)
    return 0
