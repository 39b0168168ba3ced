"""The pooled signal table of an experiment's ``[[study]]`` blocks (docs/signals.md).

Every (dataset, recipe, lambda) group pools the points of its seeds' studies (``signals.npz``) and scores every
signal on them (:func:`rwmu.evaluation.signals.signal_metrics`): fall AUROC at each ``k``, Spearman correlation with
the real ``h``-step error and the level on the policies' states over the data's. Written to ``OUT/signals/``:
``table.{md,csv,json}`` and one ROC plot per group.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from rwmu.evaluation.signals import LEAD_WINDOW, POINTS_NPZ, label_counts, load_points, plot_roc, signal_metrics
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.experiments.paths import lambda_label
from rwmu.utils.io import atomic_path, write_csv_atomic, write_json_atomic, write_text_atomic

Group = tuple[str, str, float, str]
"""(dataset, recipe, lambda, world model folder)"""


def group_rows(groups: dict[Group, list[Path]], config: SignalStudyConfig, folder: Path) -> list[dict[str, Any]]:
    """One row per group and signal from the finished studies ``groups`` maps to; writes each group's ROC plot."""
    rows = []
    for (dataset, recipe, lam, world_model), studies in groups.items():
        finished = [s / POINTS_NPZ for s in studies if (s / POINTS_NPZ).is_file()]
        if not finished:
            continue
        on_policy, on_data = load_points(finished)
        counts = label_counts(on_policy, config)
        name = f"{dataset}_{recipe}_lam{lambda_label(lam)}_{world_model}"
        title = f"{dataset}, {recipe}, lambda {lam:g}, {world_model}"
        plot_roc(folder / f"roc_{name}.png", on_policy, config, title)
        for signal, metrics in signal_metrics(on_policy, on_data, config).items():
            rows.append(
                {
                    "dataset": dataset,
                    "recipe": recipe,
                    "lambda": lam,
                    "world_model": world_model,
                    "policies": len(finished),
                    "signal": signal,
                    **metrics,
                    **counts,
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]], config: SignalStudyConfig) -> str:
    """One table per group, one row per signal; the best fall AUROC at the first ``k`` and the best early-warning
    AUROC in bold."""
    k0 = config.fall_windows[0]
    score_cols = [f"auroc_k{k}" for k in config.fall_windows] + ["auroc_early"]
    score_cols += [f"spearman_h{h}" for h in config.error_horizons]
    header = (
        "| signal | "
        + " | ".join(f"fall AUROC k={k}" for k in config.fall_windows)
        + f" | early warning ({LEAD_WINDOW[0] + 1}-{LEAD_WINDOW[1]} steps ahead) | "
        + " | ".join(f"Spearman h={h}" for h in config.error_horizons)
        + " | level (policy / data) |"
    )
    lines = []
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["recipe"], r["lambda"], r["world_model"]), []).append(r)
    for (dataset, recipe, lam, world_model), rs in groups.items():
        first = rs[0]
        near = ", ".join(f"{first[f'within_k{k}']} within {k} steps" for k in config.fall_windows)
        lines += [
            f"### {dataset}, `{recipe}`, lambda {lam:g}, world model `{world_model}`",
            "",
            f"{first['policies']} policies, {first['states']} MuJoCo states, {first['falls']} falls ({near}; "
            f"{first['early']} {LEAD_WINDOW[0] + 1}-{LEAD_WINDOW[1]} steps ahead of one).",
            "",
            header,
            "|" + "---|" * (2 + len(score_cols)),
        ]
        best = {c: max((r[c] or 0.0) for r in rs) for c in (f"auroc_k{k0}", "auroc_early")}
        for r in rs:
            cells = []
            for c in score_cols:
                v = r[c]
                text = "-" if v is None else f"{v:.3f}"
                cells.append(f"**{text}**" if c in best and v is not None and v == best[c] else text)
            level = "-" if r["level"] is None else f"{r['level']:.2f}"
            lines.append(f"| {r['signal']} | " + " | ".join(cells) + f" | {level} |")
        lines.append("")
    return "\n".join(lines)


def write_signal_table(groups: dict[Group, list[Path]], config: SignalStudyConfig, folder: Path) -> list[dict]:
    """``folder/table.{md,csv,json}`` and the ROC plots of every group with a finished study."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = group_rows(groups, config, folder)
    if not rows:
        return rows
    write_json_atomic(folder / "table.json", {"rows": rows})
    write_csv_atomic(folder / "table.csv", list(rows[0]), [list(r.values()) for r in rows])
    write_text_atomic(folder / "table.md", markdown(rows, config))
    return rows


def copy_signal_table(folder: Path, target: Path) -> int:
    """Copy the table (``table.{md,csv,json}``) and ROC plots of ``folder`` into ``target``, each file atomically;
    returns how many files were copied."""
    files = [folder / f"table.{ext}" for ext in ("md", "csv", "json")] + sorted(folder.glob("roc_*.png"))
    for file in files:
        with atomic_path(target / file.name) as tmp:
            shutil.copyfile(file, tmp)
    return len(files)
