"""State and action normalisation: ``x_normalised = (x - mean) / std``.

Comes from a task (the reference config's fixed values, docs/method.md section 3) or from a dataset's per-column
statistics. Stored with every world model (:meth:`Normalization.to_dict`) so a checkpoint converts between physical and
normalised units on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rwmu.errors import RwmuError

# Smallest standard deviation computed from data. Constant (or nearly constant) columns would otherwise divide by
# ~0; clamping to 1e-3 keeps them finite while staying far below every physical scale of the reference task (its
# smallest std is 0.02, projected gravity; docs/method.md section 3).
DATA_STD_FLOOR = 1e-3

_KEYS = ("state_mean", "state_std", "action_mean", "action_std")


@dataclass
class Normalization:
    """Means and standard deviations, float32 torch tensors: state ``(S,)``, action ``(A,)``.

    ``source`` says where the numbers came from (``"task:<name>"``, ``"dataset"`` or ``"checkpoint"``).
    """

    state_mean: torch.Tensor
    state_std: torch.Tensor
    action_mean: torch.Tensor
    action_std: torch.Tensor
    source: str = "unknown"

    def __post_init__(self) -> None:
        for key in _KEYS:
            setattr(self, key, torch.as_tensor(getattr(self, key), dtype=torch.float32))
        if self.state_mean.shape != self.state_std.shape or self.action_mean.shape != self.action_std.shape:
            raise RwmuError("normalisation means and stds must have the same shapes")
        for key in ("state_std", "action_std"):
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
    def from_task(cls, task) -> "Normalization":
        """The task's fixed normalisation (actions default to mean 0, std 1 if the task gives none)."""
        if task.state_mean is None or task.state_std is None:
            raise RwmuError(
                f"task {task.name} defines no state normalisation; compute it from the data "
                f"(Normalization.from_dataset)"
            )
        action_mean = task.action_mean if task.action_mean is not None else (0.0,) * task.dims.action
        action_std = task.action_std if task.action_std is not None else (1.0,) * task.dims.action
        return cls(
            torch.tensor(task.state_mean),
            torch.tensor(task.state_std),
            torch.tensor(action_mean),
            torch.tensor(action_std),
            source=f"task:{task.name}",
        )

    @classmethod
    def from_dataset(cls, ds, std_floor: float = DATA_STD_FLOOR) -> "Normalization":
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
        return cls(state_mean, state_std, action_mean, action_std, source="dataset")

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON- and ``weights_only``-checkpoint friendly)."""
        out: dict[str, Any] = {key: getattr(self, key).detach().cpu().tolist() for key in _KEYS}
        out["source"] = self.source
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalization":
        missing = [key for key in _KEYS if key not in d]
        if missing:
            raise RwmuError(f"normalisation entry lacks key(s) {', '.join(missing)}; the checkpoint is incomplete")
        tensors = (torch.as_tensor(d[key], dtype=torch.float32) for key in _KEYS)
        return cls(*tensors, source=d.get("source", "checkpoint"))

    def to(self, device) -> "Normalization":
        return Normalization(*(getattr(self, key).to(device) for key in _KEYS), source=self.source)

    # All four take any tensor of shape (..., dim) and return the same shape.
    def normalize_state(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.state_mean) / self.state_std

    def denormalize_state(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.state_std + self.state_mean

    def normalize_action(self, a: torch.Tensor) -> torch.Tensor:
        return (a - self.action_mean) / self.action_std

    def denormalize_action(self, a: torch.Tensor) -> torch.Tensor:
        return a * self.action_std + self.action_mean
