"""Imagination throughput at the paper's world-model configuration (GRU 2x256, B=5, M=32; ANYmal-D dims).

Measures, in environment steps per second (env-steps/s = envs x steps / seconds; medians over the timed steps or
iterations, so a busy machine's stalls weigh less; the best env.step is printed too):
  1. ``env.step`` alone, random actions (world model + rewards + commands + resets), and interleaved with it the
     world model's step alone on the same states (``predict`` as the env calls it): the env's overhead over the model
     (medians, and means, which include the steps that warm up a batch of starting histories);
  2. where an env step's time goes: torch.profiler over --profile-steps steps, split by the env's record_function
     ranges (model, task: rewards and terminations, resets with their history warm-up, commands and pushes,
     observations) and what lies outside them;
  3. rsl_rl's collection phase of an iteration (policy act + env.step + rollout storage), as timed by rsl_rl;
  4. a whole PPO iteration (collection + PPO update: 5 epochs x 4 mini-batches), as timed by rsl_rl, and where the
     update's time goes (torch.profiler over one update: the top operators).
The world model is untrained (throughput does not depend on the weights) except that, by default, its termination
head is biased to "never terminate", so episodes end by time-out as with a trained model on good data (an untrained
head terminates about half of the envs every step, and each reset costs an (M-1)-step warm-up);
``--random-terminations`` keeps the untrained head. The starting histories come from a synthetic ANYmal-shaped
dataset. Uses rwmu's ImaginationEnv and rsl_rl's OnPolicyRunner exactly as train-policy does.

    python benchmarks/bench_imagination.py                                   # CPU, 4096 envs, 24 steps/iteration
    python benchmarks/bench_imagination.py --device cuda --num-envs 8192     # GPU, reference scale
    python benchmarks/bench_imagination.py --num-envs 512 --iterations 1     # quick look
    python benchmarks/bench_imagination.py --episode-length 48               # MOPO's short branched rollouts
    python benchmarks/bench_imagination.py --model-precision bfloat16 --torch-compile-mode default   # fastest on CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time

import torch
from torch.profiler import ProfilerActivity, profile

RANGES = (
    "imagination/model",
    "imagination/task",
    "imagination/resets",
    "imagination/commands_pushes",
    "imagination/observations",
)


def profile_split(fn, steps: int) -> dict[str, float]:
    """Milliseconds per call of ``fn`` inside each of the env's record_function ranges, and the rest."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        total = (time.perf_counter() - t0) / steps * 1e3
    events = {e.key: e for e in prof.key_averages()}
    split = {
        name.split("/")[1]: events[name].cpu_time_total / 1e3 / steps if name in events else 0.0 for name in RANGES
    }
    split["outside the ranges"] = total - sum(split.values())
    split["total"] = total
    return {k: round(v, 2) for k, v in split.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num-envs", type=int, default=4096)
    parser.add_argument("--steps-per-env", type=int, default=24, help="steps per PPO iteration (paper 100, ref. 24)")
    parser.add_argument("--iterations", type=int, default=2, help="timed PPO iterations (after one warm-up)")
    parser.add_argument("--env-steps", type=int, default=24, help="timed env.step calls (after two warm-up steps)")
    parser.add_argument("--dynamics", choices=("member", "mean"), default="member")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--random-terminations",
        action="store_true",
        help="keep the untrained termination head (about half the envs reset every step)",
    )
    parser.add_argument("--episode-length", type=int, default=None, help="imagined episode length (task's: none)")
    parser.add_argument("--profile-steps", type=int, default=5, help="env steps under torch.profiler (0: skip)")
    parser.add_argument(
        "--torch-compile-mode",
        default=None,
        choices=("default", "max-autotune-no-cudagraphs"),
        help="compile actor and critic (rwmu train-policy --torch-compile-mode); the warm-up "
        "iteration pays the compilation",
    )
    parser.add_argument(
        "--model-precision",
        default="float32",
        choices=("float32", "bfloat16"),
        help="train-policy's --env.model-precision (bfloat16: the world model's GEMMs in bfloat16)",
    )
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from rwmu.data.normalization import Normalization
    from rwmu.data.synthetic import make_synthetic_dataset
    from rwmu.envs.imagination import ImaginationConfig, ImaginationEnv
    from rwmu.models import WorldModelConfig, WorldModelEnsemble
    from rwmu.tasks import get_task
    from rwmu.training.policy import ImaginationRunner
    from rwmu.training.policy_config import PolicyTrainingConfig
    from rwmu.training.runner import rsl_rl_train_cfg
    from rwmu.utils.io import write_json_atomic

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
    env_cfg = ImaginationConfig(
        num_envs=args.num_envs,
        dynamics=args.dynamics,
        log_window=args.steps_per_env,
        model_precision=args.model_precision,
        episode_length=args.episode_length,
    )

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    env = ImaginationEnv(model, dataset, task, env_cfg, device=device, seed=0)
    sync()
    init_s = time.perf_counter() - t0

    # 1. env.step alone, interleaved with the model's step alone on the env's states. Episodes start at random
    # lengths, as rsl_rl's init_at_random_ep_len does, so that time-outs (and the resets' history warm-ups) come at
    # their steady-state rate of num_envs / episode_length per step.
    gen = torch.Generator(device=device).manual_seed(0)
    length = env.core.max_episode_length
    env.core.episode_length_buf.copy_(torch.randint(0, length, (args.num_envs,), generator=gen, device=device))
    for _ in range(2):
        env.step(torch.randn(args.num_envs, 12, generator=gen, device=device))
    sync()
    resets, step_times, model_times = 0, [], []
    members = env.member_ids if env.use_members else None
    for _ in range(args.env_steps):
        actions = torch.randn(args.num_envs, 12, generator=gen, device=device)
        saved = model._hidden.clone()  # the fused step advances it in place, nn.GRU replaces it
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.predict(
                env.state[:, None],
                env.normalization.normalize_action(actions)[:, None],
                member_ids=members,
                aleatoric=False,
            )
        sync()
        model_times.append(time.perf_counter() - t0)
        model._hidden = saved  # the env continues from where it was
        t0 = time.perf_counter()
        resets += int(env.step(actions)[2].sum())
        sync()
        step_times.append(time.perf_counter() - t0)
    reset_share = resets / (args.env_steps * args.num_envs)
    split = {}
    if args.profile_steps:
        split = profile_split(
            lambda: env.step(torch.randn(args.num_envs, 12, generator=gen, device=device)), args.profile_steps
        )

    # 2./3. rsl_rl iterations on the same env
    config = PolicyTrainingConfig(
        steps_per_env=args.steps_per_env, save_interval=10**9, torch_compile_mode=args.torch_compile_mode
    )
    config = dataclasses.replace(config, env=env_cfg)
    timings: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as log_dir:
        runner = ImaginationRunner(
            env, rsl_rl_train_cfg(config), log_dir=log_dir, device=str(device), rwmu_info={}, progress=False
        )
        runner.learn(1 + args.iterations, init_at_random_ep_len=True)
        timings.extend((it["collect_time"], it["learn_time"]) for it in runner.iteration_stats)
        update_ops = {}
        if args.profile_steps:  # one PPO update on the last rollout, under the profiler
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                runner.alg.update()
            top = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:8]
            update_ops = {e.key: round(e.self_cpu_time_total / 1e6, 3) for e in top}
    timed = timings[1:]  # first iteration is warm-up
    collect = statistics.median(c for c, _ in timed)
    learn = statistics.median(le for _, le in timed)
    whole = statistics.median(c + le for c, le in timed)
    steps = args.num_envs * args.steps_per_env
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "num_envs": args.num_envs,
        "torch_compile_mode": args.torch_compile_mode,
        "model_precision": args.model_precision,
        "steps_per_env": args.steps_per_env,
        "world_model": "GRU 2x256, B=5, M=32, heads 128 (paper/reference)",
        "dynamics": args.dynamics,
        "env_init_s": round(init_s, 3),
        "episode_length": env.core.max_episode_length,
        "env_step_only_steps_per_s": round(args.num_envs / statistics.median(step_times)),
        "model_step_only_steps_per_s": round(args.num_envs / statistics.median(model_times)),
        "env_step_over_model_step": round(statistics.median(step_times) / statistics.median(model_times), 3),
        # means include the occasional step that warms up a new batch of starting histories (ImaginationConfig
        # warmup_batch), so they carry the resets' whole cost
        "env_step_over_model_step_mean": round(statistics.mean(step_times) / statistics.mean(model_times), 3),
        "env_step_ms_split": split,
        "env_step_only_steps_per_s_best": round(args.num_envs / min(step_times)),
        "env_step_only_reset_share": round(reset_share, 4),
        "collection_steps_per_s": round(steps / collect),
        "ppo_iteration_steps_per_s": round(steps / whole),
        "collection_s_per_iteration": round(collect, 3),
        "update_s_per_iteration": round(learn, 3),
        "update_top_operators_s": update_ops,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        write_json_atomic(args.json, result)


if __name__ == "__main__":
    main()
