"""State, action and extension normalisation: ``x_normalised = (x - mean) / std``.

Comes from a task (the reference config's fixed values, docs/method.md section 3) or from a dataset's per-column
statistics. Stored with every world model (:meth:`Normalization.to_dict`) so a checkpoint converts between physical and
normalised units on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rwmu.errors import RwmuError

# Smallest standard deviation computed from data. Constant (or nearly constant) columns would otherwise divide by
# ~0; clamping to 1e-3 keeps them finite while staying far below every physical scale of the reference task (its
# smallest std is 0.02, projected gravity; docs/method.md section 3).
DATA_STD_FLOOR = 1e-3

_KEYS = ("state_mean", "state_std", "action_mean", "action_std")
_EXTENSION_KEYS = ("extension_mean", "extension_std")


@dataclass
class Normalization:
    """Means and standard deviations, float32 torch tensors: state ``(S,)``, action ``(A,)``, extension ``(E,)``.

    ``source`` says where the numbers came from (``"task:<name>"``, ``"dataset"`` or ``"checkpoint"``). Extension
    columns (e.g. the Go2's base height and body clearance, in metres) are normalised so their prediction loss weighs
    like the state's; empty extension statistics (``(0,)``, no extension or an older checkpoint) leave them as they are.
    """

    state_mean: torch.Tensor
    state_std: torch.Tensor
    action_mean: torch.Tensor
    action_std: torch.Tensor
    source: str = "unknown"
    extension_mean: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    extension_std: torch.Tensor = field(default_factory=lambda: torch.zeros(0))

    def __post_init__(self) -> None:
        for key in _KEYS + _EXTENSION_KEYS:
            setattr(self, key, torch.as_tensor(getattr(self, key), dtype=torch.float32))
        if (
            self.state_mean.shape != self.state_std.shape
            or self.action_mean.shape != self.action_std.shape
            or self.extension_mean.shape != self.extension_std.shape
        ):
            raise RwmuError("normalisation means and stds must have the same shapes")
        for key in ("state_std", "action_std", "extension_std"):
            value = getattr(self, key)
            if not bool(torch.all(value > 0)) or not bool(torch.all(torch.isfinite(value))):
                raise RwmuError(f"normalisation {key} must be positive and finite")

    @property
    def state_dim(self) -> int:
        return int(self.state_mean.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.action_mean.shape[0])

    @classmethod
    def from_task(cls, task) -> Normalization:
        """The task's fixed normalisation (actions default to mean 0, std 1 if the task gives none)."""
        if task.state_mean is None or task.state_std is None:
            raise RwmuError(
                f"task {task.name} defines no state normalisation; compute it from the data "
                f"(Normalization.from_dataset)"
            )
        action_mean = task.action_mean if task.action_mean is not None else (0.0,) * task.dims.action
        action_std = task.action_std if task.action_std is not None else (1.0,) * task.dims.action
        e = task.dims.extension
        extension_mean = task.extension_mean if task.extension_mean is not None else (0.0,) * e
        extension_std = task.extension_std if task.extension_std is not None else (1.0,) * e
        return cls(
            torch.tensor(task.state_mean),
            torch.tensor(task.state_std),
            torch.tensor(action_mean),
            torch.tensor(action_std),
            source=f"task:{task.name}",
            extension_mean=torch.tensor(extension_mean, dtype=torch.float32),
            extension_std=torch.tensor(extension_std, dtype=torch.float32),
        )

    @classmethod
    def from_dataset(cls, ds, std_floor: float = DATA_STD_FLOOR) -> Normalization:
        """Per-column mean and std (float64 accumulation) of the dataset's states and actions.

        Stds below ``std_floor`` (default :data:`DATA_STD_FLOOR`) are raised to it.
        """

        def stats(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            mean = x.mean(axis=0, dtype=np.float64)
            std = np.sqrt(np.maximum(np.mean(np.square(x, dtype=np.float64), axis=0) - mean**2, 0.0))
            std = np.maximum(std, std_floor)
            return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)

        state_mean, state_std = stats(ds.states)
        action_mean, action_std = stats(ds.actions)
        extension_mean, extension_std = stats(ds.extensions) if ds.dims.extension else (torch.zeros(0),) * 2
        return cls(
            state_mean,
            state_std,
            action_mean,
            action_std,
            source="dataset",
            extension_mean=extension_mean,
            extension_std=extension_std,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON- and ``weights_only``-checkpoint friendly)."""
        out: dict[str, Any] = {key: getattr(self, key).detach().cpu().tolist() for key in _KEYS + _EXTENSION_KEYS}
        out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        missing = [key for key in _KEYS if key not in d]
        if missing:
            raise RwmuError(f"normalisation entry lacks key(s) {', '.join(missing)}; the checkpoint is incomplete")
        tensors = (torch.as_tensor(d[key], dtype=torch.float32) for key in _KEYS)
        extension = {key: torch.as_tensor(d.get(key, []), dtype=torch.float32) for key in _EXTENSION_KEYS}
        return cls(*tensors, source=d.get("source", "checkpoint"), **extension)

    def to(self, device) -> Normalization:
        moved = {key: getattr(self, key).to(device) for key in _KEYS + _EXTENSION_KEYS}
        return Normalization(**moved, source=self.source)

    # All four take any tensor of shape (..., dim) and return the same shape.
    def normalize_state(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.state_mean) / self.state_std

    def denormalize_state(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.state_std + self.state_mean

    def normalize_action(self, a: torch.Tensor) -> torch.Tensor:
        return (a - self.action_mean) / self.action_std

    def denormalize_action(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.action_std + self.action_mean

    def normalize_extension(self, e: torch.Tensor) -> torch.Tensor:
        if self.extension_mean.numel() == 0:
            return e
        return (e - self.extension_mean) / self.extension_std

    def denormalize_extension(self, e: torch.Tensor) -> torch.Tensor:
        if self.extension_mean.numel() == 0:
            return e
        return e * self.extension_std + self.extension_mean

    def normalize_rows(self, rows: torch.Tensor, dims) -> torch.Tensor:
        """Dataset rows ``(..., columns)`` laid out as ``dims`` (:class:`~rwmu.data.layout.DataDims`) with their state,
        action and extension columns normalised, in place; contacts and termination stay 0/1. Returns ``rows``."""
        rows[..., dims.state_slice] = self.normalize_state(rows[..., dims.state_slice])
        rows[..., dims.action_slice] = self.normalize_action(rows[..., dims.action_slice])
        if dims.extension:
            rows[..., dims.extension_slice] = self.normalize_extension(rows[..., dims.extension_slice])
        return rows
