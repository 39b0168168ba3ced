"""Report writing for experiments: Markdown tables, PNG plots (matplotlib Agg, no pyplot state), JSON and the
mean / spread over seeds (and the 95 % interval of the mean) that the sweep reports.

Everything is written atomically (:mod:`rwmu.utils.io`), so an interrupted run never leaves a half-written report.
The plot helpers take plain Python lists / dicts (the numbers that also go into the JSON), so a report can be
rebuilt from its JSON alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from scipy import stats

from rwmu.evaluation.plots import new_figure, save_figure
from rwmu.utils.io import write_json_atomic, write_text_atomic


# ------------------------------------------------------------------------------------------------------------------
# Statistics
def mean_std(values: Iterable[Any]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof = 1; 0 for a single value) of the finite values; NaN if none."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not xs:
        return float("nan"), float("nan")
    mean = sum(xs) / len(xs)
    if len(xs) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def mean_ci95(values: Iterable[Any]) -> tuple[float, float]:
    """Mean and the half-width of its two-sided 95 % Student-t interval over the finite values (NaN half-width for
    fewer than two values; NaN mean for none)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    mean, std = mean_std(xs)
    if len(xs) < 2:
        return mean, float("nan")
    return mean, float(stats.t.ppf(0.975, len(xs) - 1)) * std / math.sqrt(len(xs))


# ------------------------------------------------------------------------------------------------------------------
# Markdown
def format_number(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals; ``n/a`` for None / NaN; integers and strings unchanged."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(f):
        return "n/a"
    return f"{f:.{digits}f}"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table; numbers formatted with :func:`format_number`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(format_number(v, digits) for v in row) + " |")
    return "\n".join(lines)


def write_report(out_dir: str | Path, markdown: str, data: dict[str, Any], name: str = "report") -> tuple[Path, Path]:
    """Write ``out_dir/<name>.md`` and ``out_dir/<name>.json`` atomically; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md_path, json_path = out / f"{name}.md", out / f"{name}.json"
    write_text_atomic(md_path, markdown if markdown.endswith("\n") else markdown + "\n")
    write_json_atomic(json_path, data)
    return md_path, json_path


# ------------------------------------------------------------------------------------------------------------------
# Plots
def plot_return_bars(
    path: str | Path,
    names: Sequence[str],
    means: Sequence[float],
    stds: Sequence[float],
    max_return: float | None = None,
    title: str = "",
) -> Path:
    """Bar chart of true (MuJoCo, unpenalised) return per policy with +-std error bars."""
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(names)))
    colors = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C"]
    ax.bar(xs, means, yerr=stds, capsize=5, color=[colors[i % len(colors)] for i in xs])
    if max_return is not None:
        ax.axhline(max_return, color="k", linestyle="--", linewidth=1, label=f"max possible ({max_return:.2f})")
        ax.legend(loc="best", fontsize=8)
    ax.set_xticks(xs)
    ax.set_xticklabels(names)
    ax.set_ylabel("true return per episode (MuJoCo)")
    ax.axhline(0.0, color="0.6", linewidth=0.8)
    ax.set_title(title or "True return per policy (mean +- std over episodes)", fontsize=10)
    return save_figure(fig, path)


def plot_training_curves(path: str | Path, histories: dict[str, dict[str, list[float]]], title: str = "") -> Path:
    """Per-iteration imagined reward (penalised and task-only) and epistemic uncertainty, one line per run.

    Args:
        histories: run label -> ``summary.json["history"]`` of ``rwmu train-policy`` (keys ``imagined_reward``,
            ``imagined_task_reward``, ``epistemic_uncertainty``; lists of per-iteration values).
    """
    fig = new_figure(10.0, 3.6)
    keys = [
        ("imagined_reward", "imagined reward / step (penalised)"),
        ("imagined_task_reward", "imagined task reward / step"),
        ("epistemic_uncertainty", "epistemic uncertainty / step"),
    ]
    for i, (key, label) in enumerate(keys):
        ax = fig.add_subplot(1, 3, i + 1)
        for run, history in histories.items():
            values = history.get(key) or []
            ax.plot(range(1, len(values) + 1), values, label=run)
        ax.set_xlabel("PPO iteration")
        ax.set_title(label, fontsize=9)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_scalar_curves(
    path: str | Path,
    curves: dict[str, tuple[list[float], list[float]]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    log_y: bool = False,
) -> Path:
    """Line plot of named (x, y) curves (e.g. world-model losses from TensorBoard)."""
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, (xs, ys) in curves.items():
        ax.plot(xs, ys, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("symlog")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def label_true_return_axes(ax: Any, behavior_return: float | None, xlabel: str, title: str) -> None:
    """Axes whose y is the true (MuJoCo, unpenalised) return: labels, grid, legend and the behaviour controller's
    return as a dashed line, if measured."""
    if behavior_return is not None:
        ax.axhline(behavior_return, color="k", linestyle="--", linewidth=1, label="behaviour controller (data)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("true return per episode (MuJoCo, unpenalised)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def plot_sweep(
    path: str | Path, aggregated: list[dict[str, Any]], behavior_return: float | None = None, title: str = ""
) -> Path:
    """True return against lambda (mean +- std over seeds), and imagined rewards (penalised and task-only).

    Args:
        aggregated: :func:`rwmu.experiments.sweep.aggregate_runs` rows (one per lambda, sorted by lambda).
        behavior_return: the behaviour controller's true return (a horizontal line), if measured.
    """
    fig = new_figure(10.0, 4.0)
    lambdas = [row["lambda"] for row in aggregated]
    ax = fig.add_subplot(1, 2, 1)
    ax.errorbar(
        lambdas,
        [row["true_return_mean"] for row in aggregated],
        yerr=[row["true_return_std"] for row in aggregated],
        marker="o",
        capsize=5,
        label="MOPO-PPO policy",
    )
    label_true_return_axes(
        ax, behavior_return, "uncertainty penalty lambda", "True return vs lambda (mean +- std over seeds)"
    )
    ax = fig.add_subplot(1, 2, 2)
    for key, label in (("imagined_reward", "imagined, penalised"), ("imagined_task_reward", "imagined, task only")):
        ax.errorbar(
            lambdas,
            [row[f"{key}_mean"] for row in aggregated],
            yerr=[row[f"{key}_std"] for row in aggregated],
            marker="o",
            capsize=5,
            label=label,
        )
    ax.set_xlabel("uncertainty penalty lambda")
    ax.set_ylabel("reward per env step, last iteration")
    ax.set_title("Imagined reward vs lambda", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def read_tensorboard_scalars(log_dir: str | Path, tags: Sequence[str]) -> dict[str, tuple[list[float], list[float]]]:
    """``tag -> (steps, values)`` read from TensorBoard event files under ``log_dir`` (empty if none / unreadable)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return {}
    log_dir = Path(log_dir)
    if not log_dir.is_dir():
        return {}
    try:
        acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
        acc.Reload()
        available = set(acc.Tags().get("scalars", []))
    except Exception:  # noqa: BLE001 - a damaged log only costs the plot
        return {}
    out = {}
    for tag in tags:
        if tag in available:
            events = acc.Scalars(tag)
            out[tag] = ([float(e.step) for e in events], [float(e.value) for e in events])
    return out
