"""One job of an experiment, run in its own process: ``python -m rwmu.experiments.worker JOB.json``.

A job file holds typed, serialised configs (:func:`rwmu.utils.io.to_jsonable` of the dataclasses), never flag
strings. Kinds:

- ``world_model``: train (or continue) a world model with a :class:`TrainModelConfig`;
- ``policy``: train (or continue) MOPO-PPO with a :class:`PolicyTrainingConfig`, export the latest checkpoint's
  actor to ONNX (``export/policy.onnx``, the file that is published), score that file in MuJoCo
  (:class:`EvaluationConfig`, ``evaluation.json``) and, with a :class:`ModelCheckConfig`, check the world model on
  its states (``model_check.json``);
- ``evaluate``: score one policy (the data's behaviour policy) into ``out``;
- ``signals``: study every uncertainty signal of a world model on one policy's MuJoCo states
  (:class:`SignalStudyConfig`, ``signals.json``).

Each step is skipped when its output is there and up to date, so a killed job resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments.jobs import trained_iterations
from rwmu.experiments.manifest import export_onnx
from rwmu.experiments.paths import EVALUATION_JSON, EXPORT_DIR, MODEL_CHECK_JSON, SUMMARY_JSON
from rwmu.experiments.steps import (
    check_policy,
    score_policy,
    study_policy_signals,
    train_policy_continuing,
    train_world_model,
)
from rwmu.tasks import get_task
from rwmu.tasks.base import RewardWeights
from rwmu.training.export import EXPORT_FILES
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import latest_checkpoint
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.config import config_from_dict


def world_model_job(job: dict[str, Any]) -> None:
    out = Path(job["out"])
    if (out / SUMMARY_JSON).is_file():
        return
    train_world_model(config_from_dict(TrainModelConfig, job["config"]), job["data"], out, get_task(job["task"]))


def policy_job(job: dict[str, Any]) -> None:
    run_dir = Path(job["out"])
    config = config_from_dict(PolicyTrainingConfig, job["config"])
    task = get_task(job["task"])
    if job.get("rewards") is not None:  # reward weights other than the task's (rwmu sweep --train-args)
        task = dataclasses.replace(task, rewards=config_from_dict(RewardWeights, job["rewards"]))
    done = trained_iterations(run_dir)
    trained_now = done is None or done < config.iterations
    if trained_now:
        train_policy_continuing(config, task, job["world_model"], job["data"], run_dir, progress=False)
    onnx = run_dir / EXPORT_DIR / EXPORT_FILES["onnx"]
    exported_now = trained_now or not onnx.is_file()
    if exported_now:
        export_onnx(latest_checkpoint(run_dir), run_dir / EXPORT_DIR)
    policy = str(onnx)  # the file that is published is the file that is scored
    if exported_now or not (run_dir / EVALUATION_JSON).is_file():
        score_policy(
            config_from_dict(EvaluationConfig, job["evaluation"]),
            task,
            policy,
            run_dir / EVALUATION_JSON,
            progress=False,
        )
    if job.get("model_check") is not None and (trained_now or not (run_dir / MODEL_CHECK_JSON).is_file()):
        check = config_from_dict(ModelCheckConfig, job["model_check"])
        check_policy(check, task, job["world_model"], job["data"], policy, run_dir / MODEL_CHECK_JSON)


def evaluate_job(job: dict[str, Any]) -> None:
    config = config_from_dict(EvaluationConfig, job["config"])
    score_policy(config, get_task(job["task"]), job["policy"], Path(job["out"]), progress=False)


def signals_job(job: dict[str, Any]) -> None:
    config = config_from_dict(SignalStudyConfig, job["config"])
    task = get_task(job["task"])
    study_policy_signals(config, task, job["world_model"], job["data"], job["policy"], Path(job["out"]))


JOBS = {"world_model": world_model_job, "policy": policy_job, "evaluate": evaluate_job, "signals": signals_job}


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m rwmu.experiments.worker JOB.json", file=sys.stderr)
        return 2
    try:
        job = json.loads(Path(argv[0]).read_text())
        JOBS[job["kind"]](job)
    except RwmuError as err:
        print(f"rwmu experiment: error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
