"""Simulator worker processes never outlive the process that started them."""

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from rwmu.sim.pool import ShardPool
    pool = ShardPool(num_envs=2, num_workers=2)
    print(" ".join(str(p.pid) for p in pool._procs), flush=True)
    time.sleep(120)
    """
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent(sig):
    parent = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
        parent.send_signal(sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(pid) for pid in workers), f"workers {workers} outlived their parent ({sig.name})"
    finally:
        parent.kill()


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: /proc/<pid>/task/<tid>/children)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(child) for child in f.read().split()]
    return found


def start_collect(out, env) -> tuple[subprocess.Popen, list[int]]:
    """A real ``rwmu collect --num-workers 2`` long enough to be stopped, and its worker pids once they run."""
    command = [
        sys.executable,
        "-m",
        "rwmu.cli.main",
        "collect",
        "--out",
        str(out),
        "--steps",
        "1000000",
        "--num-envs",
        "4",
        "--num-workers",
        "2",
        "--chunk-rows",
        "100",
        "--min-trajectory-rows",
        "20",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )  # its own process group, as a command typed in a shell
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / ".collect" / "chunk_0.pt").exists():
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    workers = children(proc.pid)
    assert len(workers) == 2 and all(alive(pid) for pid in workers)
    return proc, workers


def wait_gone(pids: list[int], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids), f"workers {pids} outlived rwmu collect"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_collect_leaves_no_workers(tmp_path):
    proc, workers = start_collect(tmp_path / "out", {**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        wait_gone(workers)
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("target", ["command", "process group"])
def test_sigterm_ends_collect_cleanly(tmp_path, target):
    out = tmp_path / "out"
    proc, workers = start_collect(out, {**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        if target == "command":
            proc.send_signal(signal.SIGTERM)
        else:  # `kill -TERM -PGID`, a service manager's stop: the workers get it too, and end without a word
            os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + signal.SIGTERM
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        last = err.strip().splitlines()[-1]
        assert last.startswith("rwmu collect: terminated (SIGTERM); kept ") and last.endswith(
            f"continue with: rwmu collect --out {out} --resume"
        )
        wait_gone(workers)
        assert not list(out.rglob("*.tmp"))  # nothing half-written
        with open(out / ".lock", "a") as handle:  # the folder lock is free again
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        proc.kill()
