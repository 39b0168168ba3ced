"""The locomotion task core shared by the imagination environment and the MuJoCo simulator.

:class:`LocomotionCore` holds everything of a velocity-tracking episode that does not depend on where the next state
comes from (docs/method.md section 3): velocity commands (random, or a fixed per-step schedule), push timers and
kicks, the task reward, the per-episode reward sums, the episode length counter, time-outs, the last action, the
policy observation and the reset bookkeeping. :class:`LocomotionVecEnv` is the rsl_rl ``VecEnv`` base both
environments derive from. An environment only supplies the next state, contacts and termination (world model
prediction or MuJoCo physics) and its own resets (dataset history or physics reset).

One control step, in this order (both environments)::

    state, contacts, terminated = <dynamics>(actions)     # environment
    outcome = core.step(state, actions, contacts, terminated, penalties)
    <reset dynamics of outcome.reset_ids>; core.reset(outcome.reset_ids, ...)   # environment, then core
    kicks = core.advance()                                # command timers / schedule, push timers
    <apply kicks to the dynamics>; core.apply_push(state, kicks)                # environment, then core
    observation = core.observation(state)

Push convention. A push adds ``kicks`` (n, 2) [m/s] to the BODY-FRAME base velocity vx, vy (state columns 0-1 of
``task.layout``), at the end of a step, after resets and command updates, so the observation of the next step already
shows it. The imagination environment adds it to its imagined state; the MuJoCo environment rotates it into the
world frame with the base orientation, ``v_world += R @ (dvx, dvy, 0)``, so the body-frame velocity changes by exactly
the kick there as well. (Isaac Lab's ``push_by_setting_velocity`` adds the kick in the world frame; the two differ
by the heading only, and only the body frame exists in imagination.)

Logging (``outcome.log``, rsl_rl / Isaac Lab keys, present on steps where at least one episode ended, all values 0-dim
tensors), over the environments whose episode ended at this step:

- ``Episode_Reward/<name>``: mean episode sum of every task term (``weight * value * dt`` summed over the episode),
  of every penalty (imagination: ``uncertainty_penalty``), of ``task`` (the unpenalised task reward) and, where
  there are penalties, of ``total`` (the reward the policy gets). Sums, not divided by the episode length.
- ``Episode_Termination/terminated``, ``Episode_Termination/time_out``: how many of them terminated / timed out.
- ``Episode/length``: their mean length in steps.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from dataclasses import dataclass

import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from rwmu.errors import RwmuError
from rwmu.tasks.base import Task
from rwmu.tasks.commands import CommandSampler, PushScheduler
from rwmu.tasks.observations import build_critic_observation, build_policy_observation
from rwmu.tasks.rewards import TERM_NAMES, RewardComputer

__all__ = ["LocomotionCore", "LocomotionVecEnv", "StepOutcome", "reward_names"]

TASK_REWARD = "task"  # the unpenalised task reward: the sum of the task terms
TOTAL_REWARD = "total"  # task reward plus penalties (only where there are penalties)


def reward_names(penalty_names: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Names of the per-episode reward sums, in order: task terms, penalties, ``task``, and ``total`` if penalised."""
    return (*TERM_NAMES, *penalty_names, TASK_REWARD, *((TOTAL_REWARD,) if penalty_names else ()))


def _as_ids(env_ids: torch.Tensor | None, num_envs: int, device: torch.device) -> torch.Tensor:
    if env_ids is None:
        return torch.arange(num_envs, device=device)
    return torch.as_tensor(env_ids, dtype=torch.long, device=device).reshape(-1)


@dataclass
class StepOutcome:
    """The task side of one control step, before any reset (n environments, k of them done).

    Attributes:
        reward: (n,) the step reward the policy gets: task reward plus penalties.
        task_reward: (n,) the unpenalised task reward (sum of ``terms``).
        terms: task term name -> (n,) ``weight * value * dt``, in ``TERM_NAMES`` order.
        all_terms: every name of :func:`reward_names` -> (n,): the task terms, the penalties, ``task`` and ``total``.
        command: (n, 3) the command during the step.
        terminated: (n,) bool; time_out: (n,) bool, the episode length reached without a termination;
        dones: (n,) bool, ``terminated | time_out``.
        reset_ids: (k,) long, the environments to reset.
        log: rsl_rl ``extras["log"]`` entries (module docstring); empty when no episode ended.
    """

    reward: torch.Tensor
    task_reward: torch.Tensor
    terms: dict[str, torch.Tensor]
    all_terms: dict[str, torch.Tensor]
    command: torch.Tensor
    terminated: torch.Tensor
    time_out: torch.Tensor
    dones: torch.Tensor
    reset_ids: torch.Tensor
    log: dict[str, torch.Tensor]


