"""Bases: a recurrent network over the (state, action) history or an MLP over the flattened history, shared by all
ensemble members (the reference), or one GRU per member (:class:`MemberGRUBase`).

Parameter names follow the reference layout: ``memory.rnn.*`` for recurrent bases, ``layers.<2 i>.*`` for MLPs.
"""

from __future__ import annotations

import torch
from torch import nn

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class _Memory(nn.Module):
    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn


class RecurrentBase(nn.Module):
    """GRU or LSTM over ``state ⊕ action``, batch first."""

    is_recurrent = True

    def __init__(self, input_dim: int, hidden_size: int, num_layers: int, kind: str = "gru"):
        super().__init__()
        cls = nn.GRU if kind == "gru" else nn.LSTM
        self.kind = kind
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.memory = _Memory(
            cls(input_size=input_dim, hidden_size=hidden_size, num_layers=num_layers, batch_first=True)
        )

    def forward(self, x: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Args: x ``(n, T, in)``; hidden ``(layers, n, H)`` (a pair for LSTM) or None for zeros.
        Returns: outputs ``(n, T, H)`` (the top layer at every step) and the new hidden state."""
        return self.memory.rnn(x, hidden)

    def zero_hidden(self, n: int, device, dtype=torch.float32) -> Hidden:
        h = torch.zeros(self.num_layers, n, self.hidden_size, device=device, dtype=dtype)
        return (h, torch.zeros_like(h)) if self.kind == "lstm" else h


class MemberGRUBase(nn.Module):
    """B independent GRUs, one per ensemble member (``members.<b>``, each an ``nn.GRU`` with its own initial draw).

    The members run one after the other: each is PyTorch's fused GRU kernel over the whole history, which on a CPU
    is about twice as fast as one batched step-by-step recurrence over all members.
    """

    is_recurrent = True
    kind = "gru"

    def __init__(self, members: int, input_dim: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.members = nn.ModuleList(
            nn.GRU(input_size=input_dim, hidden_size=hidden_size, num_layers=num_layers, batch_first=True)
            for _ in range(members)
        )

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: x ``(n, T, in)`` read by every member, or ``(B, n, T, in)`` one slice per member; hidden
        ``(layers, B, n, H)`` or None for zeros. Returns: outputs ``(B, n, T, H)`` (the top layer at every step) and
        the new hidden state ``(layers, B, n, H)``."""
        outputs, finals = [], []
        for b, gru in enumerate(self.members):
            out, h = gru(x if x.dim() == 3 else x[b], None if hidden is None else hidden[:, b].contiguous())
            outputs.append(out)
            finals.append(h)
        return torch.stack(outputs), torch.stack(finals, dim=1)

    def zero_hidden(self, n: int, device, dtype=torch.float32) -> torch.Tensor:
        return torch.zeros(self.num_layers, len(self.members), n, self.hidden_size, device=device, dtype=dtype)


class MLPBase(nn.Module):
    """MLP over the flattened M-step history ``(n, M, in) -> (n, M * in) -> (n, H)``; ReLU after every layer."""

    is_recurrent = False

    def __init__(self, input_dim: int, history_horizon: int, shape: tuple[int, ...]):
        super().__init__()
        layers: list[nn.Module] = []
        d = input_dim * history_horizon
        for width in shape:
            layers += [nn.Linear(d, width), nn.ReLU()]
            d = width
        self.layers = nn.Sequential(*layers)
        self.history_horizon = history_horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(n, M, in)`` or ``(B, n, M, in)``. Returns ``(n, H)`` or ``(B, n, H)``."""
        return self.layers(x.flatten(-2))


def select_hidden(hidden: Hidden, rows: torch.Tensor) -> Hidden:
    """Rows ``rows`` of a hidden state (the batch is the second-to-last dimension)."""
    if isinstance(hidden, tuple):
        return (hidden[0][..., rows, :], hidden[1][..., rows, :])
    return hidden[..., rows, :]


def assign_hidden(target: Hidden, rows: torch.Tensor, value: Hidden) -> None:
    """In place: ``target[..., rows, :] = value``."""
    if isinstance(target, tuple):
        target[0][..., rows, :] = value[0]
        target[1][..., rows, :] = value[1]
    else:
        target[..., rows, :] = value


def zero_hidden_rows(hidden: Hidden, rows: torch.Tensor | None) -> None:
    """In place: zero rows ``rows`` (all when None)."""
    parts = hidden if isinstance(hidden, tuple) else (hidden,)
    for h in parts:
        if rows is None:
            h.zero_()
        else:
            h[..., rows, :] = 0.0


def hidden_batch_size(hidden: Hidden) -> int:
    return (hidden[0] if isinstance(hidden, tuple) else hidden).shape[-2]


def stack_hidden(first: Hidden, second: Hidden) -> Hidden:
    """Two bases' hidden states ``(layers, n, H)`` as one ``(layers, 2, n, H)`` (a pair of them for LSTM)."""
    if isinstance(first, tuple):
        return (torch.stack((first[0], second[0]), dim=1), torch.stack((first[1], second[1]), dim=1))
    return torch.stack((first, second), dim=1)


def unstack_hidden(hidden: Hidden, base: int) -> Hidden:
    """Base ``base``'s ``(layers, n, H)`` part of a stacked hidden state (contiguous, as the RNN kernels want)."""
    if isinstance(hidden, tuple):
        return (hidden[0][:, base].contiguous(), hidden[1][:, base].contiguous())
    return hidden[:, base].contiguous()
