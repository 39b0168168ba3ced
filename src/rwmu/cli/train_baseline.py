"""Runs ``rwmu train-baseline``; its flags are declared in :mod:`rwmu.cli.commands.train_baseline` (imported without torch for ``--help``)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from rwmu.cli.commands.shared import stored_config
from rwmu.cli.commands.train_baseline import Command
from rwmu.cli.common import check_output_folder, check_resume_unchanged, resume_note
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.utils.io import data_sha256, folder_lock, write_json_atomic, write_run_config


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
