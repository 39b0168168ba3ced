"""How many CPU threads torch uses: the CPUs this process may run on, never more (docs/performance.md).

torch's default is the machine's core count. In a container or a CPU set that count can exceed what the process is
allowed (a CPU quota of 2 on a 64-core host), and OpenMP threads beyond the allowed CPUs wait on each other at every
operation: small models then run many times slower. ``rwmu`` therefore sets torch's thread count to the CPUs it may
use (its affinity mask and its cgroup CPU quota), unless ``OMP_NUM_THREADS`` says otherwise.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (rounded up); at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks on this platform
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):  # no cgroup v2 quota to read
        pass
    return max(1, cpus)


def configure_threads(threads: int | None = None, reserved: int = 0) -> int:
    """Set torch's intra-op threads and return the number.

    Args:
        threads: an explicit count; None chooses: ``OMP_NUM_THREADS`` if set, else the usable CPUs minus
            ``reserved`` (CPUs that other processes of the same run keep busy, e.g. simulator workers).
        reserved: see ``threads``.
    """
    if threads is None:
        from_env = os.environ.get("OMP_NUM_THREADS", "")
        threads = int(from_env) if from_env.isdigit() and int(from_env) > 0 else usable_cpus() - reserved
    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
