"""``rwmu sweep``: MOPO-PPO over a grid of uncertainty penalties lambda and seeds, scored on the true reward.

One run per (lambda, seed) in ``OUT/runs/lam<lambda>_seed<seed>/``: ``rwmu train-policy`` and then ``rwmu evaluate``
of its latest ``model_<k>.pt``, as subprocesses (``jobs`` of them side by side), logs in ``log.txt``. A run is
finished when its ``summary.json`` (training) and ``evaluation.json`` (MuJoCo, unpenalised reward) exist; finished
runs are skipped, a run with checkpoints but no summary continues with ``--resume``. Raising ``--iterations`` on a
finished sweep extends it: each run trained for fewer iterations resumes from its last checkpoint to the new total
and is evaluated again. Results:

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

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import tyro
from tqdm import tqdm

from rwmu.errors import RwmuError
from rwmu.experiments import report as rep
from rwmu.experiments import sweep_curve
from rwmu.experiments.paths import EVALUATION_JSON, MODEL_CHECK_JSON, SUMMARY_JSON, lambda_label, run_name
from rwmu.experiments.report import mean_ci95, mean_std
from rwmu.training.runner import latest_checkpoint
from rwmu.utils.threads import usable_cpus
from rwmu.utils.io import (
    folder_lock,
    to_jsonable,
    write_csv_atomic,
    write_json_atomic,
    write_run_config,
    write_text_atomic,
)

CSV_COLUMNS = ("lambda", "seed", "true_return_mean", "true_return_std", "episodes", "falls", "fall_rate",
               "normalized_score",
               "imagined_reward", "imagined_task_reward", "epistemic_uncertainty", "u_ratio", "fall_recall",
               "undesired_contacts_predicted", "undesired_contacts_real", "train_seconds", "run_dir")  # fmt: skip


@dataclass(frozen=True)
class SweepConfig:
    """Settings of ``rwmu sweep``."""

    world_model: str
    data: str
    lambdas: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 5.0)  # issue 5 grid
    seeds: tuple[int, ...] = (0, 1, 2)  # issue 5: 3 seeds
    jobs: int = 1  # runs side by side (each gets cpu_count // jobs torch threads)
    task: str = "go2_flat"
    episodes: int = 16  # MuJoCo episodes per policy (rwmu evaluate default)
    eval_seed: int = 0  # same evaluation episodes for every policy
    behavior: bool = True  # also evaluate the behaviour policy (the data's source)
    # the behaviour policy as rwmu evaluate --policy takes it: scripted (the demo data's), a checkpoint, an export
    behavior_policy: str = "scripted"
    # extra `rwmu train-policy` flags (e.g. --iterations 50); the command line builds them from its own flags
    train_args: tyro.conf.Suppress[tuple[str, ...]] = ()
    curve: bool = False  # also score every saved checkpoint: true return against PPO iterations (sweep_curve.*)
    report_only: bool = False  # write sweep.* from the runs finished so far; train and evaluate nothing


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
    if any(not lam >= 0 for lam in lambdas):
        raise RwmuError(f"--lambdas {','.join(map(str, lambdas))}: every lambda must be >= 0")
    if len({lambda_label(lam) for lam in lambdas}) != len(lambdas) or len(set(seeds)) != len(seeds):
        raise RwmuError("--lambdas / --seeds: values repeat")
    runs_dir = Path(out_dir) / "runs"
    return [SweepRun(float(lam), int(seed), runs_dir / run_name(lam, seed))
            for lam in lambdas for seed in seeds]  # fmt: skip


def requested_iterations(train_args: tuple[str, ...] | list[str]) -> int | None:
    """The ``--iterations`` total among ``rwmu train-policy`` flags (the last one wins, as in argparse)."""
    value = None
    for i, arg in enumerate(train_args):
        if arg == "--iterations" and i + 1 < len(train_args):
            value = train_args[i + 1]
        elif arg.startswith("--iterations="):
            value = arg.split("=", 1)[1]
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise RwmuError(f"--iterations {value!r}: not a whole number") from None


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


def rwmu_command() -> list[str]:
    """How to call the ``rwmu`` CLI of this very installation."""
    return [sys.executable, "-m", "rwmu.cli.main"]


def train_command(config: SweepConfig, run: SweepRun, resume: bool) -> list[str]:
    """``rwmu train-policy`` for one run (``config.train_args`` appended, so they override the defaults here)."""
    cmd = rwmu_command() + [
        "train-policy", "--task", config.task, "--world-model", str(config.world_model), "--data", str(config.data),
        "--out", str(run.run_dir), "--env.uncertainty-penalty", repr(run.lam), "--seed", str(run.seed),
    ]  # fmt: skip
    if resume:
        cmd.append("--resume")
    return cmd + list(config.train_args)


def evaluate_command(config: SweepConfig, policy: str, json_path: Path) -> list[str]:
    """``rwmu evaluate`` writing ``json_path`` (same episodes and seed for every policy)."""
    return rwmu_command() + ["evaluate", "--task", config.task, "--policy", policy, "--episodes",
                             str(config.episodes), "--seed", str(config.eval_seed), "--json", str(json_path),
                             "--no-progress"]  # fmt: skip


def check_command(config: SweepConfig, policy: str, json_path: Path) -> list[str]:
    """``rwmu check-model`` of one policy against the sweep's world model and data, writing ``json_path`` (as many
    MuJoCo episodes as the evaluation)."""
    return rwmu_command() + ["check-model", "--task", config.task, "--world-model", str(config.world_model), "--data",
                             str(config.data), "--policy", policy, "--seed", str(config.eval_seed), "--episodes",
                             str(config.episodes), "--json", str(json_path), "--no-progress"]  # fmt: skip


def _run_logged(cmd: list[str], log_path: Path, env: dict[str, str]) -> None:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write(f"\n$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log_path.read_text().strip().splitlines()[-1:] or [""]
        raise RwmuError(f"{' '.join(cmd[3:5])} failed (exit {proc.returncode}): {tail[0][:200]}; see {log_path}")


def execute_run(config: SweepConfig, run: SweepRun, env: dict[str, str]) -> str:
    """Train (or continue), evaluate and check the model on one run; return the state it started from."""
    state = run_state(run, requested_iterations(config.train_args))
    log_path = run.run_dir / "log.txt"
    if state in ("new", "partial"):
        _run_logged(train_command(config, run, resume=state == "partial"), log_path, env)
    if state != "finished":
        _run_logged(evaluate_command(config, str(latest_checkpoint(run.run_dir)), run.run_dir / EVALUATION_JSON),
                    log_path, env)  # fmt: skip
    if state != "finished" or not (run.run_dir / MODEL_CHECK_JSON).is_file():  # a new policy gets a new check
        _run_logged(check_command(config, str(latest_checkpoint(run.run_dir)), run.run_dir / MODEL_CHECK_JSON),
                    log_path, env)  # fmt: skip
    return state


def thread_env(jobs: int) -> dict[str, str]:
    """Environment of the subprocesses: CPU threads split between the jobs running side by side."""
    env = dict(os.environ)
    threads = max(1, usable_cpus() // max(jobs, 1))
    env.setdefault("OMP_NUM_THREADS", str(threads))
    env.setdefault("MKL_NUM_THREADS", str(threads))
    return env


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


AGGREGATED_KEYS = ("true_return_mean", "fall_rate", "normalized_score", "imagined_reward", "imagined_task_reward",
                   "epistemic_uncertainty")


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
        rows.append({"lambda": lam, "baseline_lambda": base, "seeds": seeds, "difference_mean": mean,
                     "difference_ci95": ci, "seeds_above": sum(d > 0 for d in diffs)})  # fmt: skip
    return rows


def write_results(out_dir: str | Path, records: list[dict[str, Any]], behavior: dict[str, Any] | None,
                  config: SweepConfig | None = None, pending: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
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
        rep.plot_sweep(out / "sweep.png", aggregated, behavior_return=behavior_return,
                       title=f"MOPO-PPO lambda sweep ({len(records)} runs)")  # fmt: skip
    data = {
        "config": to_jsonable(config) if config is not None else None,
        "runs": records,
        "aggregated": aggregated,
        "paired": paired,
        "behavior": None if not behavior else {k: behavior.get(k) for k in
                                                ("policy", "return_mean", "return_std", "episodes", "falls",
                                                 "fall_rate", "normalized_score")},
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
    rows = [[a["lambda"], len(a["seeds"]), a["true_return_mean"], a["true_return_ci95"], a["true_return_std"],
             a["normalized_score_mean"], f"{a['falls']}/{a['episodes']}", a["imagined_reward_mean"],
             a["imagined_task_reward_mean"]] for a in aggregated]  # fmt: skip
    md = ["# MOPO-PPO lambda sweep", "",
          rep.markdown_table(["lambda", "seeds", "true return (mean)", "95 % interval +-", "std over seeds",
                              "normalised score", "falls", "imagined reward/step", "imagined task reward/step"],
                             rows), ""]  # fmt: skip
    if paired:
        md += ["Paired by seed (the same seed draws the same initial actor and branched starts):", "",
               rep.markdown_table(["lambda", "minus lambda", "seeds", "difference in true return (mean)",
                                   "95 % interval +-", "seeds above"],
                                  [[p["lambda"], p["baseline_lambda"], len(p["seeds"]), p["difference_mean"],
                                    p["difference_ci95"], f"{p['seeds_above']}/{len(p['seeds'])}"] for p in paired]),
               ""]  # fmt: skip
    if behavior_return is not None:
        md += [f"Behaviour policy ({behavior.get('policy')}): true return {rep.format_number(behavior_return)} +- "
               f"{rep.format_number(behavior.get('return_std'))} over {behavior.get('episodes')} episodes.", ""]
    if pending:
        md += [f"Not finished yet: {', '.join(pending)}.", ""]
    md += ["![sweep](sweep.png)" if aggregated else "(no finished run yet)", ""]
    write_text_atomic(out / "sweep.md", "\n".join(md))
    return data


def _evaluate_checkpoints(config: SweepConfig, runs: list[SweepRun], pool: ThreadPoolExecutor,
                          env: dict[str, str], log: Callable[[str], None]) -> list[str]:  # fmt: skip
    """Score every saved checkpoint of ``runs`` not scored yet (``rwmu sweep --curve``); return failure lines."""
    todo = sweep_curve.pending_evaluations([r.run_dir for r in runs])
    log(f"[sweep] true-return curve: {len(todo)} checkpoint(s) to evaluate")
    futures = {pool.submit(_run_logged, evaluate_command(config, str(ckpt), json_path),
                           ckpt.parent / "log.txt", env): str(ckpt) for ckpt, json_path in todo}  # fmt: skip
    return _wait_for(futures, "checkpoints", "ckpt")


def _wait_for(futures: dict[Any, str], desc: str, unit: str,
              log: Callable[[str], None] | None = None) -> list[str]:  # fmt: skip
    """Wait for every job (``future -> name``) under a progress bar; return ``"<name>: <error>"`` per failure."""
    failures = []
    with tqdm(total=len(futures), desc=desc, unit=unit, dynamic_ncols=True) as bar:
        for future, name in futures.items():
            try:
                future.result()
            except RwmuError as err:
                failures.append(f"{name}: {err}")
                if log is not None:
                    log(f"[sweep] {name} failed: {err}")
            bar.update(1)
    return failures


def write_sweep_report(out: Path, config: SweepConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Write ``sweep.*`` (and ``sweep_curve.*`` with ``config.curve``) from the finished runs; train nothing."""
    runs = plan_runs(out, config.lambdas, config.seeds)
    iterations = requested_iterations(config.train_args)
    behavior_path = out / "behavior_evaluation.json"
    records = [rec for rec in (read_run_record(r, iterations) for r in runs) if rec is not None]
    pending = [r.name for r in runs if run_state(r, iterations) != "finished"]
    behavior = json.loads(behavior_path.read_text()) if behavior_path.is_file() else None
    data = write_results(out, records, behavior, config, pending)
    if config.curve:
        sweep_curve.write_curve(out, sweep_curve.curve_records(runs), behavior.get("return_mean") if behavior else None)
    return data, records


