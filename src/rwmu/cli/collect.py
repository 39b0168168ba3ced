"""Record an offline dataset by running a behaviour policy in N simulated Go2s (MuJoCo).

Writes DIR/state_action_data_<k>.csv with the commands in DIR/context_<k>.csv (--format csv, the reference
convention) or DIR/dataset.rwmu (--format rwmu), plus DIR/config.json (resolved settings and versions) and
DIR/collect_stats.json (falls, tracking errors, mean reward and episode return, speed coverage, and with
--checkpoints the same per checkpoint). The data is identical for a seed, policy and --num-envs, whatever
--num-workers. Rows are recorded in chunks of --chunk-rows, each kept in DIR/.collect/ until the dataset is
written: an interrupted collection continues after its last completed chunk with --resume, and gives the same
dataset as one never interrupted.

Graded datasets (docs/go2.md): ``--policy RUN --checkpoints 0:700:50`` collects a "mixed" dataset from a series of
checkpoints of one training run (RWM-U Table 1); ``--policy RUN/model_450.pt`` a "medium" one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from rwmu.behavior import TrotConfig, TrotDiversity
from rwmu.cli.common import check_output_folder, check_resume_unchanged, resumed_command, simulated_task, stored_config
from rwmu.data import save_dataset, write_csv_dataset
from rwmu.data.statistics import format_speed_coverage, speed_coverage
from rwmu.errors import RwmuError
from rwmu.sim.chunks import ChunkStore, chunk_sizes
from rwmu.sim.collect import CollectConfig, CollectSegment, collect_mixture
from rwmu.tasks.base import Task
from rwmu.training.policy_loader import SHIPPED_POLICIES, load_behaviour_policy, policy_file
from rwmu.training.runner import select_checkpoints
from rwmu.utils.io import file_sha256, folder_lock, to_jsonable, write_json_atomic, write_run_config


@dataclass(frozen=True)
class Command:
    """Record an offline dataset with a behaviour policy in the MuJoCo Go2 simulator."""

    out: Path
    """output folder (must not hold a dataset yet)"""
    task: str = "go2_flat"
    """simulated task (only go2_flat has a simulator)"""
    policy: str = "scripted"
    """'scripted' (trotting controller with per-episode gait diversity and action noise), a policy run folder, an
    rsl_rl checkpoint, an export folder, a TorchScript .pt or an .onnx file"""
    format: Literal["csv", "rwmu"] = "csv"
    """csv: state_action_data_<k>.csv files; rwmu: DIR/dataset.rwmu"""
    action_noise: float | None = None
    """Gaussian action-noise std (action units). Scripted policy: this std in every episode instead of a
    per-episode draw in [0, 0.3]; other policies: added to their deterministic actions"""
    checkpoints: str | None = None
    """with --policy RUN (a run folder, or a folder of model_<k>/ export folders): collect from several of its checkpoints in turn, each an equal share of
    --steps (a "mixed" dataset): 'all', iterations '0,50,100' or a range 'START:STOP:STEP' (STOP included)"""
    progress: bool = True
    """show a progress bar"""
    resume: bool = False
    """continue the interrupted collection in --out after its last completed chunk, with its stored settings"""
    collect: Annotated[CollectConfig, tyro.conf.arg(name="")] = field(default_factory=CollectConfig)


def defaults(argv: list[str]) -> Command | None:
    """With ``--resume``: the stored command of the collection in ``--out``."""
    return resumed_command(argv, Command)


def interrupted(cmd: Command) -> str:
    """After Ctrl-C: the chunks kept and how to continue."""
    done = ChunkStore(cmd.out).completed()
    if done == 0:
        return (
            f"no chunk of {cmd.collect.chunk_rows} rows was completed yet in {cmd.out}; start again with the same "
            f"command"
        )
    return (
        f"kept {completed_chunks(done)} of {cmd.collect.chunk_rows} rows in {cmd.out / '.collect'}; continue "
        f"with: rwmu collect --out {cmd.out} --resume"
    )


def completed_chunks(count: int) -> str:
    """``1 completed chunk``, ``2 completed chunks``."""
    return f"{count} completed chunk{'' if count == 1 else 's'}"


def run(cmd: Command) -> int:
    task = simulated_task(cmd.task)
    config = cmd.collect
    if cmd.action_noise is not None and not (math.isfinite(cmd.action_noise) and cmd.action_noise >= 0):
        raise RwmuError(f"--action-noise must be a finite std >= 0, got {cmd.action_noise}")
    config.randomization.check()
    if config.steps < 1 or config.num_envs < 1 or config.num_workers < 1:
        raise RwmuError("--steps, --num-envs and --num-workers must be >= 1")
    if config.chunk_rows < 0:
        raise RwmuError(f"--chunk-rows {config.chunk_rows}: give a number of rows >= 1, or 0 for one chunk")
    check_output_folder(cmd.out, "--out")
    with folder_lock(cmd.out, "rwmu collect"):
        return _collect(cmd, task)


def check_resumed_command(cmd: Command) -> None:
    """Refuse a ``--resume`` whose task, policy or data settings differ from the collection's stored command
    (``--num-workers``, ``--format`` and ``--progress`` may change: the data does not depend on them)."""
    stored = stored_config(cmd.out, Command)
    if stored is None:
        return
    for flag, before, now in (
        ("--task", stored.task, cmd.task),
        ("--policy", stored.policy, cmd.policy),
        ("--checkpoints", stored.checkpoints, cmd.checkpoints),
        ("--action-noise", stored.action_noise, cmd.action_noise),
    ):
        check_resume_unchanged(cmd.out, flag, before, now)
    for field_ in dataclasses.fields(CollectConfig):
        if field_.name != "num_workers":
            flag = "--" + field_.name.replace("_", "-")
            before, now = getattr(stored.collect, field_.name), getattr(cmd.collect, field_.name)
            check_resume_unchanged(cmd.out, flag, before, now)


def _collect(cmd: Command, task: Task) -> int:
    """Record the dataset into ``--out`` (locked) and write its statistics."""
    config, out = cmd.collect, cmd.out
    store = ChunkStore(out)
    written_before = [*out.glob("state_action_data_*.csv"), *out.glob("context_*.csv"), out / "dataset.rwmu"]
    if any(p.exists() for p in written_before):
        if not (cmd.resume and store.manifest() is not None):
            raise RwmuError(
                f"--out {out}: already holds a dataset (state_action_data_*.csv or dataset.rwmu); "
                f"choose an empty folder"
            )
        for path in written_before:  # an interrupted final write of this collection: written again from its chunks
            path.unlink(missing_ok=True)
    if cmd.resume:
        check_resumed_command(cmd)
    elif store.completed() > 0:
        raise RwmuError(
            f"--out {out}: holds {completed_chunks(store.completed())} of an interrupted collection; "
            f"continue it with rwmu collect --out {out} --resume, or choose an empty folder"
        )
    scripted = None
    if cmd.policy == "scripted":
        diversity = TrotDiversity()
        if cmd.action_noise is not None:
            diversity = dataclasses.replace(diversity, action_noise_std=(cmd.action_noise, cmd.action_noise))
        scripted = TrotConfig(diversity=diversity, seed=config.seed + 1)
    if cmd.checkpoints is not None and not Path(cmd.policy).is_dir():
        raise RwmuError(
            f"--checkpoints needs --policy to be a run folder holding model_<iteration>.pt files "
            f"(or model_<iteration>/ export folders), "
            f"not {cmd.policy!r}"
        )
    specs = (
        [cmd.policy]
        if cmd.checkpoints is None
        else [str(path) for _, path in select_checkpoints(cmd.policy, cmd.checkpoints)]
    )
    shares = [config.steps // len(specs) + (i < config.steps % len(specs)) for i in range(len(specs))]
    if min(shares) < 1:
        raise RwmuError(f"--steps {config.steps} is fewer than the {len(specs)} checkpoints selected")
    # Every policy is loaded (and checked against the task) before the simulation starts.
    policies = [
        load_behaviour_policy(spec, config.num_envs, task, config.seed, cmd.action_noise, scripted) for spec in specs
    ]
    provenance = {
        "seed": config.seed,
        "num_envs": config.num_envs,
        "pushes": config.pushes,
        "randomization": config.randomization.enabled,
        "scripted_config": dataclasses.asdict(scripted) if scripted else None,
        "action_noise": cmd.action_noise,
    }
    described = [_policy_provenance(spec) for spec in specs]
    if cmd.checkpoints is None:
        provenance.update(described[0])
    else:
        provenance.update(policy=str(Path(cmd.policy).resolve()), checkpoints=cmd.checkpoints)
    segments = [
        CollectSegment(make_policy=lambda p=policy: p, steps=share, provenance=about)
        for policy, share, about in zip(policies, shares, described)
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
    if cmd.resume and store.completed() > 0:
        if store.manifest() != manifest:
            raise RwmuError(
                f"--resume: the behaviour policy files or settings of the collection in {out} changed "
                f"since its chunks were recorded; start a new --out"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        store.start(manifest)
    write_run_config(out, {"command": cmd, "task": task.name, "scripted": scripted})
    chunks = sum(len(chunk_sizes(share, config.chunk_rows)) for share in shares)
    if cmd.resume and 0 < store.completed() < chunks:
        print(f"resuming after {store.completed()} of {chunks} chunks kept in {store.folder}")
    start = time.perf_counter()
    dataset, stats, segment_stats = collect_mixture(
        segments,
        config,
        task,
        provenance=provenance,
        progress=cmd.progress,
        store=store,
        describe_segments=cmd.checkpoints is not None,
    )
    if cmd.checkpoints is None:
        segment_stats = None
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    if cmd.format == "csv":
        write_csv_dataset(dataset, out)
        written = f"{dataset.num_trajectories} files state_action_data_<k>.csv"
    else:
        save_dataset(dataset, out / "dataset.rwmu")
        written = "dataset.rwmu"
    coverage = speed_coverage(dataset)
    # "falls" counts every simulated fall; "terminations" those in the rows written (the tail beyond --steps is cut).
    report = {
        **stats.as_dict(),
        "terminations": dataset.num_terminations,
        "seconds": seconds,
        "speed_coverage": coverage,
    }
    if segment_stats is not None:
        report["segments"] = dataset.meta["provenance"]["segments"]
    write_json_atomic(out / "collect_stats.json", report)
    store.clear()  # the dataset is whole: the chunks are no longer needed
    print(f"{dataset.summary()}")
    print(
        f"falls {stats.falls}, time-outs {stats.time_outs}, mean |v_xy error| {stats.mean_lin_vel_error:.3f} m/s, "
        f"mean |yaw-rate error| {stats.mean_yaw_rate_error:.3f} rad/s, mean step reward {stats.mean_step_reward:.4f}, "
        f"{_episode_returns(stats)}"
    )
    for line in format_speed_coverage(coverage) if coverage else []:
        print(line)
    print(f"wrote {written} to {out} in {seconds:.1f} s ({dataset.num_rows / max(seconds, 1e-9):.0f} rows/s)")
    return 0


def _policy_provenance(spec: str) -> dict:
    """What the dataset header records about one behaviour policy: its name or path, file and SHA-256."""
    source = policy_file(spec)
    name = spec if source is None or spec in SHIPPED_POLICIES else str(Path(spec).resolve())
    iteration = source.stem[len("model_") :] if source is not None and source.stem.startswith("model_") else None
    return {
        "policy": name,
        "policy_file": str(source) if source is not None else None,
        "policy_sha256": file_sha256(source) if source is not None else None,
        "checkpoint_iteration": int(iteration) if iteration and iteration.isdigit() else None,
    }


def _episode_returns(stats) -> str:
    if stats.completed_episodes == 0:
        return "no episode ended (the episode return needs longer collection)"
    return (
        f"episode return {stats.episode_return_mean:.3f} +- {stats.episode_return_std:.3f} "
        f"({stats.completed_episodes} episodes ended)"
    )