class LocomotionCore:
    """Commands, pushes, task reward, episode sums and counters of ``n`` locomotion environments (vectorised).

    Args:
        task: the task (commands, pushes, reward weights, observation, episode length, dt).
        num_envs: number of environments ``n``.
        device: where every tensor lives.
        generator: the environment's random source (on ``device``): commands, push timers and kicks, observation
            noise; None uses torch's global generator.
        episode_length: steps per episode; None uses ``task.episode_length``.
        pushes: False disables the task's pushes (every kick zero).
        observation_noise: overrides ``task.observation_noise.enabled``; None keeps the task's setting.
        standing_fraction: overrides ``task.commands.standing_fraction`` (the share of zero commands); None keeps it.
        penalty_names: names of the penalties the environment adds to the task reward (e.g.
            ``("uncertainty_penalty",)``); each gets an episode sum, and ``total`` is summed too.

    Attributes:
        task: the task with the overrides above applied.
        commands: (n, 3) current command [vx, vy, wz] (a view of the command sampler's buffer).
        last_actions: (n, A) physical policy action of the last step (the observation's last action).
        episode_length_buf: (n,) long, steps taken in the current episode.
        episode_sums: name -> (n,) reward sums of the current episode, names of :func:`reward_names`.
        fixed_commands: (n, T, 3) command schedule or None (see :meth:`set_fixed_commands`).
    """

    def __init__(
        self,
        task: Task,
        num_envs: int,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
        *,
        episode_length: int | None = None,
        pushes: bool = True,
        observation_noise: bool | None = None,
        penalty_names: tuple[str, ...] = (),
        standing_fraction: float | None = None,
    ):
        if standing_fraction is not None:
            if not 0.0 <= standing_fraction <= 1.0:
                raise RwmuError(f"standing fraction must be in [0, 1], got {standing_fraction}")
            task = dataclasses.replace(
                task, commands=dataclasses.replace(task.commands, standing_fraction=float(standing_fraction))
            )
        if not pushes:
            task = dataclasses.replace(task, pushes=dataclasses.replace(task.pushes, enabled=False))
        if observation_noise is not None:
            task = dataclasses.replace(
                task, observation_noise=dataclasses.replace(task.observation_noise, enabled=bool(observation_noise))
            )
        self.task = task
        self.num_envs = n = int(num_envs)
        self.device = torch.device(device)
        self.generator = generator
        self.max_episode_length = int(episode_length or task.episode_length)
        self.penalty_names = tuple(penalty_names)
        self.reward_names = reward_names(self.penalty_names)
        # Buffers are created here and only ever updated in place, so they stay usable both inside
        # torch.inference_mode() (rsl_rl rollouts) and outside it.
        self.reward_computer = RewardComputer(task, n, self.device)
        self.command_sampler = CommandSampler(task.commands, n, self.device, generator)
        self.push_scheduler = PushScheduler(task.pushes, n, self.device, generator)
        self.episode_length_buf = torch.zeros(n, dtype=torch.long, device=self.device)
        self.last_actions = torch.zeros(n, task.dims.action, device=self.device)
        self.episode_sums = {name: torch.zeros(n, device=self.device) for name in self.reward_names}
        self.fixed_commands: torch.Tensor | None = None

    # ------------------------------------------------------------------------------------------------ commands
    @property
    def commands(self) -> torch.Tensor:
        """(n, 3) current velocity commands [vx, vy, wz]."""
        return self.command_sampler.commands

    @property
    def pushes_enabled(self) -> bool:
        return bool(self.task.pushes.enabled)

    @property
    def pushed(self) -> torch.Tensor:
        """(n,) bool: pushed by the latest :meth:`advance`."""
        return self.push_scheduler.pushed

    def set_fixed_commands(self, schedule: torch.Tensor | None) -> None:
        """Replace the random commands by a schedule indexed by the episode step.

        Args:
            schedule: (T, 3) the same for every environment, or (n, T, 3) per environment; episode step ``t >= T``
                keeps the last entry. ``None`` returns to random commands (the current ones stay until redrawn).
        """
        if schedule is not None:
            schedule = torch.as_tensor(schedule, dtype=torch.float32).to(self.device)
            if schedule.ndim == 2:
                schedule = schedule.unsqueeze(0).expand(self.num_envs, -1, -1)
            if schedule.ndim != 3 or schedule.shape[0] != self.num_envs or schedule.shape[2] != 3:
                raise RwmuError(
                    f"command schedule must be (T, 3) or ({self.num_envs}, T, 3), got {tuple(schedule.shape)}"
                )
        self.fixed_commands = schedule
        self._apply_fixed_commands(None)

    def _apply_fixed_commands(self, env_ids: torch.Tensor | None) -> None:
        if self.fixed_commands is None:
            return
        ids = _as_ids(env_ids, self.num_envs, self.device)
        if ids.numel() == 0:
            return
        t = self.episode_length_buf[ids].clamp(max=self.fixed_commands.shape[1] - 1)
        self.command_sampler.commands[ids] = self.fixed_commands[ids, t]

    # ------------------------------------------------------------------------------------------------ one step
    def step(
        self,
        state: torch.Tensor,
        action: torch.Tensor,
        contacts: torch.Tensor,
        terminated: torch.Tensor,
        penalties: dict[str, torch.Tensor] | None = None,
    ) -> StepOutcome:
        """Reward, episode sums, counters, time-outs and logs of one control step; resets nothing.

        Args:
            state: (n, S) state reached by the step, PHYSICAL units, laid out as ``task.layout``.
            action: (n, A) physical policy action that led to it (becomes ``last_actions``).
            contacts: (n, C) contacts at ``state``, 0/1.
            terminated: (n,) bool, the episode ended in a failure.
            penalties: name -> (n,) terms added to the task reward, exactly the ``penalty_names`` of the core.

        Returns:
            :class:`StepOutcome`; the caller resets ``outcome.reset_ids`` (its dynamics, then :meth:`reset`).
        """
        penalties = penalties or {}
        if tuple(penalties) != self.penalty_names:
            raise RwmuError(f"penalties {tuple(penalties)} differ from the core's {self.penalty_names}")
        command = self.commands.clone()
        task_reward, terms = self.reward_computer.compute(state, action, contacts, command)
        reward = task_reward
        for value in penalties.values():
            reward = reward + value
        all_terms = {**terms, **penalties, TASK_REWARD: task_reward}
        if self.penalty_names:
            all_terms[TOTAL_REWARD] = reward
        for name, sums in self.episode_sums.items():
            sums += all_terms[name]
        self.last_actions.copy_(action)
        self.episode_length_buf += 1
        terminated = terminated.to(device=self.device, dtype=torch.bool)
        time_out = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        dones = terminated | time_out
        reset_ids = torch.nonzero(dones, as_tuple=False).squeeze(-1)
        log = self._episode_log(reset_ids, terminated, time_out) if reset_ids.numel() > 0 else {}
        return StepOutcome(
            reward=reward,
            task_reward=task_reward,
            terms=terms,
            all_terms=all_terms,
            command=command,
            terminated=terminated,
            time_out=time_out,
            dones=dones,
            reset_ids=reset_ids,
            log=log,
        )

    def _episode_log(self, ids: torch.Tensor, terminated: torch.Tensor, time_out: torch.Tensor) -> dict:
        log = {f"Episode_Reward/{name}": sums[ids].mean() for name, sums in self.episode_sums.items()}
        log["Episode_Termination/terminated"] = terminated[ids].sum().float()
        log["Episode_Termination/time_out"] = time_out[ids].sum().float()
        log["Episode/length"] = self.episode_length_buf[ids].float().mean()
        return log

    def reset(
        self,
        env_ids: torch.Tensor | None = None,
        *,
        last_action: torch.Tensor | None = None,
        previous_joint_vel: torch.Tensor | None = None,
        contact_history: torch.Tensor | None = None,
    ) -> None:
        """Start new episodes in ``env_ids`` (k,) (all if None): counters, sums, commands, push timers, reward state.

        Args:
            last_action: (k, A) physical action that led to the start state (a dataset history's last action): the
                observation's last action and the reward's previous action. None: zeros in the observation, and the
                first step's own action as previous action (action rate 0), as after a physics reset.
            previous_joint_vel, contact_history: passed to :meth:`RewardComputer.reset`.
        """
        ids = _as_ids(env_ids, self.num_envs, self.device)
        if ids.numel() == 0:
            return
        self.episode_length_buf[ids] = 0
        for sums in self.episode_sums.values():
            sums[ids] = 0.0
        self.last_actions[ids] = 0.0 if last_action is None else last_action.to(self.last_actions)
        self.reward_computer.reset(
            ids, previous_action=last_action, previous_joint_vel=previous_joint_vel, contact_history=contact_history
        )
        self.command_sampler.reset(ids)
        self._apply_fixed_commands(ids)
        self.push_scheduler.reset(ids)

    def set_commands(self, env_ids: torch.Tensor, commands: torch.Tensor) -> None:
        """Give ``env_ids`` (k,) the commands ``commands`` (k, 3) [vx, vy, wz] (physical) in place of those drawn at
        their reset; they are redrawn when their resampling interval runs out, as any other."""
        self.command_sampler.set(env_ids, commands)

    def advance(self) -> torch.Tensor:
        """Timers of the next step, after the resets: redraw due commands (or follow the schedule), draw pushes.

        Returns:
            (n, 2) body-frame velocity kicks [m/s] to add to vx, vy (module docstring), zero where :attr:`pushed` is
            False.
        """
        self.command_sampler.step()
        self._apply_fixed_commands(None)
        return self.push_scheduler.step()

    def apply_push(self, state: torch.Tensor, kicks: torch.Tensor) -> None:
        """Add ``kicks`` (n, 2) [m/s] to the body-frame vx, vy of ``state`` (n, S) (physical units), in place."""
        start = self.task.layout.lin_vel.start
        state[:, start : start + 2] += kicks.to(state)

    def observation(self, state: torch.Tensor) -> torch.Tensor:
        """(n, obs_dim) policy observation of the physical ``state`` (n, S), current commands and last actions."""
        return build_policy_observation(state, self.commands, self.last_actions, self.task, self.generator)

    def critic_observation(self, state: torch.Tensor) -> torch.Tensor | None:
        """(n, critic_obs_dim) the critic's privileged observation of ``state`` (n, S), or None where the task's
        critic reads the policy observation."""
        if self.task.critic_observation_terms is None:
            return None
        return build_critic_observation(state, self.commands, self.last_actions, self.task)


