"""Typed settings of the imagination environment (docs/method.md sections 3, 6, 7)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

from rwmu.errors import RwmuError
from rwmu.models.config import REDUCTIONS, Reduction

DynamicsMode = Literal["member", "mean"]


@dataclass(frozen=True)
class ImaginationConfig:
    """Settings of the imagination environment (defaults: paper Table S11 / docs/method.md sections 3, 6, 7)."""

    num_envs: int = dataclasses.field(
        default=4096,  # paper Table S11 (reference config: 8192)
        metadata={"help": "parallel imagined environments"},
    )
    uncertainty_penalty: float = dataclasses.field(
        default=1.0,  # paper lambda = 1.0 (Table S11); the reference code's weight -1.0
        metadata={"help": "lambda >= 0 in r~ = r - lambda*u*dt (reference weight = -lambda)"},
    )
    dynamics: DynamicsMode = dataclasses.field(
        default="member",  # reference code: one sampled member per env (docs/method.md section 7.1)
        metadata={
            "help": "member: each env follows one sampled ensemble member (reference); mean: ensemble mean "
            "(paper Eq. 4)"
        },
    )
    reduction: Reduction | None = dataclasses.field(
        default=None,  # None: the model's own setting (reference std_sum; paper var_sum), docs/method.md 7.2
        metadata={
            "help": "the signal u: std_sum (reference), var_sum (paper Eq. 4), pairwise_max (MOReL) or std_max; "
            "none = the model's"
        },
    )
    init_data_ratio: float = dataclasses.field(
        default=0.8,  # docs/method.md section 6: 80% dataset / 20% "random" starts (reference init_data_ratio)
        metadata={"help": "share of resets starting from an unperturbed dataset history"},
    )
    random_init_noise_std: float = dataclasses.field(
        default=0.1,  # rwmu choice for the reference's "random" starts (module docstring)
        metadata={"help": "std of the Gaussian noise (normalised units) on the other resets' histories"},
    )
    episode_length: int | None = dataclasses.field(
        default=None,  # None -> task.episode_length (256 steps, docs/method.md section 3)
        metadata={"help": "imagined episode length in steps; none = the task's (256)"},
    )
    clip_actions: float | None = dataclasses.field(
        default=None, metadata={"help": "clip policy actions to [-c, c]; none = no clipping"}
    )
    pushes: bool = dataclasses.field(
        default=True, metadata={"help": "random base-velocity pushes (docs/method.md section 3)"}
    )
    standing_fraction: float | None = dataclasses.field(
        default=0.125,  # one of the 8 built-in evaluation schedules is "stand" (docs/go2.md); the task's is 2 %
        metadata={"help": "share of commands that are zero (standing); none = the task's (2 %)"},
    )
    observation_noise: bool | None = dataclasses.field(
        default=None, metadata={"help": "uniform observation noise; none = the task's setting (off)"}
    )
    penalty: Literal["reference", "excess"] = dataclasses.field(
        default="reference",  # paper Eq. 5 / reference code: r - lambda * u * dt
        metadata={
            "help": "reference: r - lambda*u*dt; excess: r - lambda*max(0, u - u0)*dt with u0 the model's "
            "--env.penalty-quantile of u on held-out data"
        },
    )
    penalty_quantile: float = dataclasses.field(
        default=0.9,  # rwmu choice: charge what 90 % of held-out data windows stay under (docs/method.md 6.1)
        metadata={"help": "u0 of the excess penalty: this quantile of u on held-out data windows"},
    )
    halt_quantile: float | None = dataclasses.field(
        default=None,  # off, as in MOPO; MOReL halts where the ensemble disagrees beyond its data level
        metadata={
            "help": "end an episode (as a termination) where u exceeds this quantile of u on held-out "
            "data (MOReL-style halting); none = never"
        },
    )
    halt_budget: float = dataclasses.field(
        default=0.0,  # MOReL: halt at the first step above the level (rwmu.envs.imagination.uncertainty)
        metadata={
            "help": "halt once the excess of u over the halt level, accumulated since the episode start, passes "
            "this many times that level (TATU-style); 0 = at the first step above it"
        },
    )
    halt_reward: float = dataclasses.field(
        default=0.0,  # MOReL's HALT reward is negative; 0 = a halt costs only the lost future reward
        metadata={"help": "reward (<= 0) added at a halted step (MOReL's HALT penalty)"},
    )
    termination: Literal["auto", "rule", "head"] = dataclasses.field(
        default="auto",  # module docstring: the task's rule on predicted states where possible
        metadata={
            "help": "episode end: rule (the task's fall rule on predicted states), head (learned "
            "termination) or auto (rule where the model predicts its columns)"
        },
    )
    contacts: Literal["auto", "rule", "head"] = dataclasses.field(
        default="auto",  # module docstring: the task's contact rule on predicted clearances where possible
        metadata={
            "help": "contacts: rule (the task's contact rule on predicted extension columns for the contacts "
            "it covers), head (learned contacts only) or auto (rule where the model predicts its "
            "columns)"
        },
    )
    data_command_ratio: float = dataclasses.field(
        default=0.0,  # the simulator's: every episode draws its command (module docstring, "Commands at a start")
        metadata={
            "help": "share of resets that keep the command recorded at the start's dataset row (the data's "
            "command columns) instead of drawing one; 0 = always draw"
        },
    )
    warmup_batch: int = dataclasses.field(
        default=1024,  # docs/performance.md: a reset's warm-up in small batches ran at a third of the GEMM rate
        metadata={
            "help": "recurrent models: starting histories drawn and warmed up this many at a time, ahead of "
            "the resets that use them (same distribution of starts); 0 = at each reset"
        },
    )
    model_precision: Literal["float32", "bfloat16"] = dataclasses.field(
        default="float32",  # the model's own precision; bfloat16 is a speed option (docs/performance.md)
        metadata={
            "help": "dtype of the world model's matrix products in imagination: float32, or bfloat16 "
            "(float32 accumulation and recurrent state; a GRU model on a CPU with bfloat16 matrix "
            "units; 1.6x faster model step, docs/performance.md)"
        },
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
        if self.reduction not in (None, *REDUCTIONS):
            raise RwmuError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {self.reduction!r}")
        if not (math.isfinite(self.halt_budget) and self.halt_budget >= 0):
            raise RwmuError(f"halt_budget must be a finite number >= 0, got {self.halt_budget}")
        if not (math.isfinite(self.halt_reward) and self.halt_reward <= 0):
            raise RwmuError(f"halt_reward must be a finite number <= 0 (a cost), got {self.halt_reward}")
        if (self.halt_budget or self.halt_reward) and self.halt_quantile is None:
            raise RwmuError("halt_budget and halt_reward need a halt rule: set halt_quantile")
        if not 0.0 <= self.init_data_ratio <= 1.0:
            raise RwmuError(f"init_data_ratio must be in [0, 1], got {self.init_data_ratio}")
        if not 0.0 <= self.data_command_ratio <= 1.0:
            raise RwmuError(f"data_command_ratio must be in [0, 1], got {self.data_command_ratio}")
        if self.random_init_noise_std < 0:
            raise RwmuError(f"random_init_noise_std must be >= 0, got {self.random_init_noise_std}")
        if self.warmup_batch < 0:
            raise RwmuError(f"warmup_batch must be >= 0, got {self.warmup_batch}")
        if self.episode_length is not None and self.episode_length < 1:
            raise RwmuError(f"episode_length must be >= 1, got {self.episode_length}")
        for name in ("termination", "contacts"):
            if getattr(self, name) not in ("auto", "rule", "head"):
                raise RwmuError(f"{name} must be auto, rule or head, got {getattr(self, name)!r}")
        if self.penalty not in ("reference", "excess"):
            raise RwmuError(f"penalty must be reference or excess, got {self.penalty!r}")
        if self.model_precision not in ("float32", "bfloat16"):
            raise RwmuError(f"model_precision must be float32 or bfloat16, got {self.model_precision!r}")
        for name in ("penalty_quantile", "halt_quantile"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise RwmuError(f"{name} must be in [0, 1], got {value}")
