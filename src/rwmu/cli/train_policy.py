"""``rwmu train-policy``: MOPO-PPO, a policy trained in the world model's imagination with an uncertainty penalty."""

from __future__ import annotations

import argparse

from rwmu.utils.config import add_dataclass_arguments, dataclass_from_args

DESCRIPTION = """\
Train a locomotion policy with rsl_rl's PPO entirely inside a world model (MOPO-PPO, RWM-U).

Imagined episodes start from histories drawn from --data, are rolled out by --world-model, and earn the task's
reward minus an uncertainty penalty:

    r~ = r - lambda * u * dt        (lambda = --uncertainty-penalty >= 0, u = epistemic uncertainty, dt = 0.02 s)

The reference code writes the same thing as r += weight * u * dt with a NEGATIVE weight: its weight -1.0 is
lambda = 1.0 here (paper's value), weight -5.0 is lambda = 5.0, weight 0 disables the penalty.

Defaults are the paper's (Table S11): 4096 envs, 100 steps per env, 2500 iterations; --preset reference gives the
reference config's 8192 envs, 24 steps, 500 iterations. Any flag given overrides the preset. Writes rsl_rl
checkpoints model_<it>.pt, run_info.json (world model path + SHA-256, normalisation), config.json, TensorBoard logs
and summary.json (imagined_reward, imagined_task_reward: mean reward per env step over the last iteration, with and
without the penalty) to --out.
"""


def register(subparsers) -> None:
    from rwmu.tasks.base import RewardWeights
    from rwmu.training.policy_config import PolicyTrainingConfig

    p = subparsers.add_parser(
        "train-policy",
        help="train a policy with MOPO-PPO in the world model (uncertainty-penalised imagination)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", required=True, help="task name, e.g. anymal_d_flat or go2_flat")
    p.add_argument("--world-model", required=True, help="world-model checkpoint (rwmu train-model or reference .pt)")
    p.add_argument("--data", required=True, nargs="+",
                   help="dataset the imagination starts from: folder of state_action_data_<k>.csv, CSV files or "
                        ".rwmu")  # fmt: skip
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--preset", choices=("paper", "reference"), default=None,
                   help="paper (Table S11; default for new runs) or reference (8192 envs, 24 steps, 500 its)")
    p.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                   help="continue: from the latest model_<it>.pt in --out, or from CHECKPOINT; --iterations is the "
                        "total to reach, stored settings are reused unless overridden")  # fmt: skip
    add_dataclass_arguments(p, PolicyTrainingConfig, skip=("log_window",), title="training settings")
    add_dataclass_arguments(p, RewardWeights, title="reward weights (task terms; reward = sum weight*value*dt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from rwmu.tasks import get_task
    from rwmu.tasks.base import RewardWeights
    from rwmu.training.policy import train_policy
    from rwmu.training.policy_config import PRESETS, PolicyTrainingConfig, config_from_dict

    task = get_task(args.task)
    base = PRESETS[args.preset or "paper"]()
    rewards_base = task.rewards
    stored_path = Path(args.out) / "config.json"
    if args.resume and stored_path.exists() and args.preset is None:
        stored = json.loads(stored_path.read_text())["config"]
        base = config_from_dict(PolicyTrainingConfig, stored["train_policy"])
        stored_rewards = (stored.get("task") or {}).get("rewards")
        if stored_rewards:
            rewards_base = config_from_dict(RewardWeights, stored_rewards)
    config = dataclass_from_args(PolicyTrainingConfig, args, base=base)
    task = dataclasses.replace(task, rewards=dataclass_from_args(RewardWeights, args, base=rewards_base))
    data = args.data[0] if len(args.data) == 1 else list(args.data)
    summary = train_policy(task, args.world_model, data, args.out, config, resume=args.resume)
    print(
        f"imagined reward per step (last iteration): {summary['imagined_reward']:.5f} penalised, "
        f"{summary['imagined_task_reward']:.5f} task only; mean epistemic uncertainty "
        f"{summary['epistemic_uncertainty']:.4f}"
    )
    print(f"policy: {summary['final_checkpoint']}; results in {args.out}")
    return 0
