"""What every rwmu policy run shares on rsl_rl: the train config, a quiet logger, the runner, checkpoints.

:class:`RwmuRunner` is rsl_rl's ``OnPolicyRunner`` (its learning loop and PPO unchanged) with atomic, self-describing
checkpoints (``infos["rwmu"]``: task, observation layout, rsl_rl config), a tqdm progress bar and no printouts.
Subclasses say what to show per iteration: :class:`rwmu.training.policy.ImaginationRunner` (MOPO-PPO in a world
model) and :class:`rwmu.training.online.OnlineRunner` (PPO in the MuJoCo simulator).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rsl_rl.runners import OnPolicyRunner
from rsl_rl.utils.logger import Logger
from tqdm import tqdm

from rwmu.errors import RwmuError
from rwmu.models.checkpoint import WEIGHTS_KEY as WORLD_MODEL_WEIGHTS_KEY
from rwmu.tasks.base import Task
from rwmu.tasks.observations import observation_names
from rwmu.utils.checkpoints import read_torch_checkpoint
from rwmu.utils.io import to_jsonable, torch_save_atomic
from rwmu.utils.snapshot import capture_state, restore_state

CHECKPOINT_FORMAT = "rwmu.policy"
CHECKPOINT_VERSION = 1
RESUME_STATE_FORMAT = "rwmu.resume_state"
LOGGER_SKIP = ("cfg", "env_cfg", "ep_extras", "writer")


def _non_finite_in_message(message: str) -> str | None:
    """rsl_rl's NaN check names the observation group, rewards or dones that held NaN: what it says, or None."""
    if "NaN" not in message and "nan" not in message:
        return None
    return (
        f"the imagined or simulated {message.split(' returned by')[0].removeprefix('The ')} held NaN "
        "(the policy's actions drove the environment out of range)"
    )


def observation_groups(task: Task) -> dict[str, list[str]]:
    """rsl_rl's ``obs_groups``: the actor reads group ``policy``; the critic its own privileged group ``critic`` where
    the task declares one (asymmetric actor-critic, :mod:`rwmu.tasks.observations`), else ``policy`` too."""
    return {"actor": ["policy"], "critic": ["critic" if task.critic_observation_terms is not None else "policy"]}


