"""Run Go2 shards in this process or in worker processes, behind one interface.

MuJoCo's Python ``mj_step`` keeps the GIL, so threads do not add throughput (measured: 1 and 2 threads over 64
environments both give ~14k steps/s on 2 cores; see ``docs/go2.md``). Worker processes do: each owns a contiguous
block of environments (a :class:`~rwmu.sim.shard.Go2Shard`) and answers commands over a pipe. Environment ``i``
always gets the same physics whatever the number of workers, because all random draws happen in the caller.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import signal
import sys
from typing import Any

import numpy as np

from rwmu.sim.shard import Go2Shard, StepOutput
from rwmu.tasks.go2_flat import GO2_ACTUATION, Go2ActuationConfig

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _split(num_envs: int, num_workers: int) -> list[np.ndarray]:
    """Contiguous blocks of environment ids, as even as possible."""
    return [block for block in np.array_split(np.arange(num_envs), num_workers) if len(block) > 0]


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this worker when its parent dies, however it dies (Linux ``PR_SET_PDEATHSIG``).

    Elsewhere the worker notices instead when the pipe to its parent closes (:func:`_worker_main`).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _worker_main(
    conn: Any, num_envs: int, actuation: Go2ActuationConfig, per_env_models: bool, parent_pid: int
) -> None:
    _die_with_parent(parent_pid)
    # Ctrl-C (and a SIGTERM sent to the whole process group, as service managers do) reaches the workers too: the
    # parent decides what to do and closes them. A worker ignores Ctrl-C and ends quietly on SIGTERM, instead of
    # running the parent's handlers it inherited with the fork (a traceback per worker).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    shard = Go2Shard(num_envs, actuation, per_env_models)
    conn.send(("ready", shard.spawn_height))
    while True:
        try:
            method, args = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if method == "close":
            conn.close()
            return
        try:
            reply = ("ok", getattr(shard, method)(*args))
        except Exception as err:  # noqa: BLE001 - forwarded to the parent, which re-raises
            reply = ("error", repr(err))
        try:
            conn.send(reply)
        except OSError:  # the parent closed the pipe (it is ending): nothing to answer
            return


class ShardPool:
    """``num_envs`` Go2 environments over ``num_workers`` processes (1: everything in this process).

    Methods mirror :class:`Go2Shard` with global environment ids.
    """

    def __init__(
        self,
        num_envs: int,
        num_workers: int = 1,
        actuation: Go2ActuationConfig = GO2_ACTUATION,
        per_env_models: bool = False,
    ):
        self.num_envs = int(num_envs)
        self.num_workers = max(1, min(int(num_workers), self.num_envs))
        self.blocks = _split(self.num_envs, self.num_workers)
        self._owner = np.concatenate([np.full(len(b), w) for w, b in enumerate(self.blocks)])
        self._local_index = np.concatenate([np.arange(len(b)) for b in self.blocks])
        self._shard: Go2Shard | None = None
        self._conns: list[Any] = []
        self._procs: list[Any] = []
        if self.num_workers == 1:
            self._shard = Go2Shard(self.num_envs, actuation, per_env_models)
            self.spawn_height = self._shard.spawn_height
        else:
            # fork: instant start and no re-import of the caller's __main__; the workers use numpy and MuJoCo only
            # (never torch), so forking a process that has torch threads is safe. spawn where fork does not exist.
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            for block in self.blocks:
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=_worker_main, args=(child, len(block), actuation, per_env_models, os.getpid()), daemon=True
                )
                proc.start()
                child.close()
                self._conns.append(parent)
                self._procs.append(proc)
            for conn in self._conns:
                status, value = self._receive(conn, "start")
                self.spawn_height = value

    # ------------------------------------------------------------------------------------------------------------
    @staticmethod
    def _receive(conn: Any, method: str) -> tuple[str, Any]:
        try:
            return conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(f"a Go2 simulator worker process died during {method}") from None

    def _call_all(self, method: str, per_worker_args: list[tuple]) -> list[Any]:
        for conn, args in zip(self._conns, per_worker_args):
            conn.send((method, args))
        results = []
        for conn in self._conns:
            status, value = self._receive(conn, method)
            if status != "ok":
                raise RuntimeError(f"Go2 worker failed in {method}: {value}")
            results.append(value)
        return results

    def _by_worker(self, env_ids: np.ndarray, *arrays: np.ndarray) -> list[tuple]:
        """Split global ``env_ids`` and matching rows of ``arrays`` into per-worker (local ids, *rows)."""
        out = []
        for w in range(self.num_workers):
            mask = self._owner[env_ids] == w
            out.append((self._local_index[env_ids[mask]],) + tuple(a[mask] for a in arrays))
        return out

    def _gather(self, env_ids: np.ndarray, parts: list[StepOutput]) -> StepOutput:
        """Reassemble per-worker outputs (each in its own env order) into the order of ``env_ids``."""
        merged = StepOutput.concatenate(parts)
        order = np.concatenate([np.flatnonzero(self._owner[env_ids] == w) for w in range(self.num_workers)])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return merged.select(inverse)

    # ------------------------------------------------------------------------------------------------------------
    def step(self, joint_targets: np.ndarray) -> StepOutput:
        """One control step of all environments; ``joint_targets`` (num_envs, 12) [rad], task joint order."""
        if self._shard is not None:
            return self._shard.step(joint_targets)
        parts = self._call_all("step", [(joint_targets[b],) for b in self.blocks])
        return StepOutput.concatenate(parts)

    def reset(
        self, env_ids: np.ndarray, joint_offsets: np.ndarray, base_velocity: np.ndarray, yaw: np.ndarray
    ) -> StepOutput:
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if self._shard is not None:
            return self._shard.reset(env_ids, joint_offsets, base_velocity, yaw)
        parts = self._call_all("reset", self._by_worker(env_ids, joint_offsets, base_velocity, yaw))
        return self._gather(env_ids, parts)

    def push(self, env_ids: np.ndarray, delta_velocity_xy: np.ndarray) -> None:
        """Add ``delta_velocity_xy`` (k, 2) [m/s] to the body-frame base vx, vy of ``env_ids`` (``Go2Shard.push``)."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if self._shard is not None:
            self._shard.push(env_ids, delta_velocity_xy)
            return
        self._call_all("push", self._by_worker(env_ids, delta_velocity_xy))

    def set_parameters(
        self, env_ids: np.ndarray, friction: np.ndarray, added_base_mass: np.ndarray, motor_strength: np.ndarray
    ) -> None:
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if self._shard is not None:
            self._shard.set_parameters(env_ids, friction, added_base_mass, motor_strength)
            return
        self._call_all("set_parameters", self._by_worker(env_ids, friction, added_base_mass, motor_strength))

    def observe(self, env_ids: np.ndarray) -> StepOutput:
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if self._shard is not None:
            return self._shard.observe(env_ids)
        return self._gather(env_ids, self._call_all("observe", self._by_worker(env_ids)))

    def get_qpos(self, env_id: int) -> np.ndarray:
        if self._shard is not None:
            return self._shard.get_qpos(env_id)
        w = int(self._owner[env_id])
        self._conns[w].send(("get_qpos", (int(self._local_index[env_id]),)))
        status, value = self._receive(self._conns[w], "get_qpos")
        if status != "ok":
            raise RuntimeError(f"Go2 worker failed in get_qpos: {value}")
        return value

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("close", ()))
                conn.close()
            except (OSError, BrokenPipeError):
                pass
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()
        self._conns, self._procs = [], []

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
