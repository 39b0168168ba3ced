"""Record an offline dataset by running a behaviour policy in N simulated Go2s (MuJoCo).

Writes DIR/state_action_data_<k>.csv (--format csv, the reference convention) or DIR/dataset.rwmu (--format rwmu),
plus DIR/config.json (resolved settings and versions) and DIR/collect_stats.json (falls, tracking errors, mean
reward). The data is identical for a seed, policy and --num-envs, whatever --num-workers.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from rwmu.cli.common import simulated_task
from rwmu.behavior import TrotConfig, TrotDiversity
from rwmu.data import save_dataset, write_csv_dataset
from rwmu.errors import RwmuError
from rwmu.sim.collect import CollectConfig, NoisyPolicy, collect_dataset
from rwmu.training.policy_loader import SHIPPED_POLICIES, load_policy, policy_file
from rwmu.utils.io import file_sha256, write_json_atomic, write_run_config

SUMMARY = "record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator"


@dataclass(frozen=True)
class Command:
    """Record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator."""

    out: Path
    """output folder (must not hold a dataset yet)"""
    task: str = "go2_flat"
    """simulated task (only go2_flat has a simulator)"""
    policy: str = "scripted"
    """'scripted' (trotting controller with per-episode gait diversity and action noise), a policy run folder, an
    rsl_rl checkpoint, an export folder, a TorchScript .pt or an .onnx file"""
    format: Literal["csv", "rwmu"] = "csv"
    """csv: state_action_data_<k>.csv files; rwmu: DIR/dataset.rwmu"""
    action_noise: float | None = None
    """Gaussian action-noise std (action units). Scripted policy: this std in every episode instead of a
    per-episode draw in [0, 0.3]; other policies: added to their deterministic actions"""
    progress: bool = True
    """show a progress bar"""
    collect: Annotated[CollectConfig, tyro.conf.arg(name="")] = field(default_factory=CollectConfig)


def run(cmd: Command) -> int:
    task = simulated_task(cmd.task)
    config = cmd.collect
    if config.steps < 1 or config.num_envs < 1 or config.num_workers < 1:
        raise RwmuError("--steps, --num-envs and --num-workers must be >= 1")
    out = cmd.out
    if out.exists() and not out.is_dir():
        raise RwmuError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and (any(out.glob("state_action_data_*.csv")) or (out / "dataset.rwmu").exists()):
        raise RwmuError(f"--out {out}: already holds a dataset (state_action_data_*.csv or dataset.rwmu); "
                        f"choose an empty folder")  # fmt: skip
    scripted = None
    if cmd.policy == "scripted":
        diversity = TrotDiversity()
        if cmd.action_noise is not None:
            diversity = dataclasses.replace(diversity, action_noise_std=(cmd.action_noise, cmd.action_noise))
        scripted = TrotConfig(diversity=diversity, seed=config.seed + 1)
    policy = load_policy(cmd.policy, config.num_envs, task, seed=config.seed, scripted_config=scripted)
    if cmd.policy != "scripted" and cmd.action_noise:
        policy = NoisyPolicy(policy, cmd.action_noise, seed=config.seed + 1)
    source = policy_file(cmd.policy)
    provenance = {
        "policy": cmd.policy if source is None or cmd.policy in SHIPPED_POLICIES else str(Path(cmd.policy).resolve()),
        "policy_file": str(source) if source is not None else None,
        "policy_sha256": file_sha256(source) if source is not None else None,
        "seed": config.seed, "num_envs": config.num_envs, "pushes": config.pushes,
        "randomization": config.randomization.enabled,
        "scripted_config": dataclasses.asdict(scripted) if scripted else None, "action_noise": cmd.action_noise,
    }  # fmt: skip
    start = time.perf_counter()
    dataset, stats = collect_dataset(policy, config, task, provenance=provenance, progress=cmd.progress)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    if cmd.format == "csv":
        write_csv_dataset(dataset, out)
        written = f"{dataset.num_trajectories} files state_action_data_<k>.csv"
    else:
        save_dataset(dataset, out / "dataset.rwmu")
        written = "dataset.rwmu"
    write_run_config(out, {"command": cmd, "task": task.name, "scripted": scripted})
    write_json_atomic(out / "collect_stats.json", {**stats.as_dict(), "seconds": seconds})
    print(f"{dataset.summary()}")
    print(f"falls {stats.falls}, time-outs {stats.time_outs}, mean |v_xy error| {stats.mean_lin_vel_error:.3f} m/s, "
          f"mean |yaw-rate error| {stats.mean_yaw_rate_error:.3f} rad/s, mean step reward {stats.mean_step_reward:.4f}")
    print(f"wrote {written} to {out} in {seconds:.1f} s ({dataset.num_rows / max(seconds, 1e-9):.0f} rows/s)")
    return 0
