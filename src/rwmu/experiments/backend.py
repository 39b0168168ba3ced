"""Where the jobs of ``rwmu sweep`` and ``rwmu experiment run`` execute: on this machine, or as Ray tasks.

``--backend local`` (default) runs ``--jobs`` worker processes side by side on this machine
(:func:`rwmu.experiments.jobs.run_jobs`). ``--backend ray`` runs every job as one Ray task with declared resources
(:mod:`rwmu.experiments.ray_backend`), on a local Ray instance started for the command or, with ``--ray-address``,
on a running cluster. Either way a job is the same worker process reading the same ``job.json`` with the same torch
threads, so a grid gives bitwise the same policies and tables on both backends (docs/scaling.md).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rwmu.errors import RwmuError
from rwmu.experiments import ray_backend
from rwmu.experiments.jobs import Job, run_jobs


@dataclass(frozen=True)
class BackendConfig:
    """Where the jobs run, and what each one is given (the same flags on ``rwmu sweep`` and ``rwmu experiment``)."""

    backend: Literal["local", "ray"] = "local"
    """local: worker processes on this machine; ray: one Ray task per job (pip install 'rwmu[ray]')"""
    ray_address: str | None = None
    """with --backend ray: 'auto' or HOST:PORT joins a running cluster; by default a local Ray instance is started
    for the command and stopped after it"""
    cpus_per_job: int | None = None
    """CPUs (torch threads) of each job; default: this machine's usable CPUs split between --jobs"""
    gpus_per_job: float = 0.0
    """with --backend ray: GPUs of each job; a fraction lets several small runs share one GPU (0.25: four per GPU)"""

    def check(self, out: Path) -> None:
        """Refuse, before any work, settings that cannot run: a bad resource, Ray options without Ray, Ray not
        installed, or (on a cluster) an output folder the nodes cannot reach."""
        if self.cpus_per_job is not None and self.cpus_per_job < 1:
            raise RwmuError(f"--cpus-per-job must be >= 1, got {self.cpus_per_job}")
        if not (math.isfinite(self.gpus_per_job) and self.gpus_per_job >= 0):
            raise RwmuError(f"--gpus-per-job must be a number >= 0 (a fraction shares a GPU), got {self.gpus_per_job}")
        if self.gpus_per_job > 1 and self.gpus_per_job != int(self.gpus_per_job):
            raise RwmuError(f"--gpus-per-job {self.gpus_per_job}: above 1, give a whole number of GPUs")
        if self.backend == "local":
            for flag, value in (("--ray-address", self.ray_address), ("--gpus-per-job", self.gpus_per_job or None)):
                if value is not None:
                    raise RwmuError(f"{flag} is a Ray setting; add --backend ray, or drop {flag}")
            return
        ray_backend.require_ray()

    def session(self, out: Path) -> contextlib.AbstractContextManager:
        """Ray for the duration of a command (``--backend ray``; checks the nodes reach ``out``); nothing locally."""
        return ray_backend.session(self.backend, self.ray_address, out)


def run_jobs_on(
    backend: BackendConfig, jobs: list[Job], workers: int, desc: str, log: Callable[[str], None]
) -> list[str]:
    """Claim every job and run the unfinished ones on ``backend``; return one line per failure."""
    if backend.backend == "ray":
        return ray_backend.run_jobs(jobs, workers, desc, log, backend.cpus_per_job, backend.gpus_per_job)
    return run_jobs(jobs, workers, desc, log, backend.cpus_per_job)
