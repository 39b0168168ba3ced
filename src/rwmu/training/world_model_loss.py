"""The world-model training objective (docs/method.md section 5).

For a batch of normalised windows of M + N rows:

* **state loss**, per head: run the base on the M-step history from a zero hidden state and predict row M; for each
  later forecast step feed back a *sample* of the previous prediction (mean + std * noise) with the true action of
  that step. Per step: the batch mean of the squared error of the sample summed over dimensions (reference), or the
  Gaussian negative log-likelihood (paper). Averaged over steps (forecast decay alpha = 1) and heads.
* **bound loss**: mean(max log-std) - mean(min log-std).
* **auxiliary losses**, teacher-forced on the true states: BCE-with-logits for contacts and termination, MSE for
  extensions.
* **bootstrap**: head b sees its own resample (with replacement) of the batch.

Unlike the reference implementation, the history pass of each base runs once per batch (members gather their
resampled rows from it) and every head's forecast starts from the zero-initialised history state, not from the
previous head's state; all heads' forecasts run together as one batch of B * batch rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch.nn import functional as F

from rwmu.data.layout import DataDims
from rwmu.models.bases import select_hidden
from rwmu.models.ensemble import WorldModelEnsemble

StateLossType = Literal["sampled_mse", "gaussian_nll"]


@dataclass
class LossTerms:
    """Scalar losses of one batch; ``total`` is what is minimised."""

    total: torch.Tensor
    state: torch.Tensor
    bound: torch.Tensor
    contact: torch.Tensor
    termination: torch.Tensor
    extension: torch.Tensor

    def as_floats(self) -> dict[str, float]:
        return {k: float(v.detach()) for k, v in self.__dict__.items()}


def split_columns(windows: torch.Tensor, dims: DataDims):
    """``(b, W, cols)`` -> states, actions, extensions, contacts, terminations (each ``(b, W, d)``)."""
    return (
        windows[..., dims.state_slice],
        windows[..., dims.action_slice],
        windows[..., dims.extension_slice],
        windows[..., dims.contact_slice],
        windows[..., dims.termination_slice],
    )


def _member_rows(
    batch: int,
    members: int,
    bootstrap: bool,
    generator: torch.Generator | None,
    device,
    member_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(B, batch)`` row indices: a resample with replacement per member (with probabilities ``member_weights``
    ``(B, batch)`` if given: the trajectory bootstrap, rows a member never drew have weight 0), or the identity for
    every member."""
    if bootstrap and member_weights is not None:
        weights = member_weights.to(device=device, dtype=torch.float32)
        empty = weights.sum(dim=1, keepdim=True) == 0  # a member none of whose segments is in this batch
        weights = torch.where(empty, torch.ones_like(weights), weights)
        return torch.multinomial(weights, batch, replacement=True, generator=generator)
    if bootstrap:
        return torch.randint(0, batch, (members, batch), generator=generator, device=device)
    return torch.arange(batch, device=device).expand(members, batch)


