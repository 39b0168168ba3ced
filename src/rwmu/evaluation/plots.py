"""PNG plots of the uncertainty-versus-error evaluation (matplotlib, Agg canvas, no pyplot global state).

Arrays of rollout values have shape ``(n, H)``: ``n`` windows by ``H`` rollout steps (step 1 is the first
prediction). Every plot is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rwmu.evaluation.metrics import CalibrationTable, as_numpy
from rwmu.utils.io import atomic_path


def new_figure(width: float = 7.0, height: float = 4.5):
    """A pyplot-free matplotlib figure on the Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def plot_error_and_uncertainty_by_step(
    path: str | Path,
    l1: Any,
    epistemic: Any,
    aleatoric: Any,
    title: str = "",
    no_change_l1: Any | None = None,
) -> Path:
    """Mean L1 error (with its 25-75 % band over windows) and mean epistemic uncertainty against rollout step.

    Top panel: L1 error on the left axis, epistemic on the right axis (their scales differ); dashed grey: the
    no-change baseline's L1 error if given. Bottom panel: mean aleatoric uncertainty.

    Args: l1, epistemic, aleatoric, no_change_l1: ``(n, H)``.
    """
    l1, epi, alea = as_numpy(l1), as_numpy(epistemic), as_numpy(aleatoric)
    steps = np.arange(1, l1.shape[1] + 1)
    fig = new_figure(7.0, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    q25, q75 = np.nanpercentile(l1, [25, 75], axis=0)
    top.fill_between(steps, q25, q75, color="tab:red", alpha=0.2, linewidth=0)
    top.plot(steps, np.nanmean(l1, axis=0), color="tab:red", label="L1 error (mean, 25-75 %)")
    if no_change_l1 is not None:
        top.plot(
            steps,
            np.nanmean(as_numpy(no_change_l1), axis=0),
            color="grey",
            linestyle="--",
            label="no-change baseline L1",
        )
    top.set_ylabel("L1 error (normalised, summed over dims)")
    right = top.twinx()
    right.plot(steps, np.nanmean(epi, axis=0), color="tab:blue", label="epistemic (mean)")
    right.set_ylabel("epistemic uncertainty", color="tab:blue")
    handles = top.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = top.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    top.legend(handles, labels, loc="upper left", fontsize=8)
    top.set_title(title, fontsize=9)
    bottom.plot(steps, np.nanmean(alea, axis=0), color="tab:green")
    bottom.ticklabel_format(axis="y", useOffset=False)
    bottom.set_ylabel("aleatoric")
    bottom.set_xlabel("rollout step")
    return save_figure(fig, path)


def plot_uncertainty_error_scatter(path: str | Path, epistemic: Any, l1: Any, title: str = "") -> Path:
    """Every (window, step) point: epistemic uncertainty (x) against L1 error (y), coloured by rollout step.

    Args: epistemic, l1: ``(n, H)``.
    """
    epi, err = as_numpy(epistemic), as_numpy(l1)
    steps = np.broadcast_to(np.arange(1, err.shape[1] + 1), err.shape)
    fig = new_figure()
    ax = fig.subplots()
    points = ax.scatter(epi.ravel(), err.ravel(), c=steps.ravel(), s=4, alpha=0.5, cmap="viridis", linewidths=0)
    fig.colorbar(points, ax=ax, label="rollout step")
    ax.set_xlabel("epistemic uncertainty")
    ax.set_ylabel("L1 error (normalised, summed over dims)")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_calibration(path: str | Path, tables: dict[str, CalibrationTable], title: str = "") -> Path:
    """Mean L1 error (with +- one std) against mean epistemic uncertainty per quantile bin, one line per mode."""
    fig = new_figure()
    ax = fig.subplots()
    for label, t in tables.items():
        ax.errorbar(
            t.uncertainty_mean, t.error_mean, yerr=t.error_std, marker="o", markersize=4, capsize=3, label=label
        )
    ax.set_xlabel("epistemic uncertainty (bin mean)")
    ax.set_ylabel("L1 error (bin mean +- std)")
    ax.set_title(title, fontsize=9)
    if tables:
        ax.legend(fontsize=8)
    return save_figure(fig, path)
