"""Where imagined episodes start: dataset histories (some perturbed), drawn and warmed up ahead of the resets
(module docstring of :mod:`rwmu.envs.imagination`, "History and recurrent state" and "Initial states")."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from rwmu.data.windows import gather_windows, window_starts
from rwmu.errors import RwmuError
from rwmu.models.bases import select_hidden


@dataclass
class HistoryBatch:
    """Histories for ``k`` resetting environments (M = history horizon).

    Attributes:
        states: (k, M, S) normalised states, oldest first; ``states[:, -1]`` is the current state.
        applied_actions: (k, M-1, A) normalised actions applied at ``states[:, :-1]``.
        last_action: (k, A) PHYSICAL action that led to the current state (the observation's last action).
        contacts: (k, M, C) contacts of the history rows (0/1).
        commands: (k, 3) PHYSICAL command recorded at the current state's row [vx, vy, wz]; zeros for data without
            command columns.
    """

    states: torch.Tensor
    applied_actions: torch.Tensor
    last_action: torch.Tensor
    contacts: torch.Tensor
    commands: torch.Tensor


class DatasetHistorySampler:
    """Draws M-step starting histories from a dataset (all on one device, no Python loop over envs).

    Args:
        dataset: a :class:`rwmu.data.dataset.TrajectoryDataset` (physical units).
        normalization: :class:`rwmu.data.normalization.Normalization` of the world model.
        history_horizon: M.
        device: where the data tensor lives.
        generator: random source on ``device``.
    """

    def __init__(self, dataset, normalization, history_horizon: int, device, generator: torch.Generator | None):
        self.dims = dataset.dims
        self.history_horizon = int(history_horizon)
        self.device = torch.device(device)
        self.generator = generator
        self.normalization = normalization.to(self.device)
        # Windows of M + 1 rows: the M history rows contain no termination and lie in one trajectory.
        starts = window_starts(dataset, self.history_horizon + 1)
        if starts.size == 0:
            lengths = np.diff(dataset.trajectory_offsets)
            raise RwmuError(
                f"the dataset has no {self.history_horizon}-step history without a termination to start imagination "
                f"from (longest trajectory: {int(lengths.max())} rows); use more data or a model with a shorter "
                f"history"
            )
        self.starts = torch.as_tensor(starts, dtype=torch.long, device=self.device)
        self.data = torch.as_tensor(dataset.data, dtype=torch.float32).to(self.device)
        commands = dataset.commands  # (N, 3) or None
        self.commands = None if commands is None else torch.as_tensor(commands, dtype=torch.float32).to(self.device)

    @property
    def num_windows(self) -> int:
        return int(self.starts.numel())

    def sample(self, k: int, noise_std: torch.Tensor | None = None) -> HistoryBatch:
        """Draw ``k`` histories; ``noise_std`` (k,) adds Gaussian noise of that std (normalised units) per row."""
        m, dims = self.history_horizon, self.dims
        pick = torch.randint(0, self.num_windows, (k,), generator=self.generator, device=self.device)
        rows = gather_windows(self.data, self.starts[pick], m)  # (k, M, columns)
        if self.commands is None:
            commands = torch.zeros(k, 3, device=self.device)
        else:
            commands = self.commands[self.starts[pick] + (m - 1)]  # (k, 3) at the current state's row
        states = self.normalization.normalize_state(rows[..., dims.state_slice])
        actions = self.normalization.normalize_action(rows[..., dims.action_slice])  # row t: action that led to s_t
        if noise_std is not None:
            scale = noise_std.to(self.device).view(k, 1, 1)
            states = states + scale * torch.randn(states.shape, generator=self.generator, device=self.device)
            actions = actions + scale * torch.randn(actions.shape, generator=self.generator, device=self.device)
        return HistoryBatch(
            states=states,
            applied_actions=actions[:, 1:],
            last_action=self.normalization.denormalize_action(actions[:, -1]),
            contacts=rows[..., dims.contact_slice],
            commands=commands,
        )


def _cat(a, b):
    """Concatenate two batches along the environment dimension: HistoryBatch (dim 0), hidden states (dim -2,
    tensors or (h, c) pairs) or None."""
    if a is None:
        return b
    if isinstance(a, HistoryBatch):
        return HistoryBatch(*(torch.cat((x, y)) for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b))))
    if isinstance(a, tuple):
        return tuple(torch.cat((x, y), dim=-2) for x, y in zip(a, b))
    return torch.cat((a, b), dim=-2)


def _rows(batch, rows: slice):
    """Rows ``rows`` of a batch as in :func:`_cat`."""
    if batch is None:
        return None
    if isinstance(batch, HistoryBatch):
        return HistoryBatch(*(x[rows] for x in dataclasses.astuple(batch)))
    return select_hidden(batch, rows)


@dataclass
class WarmStarts:
    """Starting points for ``k`` environments.

    Attributes:
        history: their :class:`HistoryBatch`.
        hidden: ``(layers, 2, k, H)`` the recurrent model's state after the ``M - 1`` history pairs before the current
            state (a pair of them for LSTM); None for MLP models and M = 1 (nothing to warm up).
    """

    history: HistoryBatch
    hidden: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class StartPool:
    """Starting histories drawn and, for recurrent models, warmed up ``batch_size`` at a time (docs/performance.md).

    A reset takes the next ``k`` prepared starts and draws a new batch when fewer are left. Each start is drawn exactly
    as before (a dataset window; with probability ``1 - init_data_ratio`` Gaussian noise on it), and its recurrent
    state is the model's after reading its history from zeros, so the distribution of starts does not depend on the
    batch size; only the order in which the random generator is used does. ``batch_size = 0`` draws and warms up at
    each reset.
    """

    def __init__(
        self,
        sampler: DatasetHistorySampler,
        model,
        generator: torch.Generator,
        init_data_ratio: float,
        noise_std: float,
        batch_size: int,
    ):
        self.sampler, self.model, self.generator = sampler, model, generator
        self.init_data_ratio, self.noise_std = float(init_data_ratio), float(noise_std)
        self.warm = bool(model.is_recurrent and model.history_horizon > 1)
        self.batch_size = int(batch_size) if self.warm else 0
        self._history: HistoryBatch | None = None
        self._hidden = None
        self._available = 0

    def _draw(self, k: int) -> WarmStarts:
        device = self.sampler.device
        from_data = torch.rand(k, generator=self.generator, device=device) < self.init_data_ratio
        noise = None
        if self.noise_std > 0 and not bool(from_data.all()):
            noise = torch.where(from_data, 0.0, self.noise_std).to(torch.float32)
        history = self.sampler.sample(k, noise)
        hidden = self.model.warm_up(history.states[:, :-1], history.applied_actions) if self.warm else None
        return WarmStarts(history, hidden)

    def take(self, k: int) -> WarmStarts:
        """The next ``k`` starts."""
        if k > self._available:
            fresh = self._draw(max(k - self._available, self.batch_size))
            self._history, self._hidden = _cat(self._history, fresh.history), _cat(self._hidden, fresh.hidden)
            self._available += fresh.history.states.shape[0]
        out = WarmStarts(_rows(self._history, slice(0, k)), _rows(self._hidden, slice(0, k)))
        rest = slice(k, None)
        self._history, self._hidden = _rows(self._history, rest), _rows(self._hidden, rest)
        self._available -= k
        return out
