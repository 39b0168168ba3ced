"""Fixed velocity-command schedules of the simulator evaluation (docs/method.md section 8.3).

A schedule is a list of ``(steps, vx, vy, wz)`` segments (m/s, m/s, rad/s); the last segment holds to the episode
end. :func:`rwmu.evaluation.simulator.evaluate_policy` gives episode ``e`` schedule ``e mod len(schedules)``.
"""

from __future__ import annotations

import torch

COMMAND_SCHEDULES: dict[str, list[tuple[int, float, float, float]]] = {
    "forward_0.5": [(256, 0.5, 0.0, 0.0)],
    "forward_1.0": [(256, 1.0, 0.0, 0.0)],
    "backward_0.5": [(256, -0.5, 0.0, 0.0)],
    "lateral_0.5": [(256, 0.0, 0.5, 0.0)],
    "turn_1.0": [(256, 0.0, 0.0, 1.0)],
    "arc": [(256, 0.6, 0.0, -0.6)],
    "stand": [(256, 0.0, 0.0, 0.0)],
    "mixed": [(64, 0.7, 0.0, 0.0), (64, 0.0, -0.5, 0.0), (64, 0.0, 0.0, -1.0), (64, -0.4, 0.3, 0.5)],
}


def schedule_tensor(segments: list[tuple[int, float, float, float]], length: int) -> torch.Tensor:
    """(length, 3) per-step commands of a schedule."""
    rows = []
    for steps, vx, vy, wz in segments:
        rows.extend([(vx, vy, wz)] * int(steps))
    rows = rows[:length] + [rows[-1]] * max(0, length - len(rows))
    return torch.tensor(rows, dtype=torch.float32)
