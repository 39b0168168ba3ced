"""Where the jobs of ``rwmu sweep`` and ``rwmu experiment run`` execute: on this machine, or as Ray tasks.

``--backend local`` (default) runs ``--jobs`` worker processes side by side on this machine
(:func:`rwmu.experiments.jobs.run_jobs`). ``--backend ray`` runs every job as one Ray task with declared resources
(:mod:`rwmu.experiments.ray_backend`), on a local Ray instance started for the command or, with ``--ray-address``,
on a running cluster. Either way a job is the same worker process reading the same ``job.json`` with the same torch
threads, so a grid gives bitwise the same policies and tables on both backends (docs/scaling.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from rwmu.experiments import ray_backend
from rwmu.experiments.backend_config import BackendConfig
from rwmu.experiments.jobs import Job, run_jobs


def check_backend(backend: BackendConfig) -> None:
    """Refuse, before any work, a backend that cannot run: a bad resource, Ray options without Ray, Ray not
    installed. (That every node reaches the output folder is checked when the session starts.)"""
    backend.check()
    if backend.backend == "ray":
        ray_backend.require_ray()


def backend_session(backend: BackendConfig, out: Path) -> contextlib.AbstractContextManager:
    """Ray for the duration of a command (``--backend ray``; checks the nodes reach ``out``); nothing locally."""
    return ray_backend.session(backend.backend, backend.ray_address, out)


def run_jobs_on(
    backend: BackendConfig, jobs: list[Job], workers: int, desc: str, log: Callable[[str], None]
) -> list[str]:
    """Claim every job and run the unfinished ones on ``backend``; return one line per failure."""
    if backend.backend == "ray":
        return ray_backend.run_jobs(jobs, workers, desc, log, backend.cpus_per_job, backend.gpus_per_job)
    return run_jobs(jobs, workers, desc, log, backend.cpus_per_job)