def rsl_rl_train_cfg(config: Any, task: Task) -> dict:
    """The rsl_rl (5.x) ``train_cfg`` dict for ``OnPolicyRunner`` training a policy on ``task``."""
    ppo, pol = config.ppo, config.policy
    if config.logger == "wandb":
        logger: Any = {
            "class_name": "rsl_rl.utils.wandb_log_writer:WandbLogWriter",
            "project_name": config.wandb_project,
        }
    else:
        logger = "tensorboard"
    algorithm: dict[str, Any] = {
        "class_name": "rsl_rl.algorithms:PPO",
        **{f.name: getattr(ppo, f.name) for f in dataclasses.fields(ppo)},
    }
    behavior = getattr(config, "behavior", None)
    if behavior is not None and (behavior.regularizer_steps > 0 or behavior.critic_warmup > 0):
        algorithm = {
            **algorithm,
            "class_name": "rwmu.training.behavior_cloning:BehaviorRegularizedPPO",
            **behavior.algorithm_kwargs(),
        }
    return {
        "num_steps_per_env": int(config.steps_per_env),
        "save_interval": int(config.save_interval),
        "obs_groups": observation_groups(task),
        "logger": logger,
        "check_for_nan": True,
        "torch_compile_mode": getattr(config, "torch_compile_mode", None),  # rsl_rl compiles actor and critic
        "algorithm": algorithm,
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


def checkpoint_info(task: Task, config: Any, **extra: Any) -> dict[str, Any]:
    """``infos["rwmu"]`` of a policy checkpoint (``run_info.json`` too): what export, play and evaluation read back."""
    return {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "task": task.name,
        "reward_weights": to_jsonable(task.rewards),
        "observation_dim": int(task.observation_dim),
        "num_actions": int(task.dims.action),
        "observation_names": list(observation_names(task)),
        "action_names": list(task.action_names),
        "dt": float(task.dt),
        "config": to_jsonable(config),
        **extra,
    }


class QuietLogger(Logger):
    """rsl_rl's ``Logger`` (TensorBoard / W&B scalars unchanged), quiet by default, reporting every iteration.

    - ``log``: rsl_rl writes its scalars; its console report is printed only with ``verbose``; then
      ``on_iteration(it, collect_time, learn_time)`` runs (the runner's per-iteration hook).
    - ``_store_code_state``: rsl_rl writes ``git/<repo>.diff`` of the repositories holding rsl_rl and the
      environment into the run folder; only with ``log_code_state``.
    """

    def __init__(
        self,
        *args: Any,
        verbose: bool = False,
        log_code_state: bool = False,
        on_iteration: Callable[[int, float, float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.verbose = verbose
        self.log_code_state = log_code_state
        self.on_iteration = on_iteration

    def log(self, it: int, start_it: int, total_it: int, collect_time: float, learn_time: float, **kwargs: Any) -> None:
        quiet = contextlib.nullcontext() if self.verbose else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            super().log(
                it=it, start_it=start_it, total_it=total_it, collect_time=collect_time, learn_time=learn_time, **kwargs
            )
        if self.on_iteration is not None:
            self.on_iteration(it, collect_time, learn_time)

    def _store_code_state(self) -> list[str]:
        return super()._store_code_state() if self.log_code_state else []


def refuse_distributed(command: str) -> None:
    """Refuse, before any work, a run started by ``torchrun`` with several processes (``WORLD_SIZE > 1``): rwmu's
    runners have no rank-specific seeds, devices or rank-0-only writing yet, and rsl_rl would start its multi-GPU
    PPO on every rank with the same seed and output folder."""
    world_size = os.environ.get("WORLD_SIZE", "1")
    if world_size.strip() not in ("", "1"):
        raise RwmuError(
            f"{command}: started with WORLD_SIZE={world_size} (torchrun); rwmu trains on one process and one device: "
            "run it without torchrun (--device cuda uses one GPU), or run independent seeds side by side with "
            "rwmu sweep or rwmu experiment run"
        )


class RwmuRunner(OnPolicyRunner):
    """rsl_rl's ``OnPolicyRunner`` with atomic, self-describing checkpoints, a tqdm progress bar and no printouts.

    The learning loop and PPO are rsl_rl's own. Overridden: ``__init__`` (rsl_rl's printout of the observation
    sets and networks only with ``print_networks``; the logger is a :class:`QuietLogger`), ``learn`` (opens the
    progress bar), ``save`` (rsl_rl's dict written through a temporary file, plus ``infos["rwmu"]``) and ``load``
    (``weights_only`` reading, then :meth:`check_resumable`). Subclasses choose :meth:`iteration_statistics` and
    :meth:`progress_postfix`.

    Next to each checkpoint ``model_<it>.pt``, ``save`` writes ``resume_<it>.pt`` (only the latest is kept): what
    rsl_rl's checkpoint lacks to continue the run exactly as if it had not stopped (:meth:`resume_state`: torch's
    global random state, the logger's episode buffers and, where :attr:`env_state_skip` is set, the environment's
    changing state, :mod:`rwmu.utils.snapshot`). ``load`` restores it when it belongs to the checkpoint and the
    environment settings are unchanged.

    Attributes:
        iteration_stats: per iteration, :meth:`iteration_statistics` and rsl_rl's ``collect_time`` / ``learn_time``
            in seconds.
        resumed_exactly: after ``load``, whether the resume state was restored (None before any ``load``).
    """

    progress_label = "PPO"
    env_state_skip: tuple[str, ...] | None = None
    """paths of the environment's unchanging parts (:func:`~rwmu.utils.snapshot.capture_state`); None: the
    environment's state is not saved (a simulator whose physics cannot be captured)"""

    def __init__(
        self,
        env,
        train_cfg: dict,
        log_dir: str | None,
        device: str,
        rwmu_info: dict,
        verbose: bool = False,
        progress: bool = True,
        log_code_state: bool = False,
        print_networks: bool = False,
    ) -> None:
        quiet = contextlib.nullcontext() if print_networks else contextlib.redirect_stdout(io.StringIO())
        with quiet:
            super().__init__(env, train_cfg, log_dir=log_dir, device=device)
        self.logger = QuietLogger(
            log_dir=log_dir,
            cfg=self.cfg,
            env_cfg=self.env.cfg,
            num_envs=self.env.num_envs,
            is_distributed=self.is_distributed,
            gpu_world_size=self.gpu_world_size,
            gpu_global_rank=self.gpu_global_rank,
            device=self.device,
            verbose=verbose,
            log_code_state=log_code_state,
            on_iteration=self._after_iteration,
        )
        self.rwmu_info = rwmu_info
        self.iteration_stats: list[dict[str, float]] = []
        self._bar = None
        self._progress = progress and not verbose
        self._iteration = 0  # the iteration in progress, for the divergence error
        self.resumed_exactly: bool | None = None

    def iteration_statistics(self) -> dict[str, float]:
        """Figures of the iteration just done: by default rsl_rl's mean return and length of the last <= 100
        finished episodes (NaN before the first)."""
        returns, lengths = list(self.logger.rewbuffer), list(self.logger.lenbuffer)
        return {
            "episode_return": float(np.mean(returns)) if returns else float("nan"),
            "episode_length": float(np.mean(lengths)) if lengths else float("nan"),
        }

    def progress_postfix(self, stats: dict[str, float]) -> dict[str, str]:
        return {"return": f"{stats['episode_return']:.3f}", "length": f"{stats['episode_length']:.0f}"}

    def check_resumable(self, path: str, loaded: dict) -> None:
        """Raise :class:`RwmuError` if the checkpoint ``loaded`` (from ``path``) cannot continue this run."""

    def _after_iteration(self, it: int, collect_time: float, learn_time: float) -> None:
        self._iteration = it + 1
        stats = self.iteration_statistics()
        self.iteration_stats.append({**stats, "collect_time": collect_time, "learn_time": learn_time})
        if self._bar is not None:
            self._bar.set_postfix(self.progress_postfix(stats), refresh=False)
            self._bar.update(1)

    def learn(self, num_learning_iterations: int, init_at_random_ep_len: bool = False) -> None:
        """rsl_rl's loop; a run that diverges (NaN/Inf weights or observations, a negative noise std) stops with
        one :class:`RwmuError` line (:meth:`divergence`) instead of rsl_rl's or torch's traceback."""
        if self._progress:
            self._bar = tqdm(total=num_learning_iterations, desc=self.progress_label, unit="it", dynamic_ncols=True)
        self._iteration = int(self.current_learning_iteration)
        try:
            super().learn(num_learning_iterations, init_at_random_ep_len=init_at_random_ep_len)
        except (ValueError, RuntimeError) as err:
            problem = self.non_finite_quantity() or _non_finite_in_message(str(err))
            if problem is None:
                raise
            raise self.divergence(problem, self._iteration) from None
        finally:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def non_finite_quantity(self) -> str | None:
        """What of the actor and critic diverged (a NaN/Inf parameter, a non-positive noise std), or None."""
        for owner, module in (("actor", self.alg._raw_actor), ("critic", self.alg._raw_critic)):
            for name, param in module.named_parameters():
                if not torch.isfinite(param).all():
                    return f"the {owner}'s parameter {name} is NaN/Inf"
                if "std" in name.split(".")[-1] and bool((param <= 0).any()):
                    return f"the {owner}'s action noise {name} became <= 0"
        return None

    def divergence(self, problem: str, iteration: int) -> RwmuError:
        """The one-line error of a run that diverged at ``iteration``."""
        algorithm = self.cfg["algorithm"]
        return RwmuError(
            f"PPO diverged at iteration {iteration}: {problem}; lower --ppo.learning-rate (now "
            f"{algorithm['learning_rate']:g}) or --ppo.max-grad-norm (now "
            f"{algorithm['max_grad_norm']:g}) and re-run; no checkpoint of a diverged policy was "
            f"written"
        )

    def save(self, path: str, infos: dict | None = None) -> None:
        problem = self.non_finite_quantity()
        if problem is not None:  # never write a diverged policy
            raise self.divergence(problem, int(self.current_learning_iteration))
        saved = self.alg.save()
        saved["iter"] = self.current_learning_iteration
        saved["infos"] = {**(infos or {}), "rwmu": self.rwmu_info}
        # The resume state first: a run killed between the two files still finds the one of its latest checkpoint.
        resume_path = resume_state_path(path, int(self.current_learning_iteration))
        torch_save_atomic(self.resume_state(), resume_path)
        torch_save_atomic(saved, path)
        for older in Path(path).parent.glob("resume_*.pt"):
            if older != resume_path:
                older.unlink(missing_ok=True)
        self.logger.save_model(path, self.current_learning_iteration)

    def resume_signature(self) -> str:
        """The settings the saved environment state depends on (it is restored only into an environment built with
        the same): the ``env`` settings and ``seed`` of the run config."""
        config = self.rwmu_info.get("config") or {}
        return json.dumps(
            {"env": config.get("env"), "seed": config.get("seed"), "num_envs": int(self.env.num_envs)}, sort_keys=True
        )

    def resume_state(self) -> dict[str, Any]:
        """What continues the run exactly beyond rsl_rl's checkpoint (class docstring)."""
        return {
            "format": RESUME_STATE_FORMAT,
            "iteration": int(self.current_learning_iteration),
            "signature": self.resume_signature(),
            "torch_rng": torch.get_rng_state(),
            "logger": capture_state(self.logger, LOGGER_SKIP),
            "env": capture_state(self.env, self.env_state_skip) if self.env_state_skip is not None else None,
        }

    def restore_resume_state(self, checkpoint: str, iteration: int) -> bool:
        """Restore the resume state saved with ``checkpoint`` (of ``iteration``). True if the run now continues
        exactly; False if there is none for it, the environment settings changed since (the run then goes on from the
        policy with fresh episodes) or the environment's state is not saved (:attr:`env_state_skip` None)."""
        path = resume_state_path(checkpoint, iteration)
        if not path.is_file():
            return False
        state = read_torch_checkpoint(
            path, "the resume state resume_<iteration>.pt written by rwmu with a checkpoint", map_location=self.device
        )
        if state.get("format") != RESUME_STATE_FORMAT or state.get("iteration") != iteration:
            return False
        if state.get("signature") != self.resume_signature():
            return False
        try:
            if state.get("env") is not None and self.env_state_skip is not None:
                restore_state(self.env, state["env"])
            restore_state(self.logger, state["logger"])
        except ValueError as err:
            raise RwmuError(
                f"{path}: does not fit this run ({err}); delete it to resume from {checkpoint} with fresh episodes"
            ) from None
        torch.set_rng_state(state["torch_rng"].cpu())
        return self.env_state_skip is not None  # a simulator's physics was not saved: not exact

    def continue_from(self, resume_path: Path | None, iterations: int) -> tuple[int, int]:
        """Load ``resume_path`` (if any) and return ``(iterations done, iterations remaining)`` of a run of
        ``iterations`` in total; refuses a run that has them all already."""
        done = 0
        if resume_path is not None:
            self.load(str(resume_path))
            done = int(self.current_learning_iteration) + 1
            self.current_learning_iteration = done  # continue after the saved iteration
        remaining = int(iterations) - done
        if remaining < 1:
            raise RwmuError(f"{resume_path} already has {done} iterations; raise --iterations above that to continue")
        return done, remaining

    def load(
        self, path: str, load_cfg: dict | None = None, strict: bool = True, map_location: str | None = None
    ) -> dict:
        loaded = read_policy_checkpoint(path, map_location=map_location or self.device)
        self.check_resumable(path, loaded)
        if self.alg.load(loaded, load_cfg, strict):
            self.current_learning_iteration = loaded["iter"]
        self.resumed_exactly = self.restore_resume_state(path, int(loaded["iter"]))
        return loaded.get("infos")


def check_run_start(out_dir: Path, config: Any, resume: str | Path | bool | None) -> Path | None:
    """Check a policy run's settings before any work; return the checkpoint to resume from (or None).

    ``config`` has ``device``, ``iterations``, ``steps_per_env``, ``logger`` and ``policy.init_noise_std``;
    ``resume`` is True (the latest checkpoint in ``out_dir``), a checkpoint path, or falsy (``out_dir`` must not hold
    a run yet).
    """
    if str(config.device).startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {config.device}: no CUDA device is available here; use --device cpu")
    if config.iterations < 1 or config.steps_per_env < 1:
        raise RwmuError("--iterations and --steps-per-env must be >= 1")
    if not config.policy.init_noise_std > 0:
        raise RwmuError(
            f"--policy.init-noise-std {config.policy.init_noise_std:g}: the initial action noise std must "
            f"be > 0 (the paper's is 1.0)"
        )
    if config.logger == "wandb" and importlib.util.find_spec("wandb") is None:  # an optional dependency
        raise RwmuError(
            "--logger wandb needs the wandb package: pip install 'rwmu[wandb]' (or pip install "
            "wandb), or use the default --logger tensorboard"
        )
    if resume:
        return latest_checkpoint(out_dir) if resume is True else Path(resume)
    if out_dir.is_dir() and any(out_dir.glob("model_*.pt")):
        raise RwmuError(f"{out_dir} already holds a policy run (model_*.pt); pass --resume or another --out")
    return None


def earlier_summary(out_dir: Path, done_iterations: int) -> dict[str, Any]:
    """The ``summary.json`` a resumed run left behind, if it ends where this invocation resumes (else ``{}``)."""
    path = out_dir / "summary.json"
    try:
        earlier = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}
    return earlier if earlier.get("iterations") == done_iterations else {}


def read_policy_checkpoint(path: str | Path, map_location: str | torch.device | None = "cpu") -> dict:
    """An rsl_rl policy checkpoint dict (:func:`rwmu.utils.checkpoints.read_torch_checkpoint`, ``weights_only``),
    refusing files without ``actor_state_dict`` (a world model among them) with one line."""
    ckpt = read_torch_checkpoint(
        path, "a policy checkpoint model_<iteration>.pt written by rwmu train-policy", map_location=map_location
    )
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
        suffix = p.stem[len("model_") :]
        if suffix.isdigit():
            found.append((int(suffix), p))
    return sorted(found)


def exported_checkpoints(folder: str | Path) -> list[tuple[int, Path]]:
    """``(k, path)`` of every export folder ``model_<k>/`` (holding ``policy.onnx`` or ``policy.pt``, as written by
    ``rwmu export``) in ``folder``, by ``k``: a published series of checkpoints, e.g.
    ``docs/results/policies/behavior``."""
    found = []
    for p in Path(folder).glob("model_*"):
        suffix = p.name[len("model_") :]
        if p.is_dir() and suffix.isdigit() and any((p / f).is_file() for f in ("policy.onnx", "policy.pt")):
            found.append((int(suffix), p))
    return sorted(found)


def select_checkpoints(run_dir: str | Path, spec: str) -> list[tuple[int, Path]]:
    """The saved checkpoints of ``run_dir`` that ``spec`` names, by iteration: its ``model_<k>.pt`` files or, where
    it has none, its ``model_<k>/`` export folders (:func:`exported_checkpoints`).

    Args:
        spec: ``"all"``; iterations ``"0,50,100"``; or ``"START:STOP:STEP"`` (every saved iteration from START to
            STOP inclusive that is a multiple of STEP after START; STEP defaults to every saved one).
    """
    saved = saved_checkpoints(run_dir) or exported_checkpoints(run_dir)
    if not saved:
        raise RwmuError(
            f"{run_dir}: holds no model_<iteration>.pt checkpoints or model_<iteration>/ export folders; "
            f"give the run folder of rwmu train-online or rwmu train-policy"
        )
    available = dict(saved)
    text = spec.strip()
    try:
        if text == "all":
            return saved
        if ":" in text:
            parts = [int(x) if x else None for x in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            start, stop = parts[0] or 0, parts[1] if parts[1] is not None else saved[-1][0]
            step = parts[2] if len(parts) == 3 and parts[2] else 1
            if step < 1:
                raise ValueError
            chosen = [(k, p) for k, p in saved if start <= k <= stop and (k - start) % step == 0]
        else:
            wanted = [int(x) for x in text.split(",")]
            missing = [k for k in wanted if k not in available]
            if missing:
                have = ", ".join(str(k) for k in available)
                raise RwmuError(f"--checkpoints {spec}: {run_dir} has no model_{missing[0]} (saved: {have})")
            chosen = [(k, available[k]) for k in wanted]
    except ValueError:
        raise RwmuError(
            f"--checkpoints {spec!r}: give 'all', iterations like '0,50,100' or a range 'START:STOP:STEP'"
        ) from None
    if not chosen:
        raise RwmuError(
            f"--checkpoints {spec}: selects none of the saved iterations of {run_dir} ({saved[0][0]} .. {saved[-1][0]})"
        )
    return chosen


def resume_state_path(checkpoint: str | Path, iteration: int) -> Path:
    """``resume_<iteration>.pt`` beside ``checkpoint``: the resume state saved with it (:class:`RwmuRunner`)."""
    return Path(checkpoint).parent / f"resume_{iteration}.pt"


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
            raise RwmuError(
                f"{p}: a folder without model_<iteration>.pt policy checkpoints; give a run folder of "
                f"rwmu train-policy or a checkpoint file"
            )
        return found[-1][1]
    if not p.exists():
        what = "the scripted controller has no network weights" if str(path) == "scripted" else "no such file or folder"
        raise RwmuError(
            f"{p}: {what}; this command needs a policy's training weights: give a policy run folder or its model_<iteration>.pt"
        )
    return p


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (rsl_rl's network initialisation and sampling)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
