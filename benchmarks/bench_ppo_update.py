"""The PPO update of one iteration on CPU as rwmu runs it (rsl_rl's ``PPO.update``), against its matrix-product floor
(docs/performance.md, "A PPO iteration").

The algorithm is built as ``rwmu train-policy`` builds it, from its rsl_rl train cfg (rsl_rl ``MLPModel`` actor and
critic, 128-128-128 ELU, Gaussian actions with a scalar std, PPO settings of paper Table S11: 5 epochs x 4
mini-batches). Its rollout storage
holds one rollout of ``--num-envs`` x ``--steps`` random transitions collected through the algorithm's own
``act``/``process_env_step``/``compute_returns``; only ``update()`` is timed, after one warm-up update, median over
``--rounds`` rollouts. With ``--compile`` a second algorithm, built with ``--torch-compile-mode default`` (rsl_rl
compiles actor and critic), is timed in the same rounds. The report gives

- the update's matrix-product work (forward and backward of every linear layer of actor and critic, every
  mini-batch) and the time it takes at the machine's 4096^3 fp32 GEMM rate: a floor no implementation of the same
  maths can beat;
- torch.profiler's operators of one more update, by self CPU time.

    python benchmarks/bench_ppo_update.py                 # 2 threads, 4096 x 24
    python benchmarks/bench_ppo_update.py --threads 1 --rounds 5 --compile
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import time
from types import SimpleNamespace

import torch
from bench_world_model import gemm_gflops
from rsl_rl.algorithms import PPO
from tensordict import TensorDict
from torch.profiler import ProfilerActivity, profile

from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import rsl_rl_train_cfg


def ppo_algorithm(num_envs: int, steps: int, obs_dim: int, actions: int, compile_mode: str | None = None) -> PPO:
    """The PPO ``rwmu train-policy`` builds by default (its rsl_rl train cfg, through rsl_rl's own
    ``construct_algorithm``), seeded; ``compile_mode`` is ``--torch-compile-mode``."""
    torch.manual_seed(0)
    cfg = rsl_rl_train_cfg(PolicyTrainingConfig(steps_per_env=steps, torch_compile_mode=compile_mode))
    cfg["multi_gpu"] = None  # what OnPolicyRunner sets on one device
    obs = TensorDict({"policy": torch.zeros(num_envs, obs_dim)}, batch_size=[num_envs])
    with contextlib.redirect_stdout(io.StringIO()):  # rsl_rl prints the networks
        return PPO.construct_algorithm(obs, SimpleNamespace(num_envs=num_envs, num_actions=actions), cfg, "cpu")


def fill(algorithm: PPO, obs_dim: int) -> None:
    """One rollout of random transitions through the algorithm's own act/process_env_step/compute_returns."""
    n = algorithm.storage.num_envs
    obs = TensorDict({"policy": torch.randn(n, obs_dim)}, batch_size=[n])
    with torch.inference_mode():
        for _ in range(algorithm.storage.num_transitions_per_env):
            algorithm.act(obs)
            obs = TensorDict({"policy": torch.randn(n, obs_dim)}, batch_size=[n])
            dones = (torch.rand(n) < 0.01).float()
            algorithm.process_env_step(obs, 0.02 * torch.randn(n), dones, {"time_outs": torch.zeros(n)})
        algorithm.compute_returns(obs)


def update_gemm_flops(algorithm: PPO, samples: int) -> float:
    """Matrix-product FLOPs of one update: per sample and linear layer (in -> out), 2·in·out forward, as much for the
    weight gradient and, except for a first layer (its input needs no gradient), for the input gradient; summed over
    actor and critic, times the samples every epoch sees."""
    flops = 0.0
    for model in (algorithm.actor, algorithm.critic):
        layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        for i, layer in enumerate(layers):
            per = 2.0 * layer.in_features * layer.out_features
            flops += per * (2 if i == 0 else 3)
    return flops * samples * algorithm.num_learning_epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=24, help="steps per env per iteration (reference: 24)")
    parser.add_argument("--obs-dim", type=int, default=48, help="policy observation size (anymal_d_flat, go2_flat: 48)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time an algorithm built with --torch-compile-mode default (rsl_rl compiles actor and critic)",
    )
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {"rsl_rl PPO.update": ppo_algorithm(args.num_envs, args.steps, args.obs_dim, 12)}
    if args.compile:
        variants["the same, --torch-compile-mode default"] = ppo_algorithm(
            args.num_envs, args.steps, args.obs_dim, 12, "default"
        )
    for algorithm in variants.values():  # warm-up (and compilation), not timed
        fill(algorithm, args.obs_dim)
        algorithm.update()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, algorithm in variants.items():
            fill(algorithm, args.obs_dim)
            start = time.perf_counter()
            algorithm.update()
            times[name].append(time.perf_counter() - start)
    algorithm = variants["rsl_rl PPO.update"]
    seconds = statistics.median(times["rsl_rl PPO.update"])
    flops = update_gemm_flops(algorithm, args.num_envs * args.steps)
    fill(algorithm, args.obs_dim)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        algorithm.update()
    top = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
    gflops = gemm_gflops(torch.device("cpu"))
    floor = flops / (gflops * 1e9)
    mini_batch = args.num_envs * args.steps // algorithm.num_mini_batches
    print(
        f"PPO update of one iteration: {args.num_envs} envs x {args.steps} steps, "
        f"{algorithm.num_learning_epochs} epochs x {algorithm.num_mini_batches} mini-batches of {mini_batch}, "
        f"{args.threads} threads"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name}: {median:.2f} s (median; {', '.join(f'{t:.2f}' for t in values)}), x{seconds / median:.2f}")
    print(
        f"  matrix products: {flops / 1e9:.0f} GFLOP; at the 4096^3 GEMM rate ({gflops:.0f} GFLOP/s) {floor:.2f} s, "
        f"{floor / seconds:.0%} of the update"
    )
    print(
        "  operators of one update (self CPU s): "
        + ", ".join(f"{e.key} {e.self_cpu_time_total / 1e6:.2f}" for e in top)
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "threads": args.threads,
                    "num_envs": args.num_envs,
                    "steps": args.steps,
                    "update_s": seconds,
                    "update_s_all": times,
                    "gemm_gflop": flops / 1e9,
                    "gemm_gflops_rate": gflops,
                    "gemm_floor_s": floor,
                    "top_operators_s": {e.key: e.self_cpu_time_total / 1e6 for e in top},
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
