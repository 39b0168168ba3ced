"""Settings of behaviour cloning around MOPO-PPO (:mod:`rwmu.training.behavior_cloning`); free of torch."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rwmu.errors import RwmuError


@dataclass(frozen=True)
class BehaviorCloningConfig:
    """Behaviour cloning around MOPO-PPO (module docstring); all off by default, as in the paper (Table S11)."""

    init: bool = dataclasses.field(
        default=False, metadata={"help": "initialise the actor by behaviour cloning on --data before PPO"}
    )
    init_steps: int = dataclasses.field(
        default=2000,  # rwmu choice: ~8 passes over 1M rows at 4096 per batch, a few seconds on CPU
        metadata={"help": "mini-batch steps of the behaviour-cloning initialisation"},
    )
    batch_size: int = dataclasses.field(
        default=4096, metadata={"help": "pairs per behaviour-cloning mini-batch (initialisation and regulariser)"}
    )
    learning_rate: float = dataclasses.field(
        default=1e-3, metadata={"help": "Adam learning rate of the behaviour-cloning initialisation"}
    )
    action_std: float | None = dataclasses.field(
        default=None,  # Gaussian MLE of the data's actions around the fitted mean (module docstring)
        metadata={"help": "action std after the initialisation; none = each action's RMS residual of the fit"},
    )
    top_fraction: float = dataclasses.field(
        default=1.0,  # all the data; "%BC" (Chen et al. 2021) clones the best 10 %
        metadata={
            "help": "clone only the complete episodes whose true return is in this top fraction (filtered "
            "behaviour cloning); 1 = every row"
        },
    )
    min_action_std: float = dataclasses.field(
        default=0.05,  # rwmu choice: a deterministic behaviour policy leaves PPO some exploration
        metadata={"help": "lower bound of the fitted action std"},
    )
    regularizer_steps: int = dataclasses.field(
        default=0, metadata={"help": "behaviour-cloning mini-batch steps after every PPO update (0 = no regulariser)"}
    )
    regularizer_coef: float = dataclasses.field(default=1.0, metadata={"help": "weight of the regulariser's MSE loss"})
    regularizer_iterations: int | None = dataclasses.field(
        default=None,  # the whole run, as every recipe of docs/results.md sections 6-11.2
        metadata={
            "help": "regularise only in the first N PPO updates (critic warm-up included, counted from the "
            "run's start across resumes); none = in every update"
        },
    )
    critic_warmup: int = dataclasses.field(
        default=0, metadata={"help": "first PPO iterations that train only the critic (the actor is frozen)"}
    )

    @property
    def uses_data(self) -> bool:
        return self.init or self.regularizer_steps > 0

    def validate(self) -> None:
        if self.init_steps < 1 or self.batch_size < 1:
            raise RwmuError("--behavior.init-steps and --behavior.batch-size must be >= 1")
        if not self.learning_rate > 0:
            raise RwmuError(f"--behavior.learning-rate must be > 0, got {self.learning_rate}")
        if self.action_std is not None and not self.action_std > 0:
            raise RwmuError(f"--behavior.action-std must be > 0, got {self.action_std}")
        if not 0.0 < self.top_fraction <= 1.0:
            raise RwmuError(f"--behavior.top-fraction must be in (0, 1], got {self.top_fraction}")
        if not self.min_action_std > 0:
            raise RwmuError(f"--behavior.min-action-std must be > 0, got {self.min_action_std}")
        if self.regularizer_steps < 0 or self.critic_warmup < 0:
            raise RwmuError("--behavior.regularizer-steps and --behavior.critic-warmup must be >= 0")
        if self.regularizer_iterations is not None and self.regularizer_iterations < 0:
            raise RwmuError(
                f"--behavior.regularizer-iterations must be >= 0 or None, got {self.regularizer_iterations}"
            )
        if not self.regularizer_coef >= 0:
            raise RwmuError(f"--behavior.regularizer-coef must be >= 0, got {self.regularizer_coef}")

    def algorithm_kwargs(self) -> dict[str, Any]:
        """The keyword arguments :class:`BehaviorRegularizedPPO` takes from this config."""
        return {
            "regularizer_steps": self.regularizer_steps,
            "regularizer_coef": self.regularizer_coef,
            "regularizer_batch_size": self.batch_size,
            "critic_warmup": self.critic_warmup,
            "regularizer_iterations": self.regularizer_iterations,
        }
