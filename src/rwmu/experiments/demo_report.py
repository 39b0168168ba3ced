"""The report of ``rwmu demo``: ``report.md`` (with PNG plots) and ``report.json`` from the stage outputs on disk.

Only reads files the stages wrote (collect stats, world-model summary and TensorBoard log, eval-uncertainty
summary and plots, policy summaries, MuJoCo evaluation JSONs), so the report can be rebuilt at any time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rwmu.experiments import report as rep
from rwmu.experiments.paths import DemoPaths, evaluation_key
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.io import to_jsonable

if TYPE_CHECKING:  # annotations only: rwmu.experiments.demo imports this module
    from rwmu.experiments.demo_config import DemoConfig


def describe_world_model(train: TrainModelConfig) -> str:
    """One line: ``GRU 1x128, ensemble B=5, history M=16, forecast N=8, 800 iterations x 256 windows``."""
    arch, optim = train.architecture, train.optim
    if arch.base_type == "mlp":
        base = f"MLP {'-'.join(str(n) for n in arch.mlp_base_shape)}"
    else:
        base = f"{arch.base_type.upper()} {arch.rnn_num_layers}x{arch.rnn_hidden_size}"
    return (
        f"{base}, ensemble B={arch.ensemble_size}, history M={arch.history_horizon}, forecast "
        f"N={optim.forecast_horizon}, {optim.iterations} iterations x {optim.batch_size} windows"
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def build_demo_report(
    out: Path, config: DemoConfig, policies: dict[str, str], stages: list[dict[str, Any]]
) -> dict[str, Any]:
    """Write plots, ``report.md`` and ``report.json`` into ``out``; return the JSON dict.

    Args:
        config: the :class:`~rwmu.experiments.demo.DemoConfig` of the run.
        policies: label -> policy spec (the behaviour policy's, then checkpoint paths), in display order.
        stages: :meth:`StageLog.table` rows (stage, status, seconds, what).
    """
    out = Path(out)
    paths = DemoPaths(out)
    collect_stats = _read_json(paths.collect_stats) or {}
    wm_summary = _read_json(paths.world_model_dir / "summary.json") or {}
    unc = _read_json(paths.uncertainty_dir / "summary.json") or {}
    policy_summaries = {lam: _read_json(paths.policy_dir(lam) / "summary.json") or {} for lam in config.lambdas}
    evaluations = {name: _read_json(paths.evaluation(evaluation_key(name))) or {} for name in policies}
    checks = {name: _read_json(paths.model_check(evaluation_key(name))) or {} for name in policies}

    # ---- plots
    plots: dict[str, str] = {}
    names = list(evaluations)
    means = [evaluations[n].get("return_mean", float("nan")) for n in names]
    stds = [evaluations[n].get("return_std", 0.0) for n in names]
    max_return = next((e.get("max_return") for e in evaluations.values() if e.get("max_return") is not None), None)
    short = ["behaviour" if n == config.behaviour_label else n.replace("MOPO-PPO ", "") for n in names]
    rep.plot_return_bars(out / "true_return.png", short, means, stds, max_return=max_return)
    plots["true_return"] = "true_return.png"
    histories = {f"lambda={lam:g}": s.get("history", {}) for lam, s in policy_summaries.items() if s}
    if histories:
        rep.plot_training_curves(out / "policy_training.png", histories, title="MOPO-PPO in imagination")
        plots["policy_training"] = "policy_training.png"
    curves = rep.read_tensorboard_scalars(
        paths.world_model_dir / "tensorboard", ["val/rel_error_forecast_mean", "val/no_change_rel_error_forecast_mean"]
    )
    if curves:
        labels = {
            "val/rel_error_forecast_mean": "world model (held out)",
            "val/no_change_rel_error_forecast_mean": "no-change baseline",
        }
        rep.plot_scalar_curves(
            out / "world_model_validation.png",
            {labels[k]: v for k, v in curves.items()},
            "training iteration",
            "relative error, mean over forecast steps",
            title="World model: held-out autoregressive error",
        )
        plots["world_model_validation"] = "world_model_validation.png"
    unc_files = unc.get("files", {})
    for key in ("by_step_plot_mean", "scatter_plot_mean", "by_step_plot_sampled_member", "calibration_plot"):
        if key in unc_files:
            plots[f"uncertainty_{key}"] = f"uncertainty/{unc_files[key]}"

    # ---- numbers
    behaviour = evaluations.get(config.behaviour_label, {})
    policy_rows = []
    for name in names:
        e = evaluations[name]
        lam = next((lam for lam in config.lambdas if name == f"MOPO-PPO lambda={lam:g}"), None)
        s = policy_summaries.get(lam, {}) if lam is not None else {}
        policy_rows.append(
            {
                "policy": name,
                "lambda": lam,
                "true_return_mean": e.get("return_mean"),
                "true_return_std": e.get("return_std"),
                "falls": e.get("falls"),
                "episodes": e.get("episodes"),
                "episode_length_mean": e.get("episode_length_mean"),
                "lin_vel_error_mean": e.get("lin_vel_error_mean"),
                "yaw_rate_error_mean": e.get("yaw_rate_error_mean"),
                "imagined_reward": s.get("imagined_reward"),
                "imagined_task_reward": s.get("imagined_task_reward"),
                "epistemic_uncertainty": s.get("epistemic_uncertainty"),
                "penalty_per_step": (s["imagined_task_reward"] - s["imagined_reward"])
                if s.get("imagined_reward") is not None and s.get("imagined_task_reward") is not None
                else None,
                "imagined_episode_length": s.get("mean_episode_length"),
                "model_check": _check_row(checks.get(name) or {}),
                "checkpoint": policies[name],
            }
        )
    modes = unc.get("modes", {})
    final_val = wm_summary.get("final_validation", {}) or {}
    data = {
        "title": "rwmu demo: RWM-U + MOPO-PPO on the MuJoCo Go2 (flat ground), small scale",
        "config": to_jsonable(config),
        "data": {
            "rows": collect_stats.get("rows"),
            "trajectories": collect_stats.get("trajectories"),
            "falls": collect_stats.get("falls"),
            "mean_step_reward": collect_stats.get("mean_step_reward"),
        },
        "world_model": {
            "iterations": wm_summary.get("iterations"),
            "val_rel_error_forecast_mean": final_val.get("val/rel_error_forecast_mean"),
            "val_no_change_rel_error_forecast_mean": final_val.get("val/no_change_rel_error_forecast_mean"),
            "best_val_rel_error_forecast_mean": wm_summary.get("best_val_rel_error_forecast_mean"),
        },
        "uncertainty": {
            mode: {
                k: m.get(k)
                for k in (
                    "pearson_all",
                    "pearson_step_averaged",
                    "spearman_all",
                    "final_l1",
                    "final_epistemic",
                    "final_aleatoric",
                )
            }
            for mode, m in modes.items()
        }
        | {"windows": unc.get("windows"), "horizon": unc.get("horizon"), "no_change": unc.get("no_change")},
        "policies": policy_rows,
        "max_return": max_return,
        "plots": plots,
        "stages": stages,
    }
    markdown = _markdown(data, config, behaviour)
    rep.write_report(out, markdown, data)
    return data


def _check_row(report: dict[str, Any]) -> dict[str, Any] | None:
    """The figures of one ``rwmu check-model`` report the demo shows (None when there is none)."""
    if not report:
        return None
    on_policy, on_data = report["policy"], report["data"]
    falls = on_policy.get("falls_rule") or on_policy.get("falls_head") or {}
    contacts = on_policy.get("contacts") or {}
    return {
        "u_ratio": report.get("u_ratio"),
        "u_policy_p50": (on_policy["u"] or {}).get("p50"),
        "u_data_p50": on_data["u"]["p50"],
        "one_step_error_policy": on_policy["one_step_rel_error"],
        "one_step_error_data": on_data["one_step_rel_error"],
        "falls_real": falls.get("real"),
        "falls_predicted": falls.get("predicted"),
        "fall_precision": falls.get("precision"),
        "fall_recall": falls.get("recall"),
        "undesired_rate_predicted": contacts.get("undesired_rate_predicted"),
        "undesired_rate_real": contacts.get("undesired_rate_real"),
    }


def _markdown(data: dict[str, Any], config: DemoConfig, behaviour: dict[str, Any]) -> str:
    optim, p = config.world_model.optim, config.policy
    lines = [f"# {data['title']}", ""]
    lines += [
        "What ran (every number below comes from this folder's files; `stages.json` has the wall times):",
        "",
        f"1. **Data**: {data['data']['rows']} rows ({data['data']['trajectories']} trajectories, "
        f"{data['data']['falls']} falls) from the {config.behaviour_label} in MuJoCo (`data/`).",
        f"2. **World model**: {describe_world_model(config.world_model)} (`world_model/`). Held-out relative "
        "error over the forecast: "
        f"{rep.format_number(data['world_model']['val_rel_error_forecast_mean'])} (no-change baseline "
        f"{rep.format_number(data['world_model']['val_no_change_rel_error_forecast_mean'])}).",
        f"3. **Uncertainty vs error** (docs/method.md section 8 protocol, {data['uncertainty'].get('windows')} "
        "held-out windows, "
        f"{data['uncertainty'].get('horizon')}-step open-loop rollouts; `uncertainty/`).",
        f"4. **MOPO-PPO** in imagination at lambda in {{{', '.join(f'{lam:g}' for lam in config.lambdas)}}}: "
        f"{p.iterations} PPO iterations x {p.env.num_envs} envs x {p.steps_per_env} steps "
        f"(`policy_lam<lambda>/`).",
        f"5. **MuJoCo evaluation** on the true, unpenalised task reward: {config.evaluation.episodes} episodes "
        f"per policy, fixed command schedules, {'with' if config.evaluation.pushes else 'no'} pushes "
        "(`evaluation/`).",
        "",
        "## True return in MuJoCo",
        "",
    ]
    rows = [
        [
            r["policy"],
            r["true_return_mean"],
            r["true_return_std"],
            f"{r['falls']}/{r['episodes']}",
            r["episode_length_mean"],
            r["lin_vel_error_mean"],
            r["imagined_reward"],
            r["imagined_task_reward"],
        ]
        for r in data["policies"]
    ]
    lines += [
        rep.markdown_table(
            [
                "policy",
                "true return",
                "std",
                "falls",
                "length",
                "lin vel err [m/s]",
                "imagined reward/step (penalised)",
                "imagined task reward/step",
            ],
            rows,
        ),
        "",
        f"Maximum possible return (perfect tracking, no penalties, full episode): "
        f"{rep.format_number(data['max_return'])}.",
        "",
        "![true return](true_return.png)",
        "",
    ]
    lines += comparison_lines(data["policies"]) + [""]
    trained = [r for r in data["policies"] if r["lambda"] is not None]
    if trained:
        lines += [
            "## Imagination against the simulator",
            "",
            "The penalty's size against the task reward, the length of imagined episodes, and `rwmu check-model` "
            "(docs/method.md section 8.4): each policy rolled in MuJoCo and replayed through the world model. "
            "A u ratio well above 1 means the policy lives where the model is unsure; falls the model misses "
            "are falls imagination never punished.",
            "",
        ]
        rows = []
        for r in trained:
            c = r.get("model_check") or {}
            rows.append(
                [
                    r["policy"],
                    r["imagined_task_reward"],
                    r["penalty_per_step"],
                    r["imagined_episode_length"],
                    c.get("u_ratio"),
                    c.get("one_step_error_policy"),
                    c.get("one_step_error_data"),
                    f"{c.get('falls_predicted')} / {c.get('falls_real')}" if c else None,
                    f"{rep.format_number(c.get('undesired_rate_predicted'))} / "
                    f"{rep.format_number(c.get('undesired_rate_real'))}"
                    if c
                    else None,
                ]
            )
        lines += [
            rep.markdown_table(
                [
                    "policy",
                    "imagined task reward/step",
                    "penalty/step",
                    "imagined episode length",
                    "u ratio (policy/data)",
                    "one-step error (policy)",
                    "one-step error (data)",
                    "falls predicted / real",
                    "undesired contacts predicted / real",
                ],
                rows,
            ),
            "",
        ]
    lines += ["## Does the uncertainty track the error?", ""]
    unc_rows = [
        [
            mode.replace("_", " "),
            m.get("pearson_all"),
            m.get("pearson_step_averaged"),
            m.get("spearman_all"),
            m.get("final_l1"),
            m.get("final_epistemic"),
            m.get("final_aleatoric"),
        ]
        for mode, m in data["uncertainty"].items()
        if isinstance(m, dict) and "pearson_all" in m
    ]
    if unc_rows:
        lines += [
            rep.markdown_table(
                [
                    "rollout mode",
                    "Pearson (all points)",
                    "Pearson (step-averaged)",
                    "Spearman (all)",
                    "final-step L1",
                    "final epistemic",
                    "final aleatoric",
                ],
                unc_rows,
            ),
            "",
        ]
    for key in ("uncertainty_by_step_plot_mean", "uncertainty_scatter_plot_mean", "uncertainty_calibration_plot"):
        if key in data["plots"]:
            lines.append(f"![{key}]({data['plots'][key]})")
    lines += [""]
    if "world_model_validation" in data["plots"]:
        lines += ["## Training curves", "", "![world model validation](world_model_validation.png)", ""]
    if "policy_training" in data["plots"]:
        lines += ["![policy training](policy_training.png)", ""]
    lines += ["## Where the time goes", ""]
    timed = [s for s in data["stages"] if s["stage"] != "report"]  # the report stage is timed after it is written
    stage_rows = [[s["stage"], s.get("seconds"), s.get("status", ""), s.get("what", "")] for s in timed]
    total = sum(s.get("seconds") or 0.0 for s in timed)
    stage_rows.append(["total (timed stages)", total, "", ""])
    lines += [rep.markdown_table(["stage", "wall time [s]", "status", "what"], stage_rows, digits=1), ""]
    lines += [
        "Skipped stages show the time of the run that produced their outputs. Writing this report takes about a "
        "second (`report.json` has its figure).",
        "",
        "## What these numbers mean at this scale",
        "",
        f"- This is a **pipeline demonstration**, not the paper's experiment: {data['data']['rows']} rows of data "
        f"(the paper-scale run uses about 1M), a {optim.iterations}-iteration world model (paper: 2500 with "
        f"GRU 2x256, M=32) and {p.iterations} PPO iterations with {p.env.num_envs} envs (paper: 2500 x 4096 x "
        "100 steps). Policies this briefly trained are far from converged; whether one scores above or below the "
        "behaviour controller here says little about the method (a policy that barely moves already earns part of "
        "the tracking reward on the slow and standing schedules).",
        "- Any difference between lambda values here, even one larger than its standard error over episodes, comes "
        "from one training seed and a short run: it does not answer whether the penalty helps. `rwmu sweep` "
        "(several seeds, longer runs; rwmu sweep or rwmu experiment run) is the tool for that question.",
        "- Imagined rewards include the uncertainty penalty (and come from the learned model): they are not task "
        "performance. Only the MuJoCo columns measure the task, on the unpenalised reward.",
        "- The uncertainty-versus-error correlations come from few windows and a small model; their sign and rough "
        "size are informative, their exact values are not.",
        "- Scale every stage with flags (`rwmu demo --help`), or `--preset paper` for the paper's settings.",
        "",
    ]
    if behaviour:
        lines += [
            f"Behaviour controller (the data's source, nominal gains, no noise): true return "
            f"{rep.format_number(behaviour.get('return_mean'))} +- "
            f"{rep.format_number(behaviour.get('return_std'))}.",
            "",
        ]
    return "\n".join(lines)


def compare_returns(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | bool] | None:
    """Difference of mean true returns ``a - b`` and its standard error from the per-episode stds.

    ``se = sqrt(std_a^2 / n_a + std_b^2 / n_b)``; ``clear`` is True when ``|difference| > 2 se`` (a rough two-sigma
    reading over episodes of one seed; it says nothing about the spread over training seeds).
    """
    keys = ("true_return_mean", "true_return_std", "episodes")
    if any(x.get(k) is None for x in (a, b) for k in keys) or not a["episodes"] or not b["episodes"]:
        return None
    diff = float(a["true_return_mean"]) - float(b["true_return_mean"])
    se = (float(a["true_return_std"]) ** 2 / a["episodes"] + float(b["true_return_std"]) ** 2 / b["episodes"]) ** 0.5
    return {"difference": diff, "standard_error": se, "clear": abs(diff) > 2 * se}


def comparison_lines(policies: list[dict[str, Any]]) -> list[str]:
    """Plain-language comparisons: each MOPO-PPO policy against the behaviour controller, and the lambdas pairwise."""
    behaviour = next((p for p in policies if p["lambda"] is None), None)
    learned = [p for p in policies if p["lambda"] is not None]
    pairs = [(p, behaviour) for p in learned if behaviour]
    pairs += [(a, b) for i, a in enumerate(learned) for b in learned[i + 1 :]]
    lines = []
    for a, b in pairs:
        c = compare_returns(a, b)
        if c is None:
            continue
        verdict = ("higher" if c["difference"] > 0 else "lower") if c["clear"] else "not distinguishable from"
        than = " than" if c["clear"] else ""
        lines.append(
            f"- {a['policy']} is {verdict}{than} {b['policy']}: difference {c['difference']:+.3f}, "
            f"standard error over episodes {c['standard_error']:.3f} (one training seed)."
        )
    return lines
