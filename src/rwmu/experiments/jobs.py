"""Jobs of ``rwmu experiment run`` and ``rwmu sweep``: typed settings in a ``job.json``, run by a worker process.

A :class:`Job` is one unit of work (a world model, a policy run with its MuJoCo score and model check, or one
evaluation), described by serialised dataclass configs, never by flag strings. :func:`claim` writes its ``job.json``
or checks it against the one there (one run owns its folder); :func:`run_jobs` runs the unfinished ones a few at a
time, each as ``python -m rwmu.experiments.worker JOB.json`` with its output in a log file and the CPU threads split
between the jobs.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rwmu.errors import RwmuError
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.evaluation.signals import SIGNALS_JSON
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments.paths import EVALUATION_JSON, EXPORT_DIR, MODEL_CHECK_JSON, SUMMARY_JSON
from rwmu.training.export import EXPORT_FILES
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.utils.io import to_jsonable, write_json_atomic
from rwmu.utils.threads import usable_cpus


@dataclass(frozen=True)
class Job:
    """One unit of work: its kind (a :data:`rwmu.experiments.worker.JOBS` key), its output (a folder, or the JSON
    file of an evaluation), its typed settings and a label for messages."""

    kind: str
    out: Path
    body: dict[str, Any]
    label: str

    @property
    def file(self) -> Path:
        return self.out / "job.json" if self.kind != "evaluate" else self.out.with_suffix(".job.json")

    @property
    def log(self) -> Path:
        return self.file.parent / ("log.txt" if self.kind != "evaluate" else f"{self.out.stem}.log.txt")

    def document(self) -> dict[str, Any]:
        return json.loads(json.dumps({"kind": self.kind, "out": str(self.out), **self.body}))


def policy_job(
    out: Path,
    task: str,
    world_model: str | Path,
    data: str | Path,
    config: PolicyTrainingConfig,
    evaluation: EvaluationConfig,
    check: ModelCheckConfig | None,
    label: str,
    **extra: Any,
) -> Job:
    """Train ``config`` into ``out``, score its latest checkpoint with ``evaluation`` and check the world model on its
    states with ``check`` (None: no check); ``extra`` (e.g. the recipe, the task's reward weights) is recorded."""
    body = {
        "task": task,
        "world_model": str(world_model),
        "data": str(data),
        **extra,
        "config": to_jsonable(config),
        "evaluation": to_jsonable(evaluation),
        "model_check": to_jsonable(check) if check else None,
    }
    return Job("policy", out, body, label)


def evaluate_job(out: Path, task: str, policy: str, config: EvaluationConfig, label: str) -> Job:
    """Score ``policy`` in MuJoCo with ``config`` into the JSON file ``out``."""
    return Job("evaluate", out, {"task": task, "policy": policy, "config": to_jsonable(config)}, label)


def signals_job(
    out: Path, task: str, world_model: str | Path, data: str | Path, policy: str, config: SignalStudyConfig, label: str
) -> Job:
    """Study every uncertainty signal of ``world_model`` on ``policy``'s MuJoCo states into the folder ``out``."""
    body = {"task": task, "world_model": str(world_model), "data": str(data), "policy": policy}
    return Job("signals", out, {**body, "config": to_jsonable(config)}, label)


def trained_iterations(run_dir: Path) -> int | None:
    path = run_dir / SUMMARY_JSON
    return json.loads(path.read_text()).get("iterations") if path.is_file() else None


def job_done(job: Job) -> bool:
    if job.kind == "world_model":
        return (job.out / SUMMARY_JSON).is_file()
    if job.kind == "evaluate":
        return job.out.is_file()
    if job.kind == "signals":
        return (job.out / SIGNALS_JSON).is_file()
    scored = (job.out / EVALUATION_JSON).is_file() and (job.out / EXPORT_DIR / EXPORT_FILES["onnx"]).is_file()
    if trained_iterations(job.out) != job.body["config"]["iterations"] or not scored:
        return False
    return job.body["model_check"] is None or (job.out / MODEL_CHECK_JSON).is_file()


def _without_iterations(document: dict[str, Any]) -> dict[str, Any]:
    config = dict(document.get("config") or {})
    config.pop("iterations", None)
    return {**document, "config": config}


def claim(job: Job) -> None:
    """Write ``job.json`` (the run's declared settings), or check the one already there: the same job, or a policy
    run continued to more iterations (its job.json is then updated). Anything else is refused."""
    document = job.document()
    if job.file.is_file():
        before = json.loads(job.file.read_text())
        if before == document:
            return
        longer = job.kind == "policy" and document["config"]["iterations"] >= before.get("config", {}).get(
            "iterations", 0
        )
        if not (longer and _without_iterations(before) == _without_iterations(document)):
            raise RwmuError(
                f"{job.file}: this run was started with other settings than are asked for now; one run owns its "
                "folder: give a new --out, or ask for the run's own settings"
            )
    job.file.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(job.file, document)


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by stop_workers: no new worker starts
STOP_GRACE_S = 5.0
"""Seconds a worker gets to end after SIGTERM (an interrupt) before it is killed."""


def worker_command(job: Job) -> list[str]:
    return [sys.executable, "-m", "rwmu.experiments.worker", str(job.file)]


class JobFailed(RwmuError):
    """A worker process that ended with a non-zero exit code (its one-line reason and log are in the message)."""

    def __init__(self, message: str, returncode: int):
        super().__init__(message)
        self.returncode = returncode

    def __reduce__(self):  # picklable with its exit code (Ray sends it from a node to the driver)
        return (JobFailed, (str(self), self.returncode))


def _end_with_parent() -> None:
    """In a worker process before it starts: SIGTERM it when the process that started it dies (Linux), so that a
    Ray task cancelled with its worker process does not leave the job running."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent stops its workers itself (stop_workers)
        pass


PR_SET_PDEATHSIG = 1


def run_job(job: Job, threads: int, env: dict[str, str] | None = None) -> None:
    """Run ``job`` in a worker process with ``threads`` torch threads (and the variables ``env``), its output
    appended to its log; a non-zero exit raises :class:`JobFailed` with the log's last line."""
    env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    with _RUNNING_LOCK:  # no worker starts once stop_workers has begun
        if _STOPPING.is_set():
            raise RwmuError(f"{job.label}: not started (interrupted)")
        with open(job.log, "a") as log:
            proc = subprocess.Popen(
                worker_command(job), stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=_end_with_parent
            )
        _RUNNING.add(proc)
    try:
        returncode = proc.wait()
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)
    if returncode != 0:
        tail = (job.log.read_text().strip().splitlines() or [""])[-1]
        raise JobFailed(f"{job.label} failed (exit {returncode}): {tail[:200]}; see {job.log}", returncode)


