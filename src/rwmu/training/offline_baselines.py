"""Model-free offline RL baselines on an rwmu dataset: BC, TD3+BC, IQL and CQL from d3rlpy.

The same data MOPO-PPO learns from, through the same observation and reward code, so that RWM-U's comparison
(Figure 5: MOPO-PPO against CQL and others on one dataset) can be run on the user's own data. Only this adapter is
rwmu's; the algorithms, their networks and their updates are d3rlpy's (Seno & Imai 2022), with the settings of
d3rlpy's D4RL reproductions (``reproductions/offline/*.py`` of the d3rlpy repository) unless noted.

Transitions (:func:`offline_transitions`). Row ``t`` of a trajectory holds ``s_t`` and the action that led to it
(docs/method.md section 2). The transition at row ``t`` is

    observation  o_t = build_policy_observation(s_t, command_t, last action = row t's action)   (no noise)
    action       a_t = row t + 1's action
    reward       r_t = the task's reward of the step into row t + 1 (:func:`rwmu.tasks.dataset_rewards.dataset_rewards`,
                       the simulator's own reward terms)
    next         o_{t+1}

exactly the pairs behaviour cloning uses (:func:`rwmu.training.behavior_cloning.behavior_pairs`). An episode that
ends in a termination (a fall) ends with a terminal transition into the fall row (d3rlpy: ``terminals``); one cut by
a time-out or by the end of the collection keeps its last observation as a final ``timeouts`` row (bootstrapped,
never a transition start).

Scaling. Observations are standardised (d3rlpy ``StandardObservationScaler``) and actions mapped to [-1, 1]
(``MinMaxActionScaler``): the policies' tanh squashing needs bounded actions, and rwmu's actions are joint-position
offsets in radians. IQL scales rewards by its return range (x1000), as in its D4RL locomotion setting.

Export (:func:`export_baseline`): d3rlpy's own greedy-policy export (TorchScript ``policy.pt`` and ONNX
``policy.onnx``, scalers included, raw observations in, physical actions out) plus rwmu's ``policy.json``, so that
``rwmu evaluate --policy OUT/export`` scores a baseline exactly as any other policy.
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
import random
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import structlog
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from rwmu.data.dataset import TrajectoryDataset
from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.dataset_rewards import dataset_rewards, recorded_commands
from rwmu.training.behavior_cloning import row_observations
from rwmu.training.export import EXPORT_FILES, write_export_meta, write_onnx
from rwmu.training.offline_config import METHOD_NAMES, METHODS, OfflineBaselineConfig
from rwmu.utils.io import atomic_path, torch_save_atomic

with contextlib.redirect_stderr(io.StringIO()):  # d3rlpy imports the old `gym`, which prints a notice on import
    import d3rlpy

__all__ = [
    "METHODS",
    "OfflineBaselineConfig",
    "OfflineTransitions",
    "export_baseline",
    "check_transitions_fit",
    "offline_transitions",
    "train_baseline",
]


@dataclass
class OfflineTransitions:
    """An rwmu dataset as d3rlpy episodes (module docstring); ``T`` rows, one per observation.

    Attributes:
        observations: (T, task.observation_dim) float32, raw policy observations.
        actions: (T, A) float32, physical units; zeros on ``timeouts`` rows (never used).
        rewards: (T,) float32, the task reward of the transition; 0 on ``timeouts`` rows.
        terminals: (T,) float32, 1 on the last transition of an episode that ends in a fall.
        timeouts: (T,) float32, 1 on the final observation of an episode cut by a time-out or the data's end.
        episode_returns: (E,) float64, true return of each complete episode (ended by a fall or a time-out; the
            task reward, unpenalised), as ``rwmu collect`` reports it.
    """

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    timeouts: np.ndarray
    episode_returns: np.ndarray

    @property
    def num_transitions(self) -> int:
        return int(len(self.rewards) - self.timeouts.sum())

    def d3rlpy_returns(self) -> np.ndarray:
        """(E,) float64 return of each episode as d3rlpy splits them (after every terminal or timeout row)."""
        ends = np.flatnonzero((self.terminals > 0) | (self.timeouts > 0))
        sums = np.cumsum(self.rewards, dtype=np.float64)
        at_end = sums[ends] if ends.size else np.zeros(0)
        return np.diff(np.concatenate([[0.0], at_end]))

    def mdp_dataset(self) -> d3rlpy.dataset.MDPDataset:
        return d3rlpy.dataset.MDPDataset(
            self.observations,
            self.actions,
            self.rewards[:, None],
            self.terminals,
            self.timeouts,
            action_space=d3rlpy.ActionSpace.CONTINUOUS,
        )


def offline_transitions(dataset: TrajectoryDataset, task: Task, source: str = "--data") -> OfflineTransitions:
    """The transitions of ``dataset`` for an offline RL algorithm (module docstring)."""
    commands = recorded_commands(dataset, task, source, "the policy's observations cannot be rebuilt")
    scored = dataset_rewards(dataset, task, source)
    n = dataset.num_rows
    ends = dataset.episode_ends
    fell = dataset.terminations[:, 0] > 0.5
    starts = scored.reset_rows
    has_next = ~ends  # rows with a following row in their episode: transition starts
    # A fall row is the transition target of the row before it and is dropped; a cut episode keeps its last row.
    kept = has_next | (ends & ~fell & ~starts)
    rows = np.flatnonzero(kept)
    if not has_next.any():
        raise RwmuError(f"{source}: no row has a following row in its episode; no transition to learn from")
    nxt = np.minimum(rows + 1, n - 1)
    transition = has_next[rows]
    actions = np.where(transition[:, None], dataset.actions[nxt], 0.0).astype(np.float32)
    rewards = np.where(transition, scored.rewards[nxt], 0.0).astype(np.float32)
    terminals = (transition & ends[nxt] & fell[nxt]).astype(np.float32)
    timeouts = (~transition).astype(np.float32)
    observations = row_observations(dataset, commands, rows, task)
    return OfflineTransitions(
        observations.numpy().astype(np.float32),
        actions,
        rewards,
        terminals,
        timeouts,
        scored.episode_returns[scored.episode_complete],
    )


def make_algorithm(config: OfflineBaselineConfig) -> Any:
    """The d3rlpy algorithm of ``config`` on the CPU (module docstring)."""
    encoder = d3rlpy.models.encoders.VectorEncoderFactory(list(config.hidden_dims))
    scalers = {
        "observation_scaler": d3rlpy.preprocessing.StandardObservationScaler(),
        "action_scaler": d3rlpy.preprocessing.MinMaxActionScaler(),
    }
    common = {"batch_size": config.batch_size, **scalers}
    if config.method == "bc":
        algo = d3rlpy.algos.BCConfig(learning_rate=1e-3, encoder_factory=encoder, **common)
    elif config.method == "td3bc":
        algo = d3rlpy.algos.TD3PlusBCConfig(
            actor_learning_rate=3e-4,
            critic_learning_rate=3e-4,
            target_smoothing_sigma=0.2,
            target_smoothing_clip=0.5,
            alpha=config.td3bc_alpha,
            update_actor_interval=2,
            actor_encoder_factory=encoder,
            critic_encoder_factory=encoder,
            **common,
        )
    elif config.method == "iql":
        algo = d3rlpy.algos.IQLConfig(
            actor_learning_rate=3e-4,
            critic_learning_rate=3e-4,
            actor_optim_factory=d3rlpy.optimizers.AdamFactory(
                lr_scheduler_factory=d3rlpy.optimizers.CosineAnnealingLRFactory(T_max=config.steps)
            ),
            weight_temp=config.iql_temperature,
            max_weight=100.0,
            expectile=config.iql_expectile,
            reward_scaler=d3rlpy.preprocessing.ReturnBasedRewardScaler(multiplier=1000.0),
            actor_encoder_factory=encoder,
            critic_encoder_factory=encoder,
            value_encoder_factory=encoder,
            **common,
        )
    else:
        algo = d3rlpy.algos.CQLConfig(
            actor_learning_rate=1e-4,
            critic_learning_rate=3e-4,
            temp_learning_rate=1e-4,
            n_action_samples=10,
            alpha_learning_rate=0.0,
            conservative_weight=config.cql_conservative_weight,
            actor_encoder_factory=encoder,
            critic_encoder_factory=encoder,
            **common,
        )
    return algo.create(device="cpu:0")


def _quiet_d3rlpy() -> None:
    """d3rlpy logs every build step through structlog (and warns when a resumed run's networks exist already);
    keep its errors only."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))


def _rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy": [kind, int(pos), int(has_gauss), float(gauss)],
        "python": repr(random.getstate()),
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, state["numpy_keys"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    random.setstate(ast.literal_eval(state["python"]))  # a tuple of ints: a literal


def check_transitions_fit(transitions: OfflineTransitions, config: OfflineBaselineConfig) -> None:
    """Refuse data the method cannot learn from: IQL scales rewards by ``1000 / (max - min)`` of the episode returns
    (module docstring), which one episode, or episodes of equal return, make a division by zero."""
    if config.method == "iql":
        returns = transitions.d3rlpy_returns()
        if returns.size < 2 or np.ptp(returns) <= 1e-9:
            raise RwmuError(
                f"--method iql scales rewards by 1000 / (max - min episode return), but the data has "
                f"{returns.size} episode(s) and one return; use data with episodes of different returns, or "
                "--method bc, td3bc or cql"
            )


CHECKPOINT = "checkpoint.d3"
PROGRESS = "progress.pt"


def train_baseline(
    transitions: OfflineTransitions, config: OfflineBaselineConfig, out_dir: Path, progress: bool = True
) -> dict[str, Any]:
    """Train ``config.method`` on ``transitions``, checkpointing every epoch into ``out_dir``; resumes from the last
    checkpoint there. The same seed gives the same weights on the CPU, resumed or not.

    Returns:
        ``{"steps": gradient steps done, "resumed_from": step or 0, "metrics": last epoch's mean losses}``.
    """
    config.validate()
    check_transitions_fit(transitions, config)
    _quiet_d3rlpy()
    out_dir = Path(out_dir)
    d3rlpy.seed(config.seed)
    algo = make_algorithm(config)
    data = transitions.mdp_dataset()
    checkpoint, saved = out_dir / CHECKPOINT, out_dir / PROGRESS
    done = 0
    if checkpoint.is_file() and saved.is_file():
        algo.build_with_dataset(data)
        algo.load_model(str(checkpoint))
        state = torch.load(saved, weights_only=True)
        done = int(state["step"])
        algo._grad_step = done  # d3rlpy's update counter (TD3+BC's delayed actor updates read it)
        _set_rng_state(state["rng"])
    resumed_from = done
    epochs = -(-config.steps // config.steps_per_epoch)
    metrics: dict[str, float] = {}
    bar = tqdm(
        total=config.steps,
        initial=done,
        disable=not progress,
        desc=METHOD_NAMES[config.method],
        unit="step",
        dynamic_ncols=True,
    )
    writer = SummaryWriter(log_dir=str(out_dir / "tensorboard"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        remaining = config.steps - done
        if remaining > 0:
            fitter = algo.fitter(
                data,
                n_steps=remaining,
                n_steps_per_epoch=min(config.steps_per_epoch, remaining),
                experiment_name=f"from_{done}",
                with_timestamp=False,
                logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
                show_progress=False,
                save_interval=epochs + 1,
            )
            for _, epoch_metrics in fitter:
                done = min(done + config.steps_per_epoch, config.steps)
                metrics = {k: float(v) for k, v in epoch_metrics.items() if not k.startswith("time_")}
                if not all(np.isfinite(v) for v in metrics.values()):
                    bad = next(k for k, v in metrics.items() if not np.isfinite(v))
                    raise RwmuError(
                        f"{config.method} diverged at step {done}: {bad} is not finite; lower the "
                        f"learning rates or try --baseline.seed"
                    )
                for key, value in metrics.items():
                    writer.add_scalar(f"{config.method}/{key}", value, done)
                writer.flush()
                with atomic_path(checkpoint) as tmp:
                    algo.save_model(str(tmp))
                torch_save_atomic({"step": done, "rng": _rng_state()}, saved)
                bar.update(done - bar.n)
                bar.set_postfix({k: f"{v:.3g}" for k, v in list(metrics.items())[:3]})
    bar.close()
    writer.close()
    return {"steps": done, "resumed_from": resumed_from, "metrics": metrics, "algorithm": algo}


class GreedyPolicy(torch.nn.Module):
    """d3rlpy's greedy policy of a trained algorithm as one module: raw observations (n, O) -> physical actions
    (n, A), with the algorithm's observation and action scalers (what d3rlpy's ``save_policy`` traces)."""

    def __init__(self, algo: Any):
        super().__init__()
        self.impl = algo.impl
        self.networks = torch.nn.ModuleDict({k: v for k, v in algo.impl.modules.get_torch_modules().items()})
        self.observation_scaler = algo.config.observation_scaler
        self.action_scaler = algo.config.action_scaler

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.observation_scaler.transform(obs) if self.observation_scaler else obs
        action = self.impl.predict_best_action(x)
        return self.action_scaler.reverse_transform(action) if self.action_scaler else action


def export_baseline(algo: Any, task: Task, out_dir: Path, source: Path, method: str) -> dict[str, str]:
    """Write the greedy policy of ``algo`` as an rwmu export folder ``out_dir`` (module docstring): ``policy.pt``
    (TorchScript, traced) and ``policy.onnx`` (dynamic batch size), raw observations in, physical actions out."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / filename for name, filename in EXPORT_FILES.items()}
    policy = GreedyPolicy(algo).eval()
    example = torch.zeros(2, int(task.observation_dim))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(policy, example, check_trace=False)
        with atomic_path(paths["torchscript"]) as tmp:
            traced.save(str(tmp))
        write_onnx(policy, (example,), paths["onnx"], ["obs"], ["actions"])
    write_export_meta(
        paths["meta"],
        task,
        source,
        observation_normalization_included=True,
        extra={"method": METHOD_NAMES[method], "library": f"d3rlpy {d3rlpy.__version__}"},
    )
    return {k: str(v) for k, v in paths.items()}
