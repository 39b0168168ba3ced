"""``rwmu sweep``: MOPO-PPO over a grid of uncertainty penalties lambda and seeds, scored on the true reward.

One run per (lambda, seed) in ``OUT/runs/lam<lambda>_seed<seed>/``: a policy job (:mod:`rwmu.experiments.jobs`) whose
``job.json`` holds the typed training config (the ``policy`` config given, at that lambda and seed), then the MuJoCo
score of its latest ``model_<k>.pt`` and ``rwmu check-model``, in worker processes (``jobs`` of them side by side),
logs in ``log.txt``. A run is finished when its ``summary.json`` (training), ``evaluation.json`` (MuJoCo, unpenalised
reward) and ``model_check.json`` exist; finished runs are skipped, a run with checkpoints but no summary continues
from its last one. Raising the iterations on a finished sweep extends it: each run trained for fewer iterations
resumes from its last checkpoint to the new total and is scored again. Results:

- ``sweep.csv``: one row per run (lambda, seed, true return mean/std over episodes, falls, imagined rewards, and
  from ``rwmu check-model``: u on the policy's states relative to the data, the recall of its real falls, predicted
  and real undesired-contact rates);
- ``sweep.json``: per-run records, per-lambda aggregates (mean and sample std over seeds), each lambda's per-seed
  difference from the smallest lambda (:func:`paired_differences`) and the behaviour controller's return;
- ``sweep.png``: true return against lambda with std error bars, imagined rewards (penalised and task-only);
- with ``curve``: ``sweep_curve.csv`` / ``sweep_curve.png``, the true return of every saved checkpoint
  (:mod:`rwmu.experiments.sweep_curve`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.experiments import report as rep
from rwmu.experiments import sweep_curve
from rwmu.experiments.backend import backend_session, check_backend, run_jobs_on
from rwmu.experiments.backend_config import BackendConfig
from rwmu.experiments.jobs import Job, evaluate_job, policy_job
from rwmu.experiments.paths import EVALUATION_JSON, MODEL_CHECK_JSON, SUMMARY_JSON, lambda_label, run_name
from rwmu.experiments.report import mean_ci95, mean_std
from rwmu.experiments.sweep_config import SweepConfig
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.utils.io import (
    folder_lock,
    to_jsonable,
    write_csv_atomic,
    write_json_atomic,
    write_run_config,
    write_text_atomic,
)

CSV_COLUMNS = (
    "lambda",
    "seed",
    "true_return_mean",
    "true_return_std",
    "episodes",
    "falls",
    "fall_rate",
    "normalized_score",
    "imagined_reward",
    "imagined_task_reward",
    "epistemic_uncertainty",
    "u_ratio",
    "fall_recall",
    "undesired_contacts_predicted",
    "undesired_contacts_real",
    "train_seconds",
    "run_dir",
)


@dataclass(frozen=True)
class SweepRun:
    """One (lambda, seed) cell of the grid."""

    lam: float
    seed: int
    run_dir: Path

    @property
    def name(self) -> str:
        return self.run_dir.name


def plan_runs(out_dir: str | Path, lambdas: tuple[float, ...], seeds: tuple[int, ...]) -> list[SweepRun]:
    """Every (lambda, seed) run, lambda-major, in ``out_dir/runs/lam<lambda>_seed<seed>``."""
    if not lambdas or not seeds:
        raise RwmuError("--lambdas and --seeds need at least one value each")
    if any(not (math.isfinite(lam) and lam >= 0) for lam in lambdas):
        raise RwmuError(f"--lambdas {' '.join(map(str, lambdas))}: every lambda must be a finite number >= 0")
    if len({lambda_label(lam) for lam in lambdas}) != len(lambdas) or len(set(seeds)) != len(seeds):
        raise RwmuError("--lambdas / --seeds: values repeat")
    runs_dir = Path(out_dir) / "runs"
    return [SweepRun(float(lam), int(seed), runs_dir / run_name(lam, seed)) for lam in lambdas for seed in seeds]


def run_state(run: SweepRun, iterations: int | None = None) -> str:
    """``finished`` (summary + evaluation), ``trained`` (summary only), ``partial`` (checkpoints, or a summary with
    fewer than ``iterations`` iterations: training continues to that total) or ``new``."""
    has_summary = (run.run_dir / SUMMARY_JSON).is_file()
    if has_summary and iterations is not None:
        done = json.loads((run.run_dir / SUMMARY_JSON).read_text()).get("iterations")
        if isinstance(done, int) and done < iterations:
            return "partial"
    if has_summary and (run.run_dir / EVALUATION_JSON).is_file():
        return "finished"
    if has_summary:
        return "trained"
    if run.run_dir.is_dir() and any(run.run_dir.glob("model_*.pt")):
        return "partial"
    return "new"


def run_jobs_of(config: SweepConfig, policy: PolicyTrainingConfig, runs: list[SweepRun], **extra: Any) -> list[Job]:
    """The policy job of every run: ``policy`` at the run's lambda and seed, scored and checked with the sweep's
    episodes and evaluation seed; ``extra`` is recorded in each ``job.json`` (e.g. the recipe, reward weights)."""
    check = ModelCheckConfig(episodes=config.episodes, seed=config.eval_seed)
    jobs = []
    for run in runs:
        run_config = dataclasses.replace(
            policy, seed=run.seed, env=dataclasses.replace(policy.env, uncertainty_penalty=run.lam)
        )
        jobs.append(
            policy_job(
                run.run_dir,
                config.task,
                config.world_model,
                config.data,
                run_config,
                config.evaluation(),
                check,
                f"lambda {run.lam:g} seed {run.seed}",
                **extra,
            )
        )
    return jobs


# ------------------------------------------------------------------------------------------------------------------
# Results
def read_run_record(run: SweepRun, iterations: int | None = None) -> dict[str, Any] | None:
    """The CSV / JSON record of a finished run (None if it is not finished)."""
    if run_state(run, iterations) != "finished":
        return None
    summary = json.loads((run.run_dir / SUMMARY_JSON).read_text())
    evaluation = json.loads((run.run_dir / EVALUATION_JSON).read_text())
    check_path = run.run_dir / MODEL_CHECK_JSON
    check = json.loads(check_path.read_text()) if check_path.is_file() else {}
    on_policy = check.get("policy", {})
    falls = on_policy.get("falls_rule") or on_policy.get("falls_head") or {}
    contacts = on_policy.get("contacts") or {}
    return {
        "lambda": run.lam,
        "seed": run.seed,
        "true_return_mean": evaluation.get("return_mean"),
        "true_return_std": evaluation.get("return_std"),
        "episodes": evaluation.get("episodes"),
        "falls": evaluation.get("falls"),
        "fall_rate": evaluation.get("fall_rate"),
        "normalized_score": evaluation.get("normalized_score"),
        "imagined_reward": summary.get("imagined_reward"),
        "imagined_task_reward": summary.get("imagined_task_reward"),
        "epistemic_uncertainty": summary.get("epistemic_uncertainty"),
        "u_ratio": check.get("u_ratio"),  # rwmu check-model: median u on the policy's states / on the data
        "fall_recall": falls.get("recall"),  # share of the policy's real falls that imagination predicts
        "undesired_contacts_predicted": contacts.get("undesired_rate_predicted"),
        "undesired_contacts_real": contacts.get("undesired_rate_real"),
        "train_seconds": summary.get("wall_time_s"),
        "run_dir": str(run.run_dir),
    }


AGGREGATED_KEYS = (
    "true_return_mean",
    "fall_rate",
    "normalized_score",
    "imagined_reward",
    "imagined_task_reward",
    "epistemic_uncertainty",
)


def aggregate_runs(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per lambda (ascending): number of seeds, and mean / sample std over seeds of each per-run value.

    ``true_return`` is the per-run mean return over MuJoCo episodes, so ``true_return_std`` is the spread across
    seeds (not across episodes), and ``true_return_ci95`` the half-width of the 95 % Student-t interval of the mean
    over seeds (NaN with one seed). Keys: ``lambda``, ``seeds``, ``true_return_mean``, ``true_return_std``,
    ``true_return_ci95``, ``normalized_score_mean``/``_std``, ``fall_rate_mean``/``_std``, ``falls`` and
    ``episodes`` (summed over seeds), ``imagined_reward_mean``/``_std``, ``imagined_task_reward_mean``/``_std``,
    ``epistemic_uncertainty_mean``/``_std``.
    """
    by_lambda: dict[float, list[dict[str, Any]]] = {}
    for r in records:
        by_lambda.setdefault(float(r["lambda"]), []).append(r)
    rows = []
    for lam in sorted(by_lambda):
        group = by_lambda[lam]
        row: dict[str, Any] = {"lambda": lam, "seeds": sorted(int(r["seed"]) for r in group)}
        for key in AGGREGATED_KEYS:
            name = "true_return" if key == "true_return_mean" else key
            row[f"{name}_mean"], row[f"{name}_std"] = mean_std([r.get(key) for r in group])
        row["true_return_ci95"] = mean_ci95([r.get("true_return_mean") for r in group])[1]
        row["falls"] = sum(int(r.get("falls") or 0) for r in group)
        row["episodes"] = sum(int(r.get("episodes") or 0) for r in group)
        rows.append(row)
    return rows


