"""``rwmu experiment run``: everything an experiment file declares, resumable run by run.

Layout of ``OUT`` (one experiment owns its folder)::

    experiment.toml, config.json            the file as run, and the resolved configs with the rwmu version
    <dataset>/data/                         collected data (when the file says collect)
    <dataset>/behavior.json                 the data's policy in MuJoCo (when the file names it)
    <dataset>/wm_<world model>/             one world model per dataset and recipe world model
    <dataset>/<recipe>/runs/lam<l>_seed<s>/ job.json, log.txt, rsl_rl checkpoints, summary.json, evaluation.json,
                                            model_check.json
    <dataset>/<recipe>/sweep.{md,csv,json,png}   per recipe: per lambda mean and 95 % interval, paired differences
    policies/<dataset>/<recipe>_lam<l>_seed<s>/  every policy as ONNX (policy.onnx, policy.json)
    policies.json                           their manifest entries (rwmu manifest)
    table.{md,csv,json}                     dataset x recipe x lambda: return, interval, normalised score, falls
    <dataset>/<recipe>/signals_<world model>/lam<l>_seed<s>/   ``[[study]]``: rwmu signals of one policy
    signals/table.{md,csv,json}, roc_*.png  the studies pooled per dataset, recipe, lambda and world model

Jobs (world models, then policy runs) run ``jobs`` at a time, each in a ``python -m rwmu.experiments.worker``
process reading its typed ``job.json``; CPU threads are split between them. A finished job is skipped, an
interrupted one continues from its last checkpoint. A run folder whose ``job.json`` differs from the job now
declared is refused: change the experiment, change ``OUT``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments import report as rep
from rwmu.experiments import sweep
from rwmu.experiments.backend import run_jobs_on
from rwmu.experiments.backend_config import BackendConfig
from rwmu.experiments.experiment_file import ExperimentSpec, GridSpec, StudySpec
from rwmu.experiments.jobs import Job, claim, evaluate_job, policy_job, signals_job
from rwmu.experiments.manifest import copy_published_files, manifest_entry, write_manifest
from rwmu.experiments.paths import EXPORT_DIR, lambda_label, run_name
from rwmu.experiments.signal_table import write_signal_table
from rwmu.recipes import get_recipe
from rwmu.training.export import EXPORT_FILES
from rwmu.utils.io import to_jsonable, write_csv_atomic, write_json_atomic, write_run_config, write_text_atomic
from rwmu.version import __version__

TABLE_COLUMNS = (
    "dataset",
    "recipe",
    "lambda",
    "seeds",
    "return_mean",
    "return_ci95",
    "normalized_score",
    "falls",
    "episodes",
    "paired_vs_lambda0",
    "paired_ci95",
)


Cell = tuple[str, str, float, int]
"""(dataset, recipe, lambda, seed)"""


def world_model_folder(out: Path, dataset: str, recipe_name: str, grid: GridSpec) -> Path:
    """``<dataset>/wm_<recipe world model>``, with a digest of the block's world-model override if it has one."""
    name = get_recipe(recipe_name).world_model
    if grid.world_model:
        name += "_" + hashlib.sha256(json.dumps(grid.world_model, sort_keys=True).encode()).hexdigest()[:8]
    return out / dataset / f"wm_{name}"


def plan_world_models(spec: ExperimentSpec, out: Path, data: dict[str, str]) -> dict[Path, Job]:
    """One world-model job per (dataset, recipe world model and block override) the grid and the studies need."""
    jobs = {}
    study_cells = [(d, r, lam, s, study_grid(study)) for study in spec.studies for d, r, lam, s in study.cells()]
    for dataset, recipe_name, _, _, grid in [*spec.cells(), *study_cells]:
        folder = world_model_folder(out, dataset, recipe_name, grid)
        if folder not in jobs:
            config = dataclasses.replace(grid.world_model_config(recipe_name), progress=False)
            jobs[folder] = Job(
                "world_model",
                folder,
                {"task": spec.task, "data": data[dataset], "config": to_jsonable(config)},
                f"{dataset} {folder.name}",
            )
    return jobs


def run_dir(out: Path, dataset: str, recipe: str, lam: float, seed: int) -> Path:
    return out / dataset / recipe / "runs" / run_name(lam, seed)


def plan_policies(spec: ExperimentSpec, out: Path, data: dict[str, str], device: str = "cpu") -> list[Job]:
    """One policy job per grid cell, with the recipe's config at that lambda and seed."""
    evaluation = EvaluationConfig(episodes=spec.evaluation.episodes, seed=spec.evaluation.seed)
    check = ModelCheckConfig(episodes=spec.evaluation.episodes, seed=spec.evaluation.seed)
    jobs = []
    for dataset, recipe_name, lam, seed, grid in spec.cells():
        recipe = get_recipe(recipe_name)
        config = grid.policy_config(recipe_name)
        config = dataclasses.replace(
            config, seed=seed, device=device, env=dataclasses.replace(config.env, uncertainty_penalty=lam)
        )
        world_model = world_model_folder(out, dataset, recipe_name, grid) / "model_best.pt"
        check_config = check if spec.evaluation.check_model else None
        label = f"{dataset} {recipe.name} lambda {lam:g} seed {seed}"
        folder = run_dir(out, dataset, recipe.name, lam, seed)
        jobs.append(
            policy_job(
                folder,
                spec.task,
                world_model,
                data[dataset],
                config,
                evaluation,
                check_config,
                label,
                recipe=recipe.name,
                recipe_version=recipe.version,
            )
        )
    return jobs


