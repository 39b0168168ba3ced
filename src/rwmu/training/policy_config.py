"""Typed settings of MOPO-PPO training and of the imagination environment, with their defaults and sources.

Kept free of torch/rsl_rl imports so that ``rwmu --help`` stays fast. Defaults: paper Table S11 (SPEC section 6),
SPEC sections 3 and 7; :data:`PRESETS` adds the reference config's scale.
"""

from __future__ import annotations

from rwmu.utils.config import config_from_dict  # noqa: F401 - re-exported

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Literal

from rwmu.errors import RwmuError

DynamicsMode = Literal["member", "mean"]


@dataclass(frozen=True)
class ImaginationConfig:
    """Settings of the imagination environment (defaults: paper Table S11 / SPEC sections 3, 6, 7)."""

    num_envs: int = dataclasses.field(
        default=4096,  # paper Table S11 (reference config: 8192)
        metadata={"help": "parallel imagined environments"},
    )
    uncertainty_penalty: float = dataclasses.field(
        default=1.0,  # paper lambda = 1.0 (Table S11); the reference code's weight -1.0
        metadata={"help": "lambda >= 0 in r~ = r - lambda*u*dt (reference weight = -lambda)"},
    )
    dynamics: DynamicsMode = dataclasses.field(
        default="member",  # reference code: one sampled member per env (SPEC section 7.1)
        metadata={"help": "member: each env follows one sampled ensemble member (reference); mean: ensemble mean "
                          "(paper Eq. 4)"},
    )  # fmt: skip
    reduction: Literal["std_sum", "var_sum"] | None = dataclasses.field(
        default=None,  # None: the world model's own setting (reference std_sum; paper var_sum), SPEC section 7.2
        metadata={"help": "epistemic reduction std_sum (reference) or var_sum (paper); none = model default"},
    )
    init_data_ratio: float = dataclasses.field(
        default=0.8,  # SPEC section 6: 80% dataset / 20% "random" starts (reference DataConfig.init_data_ratio)
        metadata={"help": "share of resets starting from an unperturbed dataset history"},
    )
    random_init_noise_std: float = dataclasses.field(
        default=0.1,  # rwmu choice for the reference's "random" starts (module docstring)
        metadata={"help": "std of the Gaussian noise (normalised units) on the other resets' histories"},
    )
    episode_length: int | None = dataclasses.field(
        default=None,  # None -> task.episode_length (256 steps, SPEC section 3)
        metadata={"help": "imagined episode length in steps; none = the task's (256)"},
    )
    clip_actions: float | None = dataclasses.field(
        default=None, metadata={"help": "clip policy actions to [-c, c]; none = no clipping"}
    )
    pushes: bool = dataclasses.field(default=True, metadata={"help": "random base-velocity pushes (SPEC section 3)"})
    observation_noise: bool | None = dataclasses.field(
        default=None, metadata={"help": "uniform observation noise; none = the task's setting (off)"}
    )
    log_window: int = 100  # steps kept for step_statistics() (set to the steps per PPO iteration)

    def validate(self) -> None:
        if self.num_envs < 1:
            raise RwmuError(f"num_envs must be >= 1, got {self.num_envs}")
        if not self.uncertainty_penalty >= 0.0:
            raise RwmuError(
                f"uncertainty penalty lambda must be >= 0 (r~ = r - lambda*u*dt), got {self.uncertainty_penalty}; "
                f"the reference's negative weight w corresponds to lambda = -w (e.g. weight -1.0 -> lambda 1.0)"
            )
        if self.dynamics not in ("member", "mean"):
            raise RwmuError(f"dynamics must be 'member' or 'mean', got {self.dynamics!r}")
        if self.reduction not in (None, "std_sum", "var_sum"):
            raise RwmuError(f"reduction must be std_sum or var_sum, got {self.reduction!r}")
        if not 0.0 <= self.init_data_ratio <= 1.0:
            raise RwmuError(f"init_data_ratio must be in [0, 1], got {self.init_data_ratio}")
        if self.random_init_noise_std < 0:
            raise RwmuError(f"random_init_noise_std must be >= 0, got {self.random_init_noise_std}")
        if self.episode_length is not None and self.episode_length < 1:
            raise RwmuError(f"episode_length must be >= 1, got {self.episode_length}")



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
    """Actor and critic networks (SPEC section 6: MLP 128-128-128, ELU, initial action noise std 1.0)."""

    actor_hidden_dims: tuple[int, ...] = (128, 128, 128)
    critic_hidden_dims: tuple[int, ...] = (128, 128, 128)
    activation: str = "elu"
    init_noise_std: float = 1.0
    obs_normalization: bool = False  # rsl_rl empirical observation normalisation (folded in at export)


@dataclass(frozen=True)
class PolicyTrainingConfig:
    """Everything ``rwmu train-policy`` does; defaults are the paper's (Table S11), see :data:`PRESETS`."""

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
    env: ImaginationConfig = field(default_factory=ImaginationConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    policy: ActorCriticConfig = field(default_factory=ActorCriticConfig)


def _reference_preset() -> PolicyTrainingConfig:
    base = PolicyTrainingConfig()
    # Reference offline config (SPEC section 6): 8192 envs, 24 steps per env, 500 iterations.
    return dataclasses.replace(
        base, iterations=500, steps_per_env=24, env=dataclasses.replace(base.env, num_envs=8192)
    )


PRESETS: dict[str, typing.Callable[[], PolicyTrainingConfig]] = {
    "paper": PolicyTrainingConfig,
    "reference": _reference_preset,
}
