"""Ensemble-stacked MLPs: all members' weights in one tensor, evaluated with batched matrix products.

Parameters are stored stacked, ``weight_i`` of shape ``(B, out, in)``, so B members cost one ``baddbmm`` per layer
instead of B small matmuls. :class:`MemberStackedModule` maps the stacked tensors to and from the reference
per-member names (``state_heads.<b>.state_mean_layers.0.weight`` ...) in ``state_dict`` / ``load_state_dict``, so
reference checkpoints load unchanged and ours load into the reference code.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MemberStackedModule(nn.Module):
    """Base for modules whose parameters have a leading member dimension B.

    Subclasses implement :meth:`member_keys`, returning ``{internal_name: reference_suffix}`` (internal names may go
    into child modules, e.g. ``mean.weight_0``) where the reference key of member ``b`` is
    ``f"{b}.{reference_suffix}"``. ``state_dict`` emits the reference keys; ``load_state_dict``
    accepts them (and the internal ones).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_state_dict_post_hook(_split_members_hook)
        self.register_load_state_dict_pre_hook(_stack_members_hook)

    @property
    def num_members(self) -> int:
        raise NotImplementedError

    def member_keys(self) -> dict[str, str]:
        raise NotImplementedError


def _split_members_hook(module: MemberStackedModule, state_dict, prefix, local_metadata) -> None:
    for internal, suffix in module.member_keys().items():
        key = prefix + internal
        if key not in state_dict:
            continue
        stacked = state_dict.pop(key)
        for b in range(stacked.shape[0]):
            state_dict[f"{prefix}{b}.{suffix}"] = stacked[b]


def _stack_members_hook(module: MemberStackedModule, state_dict, prefix, *args) -> None:
    num = module.num_members
    for internal, suffix in module.member_keys().items():
        keys = [f"{prefix}{b}.{suffix}" for b in range(num)]
        if all(k in state_dict for k in keys):
            state_dict[prefix + internal] = torch.stack([state_dict.pop(k) for k in keys])


class StackedMLP(nn.Module):
    """B independent MLPs ``in -> hidden... -> out`` with ReLU between layers and a linear output.

    Layer ``i`` has ``weight_i`` (B, out_i, in_i) and ``bias_i`` (B, out_i); its reference name is
    ``<name>.<2 i>.weight`` (Linear layers at even indices of a Sequential, ReLU between them). The owning
    :class:`MemberStackedModule` maps the names.
    """

    def __init__(self, num_members: int, in_dim: int, hidden: tuple[int, ...], out_dim: int):
        super().__init__()
        self.num_members = num_members
        dims = [in_dim, *hidden, out_dim]
        self.num_layers = len(dims) - 1
        for i in range(self.num_layers):
            fan_in, fan_out = dims[i], dims[i + 1]
            bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation
            self.register_parameter(
                f"weight_{i}", nn.Parameter(torch.empty(num_members, fan_out, fan_in).uniform_(-bound, bound))
            )
            self.register_parameter(
                f"bias_{i}", nn.Parameter(torch.empty(num_members, fan_out).uniform_(-bound, bound))
            )

    def member_keys(self, own: str, reference: str) -> dict[str, str]:
        """Map ``own.weight_i`` to the reference per-member suffix ``reference.<2 i>.weight`` (and biases)."""
        keys = {}
        for i in range(self.num_layers):
            keys[f"{own}.weight_{i}"] = f"{reference}.{2 * i}.weight"
            keys[f"{own}.bias_{i}"] = f"{reference}.{2 * i}.bias"
        return keys

    def layer_shapes(self) -> list[tuple[int, int]]:
        return [tuple(getattr(self, f"weight_{i}").shape[1:]) for i in range(self.num_layers)]  # type: ignore[misc]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Evaluate every member.

        Args:
            x: ``(n, in)`` shared by all members, or ``(B, n, in)`` one slice per member.

        Returns:
            ``(B, n, out)``.
        """
        B = self.num_members
        w0, b0 = self.weight_0, self.bias_0
        if x.dim() == 2:  # one matmul for all members on a shared input
            n = x.shape[0]
            h = torch.addmm(b0.reshape(-1), x, w0.reshape(-1, w0.shape[-1]).t())
            h = h.view(n, B, -1).transpose(0, 1)
        else:
            h = torch.baddbmm(b0.unsqueeze(1), x, w0.transpose(1, 2))
        for i in range(1, self.num_layers):
            h = torch.relu(h)
            w, b = getattr(self, f"weight_{i}"), getattr(self, f"bias_{i}")
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        return h
