"""Batched Go2 MuJoCo environment implementing rsl_rl's ``VecEnv`` (torch in, torch out).

One control step (``task.dt`` = 0.02 s) of :class:`Go2VecEnv`:

1. velocity kicks of the push schedule (``rwmu.tasks.commands.PushScheduler``) are added to the base velocity;
2. the policy action (n, 12) becomes joint targets ``q_default + action_scale * action`` for MuJoCo's PD servos,
   which run ``decimation`` physics steps (:mod:`rwmu.sim.shard`, in worker processes when ``num_workers > 1``);
3. the state (45), contacts (8) and termination are read back; the task reward comes from the shared
   :class:`rwmu.tasks.rewards.RewardComputer` (the very code imagination uses);
4. terminated environments and those whose episode ran ``task.episode_length`` steps (time-outs) are reset, with
   fresh commands (:class:`rwmu.tasks.commands.CommandSampler`), push timers and reward bookkeeping;
5. commands whose interval ran out are redrawn, and the observation (48) of the new states is built with the
   shared :func:`rwmu.tasks.observations.build_policy_observation`.

All randomness comes from one ``torch.Generator`` seeded with ``config.seed`` and drawn in the main process, so a
run is repeatable for a seed and independent of ``num_workers``. :attr:`Go2VecEnv.last_step` keeps the quantities of
the step before resets (used by the dataset recorder and the evaluator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rwmu.errors import RwmuError
from rwmu.sim.pool import ShardPool
from rwmu.tasks.base import Task
from rwmu.tasks.commands import CommandSampler, PushScheduler
from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, GO2_ACTUATION, GO2_FLAT, Go2ActuationConfig
from rwmu.tasks.observations import build_policy_observation
from rwmu.tasks.rewards import RewardComputer


@dataclass(frozen=True)
class DomainRandomizationConfig:
    """Per-environment physics randomisation, drawn at construction (off by default).

    Ranges follow common Go2 sim-to-real configs (unitree_rl_gym ``go2_config``: friction [0.5, 1.25], added base
    mass [-1, 1] kg; motor strength [0.9, 1.1] as legged_gym's ``motor_strength``).
    """

    enabled: bool = False
    friction: tuple[float, float] = (0.5, 1.25)  # floor and robot sliding friction
    added_base_mass: tuple[float, float] = (-1.0, 1.0)  # [kg] added to the trunk (6.921 kg nominal)
    motor_strength: tuple[float, float] = (0.9, 1.1)  # factor on Kp, Kd and the torque limits


@dataclass(frozen=True)
class ResetConfig:
    """Start state of an episode: default pose plus uniform noise (chosen, documented in docs/go2.md)."""

    joint_pos_noise: float = 0.1  # [rad] uniform half-width on every joint
    base_lin_vel_noise: float = 0.2  # [m/s] uniform half-width on world vx, vy, vz
    base_ang_vel_noise: float = 0.2  # [rad/s] uniform half-width on body wx, wy, wz
    random_yaw: bool = True  # heading uniform in [-pi, pi) (irrelevant on flat ground, widens the data)


@dataclass(frozen=True)
class Go2EnvConfig:
    """Settings of :class:`Go2VecEnv` (defaults: 16 envs, 1 process, SPEC section 3 commands and pushes)."""

    num_envs: int = 16
    num_workers: int = 1  # processes stepping MuJoCo (1: in this process)
    seed: int = 0
    pushes: bool = True  # apply task.pushes (SPEC section 3: every 48-96 steps, +-0.5 m/s on vx, vy)
    clip_actions: float | None = 100.0  # |action| bound before scaling (Isaac Lab's default clip is 100)
    randomization: DomainRandomizationConfig = field(default_factory=DomainRandomizationConfig)
    reset: ResetConfig = field(default_factory=ResetConfig)


@dataclass
class StepRecord:
    """Quantities of the last control step before any reset (all (n, ...) float32 tensors unless stated).

    Attributes:
        state: (n, 45) state reached; action: (n, 12) action that led to it; contacts: (n, 8);
        terminated: (n,) bool; time_out: (n,) bool (episode length reached without termination);
        command: (n, 3) command during the step; reward: (n,); terms: name -> (n,); base_pos: (n, 3) world [m].
    """

    state: torch.Tensor
    action: torch.Tensor
    contacts: torch.Tensor
    terminated: torch.Tensor
    time_out: torch.Tensor
    command: torch.Tensor
    reward: torch.Tensor
    terms: dict[str, torch.Tensor]
    base_pos: torch.Tensor


def _vec_env_base() -> type:
    try:
        from rsl_rl.env import VecEnv
    except ImportError:  # pragma: no cover - rsl-rl-lib is a dependency
        return object
    return VecEnv


class Go2VecEnv(_vec_env_base()):  # type: ignore[misc]
    """``config.num_envs`` Go2 robots on flat ground; rsl_rl ``VecEnv`` (observations: TensorDict group "policy").

    Attributes (rsl_rl): ``num_envs``, ``num_actions`` (12), ``max_episode_length`` (``task.episode_length``),
    ``episode_length_buf`` (n,) long, ``device`` ("cpu"), ``cfg`` (the :class:`Go2EnvConfig`).
    Other: ``states`` (n, 45), ``contacts`` (n, 8), ``commands`` (n, 3) (view of the command sampler),
    ``last_actions`` (n, 12), ``fixed_commands`` (see :meth:`set_fixed_commands`).
    """

    def __init__(
        self,
        config: Go2EnvConfig = Go2EnvConfig(),
        task: Task = GO2_FLAT,
        actuation: Go2ActuationConfig = GO2_ACTUATION,
    ):
        if config.num_envs < 1:
            raise RwmuError(f"num_envs must be >= 1, got {config.num_envs}")
        self.cfg = config
        self.task = task
        self.actuation = actuation
        self.num_envs = int(config.num_envs)
        self.num_actions = task.dims.action
        self.num_obs = task.observation_dim
        self.max_episode_length = int(task.episode_length)
        self.device = torch.device("cpu")
        self.generator = torch.Generator().manual_seed(int(config.seed))
        n = self.num_envs
        self.pool = ShardPool(n, config.num_workers, actuation, per_env_models=config.randomization.enabled)
        self.default_joint_pos = torch.tensor(DEFAULT_JOINT_POS, dtype=torch.float64)  # (12,) task order
        if config.randomization.enabled:
            self._randomize_parameters()
        self.command_sampler = CommandSampler(task.commands, n, self.device, self.generator)
        push_config = task.pushes if config.pushes else _disabled_pushes(task)
        self.push_scheduler = PushScheduler(push_config, n, self.device, self.generator)
        self.reward_computer = RewardComputer(task, n, self.device)
        self.episode_length_buf = torch.zeros(n, dtype=torch.long)
        self.last_actions = torch.zeros(n, self.num_actions)
        self.states = torch.zeros(n, task.dims.state)
        self.contacts = torch.zeros(n, task.dims.contact)
        self.base_pos = torch.zeros(n, 3)
        self.fixed_commands: torch.Tensor | None = None
        self.episode_sums: dict[str, torch.Tensor] = {}
        self.last_step: StepRecord | None = None
        self.reset()

    # ------------------------------------------------------------------------------------------------------------
    def _uniform(self, low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=self.generator, dtype=torch.float64)

    def _randomize_parameters(self) -> None:
        r, n = self.cfg.randomization, self.num_envs
        self.physics_parameters = {
            "friction": self._uniform(*r.friction, n).numpy(),
            "added_base_mass": self._uniform(*r.added_base_mass, n).numpy(),
            "motor_strength": self._uniform(*r.motor_strength, n).numpy(),
        }
        p = self.physics_parameters
        self.pool.set_parameters(np.arange(n), p["friction"], p["added_base_mass"], p["motor_strength"])

    @property
    def commands(self) -> torch.Tensor:
        """(n, 3) current velocity commands [vx, vy, wz]."""
        return self.command_sampler.commands

    def set_fixed_commands(self, schedule: torch.Tensor | None) -> None:
        """Replace random commands by a schedule: (T, 3) per episode step, the same for all envs, or (n, T, 3)
        per env; step ``t >= T`` keeps the last entry. ``None`` returns to random commands."""
        if schedule is not None:
            schedule = torch.as_tensor(schedule, dtype=torch.float32)
            if schedule.ndim == 2:
                schedule = schedule.unsqueeze(0).expand(self.num_envs, -1, -1)
            if schedule.ndim != 3 or schedule.shape[0] != self.num_envs or schedule.shape[2] != 3:
                raise RwmuError(
                    f"command schedule must be (T, 3) or ({self.num_envs}, T, 3), got {tuple(schedule.shape)}"
                )
        self.fixed_commands = schedule
        self._apply_fixed_commands(torch.arange(self.num_envs))

    def _apply_fixed_commands(self, env_ids: torch.Tensor) -> None:
        if self.fixed_commands is None or env_ids.numel() == 0:
            return
        t = self.episode_length_buf[env_ids].clamp(max=self.fixed_commands.shape[1] - 1)
        self.command_sampler.commands[env_ids] = self.fixed_commands[env_ids, t]

    # ------------------------------------------------------------------------------------------------------------
    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        """Reset ``env_ids`` (k,): physics, commands, pushes, reward bookkeeping, last action, episode counters."""
        k = int(env_ids.numel())
        if k == 0:
            return
        rc = self.cfg.reset
        joint_offsets = self._uniform(-rc.joint_pos_noise, rc.joint_pos_noise, k, self.num_actions)
        lin = self._uniform(-rc.base_lin_vel_noise, rc.base_lin_vel_noise, k, 3)
        ang = self._uniform(-rc.base_ang_vel_noise, rc.base_ang_vel_noise, k, 3)
        yaw = self._uniform(-np.pi, np.pi, k) if rc.random_yaw else torch.zeros(k, dtype=torch.float64)
        ids = env_ids.numpy()
        out = self.pool.reset(ids, joint_offsets.numpy(), torch.cat([lin, ang], dim=1).numpy(), yaw.numpy())
        self.states[env_ids] = torch.from_numpy(out.states).float()
        self.contacts[env_ids] = torch.from_numpy(out.contacts).float()
        self.base_pos[env_ids] = torch.from_numpy(out.base_pos).float()
        self.episode_length_buf[env_ids] = 0
        self.last_actions[env_ids] = 0.0
        self.command_sampler.reset(env_ids)
        self._apply_fixed_commands(env_ids)
        self.push_scheduler.reset(env_ids)
        self.reward_computer.reset(env_ids)

    def reset(self) -> tuple[Any, dict]:
        """Reset every environment; returns (observations TensorDict, extras)."""
        self._reset_envs(torch.arange(self.num_envs))
        self.episode_sums = {}
        return self.get_observations(), {}

    def observation_tensor(self) -> torch.Tensor:
        """(n, 48) policy observation of the current states."""
        return build_policy_observation(self.states, self.commands, self.last_actions, self.task, self.generator)

    def get_observations(self) -> Any:
        from tensordict import TensorDict

        obs = self.observation_tensor()
        return TensorDict({"policy": obs}, batch_size=[self.num_envs], device=self.device)

    # ------------------------------------------------------------------------------------------------------------
    def step(self, actions: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, dict]:
        """Advance every environment one control step; see the module docstring for the order of events.

        Args:
            actions: (n, 12) policy actions (joint target offsets in units of ``action_scale``), task joint order.

        Returns:
            observations (TensorDict "policy": (n, 48)), rewards (n,), dones (n,) long, extras with "time_outs" (n,)
            and "log" (episode means of finished episodes: "/episode_reward/<term>", "/episode_length", "/falls").
        """
        actions = torch.as_tensor(actions, dtype=torch.float32).detach().reshape(self.num_envs, self.num_actions)
        if self.cfg.clip_actions is not None:
            actions = actions.clamp(-self.cfg.clip_actions, self.cfg.clip_actions)
        kicks = self.push_scheduler.step()
        pushed = torch.nonzero(self.push_scheduler.pushed, as_tuple=False).squeeze(-1)
        if pushed.numel() > 0:
            self.pool.push(pushed.numpy(), kicks[pushed].double().numpy())
        targets = self.default_joint_pos + self.actuation.action_scale * actions.double()
        out = self.pool.step(targets.numpy())
        self.states = torch.from_numpy(out.states).float()
        self.contacts = torch.from_numpy(out.contacts).float()
        self.base_pos = torch.from_numpy(out.base_pos).float()
        command = self.commands.clone()
        reward, terms = self.reward_computer.compute(self.states, actions, self.contacts, command)
        self.last_actions = actions.clone()
        self.episode_length_buf += 1
        terminated = torch.from_numpy(out.terminated)
        time_out = (self.episode_length_buf >= self.max_episode_length) & ~terminated
        self.last_step = StepRecord(
            state=self.states.clone(), action=actions, contacts=self.contacts.clone(), terminated=terminated,
            time_out=time_out, command=command, reward=reward, terms=terms, base_pos=self.base_pos.clone(),
        )  # fmt: skip
        for name, value in terms.items():
            self.episode_sums[name] = self.episode_sums.get(name, torch.zeros(self.num_envs)) + value
        dones = terminated | time_out
        done_ids = torch.nonzero(dones, as_tuple=False).squeeze(-1)
        extras: dict[str, Any] = {"time_outs": time_out.clone(), "log": {}}
        if done_ids.numel() > 0:
            log = extras["log"]
            for name, total in self.episode_sums.items():
                log[f"/episode_reward/{name}"] = total[done_ids].mean().item()
                total[done_ids] = 0.0
            log["/episode_length"] = self.episode_length_buf[done_ids].float().mean().item()
            log["/falls"] = terminated[done_ids].float().mean().item()
            self._reset_envs(done_ids)
        self.command_sampler.step()  # redraws commands whose interval ran out
        if self.fixed_commands is not None:
            self._apply_fixed_commands(torch.arange(self.num_envs))
        return self.get_observations(), reward, dones.long(), extras

    def close(self) -> None:
        self.pool.close()


def _disabled_pushes(task: Task):
    import dataclasses

    return dataclasses.replace(task.pushes, enabled=False)
