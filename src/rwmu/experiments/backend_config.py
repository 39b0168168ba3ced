"""Settings of where the jobs of ``rwmu sweep``, ``rwmu experiment run`` and ``rwmu collect --shards`` run
(:mod:`rwmu.experiments.backend`); free of torch and Ray."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from rwmu.errors import RwmuError


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

    def check(self) -> None:
        """Refuse settings that cannot run: a bad resource, or Ray options without ``--backend ray``
        (:func:`rwmu.experiments.backend.check_backend` also checks that Ray is installed)."""
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
