"""The uncertainty-aware world model: shared bases, B stacked heads, epistemic and aleatoric uncertainty.

Structure (docs/method.md section 4): a *state base* feeding B Gaussian state heads and an *auxiliary base* feeding B
auxiliary heads (contacts, termination, extension). All members are evaluated together with batched matrix products;
the base runs once per batch, never once per head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rwmu.data.layout import DataDims
from rwmu.models.bases import (
    Hidden,
    MemberGRUBase,
    MLPBase,
    RecurrentBase,
    assign_hidden,
    hidden_batch_size,
    select_hidden,
    stack_hidden,
    unstack_hidden,
    zero_hidden_rows,
)
from rwmu.models.config import WorldModelConfig
from rwmu.models.disagreement import epistemic_uncertainty
from rwmu.models.fused_step import FusedGRUStep
from rwmu.models.heads import AuxiliaryHeads, StateHeads


@dataclass
class WorldModelOutput:
    """One prediction step for ``n`` environments (normalised units).

    Attributes:
        state: ``(n, S)`` next-state mean (ensemble mean, or each env's assigned member).
        aleatoric: ``(n,)`` mean over members of the predicted std, summed over state dimensions; None when
            ``predict(aleatoric=False)``.
        epistemic: ``(n,)`` disagreement of the members' means (see :func:`epistemic_uncertainty`); 0 when B = 1.
        extension: ``(n, E)`` or None.
        contact: ``(n, C)`` logits or None.
        termination: ``(n, 1)`` logits or None.
    """

    state: torch.Tensor
    aleatoric: torch.Tensor | None
    epistemic: torch.Tensor
    extension: torch.Tensor | None
    contact: torch.Tensor | None
    termination: torch.Tensor | None


@dataclass
class MemberPredictions:
    """Every member's one-step prediction for ``n`` histories (normalised units).

    Attributes:
        state: ``(B, n, S)`` each member's next-state mean.
        extension: ``(B, n, E)`` or None; contact: ``(B, n, C)`` logits or None; termination: ``(B, n, 1)`` logits or
            None.
    """

    state: torch.Tensor
    extension: torch.Tensor | None
    contact: torch.Tensor | None
    termination: torch.Tensor | None


def _pick(values: torch.Tensor | None, member_ids: torch.Tensor | None) -> torch.Tensor | None:
    """``(B, n, d)`` -> ``(n, d)``: mean over members, or each row's member."""
    if values is None:
        return None
    if member_ids is None:
        return values.mean(dim=0)
    return values[member_ids, torch.arange(values.shape[1], device=values.device)]


class WorldModelEnsemble(nn.Module):
    """Ensemble world model over normalised states and actions.

    Inputs pair ``states[:, t]`` with ``actions[:, t]``, the action applied *at* that state; the model predicts the
    state that follows the last pair. Recurrent models keep one hidden state per environment between
    :meth:`predict` calls; :meth:`reset` clears it. Both bases' recurrent states are kept stacked,
    ``(layers, 2, n, H)`` (index 0 the state base, 1 the auxiliary base), so that the one-step inference of a GRU
    model can run both bases together (:class:`~rwmu.models.fused_step.FusedGRUStep`).
    """

    def __init__(self, config: WorldModelConfig):
        super().__init__()
        self.config = config
        c = config
        in_dim = c.state_dim + c.action_dim
        self.state_base = self._make_base(in_dim)
        self.state_heads = StateHeads(
            c.ensemble_size, c.base_output_dim, c.state_dim, c.state_mean_shape, c.state_logstd_shape
        )
        self.auxiliary_base = self._make_base(in_dim)
        self.auxiliary_heads = AuxiliaryHeads(
            c.ensemble_size,
            c.base_output_dim,
            c.extension_dim,
            c.contact_dim,
            c.termination_dim,
            c.extension_shape,
            c.contact_shape,
            c.termination_shape,
        )
        self.normalization = None  # rwmu.data.normalization.Normalization, attached by the loader/trainer
        # Quantiles of u on held-out data (rwmu.models.calibration.uncertainty_reference), attached by the trainer.
        self.uncertainty_reference: dict | None = None
        self._hidden: Hidden | None = None  # (layers, 2, n, H); a (h, c) pair of them for LSTM
        self._fused_step = FusedGRUStep(self) if c.base_type == "gru" and not c.independent_bases else None
        # GRU inference through the fused step (rwmu.models.fused_step); False runs nn.GRU and the stacked heads
        # (the same maths); None (default) picks by device: fused on a CPU, where it is 1.5x nn.GRU, and nn.GRU (cuDNN)
        # on a GPU, where the fused step's small kernels are 1.4-1.6x slower (docs/performance.md).
        self.fused_inference: bool | None = None
        # The dtype of the fused step's matrix products: float32, or bfloat16 (float32 accumulation, float32 recurrent
        # state and element-wise gate maths; 2.5x the float32 GEMM rate on a CPU with AVX512-BF16, docs/performance.md).
        self.inference_dtype: torch.dtype = torch.float32

    def _make_base(self, in_dim: int) -> nn.Module:
        c = self.config
        if c.independent_bases:
            return MemberGRUBase(c.ensemble_size, in_dim, c.rnn_hidden_size, c.rnn_num_layers)
        if c.is_recurrent:
            return RecurrentBase(in_dim, c.rnn_hidden_size, c.rnn_num_layers, c.base_type)
        return MLPBase(in_dim, c.history_horizon, c.mlp_base_shape)

    # ------------------------------------------------------------------ properties
    @property
    def dims(self) -> DataDims:
        c = self.config
        return DataDims(c.state_dim, c.action_dim, c.extension_dim, c.contact_dim, c.termination_dim)

    @property
    def ensemble_size(self) -> int:
        return self.config.ensemble_size

    @property
    def history_horizon(self) -> int:
        return self.config.history_horizon

    @property
    def is_recurrent(self) -> bool:
        return self.config.is_recurrent

    @property
    def independent_bases(self) -> bool:
        return self.config.independent_bases

    @property
    def device(self) -> torch.device:
        return self.state_heads.min_logstd.device

    # ------------------------------------------------------------------ building blocks (also used in training)
    def encode(
        self, base: nn.Module, states: torch.Tensor, actions: torch.Tensor, hidden: Hidden | None = None
    ) -> tuple[torch.Tensor, Hidden | None]:
        """Run a base over a history.

        Args:
            base: ``self.state_base`` or ``self.auxiliary_base``.
            states: ``(n, T, S)``; actions ``(n, T, A)`` (a leading member dimension ``B`` is allowed for MLP bases
                and for independent bases, one slice per member).
            hidden: recurrent state ``(layers, n, H)`` (``(layers, B, n, H)`` for independent bases) or None for
                zeros.

        Returns:
            Recurrent: the top layer's output at every step ``(n, T, H)`` (``(B, n, T, H)`` for independent bases)
            and the new hidden state. MLP: ``(n, H)`` features of the whole window, and None.
        """
        x = torch.cat([states, actions], dim=-1)
        if self.is_recurrent:
            return base(x, hidden)
        return base(x), None

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(
        self,
        states: torch.Tensor,
        actions: torch.Tensor,
        member_ids: torch.Tensor | None = None,
        env_ids: torch.Tensor | None = None,
        reduction: str | None = None,
        aleatoric: bool = True,
    ) -> WorldModelOutput:
        """Predict the next state for ``n`` environments.

        Args:
            states: ``(n, T, S)`` normalised. After a reset a recurrent model takes the whole history (T = M), then
                one step at a time (T = 1), continuing each environment's hidden state. MLP models take T = M.
            actions: ``(n, T, A)`` normalised, the action applied at each state.
            member_ids: ``(n,)`` long, one ensemble member per row ("member" mode, trajectory sampling); None gives
                the ensemble mean (paper Eq. 4).
            env_ids: ``(n,)`` long, the environments these rows belong to: only their hidden states are read and
                written (e.g. to warm up freshly reset environments). None means rows 0..n-1 are all environments.
            reduction: epistemic reduction (``std_sum`` / ``var_sum``); None uses ``config.reduction``.
            aleatoric: evaluate the log-std heads for the aleatoric term; False skips them (imagination does not
                use it) and returns ``aleatoric=None``.

        Returns:
            :class:`WorldModelOutput`.
        """
        if states.dim() != 3 or actions.dim() != 3 or states.shape[:2] != actions.shape[:2]:
            raise ValueError(
                f"predict expects states (n, T, S) and actions (n, T, A) with equal n, T; got "
                f"{tuple(states.shape)} and {tuple(actions.shape)}"
            )
        if states.shape[-1] != self.config.state_dim or actions.shape[-1] != self.config.action_dim:
            raise ValueError(
                f"predict: state/action widths {states.shape[-1]}/{actions.shape[-1]} do not match the model's "
                f"{self.config.state_dim}/{self.config.action_dim}"
            )
        reduction = reduction or self.config.reduction
        if self.is_recurrent:
            hidden = self._hidden_for(states.shape[0], env_ids)
            if self._fused_for(states):  # GRU: both bases and all heads fused, the hidden state advanced in place
                if hidden is None:
                    hidden = self._zero_hidden(states.shape[0])
                out = self._fused_step(states, actions, hidden, member_ids, reduction, aleatoric)
                if env_ids is not None or self._hidden is None:  # rows were copied out, or a new state began
                    self._store_hidden(hidden, env_ids)
                return WorldModelOutput(*out)
            state_hidden = None if hidden is None else unstack_hidden(hidden, 0)
            aux_hidden = None if hidden is None else unstack_hidden(hidden, 1)
            s_out, s_hidden = self.encode(self.state_base, states, actions, state_hidden)
            a_out, a_hidden = self.encode(self.auxiliary_base, states, actions, aux_hidden)
            self._store_hidden(stack_hidden(s_hidden, a_hidden), env_ids)
            s_feat, a_feat = s_out[..., -1, :], a_out[..., -1, :]  # (n, H), or (B, n, H) for independent bases
        else:
            if states.shape[1] != self.history_horizon:
                raise ValueError(
                    f"an MLP world model takes exactly M={self.history_horizon} steps, got {states.shape[1]}"
                )
            s_feat, _ = self.encode(self.state_base, states, actions)
            a_feat, _ = self.encode(self.auxiliary_base, states, actions)
        means, stds = self.state_heads(s_feat, states[:, -1], with_std=aleatoric)
        ext, con, term = self.auxiliary_heads(a_feat)
        return WorldModelOutput(
            state=_pick(means, member_ids),
            aleatoric=stds.mean(dim=0).sum(dim=-1) if stds is not None else None,
            epistemic=epistemic_uncertainty(means, reduction),
            extension=_pick(ext, member_ids),
            contact=_pick(con, member_ids),
            termination=_pick(term, member_ids),
        )

    @torch.no_grad()
    def member_predictions(self, states: torch.Tensor, actions: torch.Tensor) -> MemberPredictions:
        """Each member's prediction of the state after whole histories, read from a zero recurrent state; the
        environments' recurrent state is left alone (a study of the members, e.g. ``rwmu signals``).

        Args:
            states: ``(n, M, S)``; actions ``(n, M, A)``: normalised (state, applied action) pairs, oldest first.

        Returns:
            :class:`MemberPredictions` with a leading member dimension ``B``.
        """
        if not self.is_recurrent and states.shape[1] != self.history_horizon:
            raise ValueError(f"an MLP world model takes exactly M={self.history_horizon} steps, got {states.shape[1]}")
        s_out, _ = self.encode(self.state_base, states, actions)
        a_out, _ = self.encode(self.auxiliary_base, states, actions)
        s_feat, a_feat = (s_out[..., -1, :], a_out[..., -1, :]) if self.is_recurrent else (s_out, a_out)
        means, _ = self.state_heads(s_feat, states[:, -1], with_std=False)
        ext, con, term = self.auxiliary_heads(a_feat)
        return MemberPredictions(means, ext, con, term)

    @torch.no_grad()
    def warm_up(self, states: torch.Tensor, actions: torch.Tensor) -> Hidden:
        """The recurrent state after reading ``n`` histories from zeros, leaving the environments' state alone.

        Args:
            states: ``(n, T, S)``; actions ``(n, T, A)``: normalised (state, applied action) pairs, oldest first.

        Returns:
            ``(layers, 2, n, H)`` both bases' states (a pair of them for LSTM), for :meth:`set_hidden`.
        """
        if not self.is_recurrent:
            raise ValueError("warm_up needs a recurrent world model")
        n = states.shape[0]
        if self._fused_for(states):
            hidden = self._zero_hidden(n)
            self._fused_step.gru(torch.cat((states, actions), dim=-1), hidden)
            return hidden
        _, state_hidden = self.encode(self.state_base, states, actions)
        _, aux_hidden = self.encode(self.auxiliary_base, states, actions)
        return stack_hidden(state_hidden, aux_hidden)

    def _fused_for(self, states: torch.Tensor) -> bool:
        """Whether GRU inference on ``states``' device runs the fused step (``fused_inference``, or by device)."""
        fused = self._fused_step is not None and (
            self.fused_inference if self.fused_inference is not None else states.device.type == "cpu"
        )
        if not fused and self.inference_dtype != torch.float32:
            raise ValueError(
                f"inference_dtype {self.inference_dtype} runs in the fused GRU step only (a GRU model "
                "on a CPU, or fused_inference=True); use float32 here"
            )
        return fused

    def set_hidden(self, env_ids: torch.Tensor, hidden: Hidden) -> None:
        """In place: environments ``env_ids`` (k,) take the recurrent state ``hidden`` ``(layers, 2, k, H)`` (e.g.
        from :meth:`warm_up`). Needs the state allocated (``reset(num_envs=N)``)."""
        if self._hidden is None:
            raise ValueError("set_hidden needs the recurrent state allocated: call reset(num_envs=N) first")
        assign_hidden(self._hidden, env_ids, hidden)

    def _zero_hidden(self, n: int) -> Hidden:
        """Zeros for ``n`` environments, both bases stacked: ``(layers, 2, n, H)`` (a pair for LSTM)."""
        return stack_hidden(
            self.state_base.zero_hidden(n, self.device), self.auxiliary_base.zero_hidden(n, self.device)
        )

    def _hidden_for(self, n: int, env_ids: torch.Tensor | None) -> Hidden | None:
        """The stacked hidden state of the rows ``predict`` was given (None: start from zeros)."""
        if env_ids is None:
            if self._hidden is None:
                return None
            if hidden_batch_size(self._hidden) != n:
                raise ValueError(
                    f"predict got {n} rows but the recurrent state holds {hidden_batch_size(self._hidden)} "
                    "environments; call reset() first or pass env_ids"
                )
            return self._hidden
        if self._hidden is None:
            raise ValueError("predict(env_ids=...) needs the recurrent state allocated: call reset(num_envs=N) first")
        return select_hidden(self._hidden, env_ids)

    def _store_hidden(self, hidden: Hidden, env_ids: torch.Tensor | None) -> None:
        if env_ids is None:
            self._hidden = hidden
        else:
            assign_hidden(self._hidden, env_ids, hidden)

    def reset(self, env_ids: torch.Tensor | None = None, num_envs: int | None = None) -> None:
        """Clear recurrent state.

        ``reset()`` forgets it (the next :meth:`predict` starts from zeros with its own batch size);
        ``reset(num_envs=N)`` allocates zeros for N environments; ``reset(env_ids)`` zeroes those environments only.
        """
        if not self.is_recurrent:
            return
        if num_envs is not None:
            self._hidden = self._zero_hidden(num_envs)
        elif env_ids is None:
            self._hidden = None
        elif self._hidden is not None:
            zero_hidden_rows(self._hidden, env_ids)

    def train(self, mode: bool = True):
        self.reset()  # hidden states from inference must not leak into training and back
        return super().train(mode)
