"""World model architecture config (docs/method.md section 4; paper Table S7)."""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass
from typing import Literal

BaseType = Literal["gru", "lstm", "mlp"]
BaseSharing = Literal["shared", "independent"]
Reduction = Literal["std_sum", "var_sum", "pairwise_max", "std_max"]
REDUCTIONS: tuple[str, ...] = typing.get_args(Reduction)
"""The one-step signals (:func:`rwmu.models.epistemic_uncertainty`) a reference holds quantiles of."""


@dataclass(frozen=True)
class ArchitectureConfig:
    """The world model's architecture (its dimensions come from the data); the one place where the architecture's
    defaults are declared."""

    ensemble_size: int = 5  # paper Table S7 (RWM-U)
    history_horizon: int = 32  # M, paper Table S10
    base_type: BaseType = "gru"  # paper Table S7: GRU
    rnn_hidden_size: int = 256  # paper Table S7
    rnn_num_layers: int = 2  # paper Table S7
    mlp_base_shape: tuple[int, ...] = (256, 256)  # hidden widths of the MLP base (base_type mlp)
    head_shape: tuple[int, ...] = (128,)  # paper Table S7: heads MLP 128
    reduction: Reduction = "std_sum"  # reference code; var_sum is paper Eq. 4
    base_sharing: BaseSharing = "shared"
    """shared: one base for all members (paper Table S7, the reference); independent: one GRU base per member, so
    that an error of a base is not every member's error (B times the base's cost)"""

    def to_model_config(self, dims) -> WorldModelConfig:
        """The full :class:`WorldModelConfig` for data of column widths ``dims`` (a :class:`~rwmu.data.layout.DataDims`)."""
        return WorldModelConfig(
            state_dim=dims.state,
            action_dim=dims.action,
            extension_dim=dims.extension,
            contact_dim=dims.contact,
            termination_dim=dims.termination,
            ensemble_size=self.ensemble_size,
            history_horizon=self.history_horizon,
            base_type=self.base_type,
            rnn_hidden_size=self.rnn_hidden_size,
            rnn_num_layers=self.rnn_num_layers,
            mlp_base_shape=tuple(self.mlp_base_shape),
            state_mean_shape=tuple(self.head_shape),
            state_logstd_shape=tuple(self.head_shape),
            extension_shape=tuple(self.head_shape),
            contact_shape=tuple(self.head_shape),
            termination_shape=tuple(self.head_shape),
            reduction=self.reduction,
            base_sharing=self.base_sharing,
        )


_PAPER = ArchitectureConfig()


@dataclass(frozen=True)
class WorldModelConfig:
    """Everything needed to build a :class:`~rwmu.models.ensemble.WorldModelEnsemble`.

    Defaults are the RWM-U configuration of the paper (Table S7) and the reference release, those of
    :class:`ArchitectureConfig`, for the ANYmal-D row layout: a 2-layer GRU base of width 256, 5 ensemble heads,
    128-wide head MLPs, 32-step history. Every head has its own hidden shape so that reference checkpoints of any
    shape load (:func:`rwmu.models.checkpoint.infer_config`).
    """

    state_dim: int = 45
    action_dim: int = 12
    extension_dim: int = 0
    contact_dim: int = 8
    termination_dim: int = 1
    ensemble_size: int = _PAPER.ensemble_size  # B; 1 gives plain RWM
    history_horizon: int = _PAPER.history_horizon  # M
    base_type: BaseType = _PAPER.base_type  # reference "rnn" with rnn_type "gru"
    rnn_hidden_size: int = _PAPER.rnn_hidden_size
    rnn_num_layers: int = _PAPER.rnn_num_layers
    mlp_base_shape: tuple[int, ...] = _PAPER.mlp_base_shape  # only for base_type "mlp"
    state_mean_shape: tuple[int, ...] = _PAPER.head_shape
    state_logstd_shape: tuple[int, ...] = _PAPER.head_shape
    extension_shape: tuple[int, ...] = _PAPER.head_shape
    contact_shape: tuple[int, ...] = _PAPER.head_shape
    termination_shape: tuple[int, ...] = _PAPER.head_shape
    reduction: Reduction = _PAPER.reduction  # epistemic reduction
    base_sharing: BaseSharing = _PAPER.base_sharing

    def __post_init__(self) -> None:
        if self.base_type not in ("gru", "lstm", "mlp"):
            raise ValueError(f"base_type must be gru, lstm or mlp, got {self.base_type!r}")
        if self.reduction not in typing.get_args(Reduction):
            raise ValueError(
                f"reduction must be one of {', '.join(typing.get_args(Reduction))}, got {self.reduction!r}"
            )
        if self.base_sharing not in typing.get_args(BaseSharing):
            raise ValueError(f"base_sharing must be shared or independent, got {self.base_sharing!r}")
        if self.base_sharing == "independent" and self.base_type != "gru":
            raise ValueError(f"independent bases are GRUs; base_type {self.base_type!r} needs base_sharing shared")
        if self.ensemble_size < 1 or self.history_horizon < 1:
            raise ValueError("ensemble_size and history_horizon must be >= 1")
        for name in ("state_mean_shape", "state_logstd_shape", "contact_shape", "termination_shape"):
            if len(getattr(self, name)) == 0:
                raise ValueError(f"{name} needs at least one hidden layer")

    @property
    def is_recurrent(self) -> bool:
        return self.base_type in ("gru", "lstm")

    @property
    def independent_bases(self) -> bool:
        return self.base_sharing == "independent"

    @property
    def base_output_dim(self) -> int:
        return self.rnn_hidden_size if self.is_recurrent else self.mlp_base_shape[-1]

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> WorldModelConfig:
        known = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)
