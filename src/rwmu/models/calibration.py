"""The world model's uncertainty on its own data: the reference level a calibrated penalty charges above.

MOPO's penalty ``lambda * u`` charges every state, including those the model knows well: an ensemble trained on
finite data disagrees a little everywhere, and with RWM-U's paper lambda that floor can exceed the task reward itself
(docs/method.md section 6.1). :func:`uncertainty_reference` measures the epistemic uncertainty ``u`` of one-step
predictions on dataset windows, exactly as imagination computes it (the ``M``-step history, then the applied action),
and keeps its quantiles; ``rwmu train-model`` takes them on the held-out windows and stores them in the checkpoint.
:func:`uncertainty_quantile` reads a level back, e.g. ``u0`` of the penalty ``lambda * max(0, u - u0)`` or the halting
threshold of MOReL-style episode ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rwmu.data.windows import gather_windows
from rwmu.errors import RwmuError
from rwmu.models.config import REDUCTIONS

UNCERTAINTY_LEVELS = tuple(i / 100 for i in range(100)) + (0.995, 0.999, 1.0)
"""Quantile levels stored in a reference, increasing: every percent, 99.5 %, 99.9 % and the maximum."""
CALIBRATION_WINDOWS = 2048  # most windows a reference is measured on


@torch.no_grad()
def uncertainty_reference(
    model, data: torch.Tensor, starts: torch.Tensor | np.ndarray, *, source: str, batch_size: int = 1024
) -> dict[str, Any]:
    """Quantiles of the one-step epistemic uncertainty on dataset windows, for every reduction.

    Args:
        model: a :class:`~rwmu.models.WorldModelEnsemble` (eval mode); its recurrent state is reset.
        data: ``(rows, columns)`` NORMALISED dataset tensor (state and action columns normalised).
        starts: ``(k,)`` starts of windows of ``M + 1`` rows (``M`` = history horizon) without a termination in
            their first ``M`` rows (e.g. the first rows of held-out training windows).
        source: where the windows come from, recorded with the numbers.
        batch_size: windows per forward pass.

    Returns:
        ``{"levels": [...], "std_sum": [...], "var_sum": [...], ..., "windows": k, "source": source}``: the quantile
        of each level, per reduction of :data:`REDUCTIONS`.
    """
    starts = torch.as_tensor(starts, dtype=torch.long, device=data.device)
    if starts.numel() == 0:
        raise RwmuError("no dataset windows to measure the world model's uncertainty on; use more data")
    M = model.history_horizon
    dims = model.dims
    values: dict[str, list[torch.Tensor]] = {r: [] for r in REDUCTIONS}
    for chunk in starts.split(batch_size):
        windows = gather_windows(data, chunk, M + 1)
        states = windows[:, :M, dims.state_slice]
        actions = windows[:, 1 : M + 1, dims.action_slice]  # row t + 1 holds the action applied at s_t
        for reduction in REDUCTIONS:
            model.reset()
            values[reduction].append(model.predict(states, actions, reduction=reduction).epistemic)
    model.reset()
    levels = torch.tensor(UNCERTAINTY_LEVELS, dtype=torch.float64)
    out: dict[str, Any] = {"levels": list(UNCERTAINTY_LEVELS), "windows": int(starts.numel()), "source": source}
    for reduction in REDUCTIONS:
        u = torch.cat(values[reduction]).double().cpu()
        out[reduction] = torch.quantile(u, levels).tolist()
    return out


def uncertainty_quantile(reference: dict[str, Any], level: float, reduction: str) -> float:
    """The ``level`` quantile (0-1, interpolated between stored levels) of ``reference`` for ``reduction``."""
    if not 0.0 <= level <= 1.0:
        raise RwmuError(f"uncertainty quantile level must be in [0, 1], got {level}")
    if reduction not in REDUCTIONS or reduction not in reference:
        has = ", ".join(r for r in REDUCTIONS if r in reference)
        raise RwmuError(f"the uncertainty reference has no {reduction!r} values (has {has})")
    return float(np.interp(level, reference["levels"], reference[reduction]))
