"""Batched Go2 MuJoCo environment implementing rsl_rl's ``VecEnv`` (torch in, torch out).

Commands, pushes, the task reward, episode sums, time-outs, resets of the task state, logs and the observation come
from :class:`rwmu.tasks.locomotion.LocomotionCore`, the very code the imagination environment uses; this module
adds the physics. One control step (``task.dt`` = 0.02 s) of :class:`Go2VecEnv`:

1. the policy action (n, 12) becomes joint targets ``q_default + action_scale * action`` for MuJoCo's PD servos,
   which run ``decimation`` physics steps (:mod:`rwmu.sim.shard`, in worker processes when ``num_workers > 1``);
2. the state (45), contacts (8) and termination are read back; the core computes the reward, episode sums and
   time-outs (``LocomotionCore.step``);
3. terminated and timed-out environments get a physics reset and a core reset (command, push timer, reward
   bookkeeping, last action, counters);
4. the core redraws due commands and draws the pushes; a push adds its kick to the body-frame base velocity (MuJoCo
   gets it rotated into the world frame, see :mod:`rwmu.tasks.locomotion`), and the observation (48) is built.

All randomness comes from one ``torch.Generator`` seeded with ``config.seed`` and drawn in the main process, so a
run is repeatable for a seed and independent of ``num_workers``. :attr:`Go2VecEnv.last_step` keeps the quantities of
the step before resets (used by the dataset recorder and the evaluator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rwmu.errors import RwmuError
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.sim.pool import ShardPool
from rwmu.sim.state import EXTENSION_DIM
from rwmu.tasks.base import Task
from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, GO2_ACTUATION, GO2_FLAT, Go2ActuationConfig
from rwmu.tasks.locomotion import LocomotionCore, LocomotionVecEnv


@dataclass
class StepRecord:
    """Quantities of the last control step before any reset (all (n, ...) float32 tensors unless stated).

    Attributes:
        state: (n, 45) state reached; action: (n, 12) action that led to it; contacts: (n, 8);
        terminated: (n,) bool; time_out: (n,) bool (episode length reached without termination);
        command: (n, 3) command during the step; reward: (n,); terms: name -> (n,); base_pos: (n, 3) world [m];
        extension: (n, 2) [base height, body clearance] [m] (the task's extension columns).
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
    extension: torch.Tensor


class Go2VecEnv(LocomotionVecEnv):
    """``config.num_envs`` Go2 robots on flat ground; rsl_rl ``VecEnv`` (observations: TensorDict group "policy").

    Attributes (rsl_rl): ``num_envs``, ``num_actions`` (12), ``max_episode_length`` (``task.episode_length``),
    ``episode_length_buf`` (n,) long, ``device`` ("cpu"), ``cfg`` (the :class:`Go2EnvConfig`).
    Other: ``core`` (the :class:`~rwmu.tasks.locomotion.LocomotionCore`), ``states`` (n, 45) physical states (after
    this step's pushes), ``contacts`` (n, 8), ``extension`` (n, 2) [base height, body clearance], ``base_pos`` (n, 3),
    ``commands`` (n, 3), ``last_actions`` (n, 12),
    ``last_step`` (:class:`StepRecord`), :meth:`set_fixed_commands`.
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
        self.actuation = actuation
        self.num_envs = int(config.num_envs)
        self.num_actions = task.dims.action
        self.num_obs = task.observation_dim
        self.device = torch.device("cpu")
        self.generator = torch.Generator().manual_seed(int(config.seed))
        n = self.num_envs
        self.pool = ShardPool(n, config.num_workers, actuation, per_env_models=config.randomization.enabled)
        self.default_joint_pos = torch.tensor(DEFAULT_JOINT_POS, dtype=torch.float64)  # (12,) task order
        if config.randomization.enabled:
            self._randomize_parameters()
        self.core = LocomotionCore(task, n, self.device, self.generator, pushes=config.pushes)
        self.task = self.core.task
        if task.dims.extension != EXTENSION_DIM:
            raise RwmuError(
                f"task {task.name} has {task.dims.extension} extension columns; the Go2 simulator "
                f"records {EXTENSION_DIM} (base height, body clearance)"
            )
        self.states = torch.zeros(n, task.dims.state)
        self.contacts = torch.zeros(n, task.dims.contact)
        self.extension = torch.zeros(n, EXTENSION_DIM)
        self.base_pos = torch.zeros(n, 3)
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

    # ------------------------------------------------------------------------------------------------------------
    def reset_envs(self, env_ids: torch.Tensor) -> None:
        """Reset ``env_ids`` (k,): physics (default pose plus noise, ``config.reset``), then the core's task state."""
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
        self.extension[env_ids] = torch.from_numpy(out.extension).float()
        self.base_pos[env_ids] = torch.from_numpy(out.base_pos).float()
        self.core.reset(env_ids)

    def _observed_state(self) -> torch.Tensor:
        return self.states

    # ------------------------------------------------------------------------------------------------------------
    def step(self, actions: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, dict]:
        """Advance every environment one control step; see the module docstring for the order of events.

        Args:
            actions: (n, 12) policy actions (joint target offsets in units of ``action_scale``), task joint order.

        Returns:
            observations (TensorDict "policy": (n, 48)), rewards (n,), dones (n,) long, extras with "time_outs" (n,)
            and "log" (episode logs of :mod:`rwmu.tasks.locomotion`).
        """
        actions = self._prepare_actions(actions, self.cfg.clip_actions)
        targets = self.default_joint_pos + self.actuation.action_scale * actions.double()
        out = self.pool.step(targets.numpy())
        self.states = torch.from_numpy(out.states).float()
        self.contacts = torch.from_numpy(out.contacts).float()
        self.extension = torch.from_numpy(out.extension).float()
        self.base_pos = torch.from_numpy(out.base_pos).float()
        outcome = self.core.step(self.states, actions, self.contacts, torch.from_numpy(out.terminated))
        self.last_step = StepRecord(
            state=self.states.clone(),
            action=actions,
            contacts=self.contacts.clone(),
            terminated=outcome.terminated,
            time_out=outcome.time_out,
            command=outcome.command,
            reward=outcome.reward,
            terms=outcome.terms,
            base_pos=self.base_pos.clone(),
            extension=self.extension.clone(),
        )
        self.reset_envs(outcome.reset_ids)
        self._push(self.core.advance())
        self._update_observations()
        extras = {"time_outs": outcome.time_out.clone(), "log": outcome.log}
        return self.get_observations(), outcome.reward, outcome.dones.long(), extras

    def _push(self, kicks: torch.Tensor) -> None:
        """Apply (n, 2) body-frame kicks [m/s] of the pushed environments to the physics and to ``states``."""
        pushed = torch.nonzero(self.core.pushed, as_tuple=False).squeeze(-1)
        if pushed.numel() == 0:
            return
        self.pool.push(pushed.numpy(), kicks[pushed].double().numpy())
        self.core.apply_push(self.states, kicks)

    def close(self) -> None:
        self.pool.close()
