"""Does the world model's uncertainty track its error? The ``docs/method.md`` section 8 ("Figure 3 style") protocol.

On held-out trajectories (the validation part of the split the model was trained with), ``windows`` windows of
``M + H`` rows are chosen at random (seeded). The model is conditioned on the ``M`` ground-truth steps of each
window, then rolled out open loop for ``H`` steps under the recorded actions (:func:`rwmu.models.rollout.
open_loop_rollout`), in two modes:

* ``mean``: the ensemble-mean prediction is fed back (paper Eq. 4);
* ``sampled_member``: one random member per window (seeded) is fed back throughout, as MOPO-PPO's imagination does
  with per-environment members (``docs/method.md`` sections 7 and 8).

At every (window, step) the L1 error ``sum_dims |pred - true|`` in normalised units (summed over the S state
dimensions, as the reference reports: final-step L1 ~215 with 45 dims), the epistemic and the aleatoric uncertainty
are recorded. Per mode the summary reports Pearson and Spearman correlations of epistemic uncertainty and L1 error
over all points and over the step-averaged curves, final-step L1 error, epistemic and aleatoric uncertainty, the
relative error ``sum |pred - true| / sum |true|`` (the reference model check, ``docs/method.md`` section 5) and a
calibration table (epistemic quantile bins against mean L1 error). A no-change baseline (hold the last true state) is
reported too.

Held-out split: the trainer splits trajectory blocks with :func:`rwmu.data.windows.split_windows` on windows of
``M_train + N`` rows (history + forecast) with its ``val_fraction``, ``block_length`` and ``seed``; those settings are
read from the checkpoint's stored ``train`` config (flags otherwise; failing both, the trainer's defaults in
:mod:`rwmu.training.world_model_config`). A window qualifies here only if every one of its rows lies in some
validation window of that split, so no row was ever in a training window.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rwmu.data.windows import split_windows, window_starts
from rwmu.errors import RwmuError
from rwmu.evaluation import plots
from rwmu.evaluation.metrics import calibration_table, uncertainty_error_correlations
from rwmu.evaluation.uncertainty_config import UncertaintyEvalConfig
from rwmu.models.rollout import l1_error, open_loop_rollout, relative_error
from rwmu.training.world_model_config import OptimConfig, ValidationConfig
from rwmu.utils.io import write_csv_atomic, write_json_atomic

MODES = ("mean", "sampled_member")


@dataclass(frozen=True)
class SplitSettings:
    """How the trainer split the data: ``split_windows(ds, train_window, val_fraction, seed, block_length)``."""

    val_fraction: float
    block_length: int
    seed: int
    train_window: int  # M_train + N rows
    source: str  # "checkpoint", "flags" or "checkpoint+flags"


def resolve_split_settings(config: UncertaintyEvalConfig, train: dict | None, model_history: int) -> SplitSettings:
    """Split settings from the checkpoint's stored training config (``train``), overridden by explicit flags."""
    stored: dict[str, Any] = {}
    if isinstance(train, dict):
        val = train.get("validation") or {}
        arch = train.get("architecture") or {}
        optim = train.get("optim") or {}
        if "val_fraction" in val:
            stored["val_fraction"] = float(val["val_fraction"])
        if "block_length" in val:
            stored["block_length"] = int(val["block_length"])
        if "seed" in train:
            stored["seed"] = int(train["seed"])
        if "history_horizon" in arch and "forecast_horizon" in optim:
            stored["train_window"] = int(arch["history_horizon"]) + int(optim["forecast_horizon"])
    given = {
        k: v
        for k, v in (
            ("val_fraction", config.val_fraction),
            ("block_length", config.block_length),
            ("seed", config.split_seed),
        )
        if v is not None
    }
    defaults = ValidationConfig()  # what the trainer uses when not told otherwise
    fallback = {
        "val_fraction": defaults.val_fraction,
        "block_length": defaults.block_length,
        "seed": config.seed,
        "train_window": model_history + OptimConfig().forecast_horizon,
    }
    values = {**fallback, **stored, **given}
    if stored and given:
        source = "checkpoint+flags"
    elif stored:
        source = "checkpoint"
    else:
        source = "flags"
    return SplitSettings(values["val_fraction"], values["block_length"], values["seed"], values["train_window"], source)


