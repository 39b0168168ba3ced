"""``rwmu play-imagination``: roll a trained policy in the world model and print its per-term returns."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "play-imagination",
        help="roll a policy in the world model and print per-term imagined returns",
        description="Roll a policy trained by rwmu train-policy inside a world model and print, for every reward "
        "term, the uncertainty penalty, the task reward and the total, the return per env over the rollout and the "
        "mean per step. Task, world model and data default to those recorded in the policy checkpoint.",
    )
    p.add_argument("--policy", required=True, help="policy checkpoint model_<iteration>.pt")
    p.add_argument("--world-model", default=None, help="world-model checkpoint (default: the one trained with)")
    p.add_argument("--data", default=None, nargs="+", help="dataset for starting histories (default: the training's)")
    p.add_argument("--task", default=None, help="task (default: the policy's, with its reward weights)")
    p.add_argument("--steps", type=int, default=256, help="control steps per env (default: 256)")
    p.add_argument("--num-envs", type=int, default=256, help="parallel imagined envs (default: 256)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    p.add_argument("--uncertainty-penalty", type=float, default=None,
                   help="lambda >= 0 for the penalty column, r~ = r - lambda*u*dt (default: the training's)")
    p.add_argument("--dynamics", choices=("member", "mean"), default=None,
                   help="member (reference) or mean (paper Eq. 4) (default: the training's)")  # fmt: skip
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of using the policy mean")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the result as JSON to PATH")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from rwmu.data.dataset import load_dataset
    from rwmu.envs.imagination import ImaginationEnv
    from rwmu.errors import RwmuError
    from rwmu.models.checkpoint import load_world_model
    from rwmu.tasks import get_task
    from rwmu.tasks.base import RewardWeights
    from rwmu.training.export import load_actor
    from rwmu.training.policy_config import PolicyTrainingConfig, config_from_dict
    from rwmu.training.policy_play import format_play_report, play_policy
    from rwmu.utils.io import write_json_atomic

    if args.steps < 1 or args.num_envs < 1:
        raise RwmuError("--steps and --num-envs must be >= 1")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {args.device}: no CUDA device is available here; use --device cpu")
    actor, info = load_actor(args.policy, device=args.device)
    task = get_task(args.task or info["task"])
    if args.task is None and info.get("reward_weights"):
        task = dataclasses.replace(task, rewards=config_from_dict(RewardWeights, info["reward_weights"]))
    if task.observation_dim != int(info["observation_dim"]):
        raise RwmuError(f"--task {task.name} has {task.observation_dim} observations, the policy takes "
                        f"{info['observation_dim']}")  # fmt: skip
    world_model = args.world_model or info["world_model"]["path"]
    data = args.data or info["data"]
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    trained = config_from_dict(PolicyTrainingConfig, info.get("config") or {})
    env_cfg = dataclasses.replace(
        trained.env,
        num_envs=args.num_envs,
        uncertainty_penalty=(args.uncertainty_penalty if args.uncertainty_penalty is not None
                             else trained.env.uncertainty_penalty),  # fmt: skip
        dynamics=args.dynamics or trained.env.dynamics,
        log_window=args.steps,
    )
    model = load_world_model(world_model, device=args.device, task=task)
    dataset = load_dataset(data, task=task)
    torch.manual_seed(args.seed)
    env = ImaginationEnv(model, dataset, task, env_cfg, device=args.device, seed=args.seed)
    result = play_policy(env, actor, args.steps, stochastic=args.stochastic, progress=True)
    result.update({"policy": str(args.policy), "world_model": str(world_model), "task": task.name,
                   "uncertainty_penalty": env_cfg.uncertainty_penalty, "dynamics": env_cfg.dynamics})  # fmt: skip
    print(format_play_report(result))
    if args.json:
        write_json_atomic(args.json, result)
    return 0
