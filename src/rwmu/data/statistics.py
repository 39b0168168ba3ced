"""Summaries of a dataset: per-column statistics and the speed coverage a user checks before training on it.

Speed coverage reads the state columns named ``state/base_lin_vel_x``, ``state/base_lin_vel_y`` and
``state/base_ang_vel_z`` (the body-frame base velocity of the locomotion tasks) and, when the data records them, the
command context columns (:data:`rwmu.data.dataset.COMMAND_CONTEXT_NAMES`). Datasets without those names get no speed
coverage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rwmu.data.dataset import TrajectoryDataset

SPEED_COLUMNS = ("state/base_lin_vel_x", "state/base_lin_vel_y", "state/base_ang_vel_z")
SPEED_BIN_EDGES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Bins of planar speed |v_xy| [m/s] and yaw rate |w_z| [rad/s]; the last bin is open (>= 1.0)."""


def column_statistics(ds: TrajectoryDataset) -> list[dict[str, Any]]:
    """Mean, std, min and max of every column, then of every context column (``"context": True``)."""
    out = []
    for values, names, context in ((ds.data, ds.column_names, False), (ds.context, ds.context_names, True)):
        if values is None or not names:
            continue
        mean, std = values.mean(axis=0, dtype=np.float64), values.std(axis=0, dtype=np.float64)
        low, high = values.min(axis=0), values.max(axis=0)
        out += [
            {
                "column": i,
                "name": name,
                "context": context,
                "mean": float(mean[i]),
                "std": float(std[i]),
                "min": float(low[i]),
                "max": float(high[i]),
            }
            for i, name in enumerate(names)
        ]
    return out


def _distribution(values: np.ndarray) -> dict[str, Any]:
    """Quantiles and bin shares of non-negative ``values`` (rows,)."""
    edges = np.array([*SPEED_BIN_EDGES, np.inf])
    counts, _ = np.histogram(values, bins=edges)
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(SPEED_BIN_EDGES[:-1], SPEED_BIN_EDGES[1:])]
    labels.append(f">={SPEED_BIN_EDGES[-1]:g}")
    q50, q90, q99 = np.quantile(values, [0.5, 0.9, 0.99])
    return {
        "mean": float(values.mean()),
        "p50": float(q50),
        "p90": float(q90),
        "p99": float(q99),
        "share": {label: float(c) / max(values.size, 1) for label, c in zip(labels, counts)},
    }


def speed_coverage(ds: TrajectoryDataset) -> dict[str, Any] | None:
    """Measured (and, if recorded, commanded) planar speed and yaw rate: mean, quantiles and share per bin.

    Returns:
        ``{"measured": {"speed_xy": ..., "yaw_rate": ...}, "commanded": {...} or None,
        "tracking_error": {"lin_vel_xy": mean m/s, "yaw_rate": mean rad/s} or None}``, or None when the dataset has
        no base-velocity columns.
    """
    names = ds.column_names
    if not all(n in names for n in SPEED_COLUMNS):
        return None
    vx, vy, wz = (ds.data[:, names.index(n)].astype(np.float64) for n in SPEED_COLUMNS)
    report: dict[str, Any] = {
        "measured": {"speed_xy": _distribution(np.hypot(vx, vy)), "yaw_rate": _distribution(np.abs(wz))},
        "commanded": None,
        "tracking_error": None,
    }
    commands = ds.commands
    if commands is not None:
        cmd = commands.astype(np.float64)
        report["commanded"] = {
            "speed_xy": _distribution(np.hypot(cmd[:, 0], cmd[:, 1])),
            "yaw_rate": _distribution(np.abs(cmd[:, 2])),
        }
        report["tracking_error"] = {
            "lin_vel_xy": float(np.hypot(cmd[:, 0] - vx, cmd[:, 1] - vy).mean()),
            "yaw_rate": float(np.abs(cmd[:, 2] - wz).mean()),
        }
    return report


def format_speed_coverage(coverage: dict[str, Any]) -> list[str]:
    """Readable lines of :func:`speed_coverage`."""
    lines = []
    for source in ("measured", "commanded"):
        part = coverage.get(source)
        if part is None:
            continue
        for quantity, unit in (("speed_xy", "m/s"), ("yaw_rate", "rad/s")):
            d = part[quantity]
            shares = "  ".join(f"{label} {100 * share:.0f}%" for label, share in d["share"].items())
            lines.append(
                f"{source} {quantity} [{unit}]: mean {d['mean']:.2f}, p90 {d['p90']:.2f}, p99 {d['p99']:.2f} | {shares}"
            )
    if coverage.get("tracking_error"):
        e = coverage["tracking_error"]
        lines.append(f"tracking error: |v_xy| {e['lin_vel_xy']:.3f} m/s, |w_z| {e['yaw_rate']:.3f} rad/s")
    return lines
