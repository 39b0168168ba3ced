"""Typed settings of MOPO-PPO training (the imagination environment's are :class:`rwmu.envs.imagination.
ImaginationConfig`), with their defaults and sources: paper Table S11 (docs/method.md section 6). The recipes of
:mod:`rwmu.recipes` are deltas on these defaults (the reference config's scale among them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from rwmu.envs.imagination import ImaginationConfig
from rwmu.errors import RwmuError
from rwmu.training.behavior_cloning_config import BehaviorCloningConfig


@dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (paper Table S11; same in the reference config unless noted)."""

    learning_rate: float = 1e-3  # Table S11 (an older reference release: 1e-4)
    entropy_coef: float = 0.005  # Table S11 (older reference release: 1e-4)
    num_learning_epochs: int = 5  # Table S11
    num_mini_batches: int = 4  # Table S11
    gamma: float = 0.99  # Table S11
    lam: float = 0.95  # Table S11 (GAE lambda)
    clip_param: float = 0.2  # Table S11
    desired_kl: float = 0.01  # Table S11
    schedule: Literal["adaptive", "fixed"] = "adaptive"  # Table S11
    value_loss_coef: float = 1.0  # Table S11
    max_grad_norm: float = 1.0  # Table S11
    use_clipped_value_loss: bool = True  # reference config


@dataclass(frozen=True)
class ActorCriticConfig:
    """Actor and critic networks (docs/method.md section 6: MLP 128-128-128, ELU, initial action noise std 1.0)."""

    actor_hidden_dims: tuple[int, ...] = (128, 128, 128)
    critic_hidden_dims: tuple[int, ...] = (128, 128, 128)
    activation: str = "elu"
    init_noise_std: float = 1.0
    obs_normalization: bool = False  # rsl_rl empirical observation normalisation (folded in at export)


@dataclass(frozen=True)
class PolicyTrainingConfig:
    """Everything ``rwmu train-policy`` does; defaults are the paper's (Table S11), which recipe ``paper`` keeps."""

    iterations: int = field(
        default=2500,  # Table S11 (reference: 500)
        metadata={"help": "PPO iterations in total (a resumed run does the remaining ones)"},
    )
    steps_per_env: int = field(
        default=100,  # Table S11 (reference: 24)
        metadata={"help": "imagined steps per env per iteration"},
    )
    save_interval: int = 50  # reference ANYmal-D PolicyTrainingConfig.save_interval
    seed: int = 0
    device: str = "cpu"
    logger: Literal["tensorboard", "wandb"] = field(
        default="tensorboard", metadata={"help": "tensorboard, or wandb (needs pip install wandb)"}
    )
    wandb_project: str = "rwmu"
    init_at_random_ep_len: bool = True  # spread episode starts over [0, episode_length), as Isaac Lab's train.py
    verbose: bool = False  # print rsl_rl's per-iteration report instead of a progress bar
    log_code_state: bool = field(
        default=False, metadata={"help": "let rsl_rl write git/<repo>.diff (code state) into the run folder"}
    )
    print_networks: bool = field(
        default=False, metadata={"help": "print rsl_rl's observation sets and actor/critic networks at start"}
    )
    torch_compile_mode: Literal["default", "max-autotune-no-cudagraphs"] | None = field(
        default=None,  # eager, as rsl_rl; "default" sped the CPU update up 1.1-1.3x (docs/performance.md)
        metadata={
            "help": "compile the actor and critic with torch.compile in this mode (rsl_rl's torch_compile_mode; "
            "the first iteration pays the compilation); None: eager"
        },
    )
    env: ImaginationConfig = field(default_factory=ImaginationConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    policy: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    behavior: BehaviorCloningConfig = field(default_factory=BehaviorCloningConfig)

    def check(self) -> None:
        """Refuse, before any work, a setting no run can use: one line naming the flag."""
        for flag, value in (
            ("--iterations", self.iterations),
            ("--steps-per-env", self.steps_per_env),
            ("--save-interval", self.save_interval),
            ("--env.num-envs", self.env.num_envs),
            ("--ppo.num-learning-epochs", self.ppo.num_learning_epochs),
            ("--ppo.num-mini-batches", self.ppo.num_mini_batches),
        ):
            if value < 1:
                raise RwmuError(f"{flag} must be >= 1, got {value}")
        for flag, value in (
            ("--ppo.learning-rate", self.ppo.learning_rate),
            ("--ppo.clip-param", self.ppo.clip_param),
            ("--ppo.desired-kl", self.ppo.desired_kl),
            ("--ppo.max-grad-norm", self.ppo.max_grad_norm),
        ):  # --policy.init-noise-std: checked by the runner, for train-online too
            if not (math.isfinite(value) and value > 0):
                raise RwmuError(f"{flag} must be a finite number > 0, got {value}")
        for flag, value in (("--ppo.gamma", self.ppo.gamma), ("--ppo.lam", self.ppo.lam)):
            if not 0.0 < value <= 1.0:
                raise RwmuError(f"{flag} must be in (0, 1], got {value}")
        for flag, value in (
            ("--ppo.entropy-coef", self.ppo.entropy_coef),
            ("--ppo.value-loss-coef", self.ppo.value_loss_coef),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise RwmuError(f"{flag} must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.env.uncertainty_penalty) and self.env.uncertainty_penalty >= 0):
            lam = self.env.uncertainty_penalty
            hint = f"; the reference's weight {lam:g} is lambda {-lam:g} here" if lam < 0 else ""
            raise RwmuError(
                f"--env.uncertainty-penalty must be a finite lambda >= 0 (r~ = r - lambda*u*dt), got {lam}{hint}"
            )
        if any(width < 1 for width in (*self.policy.actor_hidden_dims, *self.policy.critic_hidden_dims)):
            raise RwmuError("--policy.actor-hidden-dims and --policy.critic-hidden-dims need widths >= 1")
        self.env.validate()
        self.behavior.validate()