def stop_workers() -> None:
    """SIGTERM every running worker, then SIGKILL those still alive after :data:`STOP_GRACE_S` seconds. Their runs
    keep their last checkpoint and resume on the next run of the same command."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        running = list(_RUNNING)
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pending_jobs(jobs: list[Job], desc: str, log: Callable[[str], None]) -> list[Job]:
    """Claim every job (all folders checked before any work), then return those not finished yet."""
    for job in jobs:
        claim(job)
    todo = [j for j in jobs if not job_done(j)]
    log(f"[{desc}] {len(jobs)} job(s), {len(jobs) - len(todo)} done already, {len(todo)} to run")
    return todo


def threads_per_job(workers: int, cpus_per_job: int | None = None) -> int:
    """Torch threads of each job: ``cpus_per_job``, or this machine's usable CPUs split between ``workers``."""
    return cpus_per_job or max(1, usable_cpus() // workers)


def run_jobs(
    jobs: list[Job], workers: int, desc: str, log: Callable[[str], None], cpus_per_job: int | None = None
) -> list[str]:
    """Claim every job, then run the unfinished ones in worker processes on this machine, ``workers`` at a time;
    return one line per failure.

    Ctrl-C or SIGTERM (a ``KeyboardInterrupt`` in the main thread) cancels the queued jobs, stops the running
    workers and is raised again: the command ends promptly and the same command resumes every run."""
    todo = pending_jobs(jobs, desc, log)
    if not todo:
        return []
    threads = threads_per_job(workers, cpus_per_job)
    failures = []
    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        with tqdm(total=len(todo), desc=desc, unit="job") as bar:
            for future in [pool.submit(run_job, j, threads) for j in todo]:
                try:
                    future.result()
                except RwmuError as err:
                    failures.append(str(err))
                    log(f"[{desc}] {err}")
                bar.update(1)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_workers()
        raise
    finally:
        pool.shutdown(wait=True)
    return failures
