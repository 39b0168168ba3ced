"""Where imagination's reward differs from the simulator's: one policy, both environments, every reward term.

    python experiments/reward_gap.py --world-model WM.pt --data DATA.rwmu --policy POLICY [--steps 512]
        [--num-envs 64] [--episode-length 256] [--json OUT.json]

The policy (anything `rwmu evaluate --policy` takes; deterministic) acts for --steps control steps in the MuJoCo
simulator and in the world model's imagination (the same task, random commands of the task's distribution, pushes
on, episodes of --episode-length steps, resets from the default pose in MuJoCo and from dataset histories in
imagination, no uncertainty penalty). The mean of every reward term per environment step, the task reward and the
share of steps that end in a fall are printed side by side. A term imagination gets wrong for the behaviour-cloned
policy, whose states are the data's, is a bias of the world model that PPO will exploit (docs/results.md
section 6).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import torch

from rwmu.data.loading import load_dataset
from rwmu.envs.imagination import ImaginationConfig, ImaginationEnv
from rwmu.models.checkpoint import load_world_model
from rwmu.sim.env import Go2VecEnv
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.tasks import get_task
from rwmu.tasks.locomotion import TASK_REWARD
from rwmu.training.policy_loader import load_policy


def per_step_means(env, policy, steps: int, terms_of) -> dict[str, float]:
    """Mean over environments and ``steps`` steps of every reward term (``terms_of(env)`` -> name -> (n,)) and of
    the fall indicator."""
    obs = env.get_observations()["policy"]
    sums: dict[str, float] = {}
    falls = 0.0
    with torch.inference_mode():
        for _ in range(steps):
            obs_td, _, dones, extras = env.step(policy.act(obs))
            obs = obs_td["policy"]
            ended = dones.bool()
            policy.reset(torch.nonzero(ended).squeeze(-1))
            falls += float((ended & ~extras["time_outs"].bool()).float().mean())
            for name, value in terms_of(env).items():
                sums[name] = sums.get(name, 0.0) + float(value.float().mean())
    return {**{k: v / steps for k, v in sums.items()}, "falls_per_step": falls / steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--world-model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--policy", required=True)
    parser.add_argument("--task", default="go2_flat")
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--episode-length", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = dataclasses.replace(get_task(args.task), episode_length=args.episode_length)
    policy = load_policy(args.policy, args.num_envs, task, seed=args.seed)

    sim = Go2VecEnv(Go2EnvConfig(num_envs=args.num_envs, seed=args.seed, num_workers=1), task)
    try:
        real = per_step_means(
            sim, policy, args.steps, lambda env: {**env.last_step.terms, TASK_REWARD: env.last_step.reward}
        )
    finally:
        sim.close()
    policy.reset(None)
    model = load_world_model(args.world_model, task=task)
    config = ImaginationConfig(
        num_envs=args.num_envs,
        uncertainty_penalty=0.0,
        standing_fraction=None,
        init_data_ratio=1.0,
        episode_length=args.episode_length,
    )
    imagination = ImaginationEnv(model, load_dataset(args.data, task=task), task, config, seed=args.seed)
    imagined = per_step_means(
        imagination, policy, args.steps, lambda env: {k: v for k, v in env.last_step_terms.items() if k != "total"}
    )
    imagined.pop("uncertainty_penalty", None)

    names = [k for k in real if k in imagined]
    print(f"{'term (mean per env step)':<28}{'simulator':>12}{'imagination':>14}{'gap':>10}")
    for name in names:
        print(f"{name:<28}{real[name]:>12.5f}{imagined[name]:>14.5f}{imagined[name] - real[name]:>10.5f}")
    if args.json:
        args.json.write_text(
            json.dumps({"simulator": real, "imagination": imagined, "args": vars(args)}, indent=1, default=str)
        )


if __name__ == "__main__":
    main()
