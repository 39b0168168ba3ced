"""Go2 MuJoCo simulator figures: control steps per second, collection time, scripted-controller quality.

    python benchmarks/bench_sim.py                      # about 1-2 minutes on 2 cores
    python benchmarks/bench_sim.py --million            # also measure a full 1M-row collection (~4-6 minutes)
    python benchmarks/bench_sim.py --skip-parallelism   # leave out the threads / rollout / processes comparison

Prints:

1. Parallelism options for N MuJoCo instances (why ``rwmu.sim`` uses worker processes): a Python thread pool over
   ``mj_step``, ``mujoco.rollout`` with 1 and 2 threads, and 1 vs 2 processes, on a walking-like load.
2. Control steps per second (one step = 4 physics steps = 0.02 s of simulated time) of the full environment
   (physics, state, contacts, reward, observation) with the scripted controller, for 1 env and N envs, 1 and 2
   worker processes; and of the physics alone.
3. Time to collect 100k dataset rows with the scripted behaviour policy (measured), extrapolated to 1M rows
   (``--million`` measures it).
4. The scripted controller: ``rwmu evaluate``-style figures (nominal gains, no noise) and the behaviour data's
   fall rate and tracking errors (per-episode diversity, action noise, pushes).

Numbers depend on what else runs on the machine; the script prints the load average next to them.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def _load() -> str:
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average n/a"


def bench_parallelism(num_envs: int, steps: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import mujoco
    from mujoco import rollout

    from rwmu.sim.model import go2_indices, load_go2_model, standing_height
    from rwmu.sim.pool import ShardPool
    from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, GO2_ACTUATION

    model = load_go2_model()
    idx = go2_indices(model)
    datas = [mujoco.MjData(model) for _ in range(num_envs)]
    rng = np.random.default_rng(0)
    for d in datas:
        d.qpos[2] = standing_height(model, idx)
        d.qpos[3] = 1.0
        d.qpos[idx.qpos_joint] = DEFAULT_JOINT_POS
        mujoco.mj_forward(model, d)
    targets = np.asarray(DEFAULT_JOINT_POS) + 0.3 * np.sin(
        np.arange(steps)[:, None, None] * 0.6 + rng.uniform(0, 6, (1, num_envs, 12))
    )
    dec = GO2_ACTUATION.decimation

    def thread_work(chunk_ids, t):
        for i in chunk_ids:
            datas[i].ctrl[idx.actuator] = targets[t, i]
            mujoco.mj_step(model, datas[i], nstep=dec)

    print(f"\n[1] parallelism over {num_envs} Go2 instances, {steps} control steps (wiggling legs)  ({_load()})")
    for workers in (1, 2):
        chunks = np.array_split(np.arange(num_envs), workers)
        with ThreadPoolExecutor(workers) as pool:
            start = time.perf_counter()
            for t in range(steps):
                list(pool.map(lambda c: thread_work(c, t), chunks))
            rate = steps * num_envs / (time.perf_counter() - start)
        print(f"    thread pool, {workers} thread(s) over mj_step     {rate:9.0f} env-steps/s")
    state_size = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_FULLPHYSICS)
    states = np.zeros((num_envs, state_size))
    for i, d in enumerate(datas):
        mujoco.mj_getState(model, d, states[i], mujoco.mjtState.mjSTATE_FULLPHYSICS)
    ctrl_base = np.zeros((num_envs, dec, model.nu))
    for threads in (1, 2):
        with rollout.Rollout(nthread=threads) as roller:
            scratch = [mujoco.MjData(model) for _ in range(threads)]
            s = states.copy()
            start = time.perf_counter()
            for t in range(steps):
                ctrl_base[:, :, idx.actuator] = targets[t][:, None, :]
                out, _ = roller.rollout(model, scratch, s, ctrl_base)
                s = out[:, -1]
            rate = steps * num_envs / (time.perf_counter() - start)
        print(f"    mujoco.rollout, {threads} thread(s) (no contacts out) {rate:9.0f} env-steps/s")
    for workers in (1, 2):
        pool = ShardPool(num_envs, workers)
        pool.step(targets[0])
        start = time.perf_counter()
        for t in range(steps):
            pool.step(targets[t])
        rate = steps * num_envs / (time.perf_counter() - start)
        pool.close()
        print(f"    rwmu ShardPool, {workers} process(es) (+ state, contacts) {rate:9.0f} env-steps/s")


def bench_env(num_envs: int, workers: int, steps: int) -> tuple[float, float]:
    """(full env steps/s with the scripted controller, physics-only steps/s) for one configuration."""
    from rwmu.behavior import TrotConfig, TrotController
    from rwmu.sim.env import Go2VecEnv
    from rwmu.sim.env_config import Go2EnvConfig

    env = Go2VecEnv(Go2EnvConfig(num_envs=num_envs, num_workers=workers, seed=0))
    policy = TrotController(num_envs, TrotConfig(seed=0))
    obs = env.get_observations()["policy"]
    for _ in range(5):
        obs_td, _, dones, _ = env.step(policy.act(obs))
        obs = obs_td["policy"]
    start = time.perf_counter()
    for _ in range(steps):
        obs_td, _, dones, _ = env.step(policy.act(obs))
        done_ids = torch.nonzero(dones, as_tuple=False).squeeze(-1)
        if done_ids.numel():
            policy.reset(done_ids)
        obs = obs_td["policy"]
    full = steps * num_envs / (time.perf_counter() - start)
    targets = (env.default_joint_pos + 0.25 * policy.act(obs).double()).numpy()
    start = time.perf_counter()
    for _ in range(steps):
        env.pool.step(targets)
    physics = steps * num_envs / (time.perf_counter() - start)
    env.close()
    return full, physics


def bench_collect(rows: int, num_envs: int, workers: int) -> tuple[float, object]:
    from rwmu.behavior import TrotConfig
    from rwmu.sim.collect import collect_dataset
    from rwmu.sim.collect_config import CollectConfig
    from rwmu.tasks.go2_flat import GO2_FLAT
    from rwmu.training.policy_loader import load_policy

    config = CollectConfig(steps=rows, num_envs=num_envs, num_workers=workers, seed=0)
    policy = load_policy("scripted", num_envs, GO2_FLAT, scripted_config=TrotConfig(seed=1))
    start = time.perf_counter()
    ds, stats = collect_dataset(policy, config, GO2_FLAT, progress=False)
    return time.perf_counter() - start, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-envs", type=int, default=64, help="N for the batched figures")
    parser.add_argument("--steps", type=int, default=100, help="control steps per throughput measurement")
    parser.add_argument("--collect-rows", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="also measure a 1,000,000-row collection")
    parser.add_argument("--skip-parallelism", action="store_true")
    parser.add_argument("--eval-episodes", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"rwmu Go2 simulator benchmark on {os.cpu_count()} CPUs  ({_load()})")

    if not args.skip_parallelism:
        bench_parallelism(args.num_envs, args.steps)

    print(f"\n[2] control steps per second (1 step = 4 x 5 ms physics)  ({_load()})")
    best_workers, best_rate = 1, 0.0
    for n, workers in ((1, 1), (args.num_envs, 1), (args.num_envs, 2)):
        full, physics = bench_env(n, workers, args.steps if n > 1 else 10 * args.steps)
        print(
            f"    {n:4d} env(s), {workers} process(es): full env + scripted policy {full:8.0f} steps/s, "
            f"physics only {physics:8.0f} steps/s"
        )
        if n > 1 and full > best_rate:
            best_workers, best_rate = workers, full

    print(
        f"\n[3] collection with the scripted behaviour policy, {args.num_envs} envs, {best_workers} process(es)"
        f"  ({_load()})"
    )
    seconds, stats = bench_collect(args.collect_rows, args.num_envs, best_workers)
    print(
        f"    {args.collect_rows:,} rows: {seconds:.1f} s ({args.collect_rows / seconds:.0f} rows/s); "
        f"1M rows extrapolated: {seconds * 1_000_000 / args.collect_rows / 60:.1f} min"
    )
    s = stats.as_dict()
    print(
        f"    behaviour data: {s['episodes']} episodes, {s['falls']} falls "
        f"({s['falls'] / max(s['episodes'], 1):.1%} of episodes), mean |v_xy err| {s['mean_lin_vel_error']:.3f} "
        f"m/s, mean |w_z err| {s['mean_yaw_rate_error']:.3f} rad/s, mean step reward {s['mean_step_reward']:.4f}"
    )
    if args.million:
        seconds, _ = bench_collect(1_000_000, args.num_envs, best_workers)
        print(f"    1,000,000 rows measured: {seconds / 60:.1f} min ({1_000_000 / seconds:.0f} rows/s)")

    from rwmu.evaluation.simulator import evaluate_policy
    from rwmu.evaluation.simulator_config import EvaluationConfig
    from rwmu.evaluation.tables import format_evaluation_table

    print(f"\n[4] scripted controller (nominal gains, no noise), {args.eval_episodes} episodes, no pushes  ({_load()})")
    start = time.perf_counter()
    result = evaluate_policy("scripted", EvaluationConfig(episodes=args.eval_episodes, seed=0), progress=False)
    print("    " + format_evaluation_table(result).replace("\n", "\n    "))
    print(f"    ({time.perf_counter() - start:.1f} s)")
    pushed = evaluate_policy(
        "scripted", EvaluationConfig(episodes=args.eval_episodes, seed=0, pushes=True), progress=False
    )
    print(
        f"    with pushes: return {pushed['return_mean']:.3f} +- {pushed['return_std']:.3f}, falls "
        f"{pushed['falls']}/{pushed['episodes']}, lin err {pushed['lin_vel_error_mean']:.3f} m/s, "
        f"yaw err {pushed['yaw_rate_error_mean']:.3f} rad/s"
    )


if __name__ == "__main__":
    main()
