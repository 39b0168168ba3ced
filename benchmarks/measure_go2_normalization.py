"""Measure the go2_flat normalisation constants from scripted-controller data and print them as Python tuples.

    python benchmarks/measure_go2_normalization.py --steps 200000 --seed 0

Collects exactly as ``rwmu collect --task go2_flat --policy scripted --num-envs 64`` does (per-episode gait
diversity, action noise, pushes), then prints per-column mean and std of the states, actions and extensions, rounded to 3
significant digits, with stds floored at ``--std-floor``. Paste the output into ``src/rwmu/tasks/go2_flat.py``.
"""

from __future__ import annotations

import argparse

import numpy as np


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{float(f'{v:.3g}')!r}" for v in values) + ")"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--std-floor", type=float, default=0.01)
    args = parser.parse_args()

    from rwmu.behavior import TrotConfig
    from rwmu.sim.collect import collect_dataset
    from rwmu.sim.collect_config import CollectConfig
    from rwmu.tasks.go2_flat import GO2_FLAT, JOINT_NAMES
    from rwmu.training.policy_loader import load_policy

    config = CollectConfig(steps=args.steps, num_envs=args.num_envs, num_workers=args.workers, seed=args.seed)
    policy = load_policy("scripted", args.num_envs, GO2_FLAT, scripted_config=TrotConfig(seed=args.seed + 1))
    ds, stats = collect_dataset(policy, config, GO2_FLAT)
    print(f"# {ds.summary()}; falls {stats.falls}")
    states, actions = ds.states.astype(np.float64), ds.actions.astype(np.float64)
    # Reset rows carry a zero action (no action led to them): leave them out of the action statistics.
    starts = np.zeros(ds.num_rows, dtype=bool)
    starts[ds.trajectory_offsets[:-1]] = True
    after_termination = np.zeros(ds.num_rows, dtype=bool)
    after_termination[1:] = ds.terminations[:-1, 0] > 0.5
    acted = ~(starts | after_termination)
    s_mean, s_std = states.mean(0), np.maximum(states.std(0), args.std_floor)
    a_mean, a_std = actions[acted].mean(0), np.maximum(actions[acted].std(0), args.std_floor)
    groups = [
        ("base linear velocity", 0, 3),
        ("base angular velocity", 3, 6),
        ("projected gravity", 6, 9),
        ("joint positions (rel. default)", 9, 21),
        ("joint velocities", 21, 33),
        ("joint torques", 33, 45),
    ]
    print(f"# joint order: {', '.join(JOINT_NAMES)}")
    for name, values in (("_STATE_MEAN", s_mean), ("_STATE_STD", s_std)):
        print(f"{name}: tuple[float, ...] | None = (")
        for label, lo, hi in groups:
            print(f"    {_fmt(values[lo:hi])}  # {label}")
            if hi < 45:
                print("    +")
        print(")")
    print(f"_ACTION_MEAN: tuple[float, ...] | None = {_fmt(a_mean)}")
    print(f"_ACTION_STD: tuple[float, ...] | None = {_fmt(a_std)}")
    extensions = ds.extensions.astype(np.float64)
    print(
        f"_EXTENSION_MEAN: tuple[float, ...] | None = {_fmt(extensions.mean(0))}  # {', '.join(GO2_FLAT.extension_names)}"
    )
    print(f"_EXTENSION_STD: tuple[float, ...] | None = {_fmt(np.maximum(extensions.std(0), args.std_floor))}")


if __name__ == "__main__":
    main()