def paired_differences(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each lambda against the smallest one (lambda = 0 in a MOPO grid) on the seeds both finished.

    Runs of one seed share what the seed draws apart from lambda (the initial or cloned actor, the first branched
    starts, the PPO noise stream), so the per-seed difference of true returns measures the penalty's effect without the spread between
    seeds: a paired comparison, tighter than comparing the two per-lambda intervals. Keys per lambda above the
    smallest: ``lambda``, ``baseline_lambda``, ``seeds`` (shared), ``difference_mean`` and ``difference_ci95`` (95 %
    Student-t half-width of the mean per-seed difference; NaN with one seed) and ``seeds_above`` (how many seeds
    score higher than the baseline).
    """
    returns: dict[float, dict[int, float]] = {}
    for r in records:
        if r.get("true_return_mean") is not None:
            returns.setdefault(float(r["lambda"]), {})[int(r["seed"])] = float(r["true_return_mean"])
    if len(returns) < 2:
        return []
    base = min(returns)
    rows = []
    for lam in sorted(returns)[1:]:
        seeds = sorted(set(returns[lam]) & set(returns[base]))
        diffs = [returns[lam][s] - returns[base][s] for s in seeds]
        mean, ci = mean_ci95(diffs)
        rows.append(
            {
                "lambda": lam,
                "baseline_lambda": base,
                "seeds": seeds,
                "difference_mean": mean,
                "difference_ci95": ci,
                "seeds_above": sum(d > 0 for d in diffs),
            }
        )
    return rows


def write_results(
    out_dir: str | Path,
    records: list[dict[str, Any]],
    behavior: dict[str, Any] | None,
    config: SweepConfig | None = None,
    pending: list[str] | None = None,
) -> dict[str, Any]:
    """Write ``sweep.csv`` (one row per run, columns :data:`CSV_COLUMNS`), ``sweep.json``, ``sweep.png`` and
    ``sweep.md``; return the JSON dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda r: (float(r["lambda"]), int(r["seed"])))
    aggregated = aggregate_runs(records)
    paired = paired_differences(records)
    behavior_return = behavior.get("return_mean") if behavior else None
    write_csv_atomic(out / "sweep.csv", CSV_COLUMNS, records)
    if aggregated:
        rep.plot_sweep(
            out / "sweep.png",
            aggregated,
            behavior_return=behavior_return,
            title=f"MOPO-PPO lambda sweep ({len(records)} runs)",
        )
    data = {
        "config": to_jsonable(config) if config is not None else None,
        "runs": records,
        "aggregated": aggregated,
        "paired": paired,
        "behavior": None
        if not behavior
        else {
            k: behavior.get(k)
            for k in ("policy", "return_mean", "return_std", "episodes", "falls", "fall_rate", "normalized_score")
        },
        "pending": pending or [],
        "definitions": {
            "true_return_mean": "per run: mean MuJoCo return over episodes (unpenalised task reward)",
            "aggregated.*_std": "sample std (ddof=1) over seeds of the per-run values; 0 with one seed",
            "aggregated.true_return_ci95": "half-width of the 95 % Student-t interval of the mean over seeds",
            "paired": "per lambda: its true return minus the smallest lambda's on the same seed, mean and 95 % "
            "Student-t half-width over the shared seeds, and how many seeds score higher",
            "normalized_score": "rwmu evaluate's: 0 = standing still (zero actions), 1 = the shipped expert",
            "imagined_reward": "mean reward per imagined env step over the last PPO iteration, penalty included",
            "imagined_task_reward": "the same without the uncertainty penalty",
        },
    }
    write_json_atomic(out / "sweep.json", data)
    rows = [
        [
            a["lambda"],
            len(a["seeds"]),
            a["true_return_mean"],
            a["true_return_ci95"],
            a["true_return_std"],
            a["normalized_score_mean"],
            f"{a['falls']}/{a['episodes']}",
            a["imagined_reward_mean"],
            a["imagined_task_reward_mean"],
        ]
        for a in aggregated
    ]
    md = [
        "# MOPO-PPO lambda sweep",
        "",
        rep.markdown_table(
            [
                "lambda",
                "seeds",
                "true return (mean)",
                "95 % interval +-",
                "std over seeds",
                "normalised score",
                "falls",
                "imagined reward/step",
                "imagined task reward/step",
            ],
            rows,
        ),
        "",
    ]
    if paired:
        md += [
            "Paired by seed (the same seed draws the same initial actor and branched starts):",
            "",
            rep.markdown_table(
                [
                    "lambda",
                    "minus lambda",
                    "seeds",
                    "difference in true return (mean)",
                    "95 % interval +-",
                    "seeds above",
                ],
                [
                    [
                        p["lambda"],
                        p["baseline_lambda"],
                        len(p["seeds"]),
                        p["difference_mean"],
                        p["difference_ci95"],
                        f"{p['seeds_above']}/{len(p['seeds'])}",
                    ]
                    for p in paired
                ],
            ),
            "",
        ]
    if behavior_return is not None:
        md += [
            f"Behaviour policy ({behavior.get('policy')}): true return {rep.format_number(behavior_return)} +- "
            f"{rep.format_number(behavior.get('return_std'))} over {behavior.get('episodes')} episodes.",
            "",
        ]
    if pending:
        md += [f"Not finished yet: {', '.join(pending)}.", ""]
    md += ["![sweep](sweep.png)" if aggregated else "(no finished run yet)", ""]
    write_text_atomic(out / "sweep.md", "\n".join(md))
    return data


