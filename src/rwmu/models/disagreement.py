"""How much the ensemble members disagree: the one-step epistemic signals of docs/method.md section 7.2."""

from __future__ import annotations

import torch


def epistemic_uncertainty(means: torch.Tensor, reduction: str = "std_sum") -> torch.Tensor:
    """Disagreement of the members' predicted means.

    Args:
        means: ``(B, n, S)``.
        reduction: ``"std_sum"``, the reference code's standard deviation across members (unbiased) summed over
            dimensions; ``"var_sum"``, the paper's Eq. 4 variance across members summed over dimensions;
            ``"pairwise_max"``, MOReL's largest Euclidean distance between two members; ``"std_max"``, the
            largest per-dimension standard deviation.

    Returns:
        ``(n,)``; zeros when B = 1.
    """
    if means.shape[0] < 2:
        return torch.zeros(means.shape[1], device=means.device, dtype=means.dtype)
    if reduction == "pairwise_max":
        by_row = means.transpose(0, 1)  # (n, B, S)
        return torch.cdist(by_row, by_row).amax(dim=(-2, -1))
    var = means.var(dim=0)  # unbiased, as torch.std's default in the reference
    if reduction == "std_sum":
        return var.sqrt().sum(dim=-1)
    if reduction == "var_sum":
        return var.sum(dim=-1)
    if reduction == "std_max":
        return var.sqrt().amax(dim=-1)
    raise ValueError(f"unknown epistemic reduction {reduction!r}; use std_sum, var_sum, pairwise_max or std_max")
