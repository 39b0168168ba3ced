"""Open-loop autoregressive rollouts of a world model under recorded actions, and their error.

Used by world-model validation during training and by ``rwmu eval-uncertainty``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rwmu.models.ensemble import WorldModelEnsemble


@dataclass
class Rollout:
    """Predictions for ``n`` windows over ``H`` steps (normalised units).

    Attributes:
        state: ``(n, H, S)`` predicted states ``s_M .. s_{M+H-1}``.
        epistemic: ``(n, H)``; aleatoric: ``(n, H)``.
        contact: ``(n, H, C)`` logits or None; termination: ``(n, H, 1)`` logits or None;
        extension: ``(n, H, E)`` normalised extension values or None.
    """

    state: torch.Tensor
    epistemic: torch.Tensor
    aleatoric: torch.Tensor
    contact: torch.Tensor | None
    termination: torch.Tensor | None
    extension: torch.Tensor | None = None


@torch.no_grad()
def open_loop_rollout(
    model: WorldModelEnsemble,
    states: torch.Tensor,
    actions: torch.Tensor,
    horizon: int,
    member_ids: torch.Tensor | None = None,
    reduction: str | None = None,
) -> Rollout:
    """Condition on M ground-truth steps, then predict ``horizon`` steps feeding back the model's own means.

    Args:
        model: the world model (its recurrent state is reset here).
        states: ``(n, M + horizon, S)`` normalised dataset rows; only the first M are given to the model.
        actions: ``(n, M + horizon, A)`` normalised dataset rows (row t holds the action that led to s_t, so
            state row t is paired with action row t + 1).
        horizon: number of predicted steps H.
        member_ids: ``(n,)`` one member per window (sampled-member mode) or None (ensemble mean).

    Returns:
        :class:`Rollout` of predictions for rows ``M .. M + H - 1``.
    """
    M = model.history_horizon
    if states.shape[1] < M + horizon:
        raise ValueError(f"rollout of {horizon} steps needs windows of {M + horizon} rows, got {states.shape[1]}")
    model.reset()
    hist_s, hist_a = states[:, :M], actions[:, 1 : M + 1]
    preds, epi, alea, con, term, ext = [], [], [], [], [], []
    for k in range(horizon):
        out = model.predict(hist_s, hist_a, member_ids=member_ids, reduction=reduction)
        preds.append(out.state)
        epi.append(out.epistemic)
        alea.append(out.aleatoric)
        con.append(out.contact)
        term.append(out.termination)
        ext.append(out.extension)
        if k == horizon - 1:
            break
        next_a = actions[:, M + k + 1 : M + k + 2]
        if model.is_recurrent:
            hist_s, hist_a = out.state.unsqueeze(1), next_a
        else:
            hist_s = torch.cat([hist_s[:, 1:], out.state.unsqueeze(1)], dim=1)
            hist_a = torch.cat([hist_a[:, 1:], next_a], dim=1)
    model.reset()
    stack = lambda xs: torch.stack(xs, dim=1) if xs[0] is not None else None  # noqa: E731
    return Rollout(stack(preds), stack(epi), stack(alea), stack(con), stack(term), stack(ext))


def relative_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Reference model check: ``sum |pred - true| / sum |true|`` over windows and dimensions, per step.

    Args: pred, true ``(n, H, S)``. Returns ``(H,)``.
    """
    return (pred - true).abs().sum(dim=(0, 2)) / true.abs().sum(dim=(0, 2)).clamp_min(1e-12)


def l1_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Per-window, per-step L1 error summed over dimensions: ``(n, H, S) -> (n, H)``."""
    return (pred - true).abs().sum(dim=-1)