def study_grid(study: StudySpec) -> GridSpec:
    """The grid block a study's world models are planned as: the same recipe world model and override as a grid
    block gives the same folder, so a study of the experiment's own runs reads their world model."""
    return GridSpec(study.datasets, study.recipes, study.lambdas, study.seeds, world_model=study.world_model)


def study_cells(spec: ExperimentSpec, out: Path) -> list[tuple[StudySpec, Cell, Path, Path]]:
    """Every study cell with its world model's folder and its own folder,
    ``<dataset>/<recipe>/signals_<world model folder>/lam<l>_seed<s>``: a study of the same policy with another
    world model (e.g. independent bases) has its own folder."""
    cells = []
    for study in spec.studies:
        for dataset, recipe, lam, seed in study.cells():
            world_model = world_model_folder(out, dataset, recipe, study_grid(study))
            folder = out / dataset / recipe / f"signals_{world_model.name}" / run_name(lam, seed)
            cells.append((study, (dataset, recipe, lam, seed), world_model, folder))
    return cells


def plan_studies(spec: ExperimentSpec, out: Path, data: dict[str, str]) -> list[Job]:
    """One ``rwmu signals`` job per study cell."""
    jobs = []
    for study, (dataset, recipe, lam, seed), world_model, folder in study_cells(spec, out):
        # the pattern's policy (checked to exist by read_experiment), or this experiment's run of the cell
        policy = study.policy(dataset, recipe, lam, seed) or str(
            run_dir(out, dataset, recipe, lam, seed) / EXPORT_DIR / EXPORT_FILES["onnx"]
        )
        label = f"signals {dataset} {recipe} lambda {lam:g} seed {seed}"
        jobs.append(
            signals_job(folder, spec.task, world_model / "model_best.pt", data[dataset], policy, spec.signals, label)
        )
    return jobs


def study_groups(spec: ExperimentSpec, out: Path) -> dict[tuple[str, str, float, str], list[Path]]:
    """(dataset, recipe, lambda, world model folder) -> the study folders of its seeds."""
    groups: dict[tuple[str, str, float, str], list[Path]] = {}
    for _, (dataset, recipe, lam, _), world_model, folder in study_cells(spec, out):
        groups.setdefault((dataset, recipe, lam, world_model.name), []).append(folder)
    return groups


def plan_behavior(spec: ExperimentSpec, out: Path) -> list[Job]:
    """The data's own policy of every dataset that names one, scored as the runs are."""
    jobs = []
    for name, dataset in spec.datasets.items():
        if dataset.behavior is None:
            continue
        config = EvaluationConfig(
            episodes=spec.evaluation.episodes, seed=spec.evaluation.seed, action_noise=dataset.behavior.action_noise
        )
        policy = dataset.behavior.policy
        jobs.append(evaluate_job(out / name / "behavior.json", spec.task, policy, config, f"{name} behaviour policy"))
    return jobs


# ------------------------------------------------------------------------------------------------------------------
# Results


def finished_records(spec: ExperimentSpec, out: Path) -> dict[Cell, dict[str, Any]]:
    """The run record (:func:`rwmu.experiments.sweep.read_run_record`) of every finished cell, read once for the
    tables and the exports."""
    records = {}
    for dataset, recipe, lam, seed, _ in spec.cells():
        record = sweep.read_run_record(sweep.SweepRun(lam, seed, run_dir(out, dataset, recipe, lam, seed)))
        if record is not None:
            records[(dataset, recipe, lam, seed)] = record
    return records


