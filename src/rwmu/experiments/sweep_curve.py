"""True return against PPO iterations: every saved checkpoint of every sweep run, scored in MuJoCo.

MOPO's argument is about training time: without a penalty the policy learns to exploit the model's errors, so its
imagined return keeps rising while its true return stalls or falls. ``rwmu sweep --curve`` measures that: each
``model_<k>.pt`` a run saved (``k + 1`` PPO iterations done) is scored with ``rwmu evaluate`` on the same episodes
as the final policy. Results are cached per checkpoint in ``runs/<run>/checkpoint_eval/model_<k>.json`` (re-running
evaluates only new checkpoints); ``sweep_curve.csv`` holds one row per (run, checkpoint) and ``sweep_curve.png``
plots, per lambda, the mean true return over seeds (band: +- sample std) against iterations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rwmu.evaluation.plots import new_figure, save_figure
from rwmu.experiments.report import label_true_return_axes, mean_std
from rwmu.training.runner import saved_checkpoints
from rwmu.utils.io import write_csv_atomic

CURVE_DIR = "checkpoint_eval"
CURVE_COLUMNS = ("lambda", "seed", "iterations", "true_return_mean", "fall_rate", "checkpoint")


def curve_json(run_dir: Path, k: int) -> Path:
    """Where the evaluation of ``model_<k>.pt`` is cached."""
    return Path(run_dir) / CURVE_DIR / f"model_{k}.json"


def pending_evaluations(run_dirs: list[Path]) -> list[tuple[Path, Path]]:
    """``(checkpoint, json_path)`` of every saved checkpoint without a cached evaluation."""
    return [
        (ckpt, curve_json(d, k)) for d in run_dirs for k, ckpt in saved_checkpoints(d) if not curve_json(d, k).is_file()
    ]


def curve_records(runs: list[Any]) -> list[dict[str, Any]]:
    """One record per evaluated checkpoint of each run (``runs``: objects with ``lam``, ``seed``, ``run_dir``)."""
    records = []
    for run in runs:
        for k, ckpt in saved_checkpoints(run.run_dir):
            path = curve_json(run.run_dir, k)
            if not path.is_file():
                continue
            evaluation = json.loads(path.read_text())
            records.append(
                {
                    "lambda": float(run.lam),
                    "seed": int(run.seed),
                    "iterations": k + 1,
                    "true_return_mean": evaluation.get("return_mean"),
                    "fall_rate": evaluation.get("fall_rate"),
                    "checkpoint": str(ckpt),
                }
            )
    return sorted(records, key=lambda r: (r["lambda"], r["seed"], r["iterations"]))


def aggregate_curve(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (lambda, iterations): seeds present and mean / sample std over seeds of the true return and fall rate."""
    groups: dict[tuple[float, int], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((float(r["lambda"]), int(r["iterations"])), []).append(r)
    rows = []
    for (lam, iterations), group in sorted(groups.items()):
        ret_mean, ret_std = mean_std([r["true_return_mean"] for r in group])
        fall_mean, _ = mean_std([r["fall_rate"] for r in group])
        rows.append(
            {
                "lambda": lam,
                "iterations": iterations,
                "seeds": sorted(r["seed"] for r in group),
                "true_return_mean": ret_mean,
                "true_return_std": ret_std,
                "fall_rate_mean": fall_mean,
            }
        )
    return rows


def plot_curve(path: Path, aggregated: list[dict[str, Any]], behavior_return: float | None = None) -> Path:
    """True return against PPO iterations, one line per lambda (mean over seeds, band +- std)."""
    fig = new_figure(7.0, 4.5)
    ax = fig.add_subplot(1, 1, 1)
    for lam in sorted({row["lambda"] for row in aggregated}):
        rows = [row for row in aggregated if row["lambda"] == lam]
        x = [row["iterations"] for row in rows]
        mean = [row["true_return_mean"] for row in rows]
        std = [row["true_return_std"] for row in rows]
        (line,) = ax.plot(x, mean, marker="o", markersize=3, label=f"lambda = {lam:g}")
        ax.fill_between(
            x,
            [m - s for m, s in zip(mean, std)],
            [m + s for m, s in zip(mean, std)],
            color=line.get_color(),
            alpha=0.15,
        )
    label_true_return_axes(
        ax,
        behavior_return,
        "PPO iterations in imagination",
        "True return of saved checkpoints (mean +- std over seeds)",
    )
    return save_figure(fig, path)


def write_curve(out_dir: Path, records: list[dict[str, Any]], behavior_return: float | None = None) -> None:
    """``sweep_curve.csv`` (one row per evaluated checkpoint) and ``sweep_curve.png``."""
    write_csv_atomic(Path(out_dir) / "sweep_curve.csv", CURVE_COLUMNS, records)
    if records:
        plot_curve(Path(out_dir) / "sweep_curve.png", aggregate_curve(records), behavior_return)
