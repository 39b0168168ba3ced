"""The PPO update of one iteration on CPU: rsl_rl's ``PPO.update`` against rwmu's ``ChunkedPPO.update`` at several
chunk sizes (rwmu.training.chunked_ppo; docs/performance.md, "A PPO iteration").

Each variant is a fresh algorithm built as ``rwmu train-policy`` builds it (rsl_rl ``MLPModel`` actor and critic,
128-128-128 ELU, Gaussian actions with a scalar std; PPO settings of paper Table S11: 5 epochs x 4 mini-batches), whose
rollout storage holds one rollout of ``--num-envs`` x ``--steps`` random transitions collected through the
algorithm's own ``act``/``process_env_step``/``compute_returns``. Only ``update()`` is timed; variants are interleaved
in rounds and the medians reported. At 4096 x 24 a mini-batch holds 24,576 samples.

    python benchmarks/bench_ppo_update.py                         # 2 threads, 4096 x 24, chunks 6144 3072 1536
    python benchmarks/bench_ppo_update.py --threads 1 --rounds 5 --chunk-sizes 3072
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from rsl_rl.algorithms import PPO
from rsl_rl.models import MLPModel
from rsl_rl.storage import RolloutStorage
from tensordict import TensorDict

from rwmu.training.chunked_ppo import ChunkedPPO
from rwmu.training.policy_config import ActorCriticConfig, PPOConfig


def filled_algorithm(chunk_size: int | None, num_envs: int, steps: int, obs_dim: int, actions: int) -> PPO:
    """rsl_rl's PPO (``chunk_size`` None) or ChunkedPPO, seeded, its storage holding one random rollout."""
    torch.manual_seed(0)
    policy, ppo = ActorCriticConfig(), PPOConfig()
    obs = TensorDict({"policy": torch.randn(num_envs, obs_dim)}, batch_size=[num_envs])
    groups = {"actor": ["policy"], "critic": ["policy"]}
    dist = {"class_name": "rsl_rl.modules.distribution:GaussianDistribution", "init_std": policy.init_noise_std,
            "std_type": "scalar"}  # fmt: skip
    actor = MLPModel(obs, groups, "actor", actions, hidden_dims=list(policy.actor_hidden_dims),
                     activation=policy.activation, distribution_cfg=dist)  # fmt: skip
    critic = MLPModel(obs, groups, "critic", 1, hidden_dims=list(policy.critic_hidden_dims), activation=policy.activation)
    storage = RolloutStorage("rl", num_envs, steps, obs, [actions], "cpu")
    kwargs = {k: getattr(ppo, k) for k in ("learning_rate", "entropy_coef", "num_learning_epochs", "num_mini_batches",
                                           "gamma", "lam", "clip_param", "desired_kl", "schedule", "value_loss_coef",
                                           "max_grad_norm", "use_clipped_value_loss")}  # fmt: skip
    if chunk_size is None:
        algorithm: PPO = PPO(actor, critic, storage, **kwargs)
    else:
        algorithm = ChunkedPPO(actor, critic, storage, grad_chunk_size=chunk_size, **kwargs)
    with torch.inference_mode():
        for _ in range(steps):
            algorithm.act(obs)
            obs = TensorDict({"policy": torch.randn(num_envs, obs_dim)}, batch_size=[num_envs])
            dones = (torch.rand(num_envs) < 0.01).float()
            algorithm.process_env_step(obs, 0.02 * torch.randn(num_envs), dones, {"time_outs": torch.zeros(num_envs)})
        algorithm.compute_returns(obs)
    return algorithm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=24, help="steps per env per iteration (reference: 24)")
    parser.add_argument("--obs-dim", type=int, default=48, help="policy observation size (anymal_d_flat, go2_flat: 48)")
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[6144, 3072, 1536])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants: list[int | None] = [None, *args.chunk_sizes]
    times: dict[int | None, list[float]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for chunk_size in variants:
            algorithm = filled_algorithm(chunk_size, args.num_envs, args.steps, args.obs_dim, 12)
            start = time.perf_counter()
            algorithm.update()
            times[chunk_size].append(time.perf_counter() - start)
    base = statistics.median(times[None])
    mini_batch = args.num_envs * args.steps // PPOConfig().num_mini_batches
    print(f"PPO update of one iteration: {args.num_envs} envs x {args.steps} steps, mini-batches of {mini_batch}, "
          f"{args.threads} threads, medians over {args.rounds} rounds")  # fmt: skip
    results = {}
    for chunk_size, values in times.items():
        name = "rsl_rl PPO.update" if chunk_size is None else f"ChunkedPPO, chunks of {chunk_size}"
        median = statistics.median(values)
        results[name] = {"seconds": round(median, 3), "all": [round(v, 3) for v in values], "speedup": base / median}
        print(f"  {name:32s} {median:6.2f} s   x{base / median:.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "num_envs": args.num_envs, "steps": args.steps, "results": results}, f,
                      indent=2)  # fmt: skip


if __name__ == "__main__":
    main()
