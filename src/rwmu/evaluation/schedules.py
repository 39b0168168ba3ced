"""Fixed velocity-command schedules of the simulator evaluation (docs/method.md section 8.3).

A schedule is a list of ``(steps, vx, vy, wz)`` segments (m/s, m/s, rad/s); the last segment holds to the episode
end. :func:`rwmu.evaluation.simulator.evaluate_policy` gives episode ``e`` schedule ``e mod len(schedules)``.

Users add their own with a file (``rwmu evaluate --commands FILE``, :func:`read_schedule_file`):

- JSON: ``{"name": [[steps, vx, vy, wz], ...], ...}``;
- CSV: a header ``schedule,steps,vx,vy,wz`` and one row per segment, segments of a schedule in order.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from rwmu.errors import RwmuError

Segment = tuple[int, float, float, float]
MAX_COMMAND = 5.0
"""Largest |velocity| a schedule may command (m/s, rad/s): 5x the Go2 task's command ranges."""
MAX_SEGMENT_STEPS = 100_000
"""Steps of one segment are capped here (an episode is 256 steps; a longer segment only holds to the end)."""
CSV_HEADER = ("schedule", "steps", "vx", "vy", "wz")

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


def _segment(values: list, where: str) -> Segment:
    """One ``(steps, vx, vy, wz)`` segment from 4 values, with a one-line error naming ``where``."""
    if len(values) != 4:
        raise RwmuError(f"{where}: a segment has 4 values (steps, vx, vy, wz), got {len(values)}")
    try:
        steps, vx, vy, wz = float(values[0]), float(values[1]), float(values[2]), float(values[3])
    except (TypeError, ValueError):
        raise RwmuError(f"{where}: {values} are not all numbers (steps, vx, vy, wz)") from None
    if not all(math.isfinite(v) for v in (steps, vx, vy, wz)):
        raise RwmuError(f"{where}: {values} holds NaN or Inf")
    if steps != int(steps) or steps < 1:
        raise RwmuError(f"{where}: steps must be a whole number >= 1, got {values[0]}")
    if max(abs(vx), abs(vy), abs(wz)) > MAX_COMMAND:
        raise RwmuError(f"{where}: velocities {vx:g}, {vy:g}, {wz:g} exceed {MAX_COMMAND:g} (m/s, rad/s) in magnitude")
    return int(min(steps, MAX_SEGMENT_STEPS)), vx, vy, wz


def read_schedule_file(path: str | Path) -> dict[str, list[Segment]]:
    """Command schedules from a JSON or CSV file (module docstring); name -> segments.

    Raises:
        RwmuError: a missing or unreadable file, a wrong layout, a non-number, NaN/Inf, steps < 1, an empty schedule,
            or a name of a built-in schedule, each as one line naming the file (and row or schedule).
    """
    p = Path(path)
    if not p.is_file():
        raise RwmuError(f"--commands {p}: no such file; give a JSON or CSV file of command schedules")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RwmuError(f"{p}: not UTF-8 text (byte {err.start}); save the schedules as UTF-8 JSON or CSV") from None
    schedules: dict[str, list[Segment]] = {}
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise RwmuError(
                f'{p}: not valid JSON ({err.msg}, line {err.lineno}); expected {{"name": [[steps, vx, vy, wz], ...]}}'
            ) from None
        if not isinstance(data, dict):
            raise RwmuError(f'{p}: expected an object {{"name": [[steps, vx, vy, wz], ...]}}')
        for name, segments in data.items():
            if not isinstance(segments, list):
                raise RwmuError(f"{p}: schedule {name!r} must be a list of [steps, vx, vy, wz] segments")
            schedules[str(name)] = [
                _segment(
                    list(seg) if isinstance(seg, (list, tuple)) else [seg], f"{p}: schedule {name!r}, segment {i + 1}"
                )
                for i, seg in enumerate(segments)
            ]
    elif p.suffix.lower() == ".csv":
        rows = list(csv.reader(text.splitlines()))
        if not rows or tuple(c.strip().lower() for c in rows[0]) != CSV_HEADER:
            raise RwmuError(f"{p}: the first row must be the header {','.join(CSV_HEADER)}")
        for line, row in enumerate(rows[1:], start=2):
            if not row or not any(c.strip() for c in row):
                continue
            if len(row) != 5:
                raise RwmuError(f"{p}: row {line} has {len(row)} columns, expected 5 ({','.join(CSV_HEADER)})")
            schedules.setdefault(row[0].strip(), []).append(_segment(row[1:], f"{p}: row {line}"))
    else:
        raise RwmuError(f"--commands {p}: give a .json or .csv file of command schedules")
    if not schedules or any(not segments for segments in schedules.values()):
        raise RwmuError(f"{p}: holds no schedule, or a schedule without segments")
    clash = sorted(set(schedules) & set(COMMAND_SCHEDULES))
    if clash:
        raise RwmuError(f"{p}: schedule name(s) {clash} are built-in schedules; rename them")
    return schedules
