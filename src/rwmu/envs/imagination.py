"""The imagination environment: a batched rsl_rl ``VecEnv`` whose dynamics are a learned world model.

:class:`ImaginationEnv` lets rsl_rl's ``OnPolicyRunner``/``PPO`` train a policy entirely inside a
:class:`~rwmu.models.WorldModelEnsemble` (MOPO-PPO, SPEC section 6). Everything is vectorised over environments.

Units. The world model works in normalised units; rewards, commands, pushes and the policy observation in physical
units. The environment keeps the current state in both and converts with the model's normalisation.

History and recurrent state. At a reset an environment draws a dataset window of ``M`` rows (``M`` = the model's
history horizon) ``t0 .. t0+M-1`` that lies in one trajectory and contains no termination. Row ``t0+M-1`` becomes the
current state; its action column (the action that led to it) becomes the "last action" of the observation. The
other ``M-1`` states are paired with the actions applied at them (the action column of the following row, SPEC
section 2 / :mod:`rwmu.data.layout`). A recurrent model gets that environment's hidden state zeroed and warmed up on
these ``M-1`` pairs with ``predict(..., env_ids=...)``; from then on every step feeds one pair (current state, policy
action), so the first prediction has seen exactly ``M`` pairs, as in training. An MLP model instead gets the rolling
``M``-step window every step.

Initial states (SPEC section 6, reference ``init_data_ratio = 0.8``). A share ``init_data_ratio`` of resets start
from a dataset history as is. The reference fills the rest from a "random" set; we use dataset histories perturbed
by Gaussian noise of std ``random_init_noise_std`` in normalised units (states and actions alike): starts near,
but off, the data, which the uncertainty penalty then weighs. (Commands are random for every environment anyway.)

Dynamics (SPEC section 7.1). ``dynamics = "member"`` (reference; trajectory sampling, PETS): each environment draws
one ensemble member at every reset and follows that member's mean. ``"mean"`` (paper Eq. 4): the ensemble mean.
Either way the penalty uses the disagreement of all members, reduced as ``reduction`` says (SPEC section 7.2).

Reward. ``r~ = r - lambda * u * dt`` with the task reward ``r`` of :class:`~rwmu.tasks.rewards.RewardComputer` and
``lambda = uncertainty_penalty >= 0``. The reference code writes ``r += weight * u * dt`` with ``weight = -lambda``.

Episode end. Termination is the model's predicted termination, ``round(sigmoid(logit))``; a time-out after
``episode_length`` steps is reported in ``extras["time_outs"]`` so PPO bootstraps it. Contacts likewise come from
the predicted contact logits. Commands are resampled and pushes applied as :mod:`rwmu.tasks.commands` describes; a
push adds its kick to the imagined base velocity (physical units) which is then renormalised for the model.

Logging (``extras["log"]``, averaged by rsl_rl's logger over an iteration): ``Episode_Reward/<term>`` episode sums of
every task term, ``Episode_Reward/uncertainty_penalty``, ``Episode_Reward/task`` (unpenalised) and
``Episode_Reward/total``; ``Episode_Termination/{terminated,time_out}``; per step ``Imagination/reward``,
``Imagination/task_reward`` and ``Imagination/epistemic_uncertainty``.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.commands import CommandSampler, PushScheduler
from rwmu.tasks.observations import build_policy_observation
from rwmu.tasks.rewards import TERM_NAMES, RewardComputer
from rwmu.training.policy_config import ImaginationConfig

__all__ = ["DatasetHistorySampler", "HistoryBatch", "ImaginationConfig", "ImaginationEnv"]

@dataclass
class HistoryBatch:
    """Histories for ``k`` resetting environments (M = history horizon).

    Attributes:
        states: (k, M, S) normalised states, oldest first; ``states[:, -1]`` is the current state.
        applied_actions: (k, M-1, A) normalised actions applied at ``states[:, :-1]``.
        last_action: (k, A) PHYSICAL action that led to the current state (the observation's last action).
        contacts: (k, M, C) contacts of the history rows (0/1).
    """

    states: torch.Tensor
    applied_actions: torch.Tensor
    last_action: torch.Tensor
    contacts: torch.Tensor


class DatasetHistorySampler:
    """Draws M-step starting histories from a dataset (all on one device, no Python loop over envs).

    Args:
        dataset: a :class:`rwmu.data.dataset.TrajectoryDataset` (physical units).
        normalization: :class:`rwmu.data.normalization.Normalization` of the world model.
        history_horizon: M.
        device: where the data tensor lives.
        generator: random source on ``device``.
    """

    def __init__(self, dataset, normalization, history_horizon: int, device, generator: torch.Generator | None):
        from rwmu.data.windows import window_starts

        self.dims = dataset.dims
        self.history_horizon = int(history_horizon)
        self.device = torch.device(device)
        self.generator = generator
        self.normalization = normalization.to(self.device)
        # Windows of M + 1 rows: the M history rows contain no termination and lie in one trajectory.
        starts = window_starts(dataset, self.history_horizon + 1)
        if starts.size == 0:
            lengths = np.diff(dataset.trajectory_offsets)
            raise RwmuError(
                f"the dataset has no {self.history_horizon}-step history without a termination to start imagination "
                f"from (longest trajectory: {int(lengths.max())} rows); use more data or a model with a shorter "
                f"history"
            )
        self.starts = torch.as_tensor(starts, dtype=torch.long, device=self.device)
        self.data = torch.as_tensor(dataset.data, dtype=torch.float32).to(self.device)

    @property
    def num_windows(self) -> int:
        return int(self.starts.numel())

    def sample(self, k: int, noise_std: torch.Tensor | None = None) -> HistoryBatch:
        """Draw ``k`` histories; ``noise_std`` (k,) adds Gaussian noise of that std (normalised units) per row."""
        from rwmu.data.windows import gather_windows

        m, dims = self.history_horizon, self.dims
        pick = torch.randint(0, self.num_windows, (k,), generator=self.generator, device=self.device)
        rows = gather_windows(self.data, self.starts[pick], m)  # (k, M, columns)
        states = self.normalization.normalize_state(rows[..., dims.state_slice])
        actions = self.normalization.normalize_action(rows[..., dims.action_slice])  # row t: action that led to s_t
        if noise_std is not None:
            scale = noise_std.to(self.device).view(k, 1, 1)
            states = states + scale * torch.randn(states.shape, generator=self.generator, device=self.device)
            actions = actions + scale * torch.randn(actions.shape, generator=self.generator, device=self.device)
        return HistoryBatch(
            states=states,
            applied_actions=actions[:, 1:],
            last_action=self.normalization.denormalize_action(actions[:, -1]),
            contacts=rows[..., dims.contact_slice],
        )


class ImaginationEnv(VecEnv):
    """rsl_rl vectorised environment rolled out by a world model.

    Args:
        model: a :class:`~rwmu.models.WorldModelEnsemble` (eval mode; its ``normalization`` converts units unless
            ``normalization`` is given).
        dataset: the :class:`~rwmu.data.dataset.TrajectoryDataset` the starting histories come from.
        task: the task (observation, rewards, commands, pushes, episode length, dt).
        config: :class:`ImaginationConfig`.
        device: torch device of the simulation (the model is moved there).
        seed: seeds the environment's own ``torch.Generator`` (histories, members, commands, pushes, noise).
        normalization: overrides ``model.normalization``.
    """

    def __init__(
        self,
        model,
        dataset,
        task: Task,
        config: ImaginationConfig = ImaginationConfig(),
        device: str | torch.device = "cpu",
        seed: int = 0,
        normalization=None,
    ):
        config.validate()
        self.cfg = config
        self.task = task
        self.device = torch.device(device)
        self.num_envs = int(config.num_envs)
        self.num_actions = task.dims.action
        self.max_episode_length = int(config.episode_length or task.episode_length)
        self.dt = float(task.dt)
        self.penalty_scale = float(config.uncertainty_penalty) * self.dt  # lambda * dt

        self.model = model.to(self.device).eval()
        self._check_dims(model, dataset, task)
        self.normalization = (normalization or model.normalization or self._task_normalization(task)).to(self.device)
        self.history_horizon = int(model.history_horizon)
        self.is_recurrent = bool(model.is_recurrent)
        self.ensemble_size = int(model.ensemble_size)
        self.use_members = config.dynamics == "member" and self.ensemble_size > 1
        self.reduction = config.reduction
        if config.observation_noise is not None:
            noise = dataclasses.replace(task.observation_noise, enabled=config.observation_noise)
            self.task = dataclasses.replace(task, observation_noise=noise)
        if not config.pushes:
            self.task = dataclasses.replace(self.task, pushes=dataclasses.replace(task.pushes, enabled=False))

        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.history_sampler = DatasetHistorySampler(
            dataset, self.normalization, self.history_horizon, self.device, self.generator
        )
        n, s, a = self.num_envs, task.dims.state, task.dims.action
        # Buffers are created outside inference mode and only ever updated in place, so they stay usable both
        # inside torch.inference_mode() (rsl_rl rollouts) and outside it.
        self.rewards = RewardComputer(self.task, n, self.device)
        self.commands = CommandSampler(self.task.commands, n, self.device, self.generator)
        self.pushes = PushScheduler(self.task.pushes, n, self.device, self.generator)
        self.episode_length_buf = torch.zeros(n, dtype=torch.long, device=self.device)
        self.state = torch.zeros(n, s, device=self.device)  # (n, S) normalised current state
        self.state_physical = torch.zeros(n, s, device=self.device)  # (n, S) same, physical units
        self.last_action = torch.zeros(n, a, device=self.device)  # (n, A) physical, policy action of last step
        self.member_ids = torch.zeros(n, dtype=torch.long, device=self.device)  # (n,)
        # MLP models read the rolling window: (n, M, S) states and (n, M, A) actions applied at them (the last
        # action slot is filled with the policy action at every step).
        if not self.is_recurrent:
            self.state_history = torch.zeros(n, self.history_horizon, s, device=self.device)
            self.action_history = torch.zeros(n, self.history_horizon, a, device=self.device)
        self.episode_sums = {
            name: torch.zeros(n, device=self.device)
            for name in (*TERM_NAMES, "uncertainty_penalty", "task", "total")
        }
        self.model.reset(num_envs=n)
        self.reset_envs(torch.arange(n, device=self.device))
        self.obs_buf = self._observations()
        self.step_history: deque[torch.Tensor] = deque(maxlen=max(1, int(config.log_window)))
        self.last_step_terms: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _task_normalization(task: Task):
        from rwmu.data.normalization import Normalization

        return Normalization.from_task(task)

    @staticmethod
    def _check_dims(model, dataset, task: Task) -> None:
        if model.dims.state != task.dims.state or model.dims.action != task.dims.action:
            raise RwmuError(
                f"world model state/action dims {model.dims.state}/{model.dims.action} do not match task "
                f"{task.name} ({task.dims.state}/{task.dims.action}); pass the task the model was trained for"
            )
        if dataset.dims != task.dims:
            raise RwmuError(
                f"dataset dims ({dataset.dims.describe()}) do not match task {task.name} ({task.dims.describe()}); "
                f"load the data with the same task"
            )
        if task.dims.contact and model.dims.contact != task.dims.contact:
            raise RwmuError(
                f"world model predicts {model.dims.contact} contacts, task {task.name} needs {task.dims.contact}"
            )

    # ------------------------------------------------------------------ VecEnv interface
    def get_observations(self) -> TensorDict:
        """Current observations: group ``policy`` (n, obs_dim), used by actor and critic."""
        return TensorDict({"policy": self.obs_buf}, batch_size=[self.num_envs], device=self.device)

    def reset(self) -> TensorDict:
        """Reset every environment; return the observations."""
        with torch.inference_mode():
            self.reset_envs(torch.arange(self.num_envs, device=self.device))
            self.obs_buf = self._observations()
        return self.get_observations()

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Advance every environment one control step.

        Args:
            actions: (n, A) policy actions (physical units).

        Returns:
            observations (TensorDict, ``policy`` (n, obs_dim)), rewards (n,) penalised, dones (n,) long,
            extras with ``time_outs`` (n,) bool and ``log`` (dict of scalars).
        """
        with torch.inference_mode():
            return self._step(actions)

    # ------------------------------------------------------------------ internals
    def _predict(self, action_normalized: torch.Tensor):
        members = self.member_ids if self.use_members else None
        if self.is_recurrent:
            return self.model.predict(
                self.state[:, None], action_normalized[:, None], member_ids=members, reduction=self.reduction
            )
        self.action_history[:, -1] = action_normalized
        return self.model.predict(self.state_history, self.action_history, member_ids=members, reduction=self.reduction)

    def _step(self, actions: torch.Tensor):
        actions = actions.to(self.device, torch.float32)
        if self.cfg.clip_actions is not None:
            actions = actions.clamp(-self.cfg.clip_actions, self.cfg.clip_actions)
        out = self._predict(self.normalization.normalize_action(actions))
        next_state = out.state
        next_physical = self.normalization.denormalize_state(next_state)
        self.episode_length_buf += 1

        if out.contact is not None:
            contacts = (out.contact > 0).float()  # round(sigmoid(logit))
        else:
            contacts = torch.zeros(self.num_envs, self.task.dims.contact, device=self.device)
        if out.termination is not None:
            terminated = out.termination[:, 0] > 0
        else:
            terminated = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        time_outs = (self.episode_length_buf >= self.max_episode_length) & ~terminated

        task_reward, terms = self.rewards.compute(next_physical, actions, contacts, self.commands.commands)
        epistemic = out.epistemic
        penalty = -self.penalty_scale * epistemic
        reward = task_reward + penalty

        # This step's reward split: every task term, the penalty, the task reward and the total, (n,) each.
        self.last_step_terms = {**terms, "uncertainty_penalty": penalty, "task": task_reward, "total": reward}
        for name, value in self.last_step_terms.items():
            self.episode_sums[name] += value

        # Advance the current state and the histories.
        self.state.copy_(next_state)
        self.state_physical.copy_(next_physical)
        self.last_action.copy_(actions)
        if not self.is_recurrent:  # action_history[:, -1] holds this step's action (set in _predict)
            self.state_history.copy_(torch.cat((self.state_history[:, 1:], next_state[:, None]), dim=1))
            self.action_history.copy_(torch.cat((self.action_history[:, 1:], self.action_history[:, :1]), dim=1))

        dones = terminated | time_outs
        log: dict[str, float | torch.Tensor] = {
            "Imagination/reward": reward.mean(),
            "Imagination/task_reward": task_reward.mean(),
            "Imagination/epistemic_uncertainty": epistemic.mean(),
        }
        self.step_history.append(torch.stack((reward.mean(), task_reward.mean(), epistemic.mean())))
        reset_ids = torch.nonzero(dones, as_tuple=False).squeeze(-1)
        if reset_ids.numel() > 0:
            for name, sums in self.episode_sums.items():
                log[f"Episode_Reward/{name}"] = sums[reset_ids].mean()
            log["Episode_Termination/terminated"] = terminated.sum().float()
            log["Episode_Termination/time_out"] = time_outs.sum().float()
            self._reset_envs(reset_ids)

        self.commands.step()
        kicks = self.pushes.step()
        if self.task.pushes.enabled and bool(self.pushes.pushed.any()):
            self._apply_push(kicks)
        self.obs_buf = self._observations()
        extras = {"time_outs": time_outs, "log": log}
        return self.get_observations(), reward, dones.long(), extras

    def _apply_push(self, kicks: torch.Tensor) -> None:
        """Add (n, 2) base-velocity kicks [m/s] to vx, vy of the current state and renormalise."""
        lin = self.task.layout.lin_vel
        self.state_physical[:, lin.start : lin.start + 2] += kicks
        self.state.copy_(self.normalization.normalize_state(self.state_physical))
        if not self.is_recurrent:
            self.state_history[:, -1] = self.state

    def _observations(self) -> torch.Tensor:
        return build_policy_observation(
            self.state_physical, self.commands.commands, self.last_action, self.task, self.generator
        )

    def reset_envs(self, env_ids: torch.Tensor) -> None:
        """Start new episodes in ``env_ids``: history, member, recurrent state, commands, pushes, bookkeeping."""
        with torch.inference_mode():
            self._reset_envs(env_ids)

    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        k = int(env_ids.numel())
        if k == 0:
            return
        from_data = torch.rand(k, generator=self.generator, device=self.device) < self.cfg.init_data_ratio
        noise = None
        if self.cfg.random_init_noise_std > 0 and not bool(from_data.all()):
            noise = torch.where(from_data, 0.0, self.cfg.random_init_noise_std).to(torch.float32)
        history = self.history_sampler.sample(k, noise)
        current = history.states[:, -1]
        current_physical = self.normalization.denormalize_state(current)
        self.state[env_ids] = current
        self.state_physical[env_ids] = current_physical
        self.last_action[env_ids] = history.last_action
        if self.use_members:
            self.member_ids[env_ids] = torch.randint(
                0, self.ensemble_size, (k,), generator=self.generator, device=self.device
            )
        if self.is_recurrent:
            self.model.reset(env_ids=env_ids)
            if self.history_horizon > 1:  # warm up on the M-1 pairs before the current state
                self.model.predict(history.states[:, :-1], history.applied_actions, env_ids=env_ids)
        else:
            self.state_history[env_ids] = history.states
            actions = torch.zeros(k, self.history_horizon, self.num_actions, device=self.device)
            actions[:, :-1] = history.applied_actions
            self.action_history[env_ids] = actions
        self.episode_length_buf[env_ids] = 0
        for sums in self.episode_sums.values():
            sums[env_ids] = 0.0
        self.rewards.reset(
            env_ids,
            previous_action=history.last_action,
            previous_joint_vel=current_physical[:, self.task.layout.joint_vel],
            contact_history=history.contacts if history.contacts.shape[-1] else None,
        )
        self.commands.reset(env_ids)
        self.pushes.reset(env_ids)

    # ------------------------------------------------------------------ statistics
    def step_statistics(self, last_steps: int | None = None) -> dict[str, float]:
        """Mean over the last ``last_steps`` steps (default: all kept, ``config.log_window``) of the per-step means.

        Returns ``reward`` (penalised), ``task_reward`` (unpenalised) and ``epistemic_uncertainty``, per env and step;
        NaN before the first step.
        """
        kept = list(self.step_history)
        if last_steps is not None:
            kept = kept[-last_steps:]
        if not kept:
            return {"reward": float("nan"), "task_reward": float("nan"), "epistemic_uncertainty": float("nan")}
        mean = torch.stack(kept).mean(dim=0).tolist()
        return {"reward": mean[0], "task_reward": mean[1], "epistemic_uncertainty": mean[2]}
