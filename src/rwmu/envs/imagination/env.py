"""The imagination environment itself (module docstring of :mod:`rwmu.envs.imagination`)."""

from __future__ import annotations

from collections import deque

import torch
from tensordict import TensorDict
from torch.profiler import record_function

from rwmu.data.normalization import Normalization
from rwmu.envs.imagination.config import ImaginationConfig
from rwmu.envs.imagination.outcome import imagined_outcome, task_rule
from rwmu.envs.imagination.starts import DatasetHistorySampler, StartPool
from rwmu.envs.imagination.uncertainty import UncertaintyTerm
from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.dataset_rewards import recorded_commands
from rwmu.tasks.locomotion import LocomotionCore, LocomotionVecEnv, reward_names

PENALTY_NAMES = ("uncertainty_penalty",)
# Names of the per-step terms (``ImaginationEnv.last_step_terms``) and episode sums: the task terms,
# ``uncertainty_penalty``, ``task`` (unpenalised) and ``total``.
REWARD_NAMES = reward_names(PENALTY_NAMES)


class ImaginationEnv(LocomotionVecEnv):
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

    Attributes: ``core`` (the :class:`~rwmu.tasks.locomotion.LocomotionCore`), ``state`` (n, S) normalised current
    state, ``state_physical`` (n, S) the same in physical units, ``commands`` (n, 3), ``last_actions`` (n, A),
    ``member_ids`` (n,), ``last_step_terms`` (name of ``REWARD_NAMES`` -> (n,) of the latest step).
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
        self.device = torch.device(device)
        self.num_envs = int(config.num_envs)
        self.num_actions = task.dims.action
        self.dt = float(task.dt)

        self.model = model.to(self.device).eval()
        self._check_dims(model, dataset, task)
        self.model.inference_dtype = self._inference_dtype(model, config.model_precision, self.device)
        self.normalization = (normalization or model.normalization or Normalization.from_task(task)).to(self.device)
        self.history_horizon = int(model.history_horizon)
        self.is_recurrent = bool(model.is_recurrent)
        self.ensemble_size = int(model.ensemble_size)
        self.use_members = config.dynamics == "member" and self.ensemble_size > 1
        self.reduction = config.reduction
        self.termination_rule = task_rule(model, task, task.termination_rule, config.termination, "termination")
        self.contact_rule = task_rule(model, task, task.contact_rule, config.contacts, "contacts")
        self.uncertainty = UncertaintyTerm(
            config, model, dataset, self.normalization, self.num_envs, self.dt, self.device
        )
        self.uncertainty_reference = self.uncertainty.reference

        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.history_sampler = DatasetHistorySampler(
            dataset, self.normalization, self.history_horizon, self.device, self.generator
        )
        if config.data_command_ratio > 0:  # the one check that data records its commands
            recorded_commands(
                dataset,
                task,
                "--data",
                "--env.data-command-ratio > 0 (the default recipe's 1.0) cannot keep them: give --env.data-command-ratio 0 (--recipe paper has it)",
            )
        self.start_pool = StartPool(
            self.history_sampler,
            self.model,
            self.generator,
            config.init_data_ratio,
            config.random_init_noise_std,
            min(config.warmup_batch, self.num_envs),
        )
        n, s, a = self.num_envs, task.dims.state, task.dims.action
        # Buffers are created outside inference mode and only ever updated in place, so they stay usable both
        # inside torch.inference_mode() (rsl_rl rollouts) and outside it.
        self.core = LocomotionCore(
            task,
            n,
            self.device,
            self.generator,
            episode_length=config.episode_length,
            pushes=config.pushes,
            observation_noise=config.observation_noise,
            penalty_names=PENALTY_NAMES,
            standing_fraction=config.standing_fraction,
        )
        self.task = self.core.task
        self.state = torch.zeros(n, s, device=self.device)  # (n, S) normalised current state
        self.state_physical = torch.zeros(n, s, device=self.device)  # (n, S) same, physical units
        self.member_ids = torch.zeros(n, dtype=torch.long, device=self.device)  # (n,)
        # MLP models read the rolling window: (n, M, S) states and (n, M, A) actions applied at them (the last
        # action slot is filled with the policy action at every step).
        if not self.is_recurrent:
            self.state_history = torch.zeros(n, self.history_horizon, s, device=self.device)
            self.action_history = torch.zeros(n, self.history_horizon, a, device=self.device)
        self.model.reset(num_envs=n)
        self.reset_envs(torch.arange(n, device=self.device))
        self._update_observations()
        self.step_history: deque[torch.Tensor] = deque(maxlen=max(1, int(config.log_window)))
        self.last_step_terms: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _inference_dtype(model, precision: str, device: torch.device) -> torch.dtype:
        """The model's matrix-product dtype for ``--env.model-precision``: bfloat16 runs in the fused GRU step on a
        CPU with bfloat16 matrix units (elsewhere torch would emulate it, slower than float32)."""
        if precision == "float32":
            return torch.float32
        if model.config.base_type != "gru" or device.type != "cpu":
            raise RwmuError(
                f"--env.model-precision bfloat16 needs a GRU world model on a CPU (the fused step); this "
                f"is a {model.config.base_type} model on {device.type}: use float32"
            )
        if model.config.independent_bases:
            raise RwmuError(
                "--env.model-precision bfloat16 runs in the fused step of a shared GRU base; this world model has "
                "independent bases (one GRU per member): use float32"
            )
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            raise RwmuError(
                "--env.model-precision bfloat16: this CPU has no bfloat16 matrix units (AVX512-BF16 or "
                "AMX), so it would be slower than float32; use float32"
            )
        return torch.bfloat16

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
    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Advance every environment one control step.

        Args:
            actions: (n, A) policy actions (physical units).

        Returns:
            observations (TensorDict, ``policy`` (n, obs_dim)), rewards (n,) penalised, dones (n,) long,
            extras with ``time_outs`` (n,) bool and ``log`` (dict of 0-dim tensors).
        """
        with torch.inference_mode():
            return self._step(actions)

    # ------------------------------------------------------------------ internals
    def _predict(self, action_normalized: torch.Tensor):
        members = self.member_ids if self.use_members else None
        if self.is_recurrent:
            return self.model.predict(
                self.state[:, None],
                action_normalized[:, None],
                member_ids=members,
                reduction=self.reduction,
                aleatoric=False,
            )
        self.action_history[:, -1] = action_normalized
        return self.model.predict(
            self.state_history, self.action_history, member_ids=members, reduction=self.reduction, aleatoric=False
        )

    def _step(self, actions: torch.Tensor):
        # The record_function ranges name the parts of a step for torch.profiler (benchmarks/bench_imagination.py).
        with record_function("imagination/model"):
            actions = self._prepare_actions(actions, self.cfg.clip_actions)
            out = self._predict(self.normalization.normalize_action(actions))
        with record_function("imagination/task"):
            next_state = out.state
            next_physical, contacts, terminated = imagined_outcome(
                out, self.normalization, self.task, self.contact_rule, self.termination_rule
            )
            epistemic = out.epistemic
            penalty, halted = self.uncertainty(epistemic)
            terminated = terminated | halted
            outcome = self.core.step(next_physical, actions, contacts, terminated, {"uncertainty_penalty": penalty})
            self.last_step_terms = outcome.all_terms

            # Advance the current state and the histories.
            self.state.copy_(next_state)
            self.state_physical.copy_(next_physical)
            if not self.is_recurrent:  # action_history[:, -1] holds this step's action (set in _predict)
                self.state_history.copy_(torch.cat((self.state_history[:, 1:], next_state[:, None]), dim=1))
                self.action_history.copy_(torch.cat((self.action_history[:, 1:], self.action_history[:, :1]), dim=1))

            reward, task_reward = outcome.reward, outcome.task_reward
            log: dict[str, torch.Tensor] = {
                "Imagination/reward": reward.mean(),
                "Imagination/task_reward": task_reward.mean(),
                "Imagination/epistemic_uncertainty": epistemic.mean(),
                "Imagination/halted": halted.float().mean(),
                **outcome.log,
            }
            self.step_history.append(torch.stack((reward.mean(), task_reward.mean(), epistemic.mean())))
        with record_function("imagination/resets"):
            self._reset_envs(outcome.reset_ids)
        with record_function("imagination/commands_pushes"):
            kicks = self.core.advance()
            if self.core.pushes_enabled and bool(self.core.pushed.any()):
                self._apply_push(kicks)
        with record_function("imagination/observations"):
            self._update_observations()
        extras = {"time_outs": outcome.time_out, "log": log}
        return self.get_observations(), reward, outcome.dones.long(), extras

    def _apply_push(self, kicks: torch.Tensor) -> None:
        """Add (n, 2) body-frame base-velocity kicks [m/s] to vx, vy of the current state and renormalise."""
        self.core.apply_push(self.state_physical, kicks)
        self.state.copy_(self.normalization.normalize_state(self.state_physical))
        if not self.is_recurrent:
            self.state_history[:, -1] = self.state

    def _observed_state(self) -> torch.Tensor:
        return self.state_physical

    def reset_envs(self, env_ids: torch.Tensor) -> None:
        """Start new episodes in ``env_ids`` (k,): history, member, recurrent state, then the core's task state."""
        with torch.inference_mode():
            self._reset_envs(env_ids)

    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        k = int(env_ids.numel())
        if k == 0:
            return
        self.uncertainty.reset(env_ids)
        starts = self.start_pool.take(k)
        history = starts.history
        current = history.states[:, -1]
        current_physical = self.normalization.denormalize_state(current)
        self.state[env_ids] = current
        self.state_physical[env_ids] = current_physical
        if self.use_members:
            self.member_ids[env_ids] = torch.randint(
                0, self.ensemble_size, (k,), generator=self.generator, device=self.device
            )
        if self.is_recurrent:  # the state after the M-1 pairs before the current state (zeros when M = 1)
            if starts.hidden is None:
                self.model.reset(env_ids=env_ids)
            else:
                self.model.set_hidden(env_ids, starts.hidden)
        else:
            self.state_history[env_ids] = history.states
            actions = torch.zeros(k, self.history_horizon, self.num_actions, device=self.device)
            actions[:, :-1] = history.applied_actions
            self.action_history[env_ids] = actions
        self.core.reset(
            env_ids,
            last_action=history.last_action,
            previous_joint_vel=current_physical[:, self.task.layout.joint_vel],
            contact_history=history.contacts if history.contacts.shape[-1] else None,
        )
        if self.cfg.data_command_ratio > 0:  # module docstring, "Commands at a start"
            keep = torch.rand(k, generator=self.generator, device=self.device) < self.cfg.data_command_ratio
            self.core.set_commands(env_ids[keep], history.commands[keep])

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
