"""Jobs as Ray tasks: ``--backend ray`` of ``rwmu sweep`` and ``rwmu experiment run`` (the optional extra
``pip install 'rwmu[ray]'``).

Each job is one Ray task that declares its resources (``num_cpus`` = its torch threads, ``num_gpus`` = a whole or
fractional GPU) and runs the job's worker process, exactly as the local backend does (:func:`rwmu.experiments.jobs.run_job`),
in the driver's working directory. Hence the requirements on a cluster: rwmu installed on every node, and the
working directory and the output folder on storage every node mounts at the same path (checked before any work by
:func:`check_shared_storage`). A job that crashes (or whose node dies) is retried once, continuing from its last
checkpoint; a user error (exit code 2) is reported at once. One progress bar counts the finished jobs.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rwmu.errors import RwmuError
from rwmu.experiments.jobs import Job, JobFailed, pending_jobs, run_job, threads_per_job
from rwmu.utils.io import RAY_ADDRESS_VARIABLE
from rwmu.utils.threads import usable_cpus

ray: Any = None
"""The ``ray`` module, imported on first use (:func:`require_ray`): commands that run locally do not pay for it."""

RETRIES = 1
"""Times a crashed job is run again (from its last checkpoint) before it is reported as failed."""
OBJECT_STORE_BYTES = 128 << 20
"""Object store of a local Ray instance: jobs exchange files, not objects, so Ray's minimum-sized store suffices."""


INIT_OPTIONS = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR"}


def start_local(num_cpus: int) -> None:
    """Start a local Ray instance with ``num_cpus`` CPUs. Its workers run at the normal scheduling priority: Ray's
    default (niceness 15) starves the jobs of CPU wherever anything else runs (measured 20x slower on 2 busy
    cores); a cluster's nodes take the same setting from ``ray start``'s environment (docs/scaling.md)."""
    require_ray().init(
        num_cpus=num_cpus,
        object_store_memory=OBJECT_STORE_BYTES,
        _system_config={"worker_niceness": 0},
        **INIT_OPTIONS,
    )


def require_ray() -> Any:
    """The ``ray`` module; without the optional extra, a one-line error that says how to install it."""
    global ray
    if ray is None:
        try:
            import ray as ray_module
            import ray.util.scheduling_strategies  # noqa: F401  (NodeAffinitySchedulingStrategy)
        except ImportError:
            raise RwmuError(
                "--backend ray needs Ray: pip install 'rwmu[ray]' (or pip install 'ray>=2.9'), or use --backend local"
            ) from None
        ray = ray_module
    return ray


class CrashedJob(RuntimeError):
    """A job's worker process ended other than by success or a user error: Ray retries the task."""


def _run_task(job: Job, threads: int, address: str) -> str | None:
    """Body of one job's Ray task: the job's worker process. Returns None, or the one-line error of a user error
    (exit code 2: running it again would fail the same way); raises :class:`CrashedJob` otherwise."""
    try:
        run_job(job, threads, env={RAY_ADDRESS_VARIABLE: address})
    except JobFailed as err:
        if err.returncode == RwmuError.exit_code:
            return str(err)
        raise CrashedJob(str(err)) from None
    return None


