"""Ensemble heads: B state heads (residual Gaussian) and B auxiliary heads (contacts, termination, extension).

Each group keeps its members stacked (see :mod:`rwmu.models.stacked`) and presents the reference per-member
parameter names in its state dict (docs/method.md section 4).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from rwmu.models.stacked import MemberStackedModule, StackedMLP


class StateHeads(MemberStackedModule):
    """B Gaussian heads over the next state, in normalised units.

    ``mean_b = MLP_mean_b(h) + s_last`` (residual on the last input state); the log-std MLP output is softly bounded
    between learned per-dimension vectors ``min`` and ``max = min + exp(log_delta)``:
    ``logstd = max - softplus(max - raw)``, then ``logstd = min + softplus(logstd - min)``.
    """

    def __init__(self, num_members: int, in_dim: int, state_dim: int, mean_shape, logstd_shape):
        super().__init__()
        self._num_members = num_members
        self.state_dim = state_dim
        self.mean = StackedMLP(num_members, in_dim, tuple(mean_shape), state_dim)
        self.logstd = StackedMLP(num_members, in_dim, tuple(logstd_shape), state_dim)
        # Reference initial bounds: min log-std -5, log_delta 0 (so max log-std = -4).
        self.min_logstd = nn.Parameter(torch.full((num_members, 1, state_dim), -5.0))
        self.log_delta_logstd = nn.Parameter(torch.zeros(num_members, 1, state_dim))

    @property
    def num_members(self) -> int:
        return self._num_members

    def member_keys(self) -> dict[str, str]:
        keys = {"min_logstd": "state_min_logstd", "log_delta_logstd": "state_log_delta_logstd"}
        keys.update(self.mean.member_keys("mean", "state_mean_layers"))
        keys.update(self.logstd.member_keys("logstd", "state_logstd_layers"))
        return keys

    @property
    def max_logstd(self) -> torch.Tensor:
        """``(B, 1, S)`` upper log-std bound."""
        return self.min_logstd + torch.exp(self.log_delta_logstd)

    def forward(
        self, features: torch.Tensor, last_state: torch.Tensor, with_std: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Predict every member's Gaussian.

        Args:
            features: base output, ``(n, H)`` shared by all members or ``(B, n, H)``.
            last_state: the last input state, ``(n, S)`` or ``(B, n, S)``.
            with_std: also evaluate the log-std MLPs (else ``std`` is None).

        Returns:
            ``mean, std``, each ``(B, n, S)``.
        """
        mean = self.mean(features) + last_state
        if not with_std:
            return mean, None
        raw = self.logstd(features)
        lo, hi = self.min_logstd, self.max_logstd
        logstd = hi - F.softplus(hi - raw)
        logstd = lo + F.softplus(logstd - lo)
        return mean, torch.exp(logstd)


class AuxiliaryHeads(MemberStackedModule):
    """B heads predicting contact logits, termination logits and extension values from the auxiliary base."""

    def __init__(
        self,
        num_members: int,
        in_dim: int,
        extension_dim: int,
        contact_dim: int,
        termination_dim: int,
        extension_shape,
        contact_shape,
        termination_shape,
    ):
        super().__init__()
        self._num_members = num_members
        self.extension = (
            StackedMLP(num_members, in_dim, tuple(extension_shape), extension_dim) if extension_dim else None
        )
        self.contact = StackedMLP(num_members, in_dim, tuple(contact_shape), contact_dim) if contact_dim else None
        self.termination = (
            StackedMLP(num_members, in_dim, tuple(termination_shape), termination_dim) if termination_dim else None
        )

    @property
    def num_members(self) -> int:
        return self._num_members

    def member_keys(self) -> dict[str, str]:
        keys: dict[str, str] = {}
        for own, ref in (
            ("extension", "extension_layers"),
            ("contact", "contact_layers"),
            ("termination", "termination_layers"),
        ):
            mlp = getattr(self, own)
            if mlp is not None:
                keys.update(mlp.member_keys(own, ref))
        return keys

    def forward(self, features: torch.Tensor):
        """Args: features ``(n, H)`` or ``(B, n, H)``. Returns ``(extension, contact, termination)``, each
        ``(B, n, dim)`` or None where the dimension is 0. Contacts and termination are logits."""
        ext = self.extension(features) if self.extension is not None else None
        con = self.contact(features) if self.contact is not None else None
        term = self.termination(features) if self.termination is not None else None
        return ext, con, term
