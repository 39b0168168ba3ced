"""Imagination throughput at the paper's world-model configuration (GRU 2x256, B=5, M=32; ANYmal-D dims).

Measures, in environment steps per second (env-steps/s = envs x steps / seconds; medians over the timed steps or
iterations, so a busy machine's stalls weigh less; the best env.step is printed too):
  1. ``env.step`` alone, random actions (world model + rewards + commands + resets);
  2. rsl_rl's collection phase of an iteration (policy act + env.step + rollout storage), as timed by rsl_rl;
  3. a whole PPO iteration (collection + PPO update: 5 epochs x 4 mini-batches), as timed by rsl_rl.
The world model is untrained (throughput does not depend on the weights) except that, by default, its termination
head is biased to "never terminate", so episodes end by time-out as with a trained model on good data (an untrained
head terminates about half of the envs every step, and each reset costs an (M-1)-step warm-up);
``--random-terminations`` keeps the untrained head. The starting histories come from a synthetic ANYmal-shaped
dataset. Uses rwmu's ImaginationEnv and rsl_rl's OnPolicyRunner exactly as train-policy does.

    python benchmarks/bench_imagination.py                                   # CPU, 4096 envs, 24 steps/iteration
    python benchmarks/bench_imagination.py --device cuda --num-envs 8192     # GPU, reference scale
    python benchmarks/bench_imagination.py --num-envs 512 --iterations 1     # quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--steps-per-env", type=int, default=24, help="steps per PPO iteration (paper 100, ref. 24)")
    parser.add_argument("--iterations", type=int, default=2, help="timed PPO iterations (after one warm-up)")
    parser.add_argument("--env-steps", type=int, default=10, help="timed env.step calls (after two warm-up steps)")
    parser.add_argument("--dynamics", choices=("member", "mean"), default="member")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--random-terminations", action="store_true",
                        help="keep the untrained termination head (about half the envs reset every step)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from rwmu.data.normalization import Normalization
    from rwmu.data.synthetic import make_synthetic_dataset
    from rwmu.envs.imagination import ImaginationConfig, ImaginationEnv
    from rwmu.models import WorldModelConfig, WorldModelEnsemble
    from rwmu.tasks import get_task
    from rwmu.training.policy import ImaginationRunner
    from rwmu.training.runner import rsl_rl_train_cfg
    from rwmu.training.policy_config import PolicyTrainingConfig

    device = torch.device(args.device)
    task = get_task("anymal_d_flat")
    dataset = make_synthetic_dataset(8, 1000, task=task, seed=0)
    torch.manual_seed(0)
    model = WorldModelEnsemble(WorldModelConfig())  # paper / reference: GRU 2x256, B=5, M=32, heads 128
    model.normalization = Normalization.from_task(task)
    if not args.random_terminations:
        head = model.auxiliary_heads.termination
        with torch.no_grad():
            getattr(head, f"bias_{head.num_layers - 1}").sub_(20.0)  # logits << 0: no predicted terminations
    env_cfg = ImaginationConfig(num_envs=args.num_envs, dynamics=args.dynamics, log_window=args.steps_per_env)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    env = ImaginationEnv(model, dataset, task, env_cfg, device=device, seed=0)
    sync()
    init_s = time.perf_counter() - t0

    # 1. env.step alone
    gen = torch.Generator(device=device).manual_seed(0)
    for _ in range(2):
        env.step(torch.randn(args.num_envs, 12, generator=gen, device=device))
    sync()
    resets, step_times = 0, []
    for _ in range(args.env_steps):
        actions = torch.randn(args.num_envs, 12, generator=gen, device=device)
        t0 = time.perf_counter()
        resets += int(env.step(actions)[2].sum())
        sync()
        step_times.append(time.perf_counter() - t0)
    reset_share = resets / (args.env_steps * args.num_envs)

    # 2./3. rsl_rl iterations on the same env
    config = PolicyTrainingConfig(steps_per_env=args.steps_per_env, save_interval=10**9)
    config = dataclasses.replace(config, env=env_cfg)
    timings: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as log_dir:
        runner = ImaginationRunner(env, rsl_rl_train_cfg(config), log_dir=log_dir, device=str(device),
                                   rwmu_info={}, progress=False)  # fmt: skip
        runner.learn(1 + args.iterations, init_at_random_ep_len=True)
        timings.extend((it["collect_time"], it["learn_time"]) for it in runner.iteration_stats)
    timed = timings[1:]  # first iteration is warm-up
    collect = statistics.median(c for c, _ in timed)
    learn = statistics.median(le for _, le in timed)
    whole = statistics.median(c + le for c, le in timed)
    steps = args.num_envs * args.steps_per_env
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "num_envs": args.num_envs,
        "steps_per_env": args.steps_per_env,
        "world_model": "GRU 2x256, B=5, M=32, heads 128 (paper/reference)",
        "dynamics": args.dynamics,
        "env_init_s": round(init_s, 3),
        "env_step_only_steps_per_s": round(args.num_envs / statistics.median(step_times)),
        "env_step_only_steps_per_s_best": round(args.num_envs / min(step_times)),
        "env_step_only_reset_share": round(reset_share, 4),
        "collection_steps_per_s": round(steps / collect),
        "ppo_iteration_steps_per_s": round(steps / whole),
        "collection_s_per_iteration": round(collect, 3),
        "update_s_per_iteration": round(learn, 3),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
