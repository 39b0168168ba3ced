"""MOPO-PPO: rsl_rl's PPO, unchanged, on the uncertainty-penalised imagination environment (docs/method.md section 6).

:func:`train_policy` loads a world model and its dataset, builds an :class:`~rwmu.envs.imagination.ImaginationEnv`
and runs :class:`ImaginationRunner` (rsl_rl's ``OnPolicyRunner``) on it. The run folder receives:

- ``model_<it>.pt``: rsl_rl checkpoints (``actor_state_dict``, ``critic_state_dict``, ``optimizer_state_dict``,
  ``iter``, ``infos``); ``infos["rwmu"]`` records the task, the world model's path and SHA-256, the data, the
  normalisation, the observation layout and the rsl_rl config, so a checkpoint is self-describing (export, play);
- ``run_info.json``: the same facts beside the checkpoints; ``config.json``: resolved config + versions;
- TensorBoard event files (or W&B with ``logger="wandb"``); rsl_rl's ``git/*.diff`` code state only with
  ``log_code_state``;
- ``summary.json``: ``imagined_reward`` / ``imagined_task_reward``, the mean reward per environment step over the
  last iteration with and without the uncertainty penalty (defined even if no episode ended), the mean epistemic
  uncertainty, and rsl_rl's mean episode return when episodes ended.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import random
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from rsl_rl.runners import OnPolicyRunner
from rsl_rl.utils.logger import Logger
from tqdm import tqdm

from rwmu.data.loading import load_dataset
from rwmu.envs.imagination import ImaginationEnv
from rwmu.errors import RwmuError
from rwmu.models.checkpoint import WEIGHTS_KEY as WORLD_MODEL_WEIGHTS_KEY
from rwmu.models.checkpoint import load_world_model
from rwmu.tasks.observations import observation_names
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.utils.checkpoints import read_torch_checkpoint
from rwmu.utils.io import file_sha256, to_jsonable, torch_save_atomic, write_json_atomic, write_run_config

CHECKPOINT_FORMAT = "rwmu.policy"
CHECKPOINT_VERSION = 1


def rsl_rl_train_cfg(config: PolicyTrainingConfig) -> dict:
    """The rsl_rl (5.x) ``train_cfg`` dict for ``OnPolicyRunner``."""
    ppo, pol = config.ppo, config.policy
    if config.logger == "wandb":
        logger: Any = {"class_name": "rsl_rl.utils.wandb_log_writer:WandbLogWriter",
                       "project_name": config.wandb_project}  # fmt: skip
    else:
        logger = "tensorboard"
    return {
        "num_steps_per_env": int(config.steps_per_env),
        "save_interval": int(config.save_interval),
        "obs_groups": {"actor": ["policy"], "critic": ["policy"]},
        "logger": logger,
        "check_for_nan": True,
        "algorithm": {
            "class_name": "rsl_rl.algorithms:PPO",
            **{f.name: getattr(ppo, f.name) for f in dataclasses.fields(ppo)},
        },
        "actor": {
            "class_name": "rsl_rl.models:MLPModel",
            "hidden_dims": list(pol.actor_hidden_dims),
            "activation": pol.activation,
            "obs_normalization": bool(pol.obs_normalization),
            "distribution_cfg": {
                "class_name": "rsl_rl.modules.distribution:GaussianDistribution",
                "init_std": float(pol.init_noise_std),
                "std_type": "scalar",
            },
        },
        "critic": {
            "class_name": "rsl_rl.models:MLPModel",
            "hidden_dims": list(pol.critic_hidden_dims),
            "activation": pol.activation,
            "obs_normalization": bool(pol.obs_normalization),
        },
    }


class ImaginationLogger(Logger):
    """rsl_rl's ``Logger`` (TensorBoard / W&B scalars unchanged), quiet by default, reporting every iteration.

    - ``log``: rsl_rl writes its scalars; its console report is printed only with ``verbose``; then
      ``on_iteration(it, collect_time, learn_time)`` runs (the runner's per-iteration hook).
    - ``_store_code_state``: rsl_rl writes ``git/<repo>.diff`` of the repositories holding rsl_rl and the
      environment into the run folder; only with ``log_code_state``.
    """

    def __init__(self, *args: Any, verbose: bool = False, log_code_state: bool = False,
                 on_iteration: Callable[[int, float, float], None] | None = None, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.verbose = verbose
        self.log_code_state = log_code_state
        self.on_iteration = on_iteration

    def log(self, it: int, start_it: int, total_it: int, collect_time: float, learn_time: float,
            **kwargs: Any) -> None:  # fmt: skip
        quiet = contextlib.nullcontext() if self.verbose else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            super().log(it=it, start_it=start_it, total_it=total_it, collect_time=collect_time,
                        learn_time=learn_time, **kwargs)  # fmt: skip
        if self.on_iteration is not None:
            self.on_iteration(it, collect_time, learn_time)

    def _store_code_state(self) -> list[str]:
        return super()._store_code_state() if self.log_code_state else []


class ImaginationRunner(OnPolicyRunner):
    """rsl_rl's ``OnPolicyRunner`` with atomic, self-describing checkpoints, a tqdm progress bar and no printouts.

    The learning loop and PPO are rsl_rl's own. Overridden: ``__init__`` (rsl_rl's printout of the observation
    sets and networks only with ``print_networks``; the logger is an :class:`ImaginationLogger`), ``learn`` (opens
    the progress bar), ``save`` (rsl_rl's dict written through a temporary file, plus ``infos["rwmu"]``) and
    ``load`` (``weights_only`` reading; refuses a checkpoint trained in another world model).

    Attributes:
        iteration_stats: per iteration, ``env.step_statistics()`` (reward, task reward, uncertainty) and rsl_rl's
            ``collect_time`` / ``learn_time`` in seconds.
    """

    def __init__(self, env, train_cfg: dict, log_dir: str | None, device: str, rwmu_info: dict,
                 verbose: bool = False, progress: bool = True, log_code_state: bool = False,
                 print_networks: bool = False) -> None:  # fmt: skip
        quiet = contextlib.nullcontext() if print_networks else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.logger = ImaginationLogger(
            log_dir=log_dir, cfg=self.cfg, env_cfg=self.env.cfg, num_envs=self.env.num_envs,
            is_distributed=self.is_distributed, gpu_world_size=self.gpu_world_size,
            gpu_global_rank=self.gpu_global_rank, device=self.device,
            verbose=verbose, log_code_state=log_code_state, on_iteration=self._after_iteration,
        )  # fmt: skip
        self.rwmu_info = rwmu_info
        self.iteration_stats: list[dict[str, float]] = []
        self._bar = None
        self._progress = progress and not verbose

    def _after_iteration(self, it: int, collect_time: float, learn_time: float) -> None:
        stats = self.env.step_statistics(self.cfg["num_steps_per_env"])
        self.iteration_stats.append({**stats, "collect_time": collect_time, "learn_time": learn_time})
        if self._bar is not None:
            self._bar.set_postfix(reward=f"{stats['reward']:.4f}", task=f"{stats['task_reward']:.4f}",
                                  u=f"{stats['epistemic_uncertainty']:.3f}", refresh=False)  # fmt: skip
            self._bar.update(1)

    def learn(self, num_learning_iterations: int, init_at_random_ep_len: bool = False) -> None:
        if self._progress:
            self._bar = tqdm(total=num_learning_iterations, desc="MOPO-PPO", unit="it", dynamic_ncols=True)
        try:
            super().learn(num_learning_iterations, init_at_random_ep_len=init_at_random_ep_len)
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def save(self, path: str, infos: dict | None = None) -> None:
        saved = self.alg.save()
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = {**(infos or {}), "rwmu": self.rwmu_info}
        torch_save_atomic(saved, path)
        self.logger.save_model(path, self.current_learning_iteration)

    def load(self, path: str, load_cfg: dict | None = None, strict: bool = True,
             map_location: str | None = None) -> dict:  # fmt: skip
        loaded = read_policy_checkpoint(path, map_location=map_location or self.device)
        trained_on = ((loaded.get("infos") or {}).get("rwmu") or {}).get("world_model", {}).get("sha256")
        if trained_on is not None and trained_on != self.rwmu_info["world_model"]["sha256"]:
            raise RwmuError(f"{path}: this policy was trained in another world model (SHA-256 "
                            f"{trained_on[:12]}..., --world-model is {self.rwmu_info['world_model']['sha256'][:12]}"
                            "...); resume with the same --world-model or start a new --out")  # fmt: skip
        if self.alg.load(loaded, load_cfg, strict):
            self.current_learning_iteration = loaded["iter"]
        return loaded.get("infos")


def read_policy_checkpoint(path: str | Path, map_location: str | torch.device | None = "cpu") -> dict:
    """An rsl_rl policy checkpoint dict (:func:`rwmu.utils.checkpoints.read_torch_checkpoint`, ``weights_only``),
    refusing files without ``actor_state_dict`` (a world model among them) with one line."""
    ckpt = read_torch_checkpoint(path, "a policy checkpoint model_<iteration>.pt written by rwmu train-policy",
                                 map_location=map_location)  # fmt: skip
    if "actor_state_dict" not in ckpt:
        if WORLD_MODEL_WEIGHTS_KEY in ckpt:
            raise RwmuError(f"{path}: not a policy checkpoint, it looks like a world model: pass it as --world-model")
        keys = ", ".join(sorted(map(str, ckpt))[:6])
        raise RwmuError(f"{path}: not an rsl_rl policy checkpoint (key actor_state_dict is missing; keys: {keys})")
    return ckpt


def saved_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """``(k, path)`` of every ``model_<k>.pt`` in ``run_dir``, by ``k``."""
    found = []
    for p in Path(run_dir).glob("model_*.pt"):
        suffix = p.stem[len("model_"):]
        if suffix.isdigit():
            found.append((int(suffix), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path:
    """The ``model_<it>.pt`` with the highest iteration in ``run_dir``."""
    found = saved_checkpoints(run_dir)
    if not found:
        raise RwmuError(f"{run_dir}: holds no model_<iteration>.pt checkpoint to resume from")
    return found[-1][1]


def resolve_policy_checkpoint(path: str | Path) -> Path:
    """A policy checkpoint given as itself or as its run folder (then its latest ``model_<it>.pt``)."""
    p = Path(path)
    if p.is_dir():
        found = saved_checkpoints(p)
        if not found:
            raise RwmuError(f"{p}: a folder without model_<iteration>.pt policy checkpoints; give a run folder of "
                            f"rwmu train-policy or a checkpoint file")  # fmt: skip
        return found[-1][1]
    if not p.exists():
        raise RwmuError(f"{p}: no such file or folder; give a policy run folder or its model_<iteration>.pt")
    return p


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _earlier_summary(out_dir: Path, done_iterations: int) -> dict[str, Any]:
    """The ``summary.json`` a resumed run left behind, if it ends where this invocation resumes (else ``{}``)."""
    path = out_dir / "summary.json"
    try:
        earlier = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}
    return earlier if earlier.get("iterations") == done_iterations else {}


def train_policy(
    task,
    world_model_path: str | Path,
    data_path: str | Path | list,
    out_dir: str | Path,
    config: PolicyTrainingConfig = PolicyTrainingConfig(),
    resume: str | Path | bool | None = None,
    progress: bool = True,
    command: Any = None,
) -> dict:
    """Train a policy with MOPO-PPO in imagination; return the summary (also written to ``out_dir/summary.json``).

    Args:
        task: the :class:`~rwmu.tasks.base.Task` (reward weights included).
        world_model_path: world-model checkpoint (rwmu or reference format).
        data_path: dataset the starting histories come from (anything :func:`rwmu.data.loading.load_dataset` reads).
        out_dir: run folder.
        config: :class:`PolicyTrainingConfig`.
        resume: ``True`` to continue from the latest checkpoint in ``out_dir``, or a checkpoint path.
            ``config.iterations`` is the total: a resumed run performs the remaining iterations.
        progress: show a tqdm progress bar (ignored with ``config.verbose``).
        command: the whole command config that started the run (``rwmu train-policy``), recorded in config.json so
            that ``--resume`` continues with the same settings.
    """
    out_dir = Path(out_dir)
    device = str(config.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {device}: no CUDA device is available here; use --device cpu")
    if config.iterations < 1 or config.steps_per_env < 1:
        raise RwmuError("--iterations and --steps-per-env must be >= 1")
    if config.logger == "wandb":
        try:
            import wandb  # noqa: F401
        except ImportError:
            raise RwmuError("--logger wandb needs the wandb package: pip install 'rwmu[wandb]' (or pip install "
                            "wandb), or use the default --logger tensorboard") from None  # fmt: skip
    resume_path: Path | None = None
    if resume:
        resume_path = latest_checkpoint(out_dir) if resume is True else Path(resume)
    elif out_dir.is_dir() and any(out_dir.glob("model_*.pt")):
        raise RwmuError(f"{out_dir} already holds a policy run (model_*.pt); pass --resume or another --out")

    _seed_everything(config.seed)
    world_model_path = Path(world_model_path)
    model = load_world_model(world_model_path, device=device, task=task)
    dataset = load_dataset(data_path, task=task)
    env_config = dataclasses.replace(config.env, log_window=config.steps_per_env)
    env = ImaginationEnv(model, dataset, task, env_config, device=device, seed=config.seed)

    info = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "task": task.name,
        "reward_weights": to_jsonable(task.rewards),
        "world_model": {"path": str(world_model_path.resolve()), "sha256": file_sha256(world_model_path)},
        "data": [str(p) for p in data_path] if isinstance(data_path, (list, tuple)) else str(data_path),
        "normalization": env.normalization.to_dict(),
        "observation_dim": int(task.observation_dim),
        "num_actions": int(task.dims.action),
        "observation_names": list(observation_names(task)),
        "action_names": list(task.action_names),
        "dt": float(task.dt),
        "config": to_jsonable(config),
    }
    train_cfg = rsl_rl_train_cfg(config)
    runner = ImaginationRunner(env, train_cfg, log_dir=str(out_dir), device=device, rwmu_info=info,
                               verbose=config.verbose, progress=progress, log_code_state=config.log_code_state,
                               print_networks=config.print_networks)  # fmt: skip
    info["rsl_rl_cfg"] = to_jsonable(runner.cfg)
    done_iterations = 0
    if resume_path is not None:
        runner.load(str(resume_path))
        done_iterations = int(runner.current_learning_iteration) + 1
        runner.current_learning_iteration = done_iterations  # continue after the saved iteration
    remaining = int(config.iterations) - done_iterations
    if remaining < 1:
        raise RwmuError(
            f"{resume_path} already has {done_iterations} iterations; raise --iterations above that to continue"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    write_run_config(out_dir, {"command": command, "train_policy": config, "task": task, "rsl_rl": info["rsl_rl_cfg"]})
    write_json_atomic(out_dir / "run_info.json", info)

    start = time.perf_counter()
    runner.learn(remaining, init_at_random_ep_len=config.init_at_random_ep_len and resume_path is None)
    wall = time.perf_counter() - start

    earlier = _earlier_summary(out_dir, done_iterations) if resume_path is not None else {}
    stats = env.step_statistics(config.steps_per_env)
    rewbuffer = list(runner.logger.rewbuffer)
    lenbuffer = list(runner.logger.lenbuffer)
    final_iteration = int(runner.current_learning_iteration)
    summary = {
        "imagined_reward": stats["reward"],
        "imagined_task_reward": stats["task_reward"],
        "epistemic_uncertainty": stats["epistemic_uncertainty"],
        "mean_episode_return": sum(rewbuffer) / len(rewbuffer) if rewbuffer else None,
        "mean_episode_length": sum(lenbuffer) / len(lenbuffer) if lenbuffer else None,
        "iterations": final_iteration + 1,
        "final_checkpoint": str(out_dir / f"model_{final_iteration}.pt"),
        "num_envs": env.num_envs,
        "steps_per_env": config.steps_per_env,
        "uncertainty_penalty": config.env.uncertainty_penalty,
        "dynamics": config.env.dynamics,
        "reduction": config.env.reduction or model.config.reduction,
        "env_steps_per_second": remaining * config.steps_per_env * env.num_envs / wall,
        "wall_time_s": wall + float(earlier.get("wall_time_s", 0.0)),
        "world_model": info["world_model"],
        "history": {
            key: list(earlier.get("history", {}).get(key, [])) + [h[stat] for h in runner.iteration_stats]
            for key, stat in (("imagined_reward", "reward"), ("imagined_task_reward", "task_reward"),
                              ("epistemic_uncertainty", "epistemic_uncertainty"))
        },
        "definitions": {
            "imagined_reward": "mean reward per env step over the last iteration, uncertainty penalty included",
            "imagined_task_reward": "same without the penalty (the task reward alone)",
            "epistemic_uncertainty": "mean epistemic uncertainty u per env step over the last iteration",
            "mean_episode_return": "rsl_rl's mean return (penalised) of the last <=100 finished episodes",
            "history": "the first three, per iteration (earlier invocations of a resumed run included)",
            "wall_time_s": "training wall time, summed over the invocations of a resumed run",
        },
    }
    write_json_atomic(out_dir / "summary.json", summary)
    return summary
