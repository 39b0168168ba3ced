"""Plain-text tables of evaluation results, for the console (``rwmu evaluate``, the demo, the benchmarks)."""

from __future__ import annotations

from typing import Any


def format_evaluation_table(result: dict[str, Any]) -> str:
    """Human-readable summary of :func:`rwmu.evaluation.simulator.evaluate_policy`'s result: the totals line, the
    per-term returns and the per-schedule figures."""
    lines = [
        f"episodes {result['episodes']}  return {result['return_mean']:.3f} +- {result['return_std']:.3f} "
        f"(max {result['max_return']:.2f})  falls {result['falls']}  length {result['episode_length_mean']:.1f}  "
        f"lin vel err {result['lin_vel_error_mean']:.3f} m/s  yaw rate err {result['yaw_rate_error_mean']:.3f} rad/s",
        score_line(result),
        "",
        f"{'term':<24}{'return':>12}",
    ]
    lines += [f"{name:<24}{value:>12.4f}" for name, value in result["terms"].items()]
    lines += ["", f"{'schedule':<16}{'episodes':>9}{'return':>10}{'falls':>7}{'lin err':>9}{'yaw err':>9}{'length':>8}"]
    for name, s in result["per_schedule"].items():
        lines.append(
            f"{name:<16}{s['episodes']:>9}{s['return_mean']:>10.3f}{s['falls']:>7}{s['lin_vel_error_mean']:>9.3f}"
            f"{s['yaw_rate_error_mean']:>9.3f}{s['episode_length_mean']:>8.1f}"
        )
    return "\n".join(lines)


def score_line(result: dict[str, Any]) -> str:
    """The normalised score, with the two returns it is measured between."""
    references = result.get("score_references")
    if not references:
        if result.get("score_reference_asked", "expert") is None:
            return "normalised score not computed (--score-reference None)"
        task = result.get("task")
        return f"normalised score n/a (no reference policy: this rwmu version ships no expert for task {task})"
    (zero_name, zero_return), (top_name, top_return) = references.items()
    score = result["normalized_score"]
    text = "n/a" if score is None else f"{score:.3f}"
    return (
        f"normalised score {text} (0 = {zero_name} actions, return {zero_return:.3f}; 1 = {top_name}, return "
        f"{top_return:.3f})"
    )
