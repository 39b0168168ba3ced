"""Statistics relating predicted uncertainty to prediction error (``docs/method.md`` section 8, "Figure 3 style").

Everything is plain numpy in float64; inputs may be numpy arrays, lists or (CPU or GPU) torch tensors. Arrays of
rollout values have shape ``(n, H)``: ``n`` windows by ``H`` rollout steps.

* :func:`pearson` / :func:`spearman` over all given values (flattened);
* :func:`average_ranks`: ranks 1..n with ties sharing the average of their positions (Spearman's convention);
* :func:`step_means`: the step-averaged curve ``(H,)`` of an ``(n, H)`` array;
* :func:`uncertainty_error_correlations`: Pearson and Spearman over all (window, step) points and over the
  step-averaged curves, the four numbers the evaluation reports;
* :func:`calibration_table`: uncertainty quantile bins against the mean error in each bin.

A correlation is ``nan`` when either input is constant (its standard deviation is zero) or has fewer than two values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def as_numpy(values: Any) -> np.ndarray:
    """float64 numpy copy of an array, list or torch tensor (detached, moved to the CPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def _paired_flat(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_numpy(x), as_numpy(y)
    if a.shape != b.shape:
        raise ValueError(f"correlation needs arrays of one shape, got {a.shape} and {b.shape}")
    return a.ravel(), b.ravel()


def pearson(x: Any, y: Any) -> float:
    """Pearson correlation of two equally shaped arrays, over all their entries (flattened).

    ``sum((x - mean x)(y - mean y)) / sqrt(sum((x - mean x)^2) sum((y - mean y)^2))``; ``nan`` when either is constant.
    """
    a, b = _paired_flat(x, y)
    if a.size < 2:
        return float("nan")
    da, db = a - a.mean(), b - b.mean()
    denom = np.sqrt(np.dot(da, da) * np.dot(db, db))
    if not np.isfinite(denom) or denom == 0.0:
        return float("nan")
    return float(np.clip(np.dot(da, db) / denom, -1.0, 1.0))


def average_ranks(x: Any) -> np.ndarray:
    """Ranks ``1..n`` of the flattened entries of ``x``, ties sharing the mean of their positions.

    Example: ``[10, 20, 20, 30] -> [1, 2.5, 2.5, 4]``. Returns float64 ``(n,)``. Vectorised (one sort).
    """
    a = as_numpy(x).ravel()
    order = np.argsort(a, kind="stable")
    ordered = a[order]
    new_group = np.ones(a.size, dtype=bool)
    new_group[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(new_group) - 1
    first = np.flatnonzero(new_group)  # 0-based position of each group's first member
    last = np.append(first[1:], a.size) - 1  # and of its last member
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = (first + last)[group] / 2.0 + 1.0
    return ranks


def spearman(x: Any, y: Any) -> float:
    """Spearman rank correlation: Pearson of the average ranks (ties handled as in :func:`average_ranks`)."""
    a, b = _paired_flat(x, y)
    return pearson(average_ranks(a), average_ranks(b))


def step_means(values: Any) -> np.ndarray:
    """Mean over windows of an ``(n, H)`` array: the step-averaged curve, float64 ``(H,)``."""
    v = as_numpy(values)
    if v.ndim != 2:
        raise ValueError(f"step_means expects (windows, steps), got shape {v.shape}")
    return v.mean(axis=0)


def uncertainty_error_correlations(uncertainty: Any, error: Any) -> dict[str, float]:
    """The four correlations of the uncertainty-versus-error evaluation.

    Args:
        uncertainty: ``(n, H)`` e.g. epistemic uncertainty per window and rollout step.
        error: ``(n, H)`` e.g. L1 prediction error per window and step.

    Returns:
        ``pearson_all`` / ``spearman_all``: over all ``n * H`` (window, step) points;
        ``pearson_step_averaged`` / ``spearman_step_averaged``: between the two ``(H,)`` curves of
        :func:`step_means` (how well the growth of uncertainty with the horizon follows the growth of the error).
    """
    u, e = as_numpy(uncertainty), as_numpy(error)
    if u.shape != e.shape or u.ndim != 2:
        raise ValueError(f"expected two (windows, steps) arrays of one shape, got {u.shape} and {e.shape}")
    u_curve, e_curve = step_means(u), step_means(e)
    return {
        "pearson_all": pearson(u, e),
        "pearson_step_averaged": pearson(u_curve, e_curve),
        "spearman_all": spearman(u, e),
        "spearman_step_averaged": spearman(u_curve, e_curve),
    }


@dataclass
class CalibrationTable:
    """Uncertainty quantile bins and the error inside each; every array has shape ``(k,)``, one entry per non-empty bin.

    Attributes:
        lower, upper: the bin's uncertainty range ``[lower, upper)`` (the last bin includes its upper edge).
        count: number of points in the bin.
        uncertainty_mean: mean uncertainty of the bin's points.
        error_mean, error_std: mean and (population) standard deviation of their error.
    """

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray
    uncertainty_mean: np.ndarray
    error_mean: np.ndarray
    error_std: np.ndarray

    def rows(self) -> list[dict[str, float]]:
        """One plain dict per bin (JSON-ready)."""
        return [
            {
                "lower": float(lo),
                "upper": float(hi),
                "count": int(c),
                "uncertainty_mean": float(u),
                "error_mean": float(m),
                "error_std": float(s),
            }
            for lo, hi, c, u, m, s in zip(
                self.lower, self.upper, self.count, self.uncertainty_mean, self.error_mean, self.error_std
            )
        ]


def calibration_table(uncertainty: Any, error: Any, num_bins: int = 10) -> CalibrationTable:
    """Bin points by uncertainty quantiles and report the mean error per bin.

    Bin edges are the ``0, 1/k, ..., 1`` quantiles of the uncertainty (numpy's linear interpolation); a point with
    uncertainty ``u`` falls into bin ``i`` when ``edge_i <= u < edge_{i+1}`` (the maximum goes into the last bin).
    Equal values therefore always share a bin; bins left empty by repeated edges are dropped, so fewer than
    ``num_bins`` rows may come back. A well-ordered uncertainty gives error means that rise from bin to bin.

    Args:
        uncertainty, error: equally shaped arrays (e.g. ``(n, H)``), flattened; non-finite pairs are ignored.
        num_bins: number of quantile bins ``k >= 1``.
    """
    if num_bins < 1:
        raise ValueError(f"num_bins must be at least 1, got {num_bins}")
    u, e = _paired_flat(uncertainty, error)
    keep = np.isfinite(u) & np.isfinite(e)
    u, e = u[keep], e[keep]
    if u.size == 0:
        empty = np.zeros(0)
        return CalibrationTable(empty, empty, np.zeros(0, dtype=np.int64), empty, empty, empty)
    edges = np.quantile(u, np.linspace(0.0, 1.0, num_bins + 1))
    index = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, num_bins - 1)
    count = np.bincount(index, minlength=num_bins)
    safe = np.maximum(count, 1)
    u_mean = np.bincount(index, weights=u, minlength=num_bins) / safe
    e_mean = np.bincount(index, weights=e, minlength=num_bins) / safe
    e_var = np.bincount(index, weights=(e - e_mean[index]) ** 2, minlength=num_bins) / safe
    used = count > 0
    return CalibrationTable(
        lower=edges[:-1][used],
        upper=edges[1:][used],
        count=count[used].astype(np.int64),
        uncertainty_mean=u_mean[used],
        error_mean=e_mean[used],
        error_std=np.sqrt(e_var[used]),
    )
