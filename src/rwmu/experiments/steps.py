"""The steps every pipeline runs the same way (``rwmu demo``'s stages, the workers of ``rwmu experiment`` and
``rwmu sweep``): train or continue a world model, train or continue a policy, score a policy in MuJoCo, check the
world model on a policy's states, study its uncertainty signals there. Each writes where it is told; the callers decide the layout and what to print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rwmu.data.layout import DataDims
from rwmu.data.loading import load_dataset
from rwmu.evaluation.model_check import check_model
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.evaluation.signals import study_signals, write_study
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.models.checkpoint import load_world_model
from rwmu.tasks import get_task, task_names
from rwmu.tasks.base import Task
from rwmu.training.policy import train_policy
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.runner import saved_checkpoints
from rwmu.training.world_model import WorldModelTrainer
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.io import run_metadata, to_jsonable, write_json_atomic


def train_world_model(
    config: TrainModelConfig,
    data: str | Path | list[str],
    out: Path,
    task: Task | None,
    dims: DataDims | None = None,
    resume: bool | None = None,
    command: Any = None,
) -> dict[str, Any]:
    """Train a world model on ``data`` (columns named by ``task`` or ``dims``; a native file may name its own task)
    into ``out`` and return its summary; ``resume=None`` continues from ``model_latest.pt`` if an earlier run
    stopped. ``command`` is recorded in ``config.json``."""
    window = config.architecture.history_horizon + config.optim.forecast_horizon
    dataset = load_dataset(data, task=task, dims=dims, min_rows=window)
    if task is None and dataset.meta.get("task") in task_names():
        task = get_task(dataset.meta["task"])
    if resume is None:
        resume = (Path(out) / "model_latest.pt").is_file()
    data_path = " ".join(data) if isinstance(data, list) else str(data)
    return WorldModelTrainer(dataset, task, out, config, resume=resume, data_path=data_path, command=command).train()


def train_policy_continuing(
    config: PolicyTrainingConfig,
    task: Task,
    world_model: str | Path,
    data: str | Path,
    run_dir: Path,
    progress: bool = True,
) -> None:
    """MOPO-PPO with ``config`` into ``run_dir``; continues from its latest checkpoint if an earlier run stopped."""
    resume = run_dir.is_dir() and bool(saved_checkpoints(run_dir))
    train_policy(task, world_model, data, run_dir, config, resume=True if resume else None, progress=progress)


def score_policy(
    config: EvaluationConfig,
    task: Task,
    policy: str,
    out_json: Path | None,
    progress: bool = True,
    video: str | Path | None = None,
    video_steps: int | None = None,
    command: Any = None,
) -> dict[str, Any]:
    """Score ``policy`` in MuJoCo on the unpenalised reward (``rwmu evaluate``), into ``out_json`` as ``rwmu evaluate
    --json`` writes it (None: not written, with ``command`` recorded where given); ``video`` renders environment 0."""
    result = evaluate_policy(policy, config, task, video_path=video, progress=progress, video_steps=video_steps)
    result["policy"] = policy
    if out_json is not None:
        document = {**result, "config": to_jsonable(config), "meta": run_metadata()}
        if command is not None:
            document["command"] = to_jsonable(command)
        write_json_atomic(out_json, document)
    return result


def check_policy(
    config: ModelCheckConfig, task: Task, world_model: str | Path, data: str | Path, policy: str, out_json: Path
) -> dict[str, Any]:
    """``rwmu check-model`` of ``policy`` against ``world_model`` and its ``data``, into ``out_json``."""
    model = load_world_model(world_model, task=task)
    report = check_model(model, policy, load_dataset(data, task=task), task, config)
    write_json_atomic(out_json, {"policy": policy, **report, "config": to_jsonable(config)})
    return report


def study_policy_signals(
    config: SignalStudyConfig,
    task: Task,
    world_model: str | Path,
    data: str | Path,
    policy: str,
    out: Path,
    progress: bool = False,
) -> dict[str, Any]:
    """``rwmu signals``: every uncertainty signal of ``world_model`` scored on ``policy``'s MuJoCo states, into
    ``out`` (``signals.json``, ``signals.npz``, ``roc.png``)."""
    model = load_world_model(world_model, task=task)
    on_policy, on_data = study_signals(model, policy, load_dataset(data, task=task), task, config, progress=progress)
    extra = {"world_model": str(world_model), "data": str(data), "policy": policy, "meta": run_metadata()}
    return write_study(out, on_policy, on_data, config, f"{Path(policy).name}", extra)
