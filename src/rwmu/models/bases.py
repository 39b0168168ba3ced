"""Bases: a recurrent network over the (state, action) history or an MLP over the flattened history, shared by all
ensemble members (the reference), or one GRU per member (:class:`MemberGRUBase`).

Parameter names follow the reference layout: ``memory.rnn.*`` for recurrent bases, ``layers.<2 i>.*`` for MLPs.
"""

from __future__ import annotations

import math

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
    """B independent GRUs, one per ensemble member, evaluated together with batched matrix products.

    The gates are PyTorch's GRU's (``r``, ``z``, ``n``; ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``), and
    every member is initialised as an ``nn.GRU`` is, with its own draw. Layer ``l`` holds ``weight_ih_l<l>``
    ``(B, 3H, in)``, ``weight_hh_l<l>`` ``(B, 3H, H)`` and the biases ``(B, 3H)``.
    """

    is_recurrent = True
    kind = "gru"

    def __init__(self, members: int, input_dim: int, hidden_size: int, num_layers: int):
        super().__init__()
        self.members, self.hidden_size, self.num_layers = members, hidden_size, num_layers
        bound = 1.0 / math.sqrt(hidden_size)
        for layer in range(num_layers):
            fan_in = input_dim if layer == 0 else hidden_size
            for name, shape in (
                (f"weight_ih_l{layer}", (members, 3 * hidden_size, fan_in)),
                (f"weight_hh_l{layer}", (members, 3 * hidden_size, hidden_size)),
                (f"bias_ih_l{layer}", (members, 3 * hidden_size)),
                (f"bias_hh_l{layer}", (members, 3 * hidden_size)),
            ):
                self.register_parameter(name, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Args: x ``(n, T, in)`` read by every member, or ``(B, n, T, in)`` one slice per member; hidden
        ``(layers, B, n, H)`` or None for zeros. Returns: outputs ``(B, n, T, H)`` (the top layer at every step) and
        the new hidden state ``(layers, B, n, H)``."""
        B = self.members
        if x.dim() == 3:
            x = x.expand(B, *x.shape)
        n, T = x.shape[1], x.shape[2]
        if hidden is None:
            hidden = self.zero_hidden(n, x.device, x.dtype)
        finals = []
        for layer in range(self.num_layers):
            w_ih, w_hh = getattr(self, f"weight_ih_l{layer}"), getattr(self, f"weight_hh_l{layer}")
            b_ih, b_hh = getattr(self, f"bias_ih_l{layer}"), getattr(self, f"bias_hh_l{layer}")
            gates_in = torch.baddbmm(b_ih[:, None], x.reshape(B, n * T, -1), w_ih.transpose(1, 2))
            gates_in = gates_in.view(B, n, T, -1)
            h = hidden[layer]
            steps = []
            for t in range(T):
                gh = torch.baddbmm(b_hh[:, None], h, w_hh.transpose(1, 2))
                i_r, i_z, i_n = gates_in[:, :, t].chunk(3, dim=-1)
                h_r, h_z, h_n = gh.chunk(3, dim=-1)
                r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
                h = torch.lerp(torch.tanh(i_n + r * h_n), h, z)  # (1 - z) * n + z * h
                steps.append(h)
            x = torch.stack(steps, dim=2)
            finals.append(h)
        return x, torch.stack(finals)

    def zero_hidden(self, n: int, device, dtype=torch.float32) -> torch.Tensor:
        return torch.zeros(self.num_layers, self.members, n, self.hidden_size, device=device, dtype=dtype)


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