def _call_in(cwd: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """Body of every Ray task: ``fn(**kwargs)`` in ``cwd``."""
    os.chdir(cwd)  # the call's paths are relative to the driver's working directory
    return fn(**kwargs)


def _submit(
    fn: Callable[..., Any],
    calls: list[dict[str, Any]],
    cpus: float,
    gpus: float = 0.0,
    cpu_flag: str = "--cpus-per-job",
    **options: Any,
) -> list:
    """``fn(**kwargs)`` for each of ``calls`` as a Ray task of ``cpus`` CPUs and ``gpus`` GPUs, in the driver's
    working directory, run once more if its worker dies (``options``: further Ray task options). A task that could
    never start (more CPUs or GPUs than the cluster has) is refused first, naming ``cpu_flag`` or --gpus-per-job."""
    available = ray.cluster_resources()
    for name, need, flag in (("CPU", cpus, cpu_flag), ("GPU", gpus, "--gpus-per-job")):
        if need > available.get(name, 0):
            raise RwmuError(
                f"{flag} {need:g}: the Ray cluster has {available.get(name, 0):g} {name}(s) in all, so no task could "
                f"start; lower {flag} or add nodes"
            )
    task = ray.remote(_call_in).options(num_cpus=cpus, num_gpus=gpus, max_retries=RETRIES, **options)
    return [task.remote(os.getcwd(), fn, kwargs) for kwargs in calls]


def _as_completed(refs: list, desc: str, unit: str) -> Iterator[Any]:
    """Each of ``refs`` as its task ends, counted by one progress bar; leaving early (an error, Ctrl-C or SIGTERM)
    cancels the tasks still running (their worker processes end with them)."""
    pending = list(refs)
    try:
        with tqdm(total=len(refs), desc=desc, unit=unit) as bar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield done[0]
                bar.update(1)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def map_calls(fn: Callable[..., Any], calls: list[dict[str, Any]], cpus: int, cpu_flag: str, desc: str) -> list[Any]:
    """``[fn(**kwargs) for kwargs in calls]`` as Ray tasks of ``cpus`` CPUs each (the flag ``cpu_flag`` sets them;
    inside :func:`connected`), in the
    driver's working directory, with one progress bar; results in the order of ``calls``. ``fn`` must be importable
    on every node (a module-level function of rwmu). A task whose worker dies is run once more; an error raised by
    ``fn`` (an :class:`RwmuError`) is raised here."""
    refs = _submit(fn, calls, cpus, cpu_flag=cpu_flag)
    results: dict[Any, Any] = {}
    for ref in _as_completed(refs, desc, "task"):
        try:
            results[ref] = ray.get(ref)
        except ray.exceptions.RayTaskError as err:
            if isinstance(err.cause, RwmuError):
                raise RwmuError(str(err.cause)) from None
            raise
    return [results[ref] for ref in refs]


@contextlib.contextmanager
def connected(address: str | None, out: Path) -> Iterator[str]:
    """Ray for the duration of a command: the cluster at ``address`` ('auto', HOST:PORT), or a local instance
    started now and stopped after. Checks that every node reaches ``out`` and the working directory; yields the
    cluster's address."""
    require_ray()
    started = not ray.is_initialized()
    if started:
        try:
            if address:
                ray.init(address=address, **INIT_OPTIONS)
            else:
                start_local(usable_cpus())
        except ConnectionError as err:
            raise RwmuError(
                f"--ray-address {address}: cannot join a Ray cluster there ({str(err).splitlines()[0][:120]}); "
                "start one (ray start --head) or drop --ray-address to start a local instance"
            ) from None
    try:
        check_shared_storage(out)
        yield ray.get_runtime_context().gcs_address
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def session(backend: str, address: str | None, out: Path) -> Iterator[None]:
    """:func:`connected` when ``backend`` is ``ray``; nothing for the local backend."""
    if backend != "ray":
        yield
        return
    with connected(address, out):
        yield


def _paths_exist(paths: list[str]) -> list[bool]:
    return [os.path.exists(p) for p in paths]


def unreachable_nodes(paths: list[Path]) -> list[str]:
    """The alive Ray nodes (by address) on which one of ``paths`` (existing here) does not exist."""
    check = ray.remote(num_cpus=0)(_paths_exist)
    nodes = [node for node in ray.nodes() if node.get("Alive")]
    refs = [
        check.options(
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(
                node["NodeID"], soft=False
            )
        ).remote([str(p) for p in paths])
        for node in nodes
    ]
    return [node["NodeManagerAddress"] for node, found in zip(nodes, ray.get(refs)) if not all(found)]


def check_shared_storage(out: Path) -> None:
    """Refuse, before any work, an output folder or working directory that a Ray node does not see: a probe
    file written here must exist on every node."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    probe = out / f".rwmu-storage-probe-{uuid.uuid4().hex}"
    probe.touch()
    try:
        missing = unreachable_nodes([probe, Path.cwd()])
    finally:
        probe.unlink(missing_ok=True)
    if missing:
        raise RwmuError(
            f"--out {out}: not on storage every Ray node reaches (not found on {', '.join(missing)}); put the "
            "output folder and the working directory on a file system every node mounts at the same path"
        )


def run_jobs(
    jobs: list[Job],
    workers: int,
    desc: str,
    log: Callable[[str], None],
    cpus_per_job: int | None = None,
    gpus_per_job: float = 0.0,
) -> list[str]:
    """Claim every job, then run the unfinished ones as Ray tasks (inside :func:`connected`); return one line per
    failure. Ray schedules them by their resources; ``workers`` only sets the default CPUs per job. Ctrl-C or
    SIGTERM cancels every task (their worker processes end with them) and is raised again."""
    todo = pending_jobs(jobs, desc, log)
    if not todo:
        return []
    threads = threads_per_job(workers, cpus_per_job)
    address = ray.get_runtime_context().gcs_address
    calls = [{"job": job, "threads": threads, "address": address} for job in todo]
    refs = _submit(_run_task, calls, threads, gpus_per_job, retry_exceptions=[CrashedJob])
    labels = {ref: job.label for ref, job in zip(refs, todo)}
    failures = []
    for ref in _as_completed(refs, desc, "job"):
        try:
            error = ray.get(ref)
        except ray.exceptions.RayError as err:  # crashed twice, or its node died twice
            cause = getattr(err, "cause", None)
            error = str(cause) if isinstance(cause, CrashedJob) else f"{labels[ref]} failed: {err}"
            error = " ".join(error.split())[:400]
        if error:
            failures.append(error)
            log(f"[{desc}] {error}")
    return failures
