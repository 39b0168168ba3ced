"""Behaviour cloning for MOPO-PPO: initialise the actor on the dataset's own actions, and keep it near them.

Offline model-based RL fails most often by drifting to states the world model never saw (docs/method.md section
6.4). Two standard remedies, both measured in docs/results.md:

- **Initialisation** (:func:`fit_actor`): before PPO, the actor's mean is fitted to the dataset's actions by
  mean-squared error, as in BC-initialised offline fine-tuning (e.g. the BC warm start of MOReL, Kidambi et al.
  2020; the BC term of TD3+BC, Fujimoto & Gu 2021). The action std is then set to ``action_std``, or by default to
  each action's RMS residual of the fit: the Gaussian maximum-likelihood std of the data's actions around the fitted
  mean.
- **A regulariser** (:class:`BehaviorRegularizedPPO`): rsl_rl's PPO update, unchanged, followed after every
  iteration by ``regularizer_steps`` mini-batch steps of ``regularizer_coef * MSE(actor mean, data action)`` with
  PPO's own optimizer and learning rate: an auxiliary phase in the manner of phasic policy gradient (Cobbe et al.
  2021) that pulls the actor back to the data's actions on the data's states. ``critic_warmup`` freezes the actor for
  the first iterations so that PPO's first advantages come from a trained critic, not a random one.
  ``regularizer_iterations`` ends the regulariser after that many PPO updates: the rest of the run is plain PPO, where
  only the uncertainty penalty ties the policy to the data (docs/results.md section 11.4 measures it).

Filtered behaviour cloning (``top_fraction`` < 1): only the episodes with the highest true returns (the task's
reward recomputed from the data, :mod:`rwmu.tasks.dataset_rewards`) are cloned, as "%BC" does (Chen et al. 2021);
on data that mixes good and bad behaviour, this clones the good.

Pairs (:func:`behavior_pairs`). Row ``t`` of a trajectory holds ``s_t`` and the action that led to it
(docs/method.md section 2), so the policy observation at row ``t`` is built from ``s_t``, the row's command
(context columns, :data:`rwmu.data.dataset.COMMAND_CONTEXT_NAMES`) and the row's action column as the last action,
and its target is the action column of row ``t + 1``; rows that end a trajectory or an episode (termination) have no
target. The observation is :func:`rwmu.tasks.observations.build_policy_observation`, the simulator's and
imagination's own, without observation noise.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from rsl_rl.algorithms import PPO
from tensordict import TensorDict

from rwmu.data.dataset import TrajectoryDataset
from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.dataset_rewards import dataset_rewards, recorded_commands
from rwmu.tasks.observations import build_policy_observation
from rwmu.training.behavior_cloning_config import BehaviorCloningConfig

__all__ = ["BehaviorRegularizedPPO", "behavior_pairs", "fit_actor", "row_observations"]

OBS_GROUP = "policy"  # the observation group actor and critic read (rwmu.training.runner.rsl_rl_train_cfg)


def behavior_pairs(
    dataset: TrajectoryDataset, task: Task, source: str = "--data", top_fraction: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The dataset's (policy observation, action taken) pairs (module docstring); with ``top_fraction`` < 1 only
    those of the complete episodes whose return (:func:`rwmu.tasks.dataset_rewards.dataset_rewards`) is at least
    the ``1 - top_fraction`` quantile of the complete episodes' returns.

    Returns:
        observations (P, task.observation_dim) and actions (P, A), float32, physical units.
    """
    commands = recorded_commands(
        dataset,
        task,
        source,
        "the policy's observations cannot be rebuilt for behaviour cloning (or leave --behavior.* off)",
    )
    keep = ~dataset.episode_ends
    if top_fraction < 1.0:
        scored = dataset_rewards(dataset, task, source)
        complete = scored.episode_complete
        if not complete.any():
            raise RwmuError(f"{source}: no complete episode to rank for --behavior.top-fraction; use 1")
        threshold = np.quantile(scored.episode_returns[complete], 1.0 - top_fraction)
        best = complete & (scored.episode_returns >= threshold)
        keep &= best[scored.episode_of_row]
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise RwmuError(f"{source}: no row has a following action in its episode; nothing to clone")
    observations = row_observations(dataset, commands, rows, task)
    actions = torch.from_numpy(np.ascontiguousarray(dataset.actions[rows + 1]))
    return observations.contiguous(), actions


def row_observations(dataset: TrajectoryDataset, commands: np.ndarray, rows: np.ndarray, task: Task) -> torch.Tensor:
    """The policy observation at each of ``rows``: the row's state and command (``commands`` (N, 3)), the row's
    action column as the last action, no observation noise (module docstring). Returns (len(rows), O) float32."""
    quiet = dataclasses.replace(task, observation_noise=dataclasses.replace(task.observation_noise, enabled=False))
    return build_policy_observation(
        torch.from_numpy(dataset.states[rows]),
        torch.from_numpy(commands[rows]),
        torch.from_numpy(dataset.actions[rows]),
        quiet,
    )


def _as_obs(observations: torch.Tensor) -> TensorDict:
    return TensorDict({OBS_GROUP: observations}, batch_size=[observations.shape[0]])


