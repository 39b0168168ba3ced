"""Score a policy in the MuJoCo Go2 simulator on the true, unpenalised task reward (docs/method.md section 8).

Runs the policy under fixed command schedules and prints its return (mean +- std), per-term returns, falls,
episode length and velocity-tracking errors, per schedule; --json writes the same as JSON (top-level
return_mean, return_std, episodes, terms, ...). --video renders environment 0 offscreen (MUJOCO_GL=egl or osmesa).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from rwmu.cli.common import check_output_file, simulated_task
from rwmu.errors import RwmuError
from rwmu.evaluation.simulator import EvaluationConfig, evaluate_policy
from rwmu.evaluation.tables import format_evaluation_table
from rwmu.utils.io import run_metadata, to_jsonable, write_json_atomic


@dataclass(frozen=True)
class Command:
    """Score a policy in MuJoCo on the true, unpenalised task reward."""

    policy: str
    """'scripted', a policy run folder (its latest checkpoint), an rsl_rl checkpoint, an export folder, a TorchScript
    .pt or an .onnx file"""
    task: str = "go2_flat"
    """simulated task (only go2_flat has a simulator)"""
    json: Path | None = None
    """also write the results as JSON to this file"""
    video: Path | None = None
    """render environment 0 to this file (.mp4 or .gif)"""
    video_steps: int | None = None
    """render only the first N control steps (default: the whole episode)"""
    progress: bool = True
    """show a progress bar"""
    eval: Annotated[EvaluationConfig, tyro.conf.arg(name="")] = field(default_factory=EvaluationConfig)


def run(cmd: Command) -> int:
    task = simulated_task(cmd.task)
    config = cmd.eval
    if config.max_envs < 1 or config.num_workers < 1:
        raise RwmuError("--max-envs and --num-workers must be >= 1")
    for flag, path in (("--json", cmd.json), ("--video", cmd.video)):  # checked before the episodes run
        if path is not None:
            check_output_file(path, flag)
    result = evaluate_policy(
        cmd.policy, config, task, video_path=cmd.video, progress=cmd.progress, video_steps=cmd.video_steps
    )
    result["policy"] = cmd.policy
    print(format_evaluation_table(result))
    if cmd.json:
        write_json_atomic(
            cmd.json, {**result, "config": to_jsonable(config), "command": to_jsonable(cmd), "meta": run_metadata()}
        )
        print(f"wrote {cmd.json}")
    if cmd.video:
        print(f"wrote {cmd.video}")
    return 0
