"""Deployable actor files from an rsl_rl policy checkpoint (or run folder) written by ``rwmu train-policy``.

:func:`export_policy` writes to a folder, with rsl_rl's own exporters (``MLPModel.as_jit`` / ``as_onnx``, the
modules behind ``OnPolicyRunner.export_policy_to_jit`` / ``export_policy_to_onnx``):

- ``policy.pt``: TorchScript module, ``actions = policy(obs)``; obs ``(batch, obs_dim)`` float32 in the physical
  units of :func:`rwmu.tasks.observations.build_policy_observation`, actions ``(batch, A)`` (the mean action);
- ``policy.onnx``: the same network for ONNX runtimes, input ``obs``, output ``actions``; unlike rsl_rl's runner
  export (batch size 1) the batch size is dynamic;
- ``policy.json``: task, observation and action names, dimensions, control ``dt``, the source checkpoint and its
  SHA-256 (:func:`rwmu.training.policy_loader.load_policy` checks the task against it); for a Go2 policy also the
  deployment facts (joint map to the SDK's motor order, PD gains, default pose, action scale, observation terms:
  :mod:`rwmu.training.deploy_facts`), which go into the ONNX file's ``metadata_props`` as well.

rsl_rl's exported modules apply the learnt observation normalisation (rsl_rl ``obs_normalization``) themselves, so
deployed files take raw observations.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import onnx
import torch
from rsl_rl.utils import resolve_class
from tensordict import TensorDict

from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.tasks.base import Task
from rwmu.tasks.observations import observation_names
from rwmu.training.deploy_facts import deploy_facts, onnx_metadata
from rwmu.training.runner import read_policy_checkpoint, resolve_policy_checkpoint
from rwmu.utils.io import atomic_path, file_sha256, write_json_atomic

EXPORT_FORMAT = "rwmu.exported_policy"
EXPORT_FILES = {"torchscript": "policy.pt", "onnx": "policy.onnx", "meta": "policy.json"}


def load_actor(checkpoint: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the rsl_rl actor of a ``rwmu train-policy`` checkpoint (or of a run folder's latest checkpoint).

    Returns:
        ``(actor, info)``: the rsl_rl ``MLPModel`` in eval mode, and ``infos["rwmu"]`` (task, observation layout,
        world model, config) from the checkpoint.
    """
    path = resolve_policy_checkpoint(checkpoint)
    ckpt = read_policy_checkpoint(path, map_location=device)
    info = (ckpt.get("infos") or {}).get("rwmu")
    if not isinstance(info, dict) or "rsl_rl_cfg" not in info:
        raise RwmuError(
            f"{path}: an rsl_rl checkpoint without rwmu metadata (infos['rwmu']); only checkpoints "
            f"written by rwmu train-policy can be read (for others, pass the file rsl_rl's "
            f"export_policy_to_jit writes)"
        )
    actor_class, actor_kwargs = resolve_class(dict(info["rsl_rl_cfg"]["actor"]))
    obs = TensorDict({"policy": torch.zeros(1, int(info["observation_dim"]))}, batch_size=[1])
    actor = actor_class(obs, {"actor": ["policy"]}, "actor", int(info["num_actions"]), **actor_kwargs)
    try:
        actor.load_state_dict(ckpt["actor_state_dict"], strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())[:200]
        raise RwmuError(f"{path}: actor weights do not fit the stored actor config ({detail})") from None
    return actor.to(device).eval(), info


def export_policy(checkpoint: str | Path, out_dir: str | Path) -> dict[str, str]:
    """Write ``policy.pt`` (TorchScript), ``policy.onnx`` and ``policy.json`` for ``checkpoint`` into ``out_dir``.

    Args:
        checkpoint: a ``model_<it>.pt`` of ``rwmu train-policy``, or its run folder (the latest checkpoint).
        out_dir: the export folder (created).

    Returns:
        name (``torchscript``, ``onnx``, ``meta``) -> path of each written file.
    """
    checkpoint = resolve_policy_checkpoint(checkpoint)
    actor, info = load_actor(checkpoint)
    obs_dim, num_actions = int(info["observation_dim"]), int(info["num_actions"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / filename for name, filename in EXPORT_FILES.items()}

    with warnings.catch_warnings():  # TorchScript is deprecated in recent torch but still the deployment standard
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(actor.as_jit().cpu().eval())
        with atomic_path(paths["torchscript"]) as tmp:
            scripted.save(str(tmp))

    onnx_model = actor.as_onnx(verbose=False).cpu().eval()
    write_onnx(
        onnx_model, onnx_model.get_dummy_inputs(), paths["onnx"], onnx_model.input_names, onnx_model.output_names
    )
    task = get_task(info["task"]) if info.get("task") else None
    deploy = deploy_facts(task) if task is not None and task.simulated else None
    if deploy is not None:  # a Go2 policy: the facts a robot runtime needs (rwmu.training.deploy_facts)
        set_onnx_metadata(paths["onnx"], onnx_metadata(task, deploy))

    write_export_meta(
        paths["meta"],
        task,
        checkpoint,
        observation_normalization_included=bool(getattr(actor, "obs_normalization", False)),
        extra={"world_model": info.get("world_model"), **({"deploy": deploy} if deploy is not None else {})},
        dims=(obs_dim, num_actions),
        names=(info.get("observation_names"), info.get("action_names")),
        dt=info.get("dt"),
    )
    return {k: str(v) for k, v in paths.items()}


def write_export_meta(
    path: Path,
    task: Task | None,
    source: Path,
    observation_normalization_included: bool,
    extra: dict[str, Any] | None = None,
    dims: tuple[int, int] | None = None,
    names: tuple[Any, Any] | None = None,
    dt: float | None = None,
) -> None:
    """Write an export folder's ``policy.json`` (module docstring): the task, observation and action names and sizes
    (by default the task's), control ``dt``, the source file and its SHA-256, and ``extra`` entries."""
    obs_dim, num_actions = dims if dims is not None else (int(task.observation_dim), int(task.dims.action))
    obs_names, action_names = names if names is not None else (list(observation_names(task)), list(task.action_names))
    meta = {
        "format": EXPORT_FORMAT,
        "source_checkpoint": str(Path(source).resolve()),
        "source_sha256": file_sha256(source),
        "task": task.name if task is not None else None,
        "dt": dt if dt is not None else (task.dt if task is not None else None),
        "observation_dim": obs_dim,
        "num_actions": num_actions,
        "observation_names": obs_names,
        "action_names": action_names,
        "observation_normalization_included": observation_normalization_included,
        "inputs": {"obs": ["batch", obs_dim]},
        "outputs": {"actions": ["batch", num_actions]},
        **(extra or {}),
    }
    write_json_atomic(path, meta)


def set_onnx_metadata(path: Path, props: dict[str, str]) -> None:
    """Write ``props`` into the ``metadata_props`` of the ONNX file at ``path`` (replacing keys it already has)."""
    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in props.items():
        model.metadata_props.add(key=key, value=value)
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))


def write_onnx(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    input_names: list[str],
    output_names: list[str],
) -> None:
    """Export ``module`` (one input ``(batch, obs_dim)``) to ONNX at ``path`` with a dynamic batch size, atomically
    and without torch.onnx's progress output."""
    onnx_logger = logging.getLogger("torch.onnx")
    previous = onnx_logger.level
    with atomic_path(path) as tmp, warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        onnx_logger.setLevel(logging.ERROR)
        try:
            torch.onnx.export(
                module,
                example,
                str(tmp),
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                opset_version=18,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        finally:
            onnx_logger.setLevel(previous)