def heldout_row_mask(dataset, split: SplitSettings) -> np.ndarray:
    """bool ``(num_rows,)``: rows covered by a validation window of the training split (never in a training window)."""
    try:
        _, val_starts = split_windows(
            dataset, split.train_window, split.val_fraction, seed=split.seed, block_length=split.block_length
        )
    except RwmuError as err:
        raise RwmuError(f"held-out split: {err}; or pass --split all to use every window (not held out)") from None
    cover = np.zeros(dataset.num_rows + 1, dtype=np.int64)  # difference array of window coverage
    np.add.at(cover, val_starts, 1)
    np.add.at(cover, val_starts + split.train_window, -1)
    return np.cumsum(cover[:-1]) > 0


def starts_within(dataset, row_mask: np.ndarray | None, length: int) -> np.ndarray:
    """int64 ``(n,)`` starts of valid ``length``-row windows (:func:`window_starts`) whose rows all lie in the mask."""
    starts = window_starts(dataset, length)
    if row_mask is None or starts.size == 0:
        return starts
    csum = np.concatenate([[0], np.cumsum(row_mask, dtype=np.int64)])
    return starts[csum[starts + length] - csum[starts] == length]


def longest_horizon(dataset, row_mask: np.ndarray | None, history: int, horizon: int) -> int:
    """Largest ``h <= horizon`` with at least one window of ``history + h`` rows in the mask; 0 if none."""
    lo, hi = 0, horizon  # invariant: lo feasible (or 0), answer in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts_within(dataset, row_mask, history + mid).size > 0:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class ModeRollout:
    """Values of one rollout mode, float64 numpy.

    Attributes:
        l1: ``(n, H)`` L1 error summed over state dimensions (normalised units).
        epistemic, aleatoric: ``(n, H)``.
        rel_error: ``(H,)`` ``sum |pred - true| / sum |true|`` over windows and dimensions.
        member_ids: ``(n,)`` int member of each window (sampled-member mode) or None.
    """

    l1: np.ndarray
    epistemic: np.ndarray
    aleatoric: np.ndarray
    rel_error: np.ndarray
    member_ids: np.ndarray | None = None