def write_tables(spec: ExperimentSpec, out: Path, records: dict[Cell, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (dataset, recipe): ``sweep.*``; for the experiment: ``table.*``; returns the table's rows."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (dataset, recipe, _, _), record in records.items():
        grouped.setdefault((dataset, recipe), []).append(record)
    rows: list[dict[str, Any]] = []
    for name in spec.datasets:
        behavior_path = out / name / "behavior.json"
        behavior = json.loads(behavior_path.read_text()) if behavior_path.is_file() else None
        if behavior is not None:
            rows.append(
                {
                    "dataset": name,
                    "recipe": "behaviour policy",
                    "lambda": None,
                    "seeds": None,
                    "return_mean": behavior["return_mean"],
                    "return_ci95": None,
                    "normalized_score": behavior.get("normalized_score"),
                    "falls": behavior["falls"],
                    "episodes": behavior["episodes"],
                }
            )
        for (dataset, recipe), recipe_records in grouped.items():
            if dataset != name:
                continue
            data = sweep.write_results(out / dataset / recipe, recipe_records, behavior)
            paired = {p["lambda"]: p for p in data["paired"] if p["baseline_lambda"] == 0.0}
            for agg in data["aggregated"]:
                p = paired.get(agg["lambda"])
                rows.append(
                    {
                        "dataset": dataset,
                        "recipe": recipe,
                        "lambda": agg["lambda"],
                        "seeds": len(agg["seeds"]),
                        "return_mean": agg["true_return_mean"],
                        "return_ci95": agg["true_return_ci95"],
                        "normalized_score": agg["normalized_score_mean"],
                        "falls": agg["falls"],
                        "episodes": agg["episodes"],
                        "paired_vs_lambda0": p["difference_mean"] if p else None,
                        "paired_ci95": p["difference_ci95"] if p else None,
                    }
                )
    write_csv_atomic(out / "table.csv", TABLE_COLUMNS, rows)
    write_json_atomic(out / "table.json", {"experiment": str(spec.file), "rows": rows})
    write_text_atomic(out / "table.md", markdown_table(spec, rows))
    return rows


def markdown_table(spec: ExperimentSpec, rows: list[dict[str, Any]]) -> str:
    body = [
        [
            r["dataset"],
            f"`{r['recipe']}`" if r["lambda"] is not None else r["recipe"],
            r["lambda"],
            r["seeds"],
            r["return_mean"],
            r["return_ci95"],
            r["normalized_score"],
            f"{r['falls']}/{r['episodes']}",
            r.get("paired_vs_lambda0"),
            r.get("paired_ci95"),
        ]
        for r in rows
    ]
    head = [
        "dataset",
        "recipe",
        "lambda",
        "seeds",
        "true return",
        "95 % +-",
        "normalised",
        "falls",
        "paired vs lambda 0",
        "95 % +-",
    ]
    return "\n".join(
        [
            f"# {spec.name}: {spec.description}",
            "",
            f"Regenerate: `rwmu experiment run {spec.file} --out OUT`. MuJoCo returns on the unpenalised "
            f"reward, {spec.evaluation.episodes} episodes per policy over the 8 built-in schedules "
            f"(evaluation seed {spec.evaluation.seed}); 95 % Student-t intervals over seeds.",
            "",
            rep.markdown_table(head, body),
            "",
        ]
    )


def export_policies(spec: ExperimentSpec, out: Path, records: dict[Cell, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every finished policy as ONNX under ``out/policies``, and its manifest entry (paths relative to ``out``)."""
    entries = []
    for (dataset, recipe_name, lam, seed), record in records.items():
        folder = run_dir(out, dataset, recipe_name, lam, seed)
        target = out / "policies" / dataset / f"{recipe_name}_lam{lambda_label(lam)}_seed{seed}"
        onnx = copy_published_files(folder / EXPORT_DIR, target)  # the scored file itself (rwmu.experiments.worker)
        recipe = get_recipe(recipe_name)
        entries.append(
            manifest_entry(
                onnx.relative_to(out),
                dataset,
                recipe.name,
                recipe.version,
                lam,
                seed,
                str(spec.file),
                record,
                spec.evaluation.seed,
            )
        )
    write_manifest(out / "policies.json", entries)
    return entries


def run_experiment(
    spec: ExperimentSpec,
    out: Path,
    data: dict[str, str],
    jobs: int = 2,
    device: str = "cpu",
    log: Callable[[str], None] = print,
    backend: BackendConfig = BackendConfig(),
) -> list[dict[str, Any]]:
    """Run (or continue) everything ``spec`` declares into ``out`` (locked by the caller, inside ``backend``'s
    session); ``data`` maps each dataset to its file. Returns the table rows."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(spec.file, out / "experiment.toml")
    world_models = plan_world_models(spec, out, data)
    policies = plan_policies(spec, out, data, device)
    behaviour = plan_behavior(spec, out)
    studies = plan_studies(spec, out, data)
    write_run_config(
        out,
        {
            "experiment": str(spec.file),
            "rwmu": __version__,
            "backend": to_jsonable(backend),
            "jobs": {str(j.out): j.document() for j in [*world_models.values(), *policies, *behaviour, *studies]},
        },
    )
    for job in [*world_models.values(), *policies, *behaviour, *studies]:  # every folder checked before any work
        claim(job)
    failures = run_jobs_on(backend, list(world_models.values()) + behaviour, jobs, "world models", log)
    if failures:
        raise RwmuError(f"{len(failures)} job(s) failed (first: {failures[0]}); re-run the same command to retry")
    failures = run_jobs_on(backend, policies, jobs, "policies", log) if policies else []
    rows = []
    if spec.grids:
        records = finished_records(spec, out)
        rows = write_tables(spec, out, records)
        export_policies(spec, out, records)
        log(f"[experiment] wrote {out / 'table.md'}, {out / 'policies.json'} and per-recipe sweep.md")
    if studies:
        failures += run_jobs_on(backend, studies, jobs, "signal studies", log)
        write_signal_table(study_groups(spec, out), spec.signals, out / "signals")
        log(f"[experiment] wrote {out / 'signals' / 'table.md'} and its ROC plots")
    if failures:
        raise RwmuError(f"{len(failures)} job(s) failed (first: {failures[0]}); re-run the same command to retry")
    return rows
