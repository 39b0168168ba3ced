"""Settings of ``rwmu train-online`` (:mod:`rwmu.training.online`); free of torch and MuJoCo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rwmu.sim.env_config import Go2EnvConfig
from rwmu.training.policy_config import ActorCriticConfig, PPOConfig

TRACKING_TERM = "track_lin_vel_xy_exp"  # the task term whose kernel the curriculum watches


@dataclass(frozen=True)
class TrainingRewardConfig:
    """Training-only reward shaping; the scored reward stays the task's."""

    only_positive: bool = True
    """clip the step reward at 0 so that ending an episode never pays (legged_gym only_positive_rewards)"""
    termination_penalty: float = 0.0
    """added to the (clipped) step reward at a termination, e.g. -0.05"""


@dataclass(frozen=True)
class CommandCurriculumConfig:
    """Commands from ``scale`` x the task's ranges, widened as tracking improves (unitree_rl_lab's Go2 curriculum)."""

    enabled: bool = True
    initial_scale: float = 0.2
    """share of the task's command ranges at the start (unitree_rl_lab starts at |v| <= 0.1 of 1.0)"""
    step: float = 0.1
    """how much the share grows at a time (unitree_rl_lab: 0.1)"""
    threshold: float = 0.8
    """widen when the finished episodes' mean linear tracking kernel exp(-err^2/0.25) exceeds this (unitree_rl_lab:
    0.8 of the tracking weight)"""
    interval: int = 240
    """finished episodes are pooled over this many control steps (10 PPO iterations of 24 steps) per decision"""


@dataclass(frozen=True)
class OnlineTrainingConfig:
    """Everything ``rwmu train-online`` does. PPO settings are Isaac Lab's Go2 flat ones (rsl_rl defaults of its
    ``UnitreeGo2FlatPPORunnerCfg``): lr 1e-3 adaptive, entropy 0.01, 5 epochs x 4 mini-batches, 24 steps per env."""

    iterations: int = 1500
    """PPO iterations in total (a resumed run does the remaining ones)"""
    steps_per_env: int = 24  # Isaac Lab / legged_gym
    save_interval: int = 50  # Isaac Lab's Go2 runner
    seed: int = 0
    device: Literal["cpu"] = "cpu"  # the simulator runs on the CPU; so does the update
    logger: Literal["tensorboard", "wandb"] = "tensorboard"
    wandb_project: str = "rwmu"
    init_at_random_ep_len: bool = True  # spread episode starts, as Isaac Lab's train.py
    verbose: bool = False
    """print rsl_rl's per-iteration report instead of a progress bar"""
    log_code_state: bool = False
    """let rsl_rl write git/<repo>.diff (code state) into the run folder"""
    print_networks: bool = False
    """print rsl_rl's observation sets and networks at start"""
    env: Go2EnvConfig = field(default_factory=lambda: Go2EnvConfig(num_envs=1024, num_workers=2))
    ppo: PPOConfig = field(default_factory=lambda: PPOConfig(entropy_coef=0.01))  # Isaac Lab Go2: 0.01
    policy: ActorCriticConfig = field(default_factory=lambda: ActorCriticConfig(obs_normalization=True))
    reward: TrainingRewardConfig = field(default_factory=TrainingRewardConfig)
    curriculum: CommandCurriculumConfig = field(default_factory=CommandCurriculumConfig)
