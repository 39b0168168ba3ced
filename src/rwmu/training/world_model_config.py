"""Settings of ``rwmu train-model`` (paper Table S10 defaults). Kept free of torch so the CLI starts fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
    normalization: Literal["task", "data"] = (
        "task"  # task constants (docs/method.md section 3) or computed from the data
    )
    checkpoint_interval: int = 500
    seed: int = 0
    device: str = "cpu"
    logger: Literal["tensorboard", "wandb", "none"] = "tensorboard"
    progress: bool = True