@dataclass
class UncertaintyEvaluation:
    """Everything the protocol measured; :meth:`summary` turns it into ``summary.json``."""

    modes: dict[str, ModeRollout]
    no_change_l1: np.ndarray  # (n, H) L1 error of holding the last true state s_{M-1}
    no_change_rel_error: np.ndarray  # (H,)
    window_starts: np.ndarray  # (n,) global dataset rows
    history: int
    horizon: int
    requested_horizon: int
    split: SplitSettings | None
    reduction: str
    ensemble_size: int
    state_dim: int
    config: UncertaintyEvalConfig
    notes: list[str] = field(default_factory=list)

    def mode_summary(self, mode: str) -> dict[str, Any]:
        r = self.modes[mode]
        out: dict[str, Any] = dict(uncertainty_error_correlations(r.epistemic, r.l1))
        out.update(
            final_l1=float(r.l1[:, -1].mean()),
            final_l1_std=float(r.l1[:, -1].std()),
            final_epistemic=float(r.epistemic[:, -1].mean()),
            final_aleatoric=float(r.aleatoric[:, -1].mean()),
            mean_l1=float(r.l1.mean()),
            mean_epistemic=float(r.epistemic.mean()),
            mean_aleatoric=float(r.aleatoric.mean()),
            mean_rel_error=float(r.rel_error.mean()),
            final_rel_error=float(r.rel_error[-1]),
            calibration=calibration_table(r.epistemic, r.l1, self.config.calibration_bins).rows(),
            member_ids=None if r.member_ids is None else [int(m) for m in r.member_ids],
        )
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary (non-finite numbers become ``None``). Keys: see the module docstring of the CLI."""
        return finite_or_none(
            {
                "protocol": "docs/method.md section 8 uncertainty versus error: M ground-truth steps, then an H-step "
                "open-loop rollout under the recorded actions",
                "split": self.config.split,
                "split_settings": dataclasses.asdict(self.split) if self.split is not None else None,
                "windows": int(self.window_starts.size),
                "history": self.history,
                "horizon": self.horizon,
                "requested_horizon": self.requested_horizon,
                "seed": self.config.seed,
                "reduction": self.reduction,
                "ensemble_size": self.ensemble_size,
                "state_dim": self.state_dim,
                "error": "L1: sum over state dimensions of |predicted - true|, normalised units",
                "window_starts": [int(s) for s in self.window_starts],
                "no_change": {
                    "final_l1": float(self.no_change_l1[:, -1].mean()),
                    "mean_l1": float(self.no_change_l1.mean()),
                    "mean_rel_error": float(self.no_change_rel_error.mean()),
                },
                "modes": {mode: self.mode_summary(mode) for mode in self.modes},
                "notes": list(self.notes),
            }
        )

    def per_step_rows(self) -> list[dict[str, Any]]:
        """One row per (mode, step): step (1-based), mode, l1_mean, epistemic_mean, aleatoric_mean, rel_error,
        l1_std, epistemic_std (means and population stds over windows)."""
        rows = []
        for mode, r in self.modes.items():
            l1m, em, am = r.l1.mean(0), r.epistemic.mean(0), r.aleatoric.mean(0)
            l1s, es = r.l1.std(0), r.epistemic.std(0)
            for k in range(self.horizon):
                rows.append(
                    {
                        "step": k + 1,
                        "mode": mode,
                        "l1_mean": l1m[k],
                        "epistemic_mean": em[k],
                        "aleatoric_mean": am[k],
                        "rel_error": r.rel_error[k],
                        "l1_std": l1s[k],
                        "epistemic_std": es[k],
                    }
                )
        return rows


def finite_or_none(obj: Any) -> Any:
    """Replace NaN/inf floats in nested dicts/lists with None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def choose_windows(starts: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``min(count, len(starts))`` distinct starts chosen uniformly at random (seeded), ascending."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(starts.size, size=min(count, starts.size), replace=False)
    return np.sort(starts[pick])


def evaluate_uncertainty(
    model,
    dataset,
    config: UncertaintyEvalConfig,
    train: dict | None = None,
    log: Callable[[str], None] = print,
) -> UncertaintyEvaluation:
    """Run the protocol (see the module docstring).

    Args:
        model: :class:`~rwmu.models.WorldModelEnsemble` with a normalisation attached, on ``config.device``.
        dataset: :class:`~rwmu.data.dataset.TrajectoryDataset` with the model's column widths.
        config: the settings.
        train: the checkpoint's stored training config (``ckpt["train"]``), for the held-out split; None if absent.
        log: where notes (reduced horizon, fewer windows, ...) are printed.

    Raises:
        RwmuError: dims mismatch, no normalisation, no usable window, bad settings.
    """
    config.check()
    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        log(f"note: {text}")

    if dataset.dims != model.dims:
        raise RwmuError(
            f"the data has {dataset.dims.describe()}, but the world model was built for "
            f"{model.dims.describe()}; evaluate the model on data with its columns"
        )
    if model.normalization is None:
        raise RwmuError(
            "the world model stores no normalisation (a reference-format file?); pass --task NAME so "
            "the task's normalisation constants are used"
        )
    M = model.history_horizon if config.history is None else config.history
    if M != model.history_horizon and not model.is_recurrent:
        raise RwmuError(
            f"--history {M}: an MLP world model takes exactly its M={model.history_horizon} steps; leave --history out"
        )

    split = None
    mask = None
    if config.split == "heldout":
        split = resolve_split_settings(config, train, model.history_horizon)
        if split.source == "flags":
            note(
                "the checkpoint stores no training config; the held-out split uses --val-fraction "
                f"{split.val_fraction}, --block-length {split.block_length}, seed {split.seed} and a training "
                f"window of {split.train_window} rows, which match the training run only if it used them"
            )
        mask = heldout_row_mask(dataset, split)
    where = "held-out" if mask is not None else "data"
    H = config.horizon
    starts = starts_within(dataset, mask, M + H)
    if starts.size == 0:
        H = longest_horizon(dataset, mask, M, config.horizon)
        if H == 0:
            raise RwmuError(
                f"the {where} part of the data holds no window of {M + 1} rows (M={M} history steps and "
                "one prediction); use more data, a longer --block-length, or --split all"
            )
        note(
            f"the {where} data holds no window of M+H = {M + config.horizon} rows; horizon reduced to H={H}, "
            "the longest possible"
        )
        starts = starts_within(dataset, mask, M + H)
    chosen = choose_windows(starts, config.windows, config.seed)
    if chosen.size < config.windows:
        note(
            f"only {chosen.size} distinct {where} windows of {M + H} rows exist; using all of them "
            f"(asked for {config.windows})"
        )

    device = torch.device(config.device)
    rows = chosen[:, None] + np.arange(M + H)  # (n, M + H) dataset rows; fancy indexing copies only the windows
    windows = torch.from_numpy(np.asarray(dataset.data)[rows].astype(np.float32, copy=False)).to(device)
    states = model.normalization.normalize_state(windows[..., dataset.dims.state_slice])
    actions = model.normalization.normalize_action(windows[..., dataset.dims.action_slice])
    truth = states[:, M:]
    reduction = config.reduction or model.config.reduction
    generator = torch.Generator().manual_seed(config.seed)
    member_ids = torch.randint(0, model.ensemble_size, (chosen.size,), generator=generator).to(device)

    original_config = model.config
    if M != model.history_horizon:  # recurrent only (checked above): condition on a different number of steps
        model.config = dataclasses.replace(original_config, history_horizon=M)
    results: dict[str, ModeRollout] = {}
    try:
        for mode in MODES:
            ids = member_ids if mode == "sampled_member" else None
            roll = open_loop_rollout(model, states, actions, H, member_ids=ids, reduction=reduction)
            results[mode] = ModeRollout(
                l1=_np(l1_error(roll.state, truth)),
                epistemic=_np(roll.epistemic),
                aleatoric=_np(roll.aleatoric),
                rel_error=_np(relative_error(roll.state, truth)),
                member_ids=None if ids is None else _np(ids, int),
            )
    finally:
        model.config = original_config
    hold = states[:, M - 1 : M].expand(-1, H, -1)
    if not all(np.isfinite(r.l1).all() for r in results.values()):
        note("some predictions are not finite (the rollout diverged); statistics involving them are null")
    return UncertaintyEvaluation(
        modes=results,
        no_change_l1=_np(l1_error(hold, truth)),
        no_change_rel_error=_np(relative_error(hold, truth)),
        window_starts=chosen,
        history=M,
        horizon=H,
        requested_horizon=config.horizon,
        split=split,
        reduction=reduction,
        ensemble_size=model.ensemble_size,
        state_dim=dataset.dims.state,
        config=config,
        notes=notes,
    )


def _np(t, dtype=np.float64) -> np.ndarray:
    return t.detach().cpu().numpy().astype(dtype)


# ---------------------------------------------------------------------------------------------------------- output
PER_STEP_CSV = "uncertainty_error_by_step.csv"
POINTS_CSV = "uncertainty_error_points.csv"
SUMMARY_JSON = "summary.json"
CALIBRATION_PNG = "uncertainty_calibration.png"


def write_report(evaluation: UncertaintyEvaluation, out_dir: str | Path, extra: dict[str, Any] | None = None) -> dict:
    """Write ``summary.json``, the per-step and per-point CSVs and the PNG plots to ``out_dir``.

    Args:
        extra: top-level entries added to the summary (e.g. ``world_model`` and ``data`` paths).

    Returns:
        The summary dict written (with ``files``: name -> file name inside ``out_dir``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary": SUMMARY_JSON,
        "per_step_csv": PER_STEP_CSV,
        "points_csv": POINTS_CSV,
        "calibration_plot": CALIBRATION_PNG,
    }
    step_cols = ["step", "mode", "l1_mean", "epistemic_mean", "aleatoric_mean", "rel_error", "l1_std", "epistemic_std"]
    write_csv_atomic(out / PER_STEP_CSV, step_cols, [[r[c] for c in step_cols] for r in evaluation.per_step_rows()])
    point_rows: list[list[Any]] = []
    n, H = evaluation.no_change_l1.shape
    win, step = np.meshgrid(np.arange(n), np.arange(1, H + 1), indexing="ij")
    for mode, r in evaluation.modes.items():
        columns = zip(win.ravel(), step.ravel(), r.l1.ravel(), r.epistemic.ravel(), r.aleatoric.ravel())
        point_rows += [[mode, int(w), int(evaluation.window_starts[w]), int(k), l1, e, a] for w, k, l1, e, a in columns]
    write_csv_atomic(
        out / POINTS_CSV, ["mode", "window", "start_row", "step", "l1", "epistemic", "aleatoric"], point_rows
    )

    summary = evaluation.summary()
    tables = {}
    for mode, r in evaluation.modes.items():
        s = summary["modes"][mode]
        by_step, scatter = f"uncertainty_error_by_step_{mode}.png", f"uncertainty_error_scatter_{mode}.png"
        label = mode.replace("_", " ")
        plots.plot_error_and_uncertainty_by_step(
            out / by_step,
            r.l1,
            r.epistemic,
            r.aleatoric,
            title=f"{label} rollout: L1 error and uncertainty ({n} windows, M={evaluation.history})",
            no_change_l1=evaluation.no_change_l1,
        )
        plots.plot_uncertainty_error_scatter(
            out / scatter,
            r.epistemic,
            r.l1,
            title=f"{label} rollout: Pearson {_fmt(s['pearson_all'])} (all points), "
            f"{_fmt(s['pearson_step_averaged'])} (step-averaged)",
        )
        files[f"by_step_plot_{mode}"], files[f"scatter_plot_{mode}"] = by_step, scatter
        tables[label] = calibration_table(r.epistemic, r.l1, evaluation.config.calibration_bins)
    plots.plot_calibration(out / CALIBRATION_PNG, tables, title="Calibration: mean L1 error per epistemic quantile bin")
    summary = {**(extra or {}), **summary, "files": files}
    write_json_atomic(out / SUMMARY_JSON, summary)
    return summary


def _fmt(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def format_table(summary: dict[str, Any]) -> str:
    """Compact text table of the summary: one column per mode."""
    modes = list(summary["modes"])
    rows = [
        ("Pearson, all points", "pearson_all", 3),
        ("Pearson, step-averaged", "pearson_step_averaged", 3),
        ("Spearman, all points", "spearman_all", 3),
        ("Spearman, step-averaged", "spearman_step_averaged", 3),
        ("final-step L1 error", "final_l1", 3),
        ("final-step epistemic", "final_epistemic", 4),
        ("final-step aleatoric", "final_aleatoric", 5),
        ("mean relative error", "mean_rel_error", 4),
    ]
    width = max(len(r[0]) for r in rows)
    col = max(16, *(len(m) + 2 for m in modes))
    lines = [
        f"uncertainty vs error: {summary['windows']} {summary['split']} windows, M={summary['history']}, "
        f"H={summary['horizon']}, {summary['ensemble_size']} members, epistemic {summary['reduction']}",
        f"{'':<{width}}" + "".join(f"{m:>{col}}" for m in modes),
    ]
    for label, key, digits in rows:
        lines.append(f"{label:<{width}}" + "".join(f"{_fmt(summary['modes'][m][key], digits):>{col}}" for m in modes))
    nc = summary["no_change"]
    lines.append(
        f"{'no-change baseline':<{width}}  final-step L1 {_fmt(nc['final_l1'])}, "
        f"mean relative error {_fmt(nc['mean_rel_error'], 4)}"
    )
    return "\n".join(lines)
