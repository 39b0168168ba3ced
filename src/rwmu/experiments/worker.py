"""One job of an experiment, run in its own process: ``python -m rwmu.experiments.worker JOB.json``.

A job file holds typed, serialised configs (:func:`rwmu.utils.io.to_jsonable` of the dataclasses), never flag
strings. Kinds:

- ``world_model``: train (or continue) a world model with a :class:`TrainModelConfig`;
- ``policy``: train (or continue) MOPO-PPO with a :class:`PolicyTrainingConfig`, export the latest checkpoint's
  actor to ONNX (``export/policy.onnx``, the file that is published), score that file in MuJoCo
  (:class:`EvaluationConfig`, ``evaluation.json``) and, with a :class:`ModelCheckConfig`, check the world model on
  its states (``model_check.json``);
- ``evaluate``: score one policy (the data's behaviour policy) into ``out``.

Each step is skipped when its output is there and up to date, so a killed job resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation.model_check import ModelCheckConfig, check_model
from rwmu.evaluation.simulator import EvaluationConfig, evaluate_policy
from rwmu.experiments.jobs import trained_iterations
from rwmu.experiments.manifest import export_onnx
from rwmu.experiments.paths import EVALUATION_JSON, EXPORT_DIR, MODEL_CHECK_JSON, SUMMARY_JSON
from rwmu.models.checkpoint import load_world_model
from rwmu.tasks import get_task
from rwmu.tasks.base import RewardWeights
from rwmu.training.export import EXPORT_FILES
from rwmu.training.policy import train_policy
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import latest_checkpoint, saved_checkpoints
from rwmu.training.world_model import WorldModelTrainer
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.config import config_from_dict
from rwmu.utils.io import run_metadata, to_jsonable, write_json_atomic


def world_model_job(job: dict[str, Any]) -> None:
    out = Path(job["out"])
    if (out / SUMMARY_JSON).is_file():
        return
    config = config_from_dict(TrainModelConfig, job["config"])
    task = get_task(job["task"])
    window = config.architecture.history_horizon + config.optim.forecast_horizon
    dataset = load_dataset(job["data"], task=task, min_rows=window)
    resume = (out / "model_latest.pt").is_file()
    WorldModelTrainer(dataset, task, out, config, resume=resume, data_path=job["data"]).train()


def policy_job(job: dict[str, Any]) -> None:
    run_dir = Path(job["out"])
    config = config_from_dict(PolicyTrainingConfig, job["config"])
    task = get_task(job["task"])
    if job.get("rewards") is not None:  # reward weights other than the task's (rwmu sweep --train-args)
        task = dataclasses.replace(task, rewards=config_from_dict(RewardWeights, job["rewards"]))
    done = trained_iterations(run_dir)
    trained_now = done is None or done < config.iterations
    if trained_now:
        resume = run_dir.is_dir() and bool(saved_checkpoints(run_dir))
        train_policy(
            task, job["world_model"], job["data"], run_dir, config, resume=True if resume else None, progress=False
        )
    onnx = run_dir / EXPORT_DIR / EXPORT_FILES["onnx"]
    exported_now = trained_now or not onnx.is_file()
    if exported_now:
        export_onnx(latest_checkpoint(run_dir), run_dir / EXPORT_DIR)
    policy = str(onnx)  # the file that is published is the file that is scored
    if exported_now or not (run_dir / EVALUATION_JSON).is_file():
        evaluate_job(
            {"task": job["task"], "policy": policy, "out": str(run_dir / EVALUATION_JSON), "config": job["evaluation"]}
        )
    if job.get("model_check") is not None and (trained_now or not (run_dir / MODEL_CHECK_JSON).is_file()):
        check = config_from_dict(ModelCheckConfig, job["model_check"])
        model = load_world_model(job["world_model"], task=task)
        report = check_model(model, policy, load_dataset(job["data"], task=task), task, check)
        write_json_atomic(run_dir / MODEL_CHECK_JSON, {"policy": policy, **report, "config": to_jsonable(check)})


def evaluate_job(job: dict[str, Any]) -> None:
    config = config_from_dict(EvaluationConfig, job["config"])
    result = evaluate_policy(job["policy"], config, get_task(job["task"]), progress=False)
    result["policy"] = job["policy"]
    write_json_atomic(Path(job["out"]), {**result, "config": to_jsonable(config), "meta": run_metadata()})


JOBS = {"world_model": world_model_job, "policy": policy_job, "evaluate": evaluate_job}


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
