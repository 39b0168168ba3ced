"""Settings of ``rwmu eval-uncertainty`` (:mod:`rwmu.evaluation.uncertainty`); free of torch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rwmu.errors import RwmuError


@dataclass(frozen=True)
class UncertaintyEvalConfig:
    """Settings of ``rwmu eval-uncertainty`` (defaults: the protocol of ``docs/method.md`` section 8)."""

    windows: int = field(default=32, metadata={"help": "rollout windows (docs/method.md section 8: 32)"})
    horizon: int = field(default=200, metadata={"help": "open-loop rollout steps H (docs/method.md section 8: 200)"})
    history: int | None = field(
        default=None,
        metadata={
            "help": "ground-truth steps M before the rollout; none: the model's (recurrent models only may differ)"
        },
    )
    seed: int = field(default=0, metadata={"help": "seed of the window choice and of the sampled members"})
    split: Literal["heldout", "all"] = field(
        default="heldout",
        metadata={"help": "heldout: validation part of the training split; all: every window of the data"},
    )
    val_fraction: float | None = field(
        default=None, metadata={"help": "split setting; none: the checkpoint's training value, else 0.1"}
    )
    block_length: int | None = field(
        default=None, metadata={"help": "split setting; none: the checkpoint's training value, else 500"}
    )
    split_seed: int | None = field(
        default=None, metadata={"help": "seed of the split; none: the checkpoint's training seed, else --seed"}
    )
    calibration_bins: int = field(default=10, metadata={"help": "epistemic quantile bins of the calibration table"})
    reduction: Literal["std_sum", "var_sum"] | None = field(
        default=None,
        metadata={"help": "epistemic reduction; none: the model's (std_sum reference code, var_sum paper Eq. 4)"},
    )
    device: str = field(default="cpu", metadata={"help": "cpu or cuda"})

    def check(self) -> None:
        """Raise :class:`RwmuError` for settings out of range."""
        for name in ("windows", "horizon", "calibration_bins"):
            if getattr(self, name) < 1:
                raise RwmuError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.history is not None and self.history < 1:
            raise RwmuError(f"--history must be at least 1, got {self.history}")
        if self.val_fraction is not None and not 0.0 < self.val_fraction < 1.0:
            raise RwmuError(f"--val-fraction must be in (0, 1) for a held-out split, got {self.val_fraction}")
        if self.block_length is not None and self.block_length < 1:
            raise RwmuError(f"--block-length must be at least 1, got {self.block_length}")
