"""Settings of ``rwmu train-model`` (paper Table S10 defaults). Kept free of torch so the CLI starts fast."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from rwmu.errors import RwmuError
from rwmu.models.config import ArchitectureConfig


@dataclass(frozen=True)
class OptimConfig:
    """Optimisation (paper Table S10 unless noted)."""

    iterations: int = 2500
    batch_size: int = 1024
    learning_rate: float = 1e-4
    weight_decay: float = 1e-5
    forecast_horizon: int = 8  # N
    state_loss: Literal["sampled_mse", "gaussian_nll"] = "sampled_mse"  # reference code; NLL is the paper's text
    bound_loss_weight: float = 1.0  # docs/method.md section 5
    bootstrap: bool = True  # each head sees its own resample of the batch
    bootstrap_unit: Literal["window", "trajectory"] = "window"
    """what a head's bootstrap resamples: window (the reference: each head resamples the batch's windows at every
    iteration) or trajectory (each head draws, once for the run, its own resample with replacement of the
    trajectory segments of validation.block_length rows, and sees their windows as often as it drew them: members
    that never saw a stretch of data disagree there)"""
    max_grad_norm: float = 10.0  # rwmu choice: clip only outliers
    event_weighting: Literal["none", "sqrt", "balanced"] = "none"
    """weight of the positive class in the contact and termination losses, per column: none (reference: plain
    binary cross-entropy), balanced (negatives/positives in the training data) or sqrt (its square root); capped at
    max_event_weight. Rare events (falls, thigh contacts) are otherwise learned as 'never'"""
    max_event_weight: float = 100.0


@dataclass(frozen=True)
class ValidationConfig:
    """Held-out evaluation during training."""

    val_fraction: float = 0.1  # share of trajectory segments (blocks) held out
    block_length: int = 500  # long segments are cut into blocks of this many rows before splitting
    interval: int = 100  # iterations between validations
    windows: int = 256  # held-out windows per validation
    horizons: tuple[int, ...] = (8, 32, 100)  # reported autoregressive horizons (reference: 400-step checks)


@dataclass(frozen=True)
class TrainModelConfig:
    """Everything ``rwmu train-model`` does, with its defaults."""

    architecture: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    normalization: Literal["task", "data"] = "task"
    """task constants (docs/method.md section 3) or computed from the data"""
    checkpoint_interval: int = 500
    """iterations between checkpoints/model_<it>.pt (model_latest.pt is kept current)"""
    seed: int = 0
    """seed of the split, the initial weights and the batches (a run is repeatable on CPU)"""
    device: str = "cpu"
    """torch device: cpu, cuda or cuda:<index>"""
    logger: Literal["tensorboard", "wandb", "none"] = "tensorboard"
    """where the training curves go"""
    progress: bool = True
    """show a progress bar"""

    def check(self) -> None:
        """Refuse, before any work, a setting no run can use: one line naming the flag."""
        a, o, v = self.architecture, self.optim, self.validation
        for flag, value in (
            ("--architecture.ensemble-size", a.ensemble_size),
            ("--architecture.history-horizon", a.history_horizon),
            ("--architecture.rnn-hidden-size", a.rnn_hidden_size),
            ("--architecture.rnn-num-layers", a.rnn_num_layers),
            ("--optim.iterations", o.iterations),
            ("--optim.batch-size", o.batch_size),
            ("--optim.forecast-horizon", o.forecast_horizon),
            ("--validation.interval", v.interval),
            ("--validation.windows", v.windows),
            ("--validation.block-length", v.block_length),
            ("--checkpoint-interval", self.checkpoint_interval),
        ):
            if value < 1:
                raise RwmuError(f"{flag} must be >= 1, got {value}")
        for flag, shape in (
            ("--architecture.mlp-base-shape", a.mlp_base_shape),
            ("--architecture.head-shape", a.head_shape),
        ):
            if not shape or any(width < 1 for width in shape):
                raise RwmuError(
                    f"{flag} needs one or more layer widths >= 1, got {' '.join(map(str, shape)) or 'none'}"
                )
        if any(h < 1 for h in v.horizons):
            raise RwmuError(f"--validation.horizons must all be >= 1, got {' '.join(map(str, v.horizons))}")
        for flag, value in (
            ("--optim.learning-rate", o.learning_rate),
            ("--optim.max-grad-norm", o.max_grad_norm),
            ("--optim.max-event-weight", o.max_event_weight),
        ):
            if not (math.isfinite(value) and value > 0):
                raise RwmuError(f"{flag} must be a finite number > 0, got {value}")
        for flag, value in (
            ("--optim.weight-decay", o.weight_decay),
            ("--optim.bound-loss-weight", o.bound_loss_weight),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise RwmuError(f"{flag} must be a finite number >= 0, got {value}")
        if not 0.0 < v.val_fraction < 1.0:
            raise RwmuError(f"--validation.val-fraction must be in (0, 1), got {v.val_fraction}")
