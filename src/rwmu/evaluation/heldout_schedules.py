"""Random command schedules no policy was tuned on, for a held-out re-score (``rwmu manifest rescore --heldout-seed``)."""

from __future__ import annotations

import torch

from rwmu.errors import RwmuError
from rwmu.evaluation.schedules import Segment


def random_schedules(
    count: int,
    seed: int,
    ranges: tuple[tuple[float, float], ...] = ((-1.0, 1.0),) * 3,
    segments: int = 2,
    steps: int = 128,
) -> dict[str, list[Segment]]:
    """``count`` schedules of ``segments`` segments of ``steps`` steps, each command drawn uniformly from ``ranges``
    (vx, vy, wz; default: the Go2 task's command ranges) with ``seed``: schedules no policy was tuned on, for a
    held-out re-score (``rwmu manifest rescore --heldout-seed``). Named ``heldout<seed>_<k>``."""
    if count < 1 or segments < 1 or steps < 1:
        raise RwmuError("random_schedules: count, segments and steps must be >= 1")
    gen = torch.Generator().manual_seed(int(seed))
    low = torch.tensor([r[0] for r in ranges])
    high = torch.tensor([r[1] for r in ranges])
    out = {}
    for k in range(count):
        values = low + (high - low) * torch.rand((segments, 3), generator=gen)
        out[f"heldout{seed}_{k}"] = [(steps, *(round(float(v), 3) for v in row)) for row in values]
    return out