def fit_actor(
    actor: Any,
    observations: torch.Tensor,
    actions: torch.Tensor,
    config: BehaviorCloningConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """Fit an rsl_rl ``MLPModel`` actor's mean to ``actions`` (P, A) at ``observations`` (P, O) by MSE, then set its
    action std (module docstring). Returns ``{"mse": final MSE over all pairs, "action_std": mean std set}``."""
    device = next(actor.parameters()).device
    observations, actions = observations.to(device), actions.to(device)
    actor.update_normalization(_as_obs(observations))
    params = [p for n, p in actor.named_parameters() if not n.startswith("distribution.")]
    optimizer = torch.optim.Adam(params, lr=config.learning_rate)
    n = observations.shape[0]
    for _ in range(config.init_steps):
        idx = torch.randint(0, n, (min(config.batch_size, n),), generator=generator, device=device)
        loss = (actor(_as_obs(observations[idx])) - actions[idx]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        squared = torch.zeros(actions.shape[1], device=device)
        for start in range(0, n, 65536):
            stop = min(start + 65536, n)
            squared += (actor(_as_obs(observations[start:stop])) - actions[start:stop]).pow(2).sum(0)
        residual = (squared / n).sqrt()
        std = torch.full_like(residual, config.action_std) if config.action_std is not None else residual
        std = std.clamp(min=config.min_action_std)
        _set_action_std(actor, std)
    return {"mse": float((squared / n).mean()), "action_std": float(std.mean())}


def _set_action_std(actor: Any, std: torch.Tensor) -> None:
    dist = actor.distribution
    if getattr(dist, "std_type", None) == "scalar":
        dist.std_param.copy_(std)
    elif getattr(dist, "std_type", None) == "log":
        dist.log_std_param.copy_(std.log())
    else:
        raise RwmuError(f"behaviour cloning cannot set the action std of a {type(dist).__name__} distribution")


class BehaviorRegularizedPPO(PPO):
    """rsl_rl's ``PPO`` with a behaviour-cloning phase after each update and an optional critic warm-up (module
    docstring). Give the pairs with :meth:`set_behavior_data` before training; without them it is plain PPO.

    Args (beyond PPO's):
        regularizer_steps: mini-batch steps of ``regularizer_coef * MSE`` after every update.
        regularizer_coef: weight of the MSE.
        regularizer_batch_size: pairs per step.
        critic_warmup: updates (from the run's start, resumes included) in which only the critic learns.
        regularizer_iterations: updates (counted as ``critic_warmup``) after which the regulariser stops; None = never.
    """

    def __init__(
        self,
        *args: Any,
        regularizer_steps: int = 0,
        regularizer_coef: float = 1.0,
        regularizer_batch_size: int = 4096,
        critic_warmup: int = 0,
        regularizer_iterations: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.regularizer_steps = int(regularizer_steps)
        self.regularizer_coef = float(regularizer_coef)
        self.regularizer_batch_size = int(regularizer_batch_size)
        self.critic_warmup = int(critic_warmup)
        self.regularizer_iterations = None if regularizer_iterations is None else int(regularizer_iterations)
        self.updates_done = 0
        self._pairs: tuple[torch.Tensor, torch.Tensor] | None = None
        self._generator: torch.Generator | None = None

    def set_behavior_data(self, observations: torch.Tensor, actions: torch.Tensor, generator: torch.Generator) -> None:
        """The regulariser's pairs: observations (P, O) and actions (P, A), and its random source."""
        self._pairs = (observations.to(self.device), actions.to(self.device))
        self._generator = generator

    def update(self) -> dict[str, float]:
        warming = self.updates_done < self.critic_warmup
        if warming:
            # Only the critic learns: the actor's gradients are off, and the adaptive schedule (which reads the
            # actor's KL, zero here) is paused so the learning rate is the same afterwards.
            schedule, self.schedule = self.schedule, "fixed"
            self._raw_actor.requires_grad_(False)
        try:
            losses = super().update()
        finally:
            if warming:
                self.schedule = schedule
                self._raw_actor.requires_grad_(True)
        if self._pairs is not None and self.regularizer_steps > 0 and not warming and self._regularizing():
            losses["behavior"] = self._regularize()
        self.updates_done += 1
        return losses

    def _regularizing(self) -> bool:
        return self.regularizer_iterations is None or self.updates_done < self.regularizer_iterations

    def _regularize(self) -> float:
        observations, actions = self._pairs  # type: ignore[misc]
        n = observations.shape[0]
        total = 0.0
        for _ in range(self.regularizer_steps):
            idx = torch.randint(
                0, n, (min(self.regularizer_batch_size, n),), generator=self._generator, device=observations.device
            )
            mse = (self.actor(_as_obs(observations[idx])) - actions[idx]).pow(2).mean()
            self.optimizer.zero_grad()
            (self.regularizer_coef * mse).backward()
            torch.nn.utils.clip_grad_norm_(self.actor.parameters(), self.max_grad_norm)
            self.optimizer.step()
            total += float(mse.detach())
        return total / self.regularizer_steps

    def save(self) -> dict:
        saved = super().save()
        saved["behavior_updates_done"] = self.updates_done
        if self._generator is not None:  # the regulariser's draws continue where they stopped on --resume
            saved["behavior_generator_state"] = self._generator.get_state()
        return saved

    def load(self, loaded_dict: dict, load_cfg: dict | None, strict: bool) -> bool:
        self.updates_done = int(loaded_dict.get("behavior_updates_done", 0))
        state = loaded_dict.get("behavior_generator_state")
        if state is not None and self._generator is not None:
            self._generator.set_state(state.cpu())
        return super().load(loaded_dict, load_cfg, strict)
