"""The one policy loader: every form of policy rwmu runs, told apart by what it is, not by trial and error.

:func:`load_policy` accepts:

- ``scripted``: the trotting controller of :mod:`rwmu.behavior` (Go2 only; nominal gains, no noise by default);
- ``zero``: zero actions, i.e. the PD servos hold the default pose (standing still; 0 of the normalised score);
- ``expert``: the Go2 policy shipped with rwmu (an export folder in ``rwmu/policies/go2_expert``, trained with
  ``rwmu train-online``; 1 of the normalised score), where this version ships one;
- a policy run folder of ``rwmu train-policy``: its latest ``model_<it>.pt``;
- an rsl_rl checkpoint ``model_<it>.pt`` written by ``rwmu train-policy`` (the actor is rebuilt from the stored
  rsl_rl config, :func:`rwmu.training.export.load_actor`, and runs deterministically: the mean action);
- an export folder of ``rwmu export`` (``policy.json`` with ``policy.pt`` and/or ``policy.onnx``);
- a TorchScript file (``policy.pt``, or rsl_rl's ``export_policy_to_jit``) or an ONNX file (``.onnx``; rsl_rl's
  ``export_policy_to_onnx`` files, which fix the batch size to 1, are run one row at a time).

The task a checkpoint or export records (``infos["rwmu"]["task"]``, ``policy.json``) must be the task asked for,
and every loaded policy must map ``(n, observation_dim)`` observations to ``(n, num_actions)`` actions; anything
else is a one-line :class:`~rwmu.errors.RwmuError`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from rwmu.behavior import TrotConfig, TrotController, TrotDiversity
from rwmu.errors import RwmuError
from rwmu.sim.collect import NoisyPolicy
from rwmu.tasks import simulated_task
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.training.export import EXPORT_FILES, EXPORT_FORMAT, load_actor
from rwmu.training.runner import read_policy_checkpoint, saved_checkpoints
from rwmu.utils.checkpoints import is_torchscript_archive

SHIPPED_EXPERTS = {
    "go2_flat": Path(__file__).resolve().parents[1] / "policies" / "go2_expert",
    "go2_flat_deploy": Path(__file__).resolve().parents[1] / "policies" / "go2_flat_deploy_expert",
}
"""The Go2 experts rwmu ships (export folders, package data), per task: ``--policy expert``, and the 1 of the
normalised score, is the expert of the task being run."""


def shipped_expert(task_name: str | None) -> Path | None:
    """The export folder of the expert shipped for ``task_name`` (go2_flat where None), None if this version ships
    none for it."""
    folder = SHIPPED_EXPERTS.get(task_name or GO2_FLAT.name)
    return folder if folder is not None and (folder / EXPORT_FILES["meta"]).is_file() else None


ACCEPTED = (
    "'scripted', 'zero', 'expert', a policy run folder, a model_<iteration>.pt checkpoint, an export folder (policy.json), "
    "a TorchScript .pt or an .onnx file"
)


class Policy(Protocol):
    """What the simulators run: ``act(obs (n, obs_dim)) -> actions (n, num_actions)``; ``reset`` at episode starts."""

    def act(self, obs: torch.Tensor) -> torch.Tensor: ...

    def __call__(self, obs: torch.Tensor) -> torch.Tensor: ...

    def reset(self, env_ids: torch.Tensor | None = None) -> None: ...


class ModulePolicy:
    """A feed-forward torch module ``obs -> mean action``: rsl_rl's exportable actor (``MLPModel.as_jit()``, the
    observation normaliser included) or a TorchScript file. ``reset`` does nothing."""

    def __init__(self, module: torch.nn.Module):
        self.module = module.eval()

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return self.module(obs.float()).float()

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(obs)

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        return None


class ZeroPolicy:
    """Zero actions ``(n, num_actions)``: the PD servos hold the default joint pose (standing still)."""

    def __init__(self, num_actions: int):
        self.num_actions = int(num_actions)

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[0], self.num_actions)

    __call__ = act

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        return None


class OnnxPolicy:
    """An ONNX actor (needs onnxruntime): first input ``(n, obs_dim)`` float32 -> first output ``(n, num_actions)``."""

    def __init__(self, path: Path):
        try:
            import onnxruntime as ort
        except ImportError:
            raise RwmuError(
                f"{path}: running an ONNX policy needs onnxruntime (pip install onnxruntime); or pass "
                f"the TorchScript policy.pt"
            ) from None
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - any ONNX load failure is a user-file problem
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise RwmuError(f"{path}: not a loadable ONNX policy ({first[:200]})") from None
        first_input = self.session.get_inputs()[0]
        self.input_name = first_input.name
        # rsl_rl's export_policy_to_onnx fixes the batch size to 1: such a model is run one row at a time.
        self.single_row = bool(first_input.shape) and first_input.shape[0] == 1

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.detach().float().cpu().numpy()
        if self.single_row and x.shape[0] != 1:
            out = np.concatenate([self.session.run(None, {self.input_name: x[i : i + 1]})[0] for i in range(len(x))])
        else:
            out = self.session.run(None, {self.input_name: x})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32))

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(obs)

    def reset(self, env_ids: torch.Tensor | None = None) -> None:
        return None


def _check_task(path: Path, recorded: Any, task: Task) -> None:
    if isinstance(recorded, str) and recorded != task.name:
        raise RwmuError(
            f"{path}: this policy was trained for task {recorded!r}, not {task.name!r}; run it with "
            f"--task {recorded} or pick a {task.name} policy"
        )


def _export_meta(meta_path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != EXPORT_FORMAT:
        raise RwmuError(f"{meta_path}: not a policy description written by rwmu export (format {EXPORT_FORMAT!r})")
    return meta


def _load_torchscript(path: Path) -> ModulePolicy:
    try:
        with warnings.catch_warnings():  # torch.jit.load is deprecated but still reads rsl_rl's policy.pt exports
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:  # noqa: BLE001 - a damaged archive is a user-file problem
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise RwmuError(f"{path}: not a loadable TorchScript policy ({first[:200]})") from None
    return ModulePolicy(module)


def _load_file(path: Path, task: Task) -> Policy:
    """A policy file: ``.onnx``, TorchScript archive, or rsl_rl checkpoint; the task it records is checked."""
    meta_path = path.with_name(EXPORT_FILES["meta"])
    if path.name in (EXPORT_FILES["torchscript"], EXPORT_FILES["onnx"]) and meta_path.is_file():
        _check_task(path, _export_meta(meta_path).get("task"), task)
    if path.suffix.lower() == ".onnx":
        return OnnxPolicy(path)
    if is_torchscript_archive(path):
        return _load_torchscript(path)
    actor, info = load_actor(path)  # one-line errors for anything that is not a train-policy checkpoint
    _check_task(path, info.get("task"), task)
    return ModulePolicy(actor.as_jit())


def _check_shapes(policy: Policy, path: Path, task: Task) -> None:
    """Run two zero observations through ``policy``: it must return ``(2, num_actions)`` actions."""
    obs_dim, num_actions = int(task.observation_dim), int(task.dims.action)
    try:
        out = policy.act(torch.zeros(2, obs_dim))
    except Exception as err:  # noqa: BLE001 - a shape mismatch inside a foreign module
        last = (str(err).strip().splitlines() or [type(err).__name__])[-1].strip()  # TorchScript: the cause is last
        raise RwmuError(
            f"{path}: the policy does not take the {obs_dim} observations of task {task.name} ({last[:160]})"
        ) from None
    if tuple(out.shape) != (2, num_actions):
        raise RwmuError(
            f"{path}: the policy returns actions of shape {tuple(out.shape[1:])}, task {task.name} has "
            f"{num_actions} actions"
        )


def trained_task(spec: str | Path) -> str | None:
    """The task a policy ``spec`` was trained on, as it records it (checkpoint ``infos["rwmu"]``, ``policy.json``);
    None for ``scripted``, ``zero``, ``expert`` (one per task) and files that record none. Used where ``--task`` is
    left to the policy."""
    if str(spec) in ("scripted", "zero", "expert"):
        return None
    path = Path(spec)
    meta = path / EXPORT_FILES["meta"] if path.is_dir() else path.with_name(EXPORT_FILES["meta"])
    if meta.is_file() and (path.is_dir() or path.name in (EXPORT_FILES["torchscript"], EXPORT_FILES["onnx"])):
        task = _export_meta(meta).get("task")
        return task if isinstance(task, str) else None
    checkpoints = saved_checkpoints(path) if path.is_dir() else []
    if checkpoints:
        path = checkpoints[-1][1]
    if path.is_file() and path.suffix == ".pt" and not is_torchscript_archive(path):
        info = (read_policy_checkpoint(path).get("infos") or {}).get("rwmu") or {}
        task = info.get("task") if isinstance(info, dict) else None
        return task if isinstance(task, str) else None
    return None


def policy_task(spec: str | Path, task: str | None) -> Task:
    """The simulated task ``spec`` runs on: ``task`` where given (``--task``), else the task the policy records,
    else go2_flat (``scripted``, ``zero``)."""
    return simulated_task(task or trained_task(spec) or GO2_FLAT.name)


def policy_file(spec: str | Path, task_name: str | None = None) -> Path | None:
    """The file a policy ``spec`` loads from (for provenance: path and hash), None for ``scripted`` and ``zero``."""
    if str(spec) in ("scripted", "zero"):
        return None
    path = (shipped_expert(task_name) or Path("expert")) if str(spec) == "expert" else Path(spec)
    if path.is_dir():
        if (path / EXPORT_FILES["meta"]).is_file():
            found = [path / EXPORT_FILES[k] for k in ("torchscript", "onnx") if (path / EXPORT_FILES[k]).is_file()]
            return found[0] if found else None
        checkpoints = saved_checkpoints(path)
        return checkpoints[-1][1] if checkpoints else None
    return path


def load_behaviour_policy(
    spec: str | Path,
    num_envs: int,
    task: Task,
    seed: int = 0,
    action_noise: float | None = None,
    scripted_config: TrotConfig | None = None,
) -> Policy:
    """A behaviour policy as it records data (``rwmu collect``, ``rwmu demo``): :func:`load_policy`, with Gaussian
    action noise of std ``action_noise`` (seeded with ``seed + 1``) on a learned policy; the scripted controller
    takes its noise from ``scripted_config``."""
    policy = load_policy(spec, num_envs, task, seed, scripted_config)
    if str(spec) != "scripted" and action_noise:
        policy = NoisyPolicy(policy, action_noise, seed=seed + 1)
    return policy


def load_policy(
    spec: str | Path, num_envs: int, task: Task, seed: int = 0, scripted_config: TrotConfig | None = None
) -> Policy:
    """The policy ``spec`` names, ready to drive ``num_envs`` environments of ``task``.

    Args:
        spec: ``"scripted"``, ``"zero"``, ``"expert"`` or a path: a policy run folder, a ``model_<it>.pt``, an export folder, a TorchScript
            ``.pt`` or an ``.onnx`` file (module docstring).
        num_envs: environments the policy will drive (the scripted controller keeps per-env gait state).
        task: the task it runs in; the task recorded with the policy must match, and its observation and action
            sizes must fit.
        seed: seed of the scripted controller's own randomness.
        scripted_config: a :class:`rwmu.behavior.TrotConfig` (default: nominal gains, diversity and noise off).

    Returns:
        an object with ``act(obs)`` / ``policy(obs)`` -> actions and ``reset(env_ids)``, on the CPU.
    """
    if str(spec) == "scripted":
        if task.name != GO2_FLAT.name:
            raise RwmuError(
                f"--policy scripted: the scripted trotting controller drives the Go2 (task "
                f"{GO2_FLAT.name}), not {task.name}"
            )
        config = scripted_config or TrotConfig(diversity=TrotDiversity(enabled=False), seed=seed)
        return TrotController(num_envs, config, dt=task.dt)
    if str(spec) == "zero":
        return ZeroPolicy(task.dims.action)
    if str(spec) == "expert":
        path = shipped_expert(task.name)
        if path is None:
            raise RwmuError(
                f"--policy expert: this rwmu version ships no expert for task {task.name}; train one with rwmu "
                f"train-online --task {task.name} and pass its run folder"
            )
        spec = path
    path = Path(spec)
    if not path.exists():
        raise RwmuError(f"--policy {spec}: no such file or folder; give {ACCEPTED}")
    if path.is_dir():
        if (path / EXPORT_FILES["meta"]).is_file():  # an export folder
            _check_task(path, _export_meta(path / EXPORT_FILES["meta"]).get("task"), task)
            found = [path / EXPORT_FILES[k] for k in ("torchscript", "onnx") if (path / EXPORT_FILES[k]).is_file()]
            if not found:
                raise RwmuError(f"{path}: an export folder without policy.pt or policy.onnx; run rwmu export again")
            path = found[0]
        else:
            checkpoints = saved_checkpoints(path)
            if not checkpoints:
                raise RwmuError(
                    f"{path}: holds neither model_<iteration>.pt checkpoints (a policy run folder) nor "
                    f"policy.json (an export folder); give {ACCEPTED}"
                )
            path = checkpoints[-1][1]
    policy = _load_file(path, task)
    _check_shapes(policy, path, task)
    return policy
