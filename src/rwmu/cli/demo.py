"""``rwmu demo``: the whole pipeline end to end on a small Go2 problem (CPU, about 10 minutes on 2 cores).

    rwmu demo --out DIR [--preset demo|paper|tiny] [--collect-steps N] [--model-iterations N] [--lambdas 1,0] ...

Collects data with the scripted controller in MuJoCo, trains a world model, evaluates its uncertainty against its
error, trains MOPO-PPO at each lambda, scores every policy and the behaviour controller in MuJoCo on the
unpenalised reward, and writes DIR/report.md (+ PNG plots) and DIR/report.json. Re-running with the same --out
continues: stages whose outputs exist are skipped. Every stage's size is a flag; --preset paper sets the paper's.
"""

from __future__ import annotations

import argparse

from rwmu.utils.config import add_dataclass_arguments, dataclass_from_args


def register(subparsers) -> None:
    from rwmu.experiments.demo import DemoConfig

    p = subparsers.add_parser(
        "demo",
        help="end-to-end demo: collect Go2 data, world model, uncertainty check, MOPO-PPO at lambda 1 and 0, "
        "MuJoCo evaluation, report",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, metavar="DIR", help="report folder (re-run to continue)")
    p.add_argument("--preset", choices=("demo", "paper", "tiny"), default="demo",
                   help="demo: ~10 min on 2 CPU cores (default); paper: the paper's settings for every stage (hours; "
                        "GPU advised); tiny: under a minute, checks the pipeline only. Flags override it.")  # fmt: skip
    add_dataclass_arguments(p, DemoConfig, title="stage sizes (defaults of --preset demo)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rwmu.experiments.demo import PRESETS, run_demo

    config = dataclass_from_args(type(PRESETS[args.preset]()), args, base=PRESETS[args.preset]())
    run_demo(args.out, config)
    return 0