# ------------------------------------------------------------------------------------------------------------------
def run_sweep(out_dir: str | Path, config: SweepConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train and evaluate every unfinished run, ``config.jobs`` at a time, then write the results.

    The folder is locked for the duration: a second ``rwmu sweep`` on it fails at once with a clear error.
    """
    if config.jobs < 1 or config.episodes < 1:
        raise RwmuError("--jobs and --episodes must be >= 1")
    for name, path in (("--world-model", config.world_model), ("--data", config.data)):
        if not Path(path).exists():
            raise RwmuError(f"{name} {path}: no such file or folder")
    requested_iterations(config.train_args)  # a malformed --iterations fails here, before anything is written
    if config.report_only:
        data, records = write_sweep_report(Path(out_dir), config)
        log(f"[sweep] report from {len(records)} finished run(s): {Path(out_dir) / 'sweep.md'}")
        return data
    with folder_lock(out_dir, "rwmu sweep"):
        return _run_sweep_locked(Path(out_dir), config, log)


def _run_sweep_locked(out: Path, config: SweepConfig, log: Callable[[str], None]) -> dict[str, Any]:
    runs = plan_runs(out, config.lambdas, config.seeds)
    out.mkdir(parents=True, exist_ok=True)
    write_run_config(out, {"sweep": config})
    env = thread_env(config.jobs)
    iterations = requested_iterations(config.train_args)
    todo = [r for r in runs if run_state(r, iterations) != "finished"]
    log(f"[sweep] {len(runs)} runs, {len(runs) - len(todo)} finished already, {len(todo)} to do, "
        f"{config.jobs} at a time; logs in {out / 'runs'}/<run>/log.txt")  # fmt: skip
    behavior_path = out / "behavior_evaluation.json"
    failures: list[str] = []
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=config.jobs) as pool:
        futures = {pool.submit(execute_run, config, r, env): r.name for r in todo}
        behavior_future = None
        if config.behavior and not behavior_path.is_file():
            behavior_future = pool.submit(_run_logged, evaluate_command(config, config.behavior_policy, behavior_path),
                                          out / "behavior_log.txt", env)  # fmt: skip
        failures += _wait_for(futures, "sweep", "run", log)
        if behavior_future is not None:
            try:
                behavior_future.result()
            except RwmuError as err:
                failures.append(f"behaviour evaluation: {err}")
        if config.curve:
            failures += _evaluate_checkpoints(config, [r for r in runs if run_state(r, iterations) == "finished"],
                                              pool, env, log)  # fmt: skip
    data, records = write_sweep_report(out, config)
    log(f"[sweep] {len(records)}/{len(runs)} runs finished in {time.perf_counter() - start:.0f} s; wrote "
        f"{out / 'sweep.csv'}, sweep.json, sweep.png, sweep.md")  # fmt: skip
    if failures:
        raise RwmuError(f"{len(failures)} run(s) failed (first: {failures[0]}); re-run the same command to retry")
    return data