def write_sweep_report(
    out: Path, config: SweepConfig, iterations: int | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write ``sweep.*`` (and ``sweep_curve.*`` with ``config.curve``) from the runs finished at ``iterations``
    (None: at any length); train nothing."""
    runs = plan_runs(out, config.lambdas, config.seeds)
    behavior_path = out / "behavior_evaluation.json"
    records = [rec for rec in (read_run_record(r, iterations) for r in runs) if rec is not None]
    pending = [r.name for r in runs if run_state(r, iterations) != "finished"]
    behavior = json.loads(behavior_path.read_text()) if behavior_path.is_file() else None
    data = write_results(out, records, behavior, config, pending)
    if config.curve:
        sweep_curve.write_curve(out, sweep_curve.curve_records(runs), behavior.get("return_mean") if behavior else None)
    return data, records


# ------------------------------------------------------------------------------------------------------------------
def run_sweep(
    out_dir: str | Path,
    config: SweepConfig,
    policy: PolicyTrainingConfig,
    log: Callable[[str], None] = print,
    backend: BackendConfig = BackendConfig(),
    **extra: Any,
) -> dict[str, Any]:
    """Train (``policy`` at each lambda and seed), score and check every unfinished run, ``config.jobs`` at a time
    on this machine or as Ray tasks (``backend``), then write the results; ``extra`` is recorded in every run's
    ``job.json``.

    The folder is locked for the duration: a second ``rwmu sweep`` on it fails at once with a clear error.
    """
    if config.jobs < 1 or config.episodes < 1:
        raise RwmuError("--jobs and --episodes must be >= 1")
    plan_runs(out_dir, config.lambdas, config.seeds)  # the grid checked before the folder is touched
    for name, path in (("--world-model", config.world_model), ("--data", config.data)):
        if not Path(path).exists():
            raise RwmuError(f"{name} {path}: no such file or folder")
    if config.report_only:
        data, records = write_sweep_report(Path(out_dir), config, policy.iterations)
        log(f"[sweep] report from {len(records)} finished run(s): {Path(out_dir) / 'sweep.md'}")
        return data
    check_backend(backend)
    with folder_lock(out_dir, "rwmu sweep"), backend_session(backend, Path(out_dir)):
        return _run_sweep_locked(Path(out_dir), config, policy, log, backend, extra)


def _run_sweep_locked(
    out: Path,
    config: SweepConfig,
    policy: PolicyTrainingConfig,
    log: Callable[[str], None],
    backend: BackendConfig,
    extra: dict[str, Any],
) -> dict[str, Any]:
    runs = plan_runs(out, config.lambdas, config.seeds)
    out.mkdir(parents=True, exist_ok=True)
    write_run_config(out, {"sweep": config, "policy": policy, "backend": backend, **extra})
    jobs = run_jobs_of(config, policy, runs, **extra)
    if config.behavior:
        label = f"behaviour policy {config.behavior_policy}"
        behavior = evaluate_job(
            out / "behavior_evaluation.json", config.task, config.behavior_policy, config.evaluation(), label
        )
        jobs.append(behavior)
    start = time.perf_counter()
    failures = run_jobs_on(backend, jobs, config.jobs, "sweep", log)
    if config.curve:
        finished = [r.run_dir for r in runs if run_state(r, policy.iterations) == "finished"]
        curve = [
            evaluate_job(json_path, config.task, str(ckpt), config.evaluation(), f"checkpoint {ckpt}")
            for ckpt, json_path in sweep_curve.pending_evaluations(finished)
        ]
        failures += run_jobs_on(backend, curve, config.jobs, "checkpoints", log)
    data, records = write_sweep_report(out, config, policy.iterations)
    log(
        f"[sweep] {len(records)}/{len(runs)} runs finished in {time.perf_counter() - start:.0f} s; wrote "
        f"{out / 'sweep.csv'}, sweep.json, sweep.png, sweep.md"
    )
    if failures:
        raise RwmuError(f"{len(failures)} run(s) failed (first: {failures[0]}); re-run the same command to retry")
    return data
