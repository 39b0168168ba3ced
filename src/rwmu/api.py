"""rwmu's Python API: the whole loop from Python, with the typed configs the commands take and typed results.

    import rwmu
    from rwmu.sim.collect import CollectConfig

    data = rwmu.collect("runs/data", policy="expert", config=CollectConfig(steps=20_000, num_envs=16), action_noise=0.4)
    model = rwmu.train_model(data.dataset, "runs/world_model", task="go2_flat", recipe="mopo_fbc_dc256")
    policy = rwmu.train_policy(model.checkpoint, data.dataset, "runs/policy", task="go2_flat", recipe="mopo_fbc_dc256")
    score = rwmu.evaluate(policy.checkpoint)          # MuJoCo, unpenalised reward: score.return_mean, score.falls

Each function checks its inputs before any work (an :class:`rwmu.errors.RwmuError` with one line saying what is
wrong), locks its output folder, writes the same files as its command (``rwmu collect``, ``train-model``,
``train-policy``, ``evaluate``, ``experiment run``: the commands are thin wrappers over these functions), and
continues an interrupted run with ``resume=True``. Defaults are a recipe's (:mod:`rwmu.recipes`, docs/recipes.md);
a config given explicitly replaces the recipe's. Grids (sweeps, experiment files) run the same steps as jobs
(:mod:`rwmu.experiments.steps`), locally or on Ray (:func:`run_experiment` with ``backend``).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from rwmu.behavior import TrotConfig, TrotDiversity
from rwmu.data import save_dataset, write_csv_dataset
from rwmu.data.dataset import concatenate_datasets
from rwmu.data.loading import load_dataset
from rwmu.data.statistics import speed_coverage
from rwmu.errors import RwmuError
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments import ray_backend
from rwmu.experiments.backend import backend_session, check_backend
from rwmu.experiments.backend_config import BackendConfig
from rwmu.experiments.experiment import run_experiment as run_declared_experiment
from rwmu.experiments.experiment_file import DatasetSpec, ExperimentSpec, read_experiment
from rwmu.experiments.manifest import publish, read_manifest
from rwmu.experiments.paths import MANIFEST, PUBLISHED
from rwmu.experiments.signal_table import copy_signal_table
from rwmu.experiments.steps import score_policy, train_world_model
from rwmu.recipes import DEFAULT_RECIPE, get_recipe, world_model_for
from rwmu.sim.chunks import ChunkStore, chunk_sizes, equal_shares
from rwmu.sim.collect import CollectSegment, CollectStats, collect_mixture
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks import get_task, resolve_task_and_dims
from rwmu.tasks.base import Task
from rwmu.training.policy import train_policy as train_policy_in_imagination
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.policy_loader import load_behaviour_policy, policy_file, policy_task
from rwmu.training.runner import refuse_distributed, select_checkpoints
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.checks import check_device, check_output_file, check_output_folder
from rwmu.utils.io import file_sha256, folder_lock, to_jsonable, write_json_atomic, write_run_config

# ------------------------------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class CollectResult:
    """A recorded dataset: ``dataset`` is what :func:`train_model` takes (``dataset.rwmu``, or the CSV folder)."""

    out: Path
    dataset: Path
    rows: int
    trajectories: int
    falls: int
    seconds: float
    stats: dict[str, Any]
    """``collect_stats.json``: falls, tracking errors, episode returns, speed coverage (and per checkpoint)"""
    summary: str
    """one line: rows, trajectories, columns"""


@dataclass(frozen=True)
class WorldModelResult:
    """A trained world model: ``checkpoint`` (best on validation) is what :func:`train_policy` takes."""

    out: Path
    checkpoint: Path
    latest: Path
    validation: dict[str, float]
    """final validation metrics (``val/rel_error_forecast_mean``, the no-change baseline's, ...)"""
    windows_per_second: float
    summary: dict[str, Any]


@dataclass(frozen=True)
class PolicyResult:
    """A MOPO-PPO policy: ``checkpoint`` (the last rsl_rl ``model_<it>.pt``) is what :func:`evaluate` takes."""

    out: Path
    checkpoint: Path
    iterations: int
    imagined_reward: float
    """mean penalised reward per imagined step over the last iteration"""
    imagined_task_reward: float
    epistemic_uncertainty: float
    resumed_exactly: bool | None
    summary: dict[str, Any]


@dataclass(frozen=True)
class Evaluation:
    """A policy's MuJoCo score on the true, unpenalised reward (``result`` is ``rwmu evaluate --json``'s)."""

    policy: str
    return_mean: float
    return_std: float
    episodes: int
    falls: int
    fall_rate: float
    normalized_score: float | None
    """0 = standing still (zero actions), 1 = the shipped expert, on the same episodes"""
    result: dict[str, Any]


@dataclass(frozen=True)
class ExperimentResult:
    """A declared experiment's outputs: ``rows`` of ``table.md`` (one per dataset, recipe and lambda)."""

    out: Path
    rows: list[dict[str, Any]]
    tables: list[Path]
    """``table.md`` of the grid and ``signals/table.md`` of the studies, where the file declares them"""
    published: int
    """policies merged into docs/results/policies.json (``publish=True``)"""


# ------------------------------------------------------------------------------------------------------------------
# collect


def collect(
    out: str | Path,
    policy: str = "scripted",
    *,
    task: str | None = None,
    config: CollectConfig = CollectConfig(),
    action_noise: float | None = None,
    checkpoints: str | None = None,
    format: Literal["csv", "rwmu"] = "rwmu",
    resume: bool = False,
    progress: bool = True,
    shards: int = 1,
    backend: BackendConfig = BackendConfig(),
) -> CollectResult:
    """Record an offline dataset with ``policy`` in the MuJoCo Go2 simulator (``rwmu collect``; its ``--help``
    describes every argument). ``checkpoints`` collects from several checkpoints of a run folder in turn (a
    "mixed" dataset); ``resume`` continues an interrupted collection after its last completed chunk.

    ``shards`` > 1 splits ``config.steps`` into that many collections, shard ``k`` with seed ``config.seed + k``,
    run one after the other here or side by side as Ray tasks (``backend``), and merges them in shard order into
    one dataset whose provenance lists each shard; either backend writes the same dataset."""
    out = Path(out)
    sim_task = policy_task(policy, task)
    if action_noise is not None and not (math.isfinite(action_noise) and action_noise >= 0):
        raise RwmuError(f"--action-noise must be a finite std >= 0, got {action_noise}")
    config.randomization.check()
    if config.steps < 1 or config.num_envs < 1 or config.num_workers < 1:
        raise RwmuError("--steps, --num-envs and --num-workers must be >= 1")
    if config.chunk_rows < 0:
        raise RwmuError(f"--chunk-rows {config.chunk_rows}: give a number of rows >= 1, or 0 for one chunk")
    if not 1 <= shards <= config.steps:
        raise RwmuError(f"--shards {shards}: give between 1 and --steps ({config.steps}) shards")
    if backend.backend == "ray" and shards == 1:
        raise RwmuError("--backend ray collects shards as Ray tasks: add --shards N (N >= 2), or drop --backend ray")
    check_output_folder(out, "--out")
    check_backend(backend)
    command = {
        "out": out,
        "task": task,
        "policy": policy,
        "format": format,
        "action_noise": action_noise,
        "checkpoints": checkpoints,
        "progress": progress,
        "resume": resume,
        "shards": shards,
        "backend": backend,
        "collect": config,
    }
    with folder_lock(out, "rwmu collect"):
        if shards == 1:
            return _collect(out, sim_task, policy, config, action_noise, checkpoints, format, resume, progress, command)
        with backend_session(backend, out):
            return _collect_shards(out, shards, backend, command)


SHARDS_DIR = ".shards"
"""Folder of a sharded collection's shards (``shard_<k>/dataset.rwmu``), kept until the merged dataset is written."""


def _collect_shards(out: Path, shards: int, backend: BackendConfig, command: dict[str, Any]) -> CollectResult:
    """Collect ``shards`` shards (each an ordinary collection, resumable on its own) and merge them into ``out``."""
    _refuse_written_dataset(out, resume=command["resume"] and (out / SHARDS_DIR).is_dir())
    config: CollectConfig = command["collect"]
    steps = equal_shares(config.steps, shards)
    folders = [out / SHARDS_DIR / f"shard_{k}" for k in range(shards)]
    calls = [
        {
            "out": folder,
            "policy": command["policy"],
            "task": command["task"],
            "config": dataclasses.replace(config, steps=steps[k], seed=config.seed + k),
            "action_noise": command["action_noise"],
            "checkpoints": command["checkpoints"],
            "resume": (folder / ".collect").is_dir(),
            "progress": False,
        }
        for k, folder in enumerate(folders)
        if not (folder / "dataset.rwmu").is_file()  # a shard finished before an interruption is kept
    ]
    out.mkdir(parents=True, exist_ok=True)
    write_run_config(out, {"command": command, "task": command["task"]})
    start = time.perf_counter()
    if backend.backend == "ray":
        ray_backend.map_calls(collect, calls, config.num_workers, "--num-workers", "shards")
    else:
        for call in tqdm(calls, desc="shards", unit="shard", disable=not command["progress"]):
            collect(**call)
    parts = [load_dataset(folder / "dataset.rwmu") for folder in folders]
    shard_stats = [json.loads((folder / "collect_stats.json").read_text()) for folder in folders]
    provenance = {
        "shards": [
            {
                "shard": k,
                "seed": config.seed + k,
                "steps": steps[k],
                "dataset_sha256": file_sha256(folder / "dataset.rwmu"),
                **part.meta.get("provenance", {}),
            }
            for k, (folder, part) in enumerate(zip(folders, parts))
        ]
    }
    dataset = concatenate_datasets(parts, meta={**parts[0].meta, "provenance": provenance})
    stats = CollectStats.combine([_stats_of(s) for s in shard_stats])
    return _write_collected(
        out, dataset, stats, command["format"], time.perf_counter() - start, {"shards": shard_stats}
    )


def _stats_of(report: dict[str, Any]) -> CollectStats:
    """A shard's :class:`CollectStats` back from its ``collect_stats.json``."""
    fields = {f.name for f in dataclasses.fields(CollectStats)}
    return CollectStats(**{k: (math.nan if v is None else v) for k, v in report.items() if k in fields})


def _refuse_written_dataset(out: Path, resume: bool) -> None:
    """Refuse an ``out`` that holds a dataset already, unless an interrupted final write of the same collection is
    being resumed (its files are then written again)."""
    written = [*out.glob("state_action_data_*.csv"), *out.glob("context_*.csv"), out / "dataset.rwmu"]
    if any(p.exists() for p in written):
        if not resume:
            raise RwmuError(
                f"--out {out}: already holds a dataset (state_action_data_*.csv or dataset.rwmu); "
                f"choose an empty folder"
            )
        for path in written:
            path.unlink(missing_ok=True)


def _write_collected(
    out: Path, dataset, stats: CollectStats, format: str, seconds: float, extra: dict[str, Any] | None = None
) -> CollectResult:
    """Write the dataset (CSV folder or ``dataset.rwmu``) and ``collect_stats.json``; drop the kept chunks or
    shards."""
    out.mkdir(parents=True, exist_ok=True)
    if format == "csv":
        write_csv_dataset(dataset, out)
        written = out
    else:
        written = out / "dataset.rwmu"
        save_dataset(dataset, written)
    # "falls" counts every simulated fall; "terminations" those in the rows written (the tail beyond steps is cut).
    report = {
        **stats.as_dict(),
        "terminations": dataset.num_terminations,
        "seconds": seconds,
        "speed_coverage": speed_coverage(dataset),
        **(extra or {}),
    }
    write_json_atomic(out / "collect_stats.json", report)
    ChunkStore(out).clear()  # the dataset is whole: the chunks are no longer needed
    shutil.rmtree(out / SHARDS_DIR, ignore_errors=True)
    return CollectResult(
        out=out,
        dataset=written,
        rows=dataset.num_rows,
        trajectories=dataset.num_trajectories,
        falls=stats.falls,
        seconds=seconds,
        stats=report,
        summary=dataset.summary(),
    )


def completed_chunks(count: int) -> str:
    """``1 completed chunk``, ``2 completed chunks``."""
    return f"{count} completed chunk{'' if count == 1 else 's'}"


def _collect(
    out: Path,
    task: Task,
    policy: str,
    config: CollectConfig,
    action_noise: float | None,
    checkpoints: str | None,
    format: str,
    resume: bool,
    progress: bool,
    command: dict[str, Any],
) -> CollectResult:
    """Record the dataset into ``out`` (locked) and write its statistics."""
    store = ChunkStore(out)
    _refuse_written_dataset(out, resume=resume and store.manifest() is not None)
    if not resume and store.completed() > 0:
        raise RwmuError(
            f"--out {out}: holds {completed_chunks(store.completed())} of an interrupted collection; "
            f"continue it with rwmu collect --out {out} --resume, or choose an empty folder"
        )
    scripted = None
    if policy == "scripted":
        diversity = TrotDiversity()
        if action_noise is not None:
            diversity = dataclasses.replace(diversity, action_noise_std=(action_noise, action_noise))
        scripted = TrotConfig(diversity=diversity, seed=config.seed + 1)
    if checkpoints is not None and not Path(policy).is_dir():
        raise RwmuError(
            f"--checkpoints needs --policy to be a run folder holding model_<iteration>.pt files "
            f"(or model_<iteration>/ export folders), not {policy!r}"
        )
    specs = [policy] if checkpoints is None else [str(path) for _, path in select_checkpoints(policy, checkpoints)]
    shares = equal_shares(config.steps, len(specs))
    if min(shares) < 1:
        raise RwmuError(f"--steps {config.steps} is fewer than the {len(specs)} checkpoints selected")
    # Every policy is loaded (and checked against the task) before the simulation starts.
    policies = [
        load_behaviour_policy(spec, config.num_envs, task, config.seed, action_noise, scripted) for spec in specs
    ]
    provenance = {
        "seed": config.seed,
        "num_envs": config.num_envs,
        "pushes": config.pushes,
        "randomization": config.randomization.enabled,
        "scripted_config": dataclasses.asdict(scripted) if scripted else None,
        "action_noise": action_noise,
    }
    described = [_policy_provenance(spec, task) for spec in specs]
    if checkpoints is None:
        provenance.update(described[0])
    else:
        provenance.update(policy=str(Path(policy).resolve()), checkpoints=checkpoints)
    segments = [
        CollectSegment(make_policy=lambda p=loaded: p, steps=share, provenance=about)
        for loaded, share, about in zip(policies, shares, described)
    ]
    # what the chunks depend on (not the number of worker processes)
    manifest = json.loads(
        json.dumps(
            to_jsonable(
                {
                    "config": dataclasses.replace(config, num_workers=1),
                    "task": task.name,
                    "policies": described,
                    "provenance": provenance,
                }
            )
        )
    )
    if resume and store.completed() > 0:
        if store.manifest() != manifest:
            raise RwmuError(
                f"--resume: the behaviour policy files or settings of the collection in {out} changed "
                f"since its chunks were recorded; start a new --out"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        store.start(manifest)
    write_run_config(out, {"command": command, "task": task.name, "scripted": scripted})
    chunks = sum(len(chunk_sizes(share, config.chunk_rows)) for share in shares)
    if resume and 0 < store.completed() < chunks:
        print(f"resuming after {store.completed()} of {chunks} chunks kept in {store.folder}")
    start = time.perf_counter()
    dataset, stats, _ = collect_mixture(
        segments,
        config,
        task,
        provenance=provenance,
        progress=progress,
        store=store,
        describe_segments=checkpoints is not None,
    )
    extra = {"segments": dataset.meta["provenance"]["segments"]} if checkpoints is not None else None
    return _write_collected(out, dataset, stats, format, time.perf_counter() - start, extra)


def _policy_provenance(spec: str, task: Task) -> dict:
    """What the dataset header records about one behaviour policy: its name or path, file and SHA-256."""
    source = policy_file(spec, task.name)
    name = spec if source is None or spec == "expert" else str(Path(spec).resolve())
    iteration = source.stem[len("model_") :] if source is not None and source.stem.startswith("model_") else None
    return {
        "policy": name,
        "policy_file": str(source) if source is not None else None,
        "policy_sha256": file_sha256(source) if source is not None else None,
        "checkpoint_iteration": int(iteration) if iteration and iteration.isdigit() else None,
    }


# ------------------------------------------------------------------------------------------------------------------
# train_model, train_policy


def _sources(data: str | Path | list | tuple) -> list[str]:
    return [str(p) for p in data] if isinstance(data, (list, tuple)) else [str(data)]


def train_model(
    data: str | Path | list,
    out: str | Path,
    *,
    task: str | None = None,
    dims: tuple[int, int, int, int, int] | None = None,
    recipe: str = DEFAULT_RECIPE,
    config: TrainModelConfig | None = None,
    resume: bool = False,
    command: Any = None,
) -> WorldModelResult:
    """Train the RWM-U world model (an ensemble with epistemic uncertainty) on ``data`` into ``out``
    (``rwmu train-model``). ``config`` defaults to ``recipe``'s world model; ``task`` (or the column widths
    ``dims``) names the dataset's columns, and a native ``.rwmu`` file names its own task. ``command`` is recorded
    in ``config.json`` (the CLI's, so that ``--resume`` continues with the same flags)."""
    config = config or world_model_for(get_recipe(recipe))
    config.check()
    resolved, widths = resolve_task_and_dims(task, dims)
    check_device(config.device)
    out = Path(out)
    check_output_folder(out, "--out")
    sources = _sources(data)
    if command is None:  # recorded as rwmu train-model's own, so that the command line can --resume the run
        command = {"data": sources, "out": out, "task": task, "dims": dims, "recipe": recipe, "resume": resume}
        command["train"] = config
    with folder_lock(out, "rwmu train-model"):
        summary = train_world_model(
            config, sources[0] if len(sources) == 1 else sources, out, resolved, widths, resume=resume, command=command
        )
    return WorldModelResult(
        out=out,
        checkpoint=Path(summary["checkpoints"]["best"]),
        latest=Path(summary["checkpoints"]["latest"]),
        validation=dict(summary["final_validation"] or {}),
        windows_per_second=float(summary["windows_per_second"]),
        summary=summary,
    )


def train_policy(
    world_model: str | Path,
    data: str | Path | list,
    out: str | Path,
    *,
    task: str | Task = "go2_flat",
    recipe: str = DEFAULT_RECIPE,
    config: PolicyTrainingConfig | None = None,
    resume: bool = False,
    progress: bool = True,
    command: Any = None,
) -> PolicyResult:
    """Train a policy with MOPO-PPO inside ``world_model``'s imagination, starting from histories of ``data``
    (``rwmu train-policy``). ``config`` defaults to ``recipe``'s (set ``config.env.uncertainty_penalty`` for
    lambda); ``task`` may be a :class:`Task` with other reward weights. Refuses to run under ``torchrun``."""
    refuse_distributed("rwmu train-policy")
    config = config or get_recipe(recipe).policy_config()
    config.check()
    check_device(config.device)
    out = Path(out)
    check_output_folder(out, "--out")
    task = get_task(task) if isinstance(task, str) else task
    sources = _sources(data)
    if command is None:  # recorded as rwmu train-policy's own, so that the command line can --resume the run
        command = {"task": task.name, "world_model": world_model, "data": sources, "out": out, "recipe": recipe}
        command.update(resume=resume, train=config, rewards=task.rewards)
    with folder_lock(out, "rwmu train-policy"):
        summary = train_policy_in_imagination(
            task,
            world_model,
            sources[0] if len(sources) == 1 else sources,
            out,
            config,
            resume=resume or None,
            progress=progress,
            command=command,
        )
    return PolicyResult(
        out=out,
        checkpoint=Path(summary["final_checkpoint"]),
        iterations=int(summary["iterations"]),
        imagined_reward=float(summary["imagined_reward"]),
        imagined_task_reward=float(summary["imagined_task_reward"]),
        epistemic_uncertainty=float(summary["epistemic_uncertainty"]),
        resumed_exactly=summary["resumed_exactly"],
        summary=summary,
    )


# ------------------------------------------------------------------------------------------------------------------
# evaluate


def evaluate(
    policy: str | Path,
    *,
    task: str | None = None,
    config: EvaluationConfig = EvaluationConfig(),
    json_path: str | Path | None = None,
    video: str | Path | None = None,
    video_steps: int | None = None,
    progress: bool = True,
    command: Any = None,
) -> Evaluation:
    """Score ``policy`` (``scripted``, a run folder, an rsl_rl checkpoint, an export folder, TorchScript or ONNX)
    in MuJoCo on the true, unpenalised reward (``rwmu evaluate``); ``json_path`` also writes the result. ``task``
    None: the task the policy was trained on."""
    sim_task = policy_task(policy, task)
    if config.max_envs < 1 or config.num_workers < 1:
        raise RwmuError("--max-envs and --num-workers must be >= 1")
    for flag, path in (("--json", json_path), ("--video", video)):  # checked before the episodes run
        if path is not None:
            check_output_file(Path(path), flag)
    json_path = Path(json_path) if json_path is not None else None
    result = score_policy(config, sim_task, str(policy), json_path, progress, video, video_steps, command)
    return Evaluation(
        policy=str(policy),
        return_mean=float(result["return_mean"]),
        return_std=float(result["return_std"]),
        episodes=int(result["episodes"]),
        falls=int(result["falls"]),
        fall_rate=float(result["fall_rate"]),
        normalized_score=result.get("normalized_score"),
        result=result,
    )


# ------------------------------------------------------------------------------------------------------------------
# run_experiment


def collect_settings(dataset: DatasetSpec) -> dict[str, Any]:
    """The :func:`collect` arguments of a dataset's ``collect`` table (its keys are ``rwmu collect``'s settings;
    ``steps``, ``num_envs``, ``num_workers``, ``seed`` ... are its ``CollectConfig``), checked key by key."""
    table = dict(dataset.collect or {})
    known = set(inspect.signature(collect).parameters) - {"out", "config", "resume", "progress", "shards", "backend"}
    nested = {f.name for f in dataclasses.fields(CollectConfig)}
    unknown = sorted(set(table) - known - nested)
    if unknown:
        raise RwmuError(
            f"datasets.{dataset.name}.collect: unknown setting(s) {', '.join(unknown)} (rwmu collect --help lists them)"
        )
    inner = {k: v for k, v in table.items() if k in nested}
    return {
        "format": "rwmu",
        **{k: v for k, v in table.items() if k in known},
        "config": dataclasses.replace(CollectConfig(), **inner),
    }


def dataset_files(spec: ExperimentSpec, out: Path, log: Callable[[str], None] = print) -> dict[str, str]:
    """Each dataset's file: the declared path, or the collected one (collected now if it is not there yet)."""
    files = {}
    for name, dataset in spec.datasets.items():
        if dataset.path is not None:
            if not Path(dataset.path).exists():
                raise RwmuError(f"{spec.file}: datasets.{name}.path {dataset.path}: no such file or folder")
            files[name] = dataset.path
            continue
        folder = out / name / "data"
        if not (folder / "dataset.rwmu").is_file():
            log(f"[experiment] collecting {name} into {folder}")
            collect(folder, **collect_settings(dataset), resume=(folder / ".collect").is_dir(), progress=False)
        files[name] = str(folder / "dataset.rwmu")
    return files


def run_experiment(
    file: str | Path,
    out: str | Path,
    *,
    jobs: int = 2,
    device: str = "cpu",
    backend: BackendConfig = BackendConfig(),
    publish_results: bool = False,
    log: Callable[[str], None] = print,
) -> ExperimentResult:
    """Run (or continue) a declared experiment file into ``out`` (``rwmu experiment run``): collect its datasets,
    train its world models and every recipe x lambda x seed, score each policy in MuJoCo, export it to ONNX and
    write the tables; ``jobs`` at a time on this machine, or as Ray tasks (``backend``). ``publish_results``
    merges the policies into docs/results/policies.json and copies a signal study's table to docs/results/."""
    spec = read_experiment(Path(file))  # every key, recipe and dataset checked before any work
    out = Path(out)
    for dataset in spec.datasets.values():
        if dataset.collect is not None:
            collect_settings(dataset)
    if jobs < 1:
        raise RwmuError(f"--jobs must be >= 1, got {jobs}")
    check_device(device)
    check_output_folder(out, "--out")
    check_backend(backend)
    published = 0
    with folder_lock(out, "rwmu experiment"), backend_session(backend, out):
        data = dataset_files(spec, out, log)
        rows = run_declared_experiment(spec, out, data, jobs, device, log=log, backend=backend)
        if publish_results and spec.grids:
            entries = publish(out, read_manifest(out / "policies.json")["policies"], Path("."), MANIFEST)
            published = len(entries)
            log(f"published {published} policies into docs/results/policies/ and {MANIFEST}")
        if publish_results and spec.studies:
            target = PUBLISHED / spec.name
            copied = copy_signal_table(out / "signals", target)
            log(f"published the signal table and {copied - 3} ROC plots into {target}")
    tables = [out / "table.md"] if spec.grids else []
    tables += [out / "signals" / "table.md"] if spec.studies else []
    return ExperimentResult(out=out, rows=rows, tables=tables, published=published)


__all__ = [
    "CollectResult",
    "Evaluation",
    "ExperimentResult",
    "PolicyResult",
    "WorldModelResult",
    "collect",
    "evaluate",
    "run_experiment",
    "train_model",
    "train_policy",
]