class LocomotionVecEnv(VecEnv):
    """rsl_rl ``VecEnv`` base of the locomotion environments: the attributes rsl_rl reads, kept by :attr:`core`.

    A subclass sets ``num_envs``, ``num_actions``, ``device``, ``cfg``, ``core`` (a :class:`LocomotionCore`) and
    ``obs_buf`` (n, obs_dim), and implements ``step``, ``reset_envs(env_ids)`` and ``_observed_state()`` (the (n, S)
    physical state the policy observes).
    """

    core: LocomotionCore
    obs_buf: torch.Tensor
    critic_obs_buf: torch.Tensor | None = None

    @property
    def episode_length_buf(self) -> torch.Tensor:  # type: ignore[override]
        """(n,) long steps of the current episodes (rsl_rl may assign random lengths at the start of training)."""
        return self.core.episode_length_buf

    @episode_length_buf.setter
    def episode_length_buf(self, value: torch.Tensor) -> None:
        self.core.episode_length_buf.copy_(value)

    @property
    def max_episode_length(self) -> int:  # type: ignore[override]
        return self.core.max_episode_length

    @property
    def commands(self) -> torch.Tensor:
        """(n, 3) current velocity commands [vx, vy, wz]."""
        return self.core.commands

    @property
    def last_actions(self) -> torch.Tensor:
        """(n, A) physical policy action of the last step (zeros or the history's last action after a reset)."""
        return self.core.last_actions

    def set_fixed_commands(self, schedule: torch.Tensor | None) -> None:
        """See :meth:`LocomotionCore.set_fixed_commands`; the observation shows the new commands at once."""
        self.core.set_fixed_commands(schedule)
        self._update_observations()

    def get_observations(self) -> TensorDict:
        """Current observations: group ``policy`` (n, obs_dim), the actor's; and, where the task declares critic
        terms, group ``critic`` (n, critic_obs_dim), the critic's (:func:`rwmu.training.runner.observation_groups`)."""
        groups = {"policy": self.obs_buf}
        if self.critic_obs_buf is not None:
            groups["critic"] = self.critic_obs_buf
        return TensorDict(groups, batch_size=[self.num_envs], device=self.device)

    def reset(self) -> tuple[TensorDict, dict]:
        """Reset every environment; returns (observations, extras)."""
        self.reset_envs(torch.arange(self.num_envs, device=self.device))
        self._update_observations()
        return self.get_observations(), {}

    @abstractmethod
    def reset_envs(self, env_ids: torch.Tensor) -> None:
        """Start new episodes in ``env_ids`` (k,): the environment's own reset, then :meth:`LocomotionCore.reset`."""

    @abstractmethod
    def _observed_state(self) -> torch.Tensor:
        """(n, S) physical state the policy observes."""

    def _update_observations(self) -> None:
        state = self._observed_state()
        self.obs_buf = self.core.observation(state)
        self.critic_obs_buf = self.core.critic_observation(state)

    def _prepare_actions(self, actions: torch.Tensor, clip: float | None) -> torch.Tensor:
        """(n, A) float32 actions on ``device``, detached, clipped to [-clip, clip] unless ``clip`` is None."""
        actions = torch.as_tensor(actions).detach().to(self.device, torch.float32).reshape(self.num_envs, -1)
        return actions if clip is None else actions.clamp(-clip, clip)