def state_loss(
    model: WorldModelEnsemble,
    states: torch.Tensor,
    actions: torch.Tensor,
    rows: torch.Tensor,
    loss_type: StateLossType = "sampled_mse",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Autoregressive forecast loss over N steps for all members at once.

    Args:
        states: ``(b, M + N, S)``, actions ``(b, M + N, A)``: normalised window rows.
        rows: ``(B, b)`` each member's bootstrap rows.

    Returns:
        Scalar: mean over members and steps of the per-step loss.
    """
    M = model.history_horizon
    N = states.shape[1] - M
    B, b = rows.shape
    S = states.shape[-1]
    flat = rows.reshape(-1)
    feats, hidden = model.encode(model.state_base, states[:, :M], actions[:, 1 : M + 1])
    member = torch.arange(B, device=rows.device)[:, None]
    if model.independent_bases:  # member b reads its own base's features and state on its own rows
        f = feats[member, rows, -1]  # (B, b, H)
        hidden = hidden[:, member, rows]  # (layers, B, b, H)
    elif model.is_recurrent:
        f = feats[:, -1][rows]  # (B, b, H)
        hidden = select_hidden(hidden, flat)  # (layers, B*b, H)
    else:
        f = feats[rows]
        hist_s = states[:, :M][rows]  # (B, b, M, S)
    last = states[:, M - 1][rows]  # (B, b, S)
    per_step = []
    for i in range(N):
        mean, std = model.state_heads(f, last)  # (B, b, S)
        target = states[:, M + i][rows]
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        sample = mean + std * noise
        if loss_type == "sampled_mse":
            per_step.append((sample - target).square().sum(-1).mean(-1))  # (B,)
        elif loss_type == "gaussian_nll":  # torch's GaussianNLLLoss, mean over batch and dimensions
            var = std.square()
            per_step.append((0.5 * (var.log() + (target - mean).square() / var)).mean(dim=(1, 2)))
        else:
            raise ValueError(f"unknown state loss {loss_type!r}")
        if i == N - 1:
            break
        next_a = actions[:, M + i + 1][rows]  # (B, b, A)
        if model.independent_bases:
            out, hidden = model.encode(model.state_base, sample.unsqueeze(2), next_a.unsqueeze(2), hidden)
            f = out[:, :, -1]
        elif model.is_recurrent:
            out, hidden = model.encode(
                model.state_base, sample.reshape(B * b, 1, S), next_a.reshape(B * b, 1, -1), hidden
            )
            f = out[:, -1].reshape(B, b, -1)
        else:
            hist_s = torch.cat([hist_s[:, :, 1:], sample.unsqueeze(2)], dim=2)
            hist_a = actions[:, i + 2 : M + i + 2][rows]
            f, _ = model.encode(model.state_base, hist_s, hist_a)
        last = sample
    return torch.stack(per_step).mean()


def auxiliary_losses(
    model: WorldModelEnsemble,
    states: torch.Tensor,
    actions: torch.Tensor,
    extensions: torch.Tensor,
    contacts: torch.Tensor,
    terminations: torch.Tensor,
    rows: torch.Tensor,
    contact_pos_weight: torch.Tensor | None = None,
    termination_pos_weight: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Teacher-forced auxiliary losses for rows M .. M+N-1 (extension MSE, contact BCE, termination BCE).

    ``contact_pos_weight`` (C,) and ``termination_pos_weight`` (1,) weight the positive class of each column
    (:func:`event_pos_weights`); None is plain binary cross-entropy.
    """
    M = model.history_horizon
    N = states.shape[1] - M
    B, b = rows.shape
    if model.is_recurrent:
        out, _ = model.encode(model.auxiliary_base, states[:, : M + N - 1], actions[:, 1 : M + N])
        feats = out[..., M - 1 :, :]  # (b, N, H): features after the history ending at rows M-1 .. M+N-2
    else:
        win_s = states.unfold(1, M, 1)[:, :N].transpose(-1, -2)  # (b, N, M, S): rows i .. i+M-1
        win_a = actions[:, 1:].unfold(1, M, 1)[:, :N].transpose(-1, -2)  # rows i+1 .. i+M
        feats, _ = model.encode(model.auxiliary_base, win_s, win_a)  # (b, N, H)
    if model.independent_bases:  # (B, b_all, N, H): member b's own features on its own rows
        f = feats[torch.arange(B, device=rows.device)[:, None], rows].reshape(B, b * N, -1)
    else:
        f = feats[rows].reshape(B, b * N, -1)
    ext, con, term = model.auxiliary_heads(f)

    def target(x: torch.Tensor) -> torch.Tensor:
        return x[:, M:][rows].reshape(B, b * N, -1)

    zero = states.new_zeros(())
    ext_loss = F.mse_loss(ext, target(extensions)) if ext is not None else zero
    con_loss = (
        F.binary_cross_entropy_with_logits(con, target(contacts), pos_weight=contact_pos_weight)
        if con is not None
        else zero
    )
    term_loss = (
        F.binary_cross_entropy_with_logits(term, target(terminations), pos_weight=termination_pos_weight)
        if term is not None
        else zero
    )
    return ext_loss, con_loss, term_loss


def event_pos_weights(flags: torch.Tensor, mode: str, cap: float) -> torch.Tensor | None:
    """Positive-class weights ``(K,)`` for 0/1 event columns ``flags`` ``(rows, K)``; None for ``mode == "none"``.

    ``balanced``: negatives / positives of each column; ``sqrt``: its square root; both clipped to [1, ``cap``] (a
    column without positives gets ``cap``).
    """
    if mode == "none" or flags.shape[-1] == 0:
        return None
    positives = flags.sum(0)
    ratio = (flags.shape[0] - positives) / positives.clamp(min=1.0)
    ratio = torch.where(positives > 0, ratio, torch.full_like(ratio, cap))
    if mode == "sqrt":
        ratio = ratio.sqrt()
    elif mode != "balanced":
        raise ValueError(f"event weighting must be none, sqrt or balanced, got {mode!r}")
    return ratio.clamp(1.0, cap)


def bound_loss(model: WorldModelEnsemble) -> torch.Tensor:
    """``mean(max_logstd) - mean(min_logstd)``, averaged over members."""
    heads = model.state_heads
    return heads.max_logstd.mean() - heads.min_logstd.mean()


def world_model_loss(
    model: WorldModelEnsemble,
    windows: torch.Tensor,
    *,
    loss_type: StateLossType = "sampled_mse",
    bootstrap: bool = True,
    bound_weight: float = 1.0,
    generator: torch.Generator | None = None,
    contact_pos_weight: torch.Tensor | None = None,
    termination_pos_weight: torch.Tensor | None = None,
    member_weights: torch.Tensor | None = None,
) -> LossTerms:
    """The full objective on ``(b, M + N, cols)`` normalised windows (event weights: :func:`auxiliary_losses`;
    ``member_weights`` ``(B, b)``: how often each member drew each window's trajectory segment, for the trajectory
    bootstrap)."""
    s, a, e, c, t = split_columns(windows, model.dims)
    rows = _member_rows(windows.shape[0], model.ensemble_size, bootstrap, generator, windows.device, member_weights)
    l_state = state_loss(model, s, a, rows, loss_type, generator)
    l_ext, l_con, l_term = auxiliary_losses(model, s, a, e, c, t, rows, contact_pos_weight, termination_pos_weight)
    l_bound = bound_loss(model)
    total = l_state + bound_weight * l_bound + l_ext + l_con + l_term
    return LossTerms(total, l_state, l_bound, l_con, l_term, l_ext)
