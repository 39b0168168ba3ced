"""Turn the steps of a batched environment into dataset trajectories (docs/method.md section 2 row convention).

Row ``t`` of a trajectory holds the state ``s_t``, the action that LED to ``s_t`` (zeros on a reset row), the
contacts at ``t`` and the termination flag at ``t`` (see :mod:`rwmu.data.layout`), and optionally ``K`` context values
(the command in the policy's observation at ``s_t``, :mod:`rwmu.data.dataset`).

Boundaries:

* a **termination** (fall) ends an episode but not the trajectory: its row has termination = 1 and the next row of
  the same trajectory is the reset state (action zeros). The world model's window builder never lets a window cross
  a termination, and a trajectory file may hold several episodes, as the reference data does;
* a **time-out** (episode length reached) ends the trajectory: nothing in the row convention marks it, so the reset
  state starts a new trajectory instead, and no window spans the discontinuity.
"""

from __future__ import annotations

import numpy as np

from rwmu.data.layout import DataDims


class TrajectoryRecorder:
    """Collect rows of ``num_envs`` environments into trajectories.

    Rows are stored in blocks as they arrive (one block per :meth:`add_rows` call) and gathered once at the end.
    """

    def __init__(self, num_envs: int, dims: DataDims, context_dim: int = 0):
        self.num_envs = int(num_envs)
        self.dims = dims
        self.context_dim = int(context_dim)
        self._blocks: list[np.ndarray] = []
        self._num_stored = 0
        self._open: list[list[int]] = [[] for _ in range(self.num_envs)]  # row ids of each open trajectory
        self._open_rows = np.zeros(self.num_envs, dtype=np.int64)
        self._closed: list[np.ndarray] = []  # row ids of finished trajectories, in closing order
        self.num_rows = 0

    def _row_block(self, states, actions, contacts, terminations, context, extensions) -> np.ndarray:
        k = states.shape[0]
        block = np.zeros((k, self.dims.num_columns + self.context_dim), dtype=np.float32)
        block[:, self.dims.state_slice] = states
        block[:, self.dims.action_slice] = actions
        block[:, self.dims.contact_slice] = contacts
        if self.dims.extension:
            if extensions is None:
                raise ValueError(f"the layout has {self.dims.extension} extension columns; pass extensions (k, E)")
            block[:, self.dims.extension_slice] = extensions
        if self.dims.termination:
            block[:, self.dims.termination_slice] = np.asarray(terminations, dtype=np.float32).reshape(k, 1)
        if self.context_dim:
            if context is None:
                raise ValueError(f"the recorder stores {self.context_dim} context columns; pass context (k, K)")
            block[:, self.dims.num_columns :] = context
        return block

    def add_rows(
        self,
        env_ids: np.ndarray,
        states: np.ndarray,
        actions: np.ndarray,
        contacts: np.ndarray,
        terminations: np.ndarray,
        context: np.ndarray | None = None,
        extensions: np.ndarray | None = None,
    ) -> None:
        """Append one row to the open trajectory of each of ``env_ids`` (k,); arrays are (k, width)."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        k = env_ids.size
        if k == 0:
            return
        block = self._row_block(states, actions, contacts, terminations, context, extensions)
        first = self._num_stored
        self._blocks.append(block)
        self._num_stored += k
        for j, env in enumerate(env_ids.tolist()):
            self._open[env].append(first + j)
        self._open_rows[env_ids] += 1
        self.num_rows += k

    def longest_rows(self) -> int:
        """Rows of the longest trajectory so far (closed or open)."""
        closed = max((t.size for t in self._closed), default=0)
        return int(max(closed, self._open_rows.max(initial=0)))

    def usable_rows(self, min_length: int) -> int:
        """Rows in trajectories (closed or open) of at least ``min_length`` rows."""
        closed = sum(t.size for t in self._closed if t.size >= min_length)
        return int(closed + self._open_rows[self._open_rows >= min_length].sum())

    def close(self, env_ids: np.ndarray) -> None:
        """End the open trajectory of ``env_ids`` (empty ones are skipped); the next row starts a new one."""
        for env in np.asarray(env_ids, dtype=np.int64):
            if self._open[env]:
                self._closed.append(np.asarray(self._open[env], dtype=np.int64))
            self._open[env] = []
            self._open_rows[env] = 0

    def finish(
        self, max_rows: int | None = None, min_length: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Close every trajectory; return ``(data (rows, columns), trajectory_offsets (T + 1,), context (rows, K))``.

        ``context`` is None when the recorder stores no context columns.

        Trajectories keep their closing order (environment order within a step). With ``max_rows`` the tail is cut
        so exactly ``max_rows`` rows remain (the last trajectory is shortened; trajectories that would become shorter
        than ``min_length`` rows are dropped instead).
        """
        self.close(np.arange(self.num_envs))
        width = self.dims.num_columns + self.context_dim
        store = np.concatenate(self._blocks) if self._blocks else np.zeros((0, width), np.float32)
        trajectories = [t for t in self._closed if t.size >= min_length]
        if max_rows is not None:
            kept, total = [], 0
            for rows in trajectories:
                remainder = max_rows - total
                if remainder <= 0:
                    break
                take = min(rows.size, remainder)
                if take < min_length:  # too short a tail: trim the longest kept trajectory instead, if it can spare
                    spare = min_length - take
                    longest = max(range(len(kept)), key=lambda i: kept[i].size, default=None)
                    if longest is None or kept[longest].size - spare < min_length or rows.size < min_length:
                        break
                    kept[longest] = kept[longest][:-spare]
                    take = min_length
                kept.append(rows[:take])
                total = sum(t.size for t in kept)
            trajectories = kept
        lengths = np.array([t.size for t in trajectories], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        rows = store[np.concatenate(trajectories)] if trajectories else store[:0]
        columns = self.dims.num_columns
        data = np.ascontiguousarray(rows[:, :columns])
        context = np.ascontiguousarray(rows[:, columns:]) if self.context_dim else None
        return data, offsets, context
