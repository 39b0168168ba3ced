"""Train a model-free offline RL baseline (BC, TD3+BC, IQL or CQL, from d3rlpy) on an rwmu dataset.

The observations, actions and rewards are the ones MOPO-PPO sees (docs/baselines.md): policy observations rebuilt
from each row's state, command and last action, the task's reward terms computed from the data, episode ends from
the data. Writes to --out: checkpoint.d3 and progress.pt (every epoch; --resume continues from them and gives the
same weights as an uninterrupted run), TensorBoard logs, config.json, summary.json, and export/ (policy.pt,
policy.onnx, policy.json) that ``rwmu evaluate --policy OUT/export`` scores like any other policy.

d3rlpy (with the old gym it imports) is loaded by this command alone: :mod:`rwmu.training.offline_baselines` is
imported in :func:`run`, so that the other commands do not pay its ~2 s import.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.common import check_output_folder, check_resume_unchanged, resume_note, resumed_command, stored_config
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.training.offline_config import OfflineBaselineConfig
from rwmu.utils.io import data_sha256, folder_lock, write_json_atomic, write_run_config


@dataclass(frozen=True)
class Command:
    """Train a model-free offline RL baseline (d3rlpy) on an rwmu dataset."""

    task: str
    """task name: go2_flat or anymal_d_flat (the observations and rewards are the task's)"""
    data: Path
    """dataset with command columns (rwmu collect): CSV folder or .rwmu"""
    out: Path
    """run folder"""
    resume: bool = False
    """continue the run in --out from its last epoch checkpoint, with its stored settings"""
    progress: bool = True
    """show a progress bar"""
    baseline: Annotated[OfflineBaselineConfig, tyro.conf.arg(name="")] = field(default_factory=OfflineBaselineConfig)


def defaults(argv: list[str]) -> Command | None:
    """With ``--resume``: the stored command of the run in ``--out``."""
    return resumed_command(argv, Command)


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: the last epoch checkpoint and how to continue."""
    return resume_note("rwmu train-baseline", cmd.out, cmd.out / "checkpoint.d3")


def run(cmd: Command) -> int:
    cmd.baseline.validate()
    task = get_task(cmd.task)
    check_output_folder(cmd.out, "--out")
    with folder_lock(cmd.out, "rwmu train-baseline"):
        if not Path(cmd.data).exists():
            raise RwmuError(f"--data {cmd.data}: no such file or folder; give a dataset recorded by rwmu collect")
        if cmd.resume:
            stored = stored_config(cmd.out, Command)
            if stored is not None:
                for flag, before, now in (
                    ("--task", stored.task, cmd.task),
                    ("--data", stored.data, cmd.data),
                    ("--method", stored.baseline.method, cmd.baseline.method),
                    ("--hidden-dims", stored.baseline.hidden_dims, cmd.baseline.hidden_dims),
                    ("--seed", stored.baseline.seed, cmd.baseline.seed),
                ):
                    check_resume_unchanged(cmd.out, flag, before, now)
        elif (cmd.out / "checkpoint.d3").exists() or (cmd.out / "export").exists():
            raise RwmuError(
                f"--out {cmd.out}: holds a baseline run; continue it with rwmu train-baseline --out "
                f"{cmd.out} --resume, or choose a new folder"
            )
        return _train(cmd, task)


def _train(cmd: Command, task) -> int:
    baselines = importlib.import_module("rwmu.training.offline_baselines")  # d3rlpy: this command only (docstring)
    dataset = load_dataset(cmd.data, task=task)
    transitions = baselines.offline_transitions(dataset, task, f"--data {cmd.data}")
    baselines.check_transitions_fit(transitions, cmd.baseline)
    cmd.out.mkdir(parents=True, exist_ok=True)
    write_run_config(cmd.out, {"command": cmd, "task": task}, data=cmd.data, device="cpu")
    start = time.perf_counter()
    result = baselines.train_baseline(transitions, cmd.baseline, cmd.out, progress=cmd.progress)
    files = baselines.export_baseline(
        result["algorithm"], task, cmd.out / "export", cmd.out / "checkpoint.d3", cmd.baseline.method
    )
    summary = {
        "method": baselines.METHOD_NAMES[cmd.baseline.method],
        "task": task.name,
        "data": str(Path(cmd.data).resolve()),
        "data_sha256": data_sha256(cmd.data) if Path(cmd.data).is_file() else None,  # cached: config.json has it
        "transitions": transitions.num_transitions,
        "episodes": int(transitions.timeouts.sum() + transitions.terminals.sum()),
        "falls": int(transitions.terminals.sum()),
        "data_episode_return_mean": (
            float(transitions.episode_returns.mean()) if len(transitions.episode_returns) else None
        ),  # complete episodes
        "steps": result["steps"],
        "resumed_from": result["resumed_from"],
        "final_losses": result["metrics"],
        "wall_time_s": time.perf_counter() - start,
        "export": files,
    }
    write_json_atomic(cmd.out / "summary.json", summary)
    print(
        f"{summary['method']}: {result['steps']} gradient steps on {transitions.num_transitions:,} transitions; "
        f"policy: {files['onnx']} (score it with rwmu evaluate --task {task.name} --policy {cmd.out / 'export'})"
    )
    return 0
