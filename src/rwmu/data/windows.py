"""Training windows: which rows can start a window, a leak-free train/validation split, and batched gathering.

A window of ``L`` rows starting at global row ``s`` covers rows ``s, ..., s + L - 1``. It is valid when all of them lie
in one trajectory and none of its first ``L - 1`` rows is a termination (the last row may be one: the model learns to
predict it). The world model trainer uses ``L = M + N`` (history + forecast steps, docs/method.md section 2).

Everything is index arithmetic on numpy/torch arrays; no Python loop runs over rows or windows.
"""

from __future__ import annotations

import numpy as np

from rwmu.data.dataset import TrajectoryDataset
from rwmu.errors import RwmuError


def _termination_flags(ds: TrajectoryDataset) -> np.ndarray:
    """int64 ``(num_rows,)``: 1 on termination rows, 0 elsewhere (all 0 when the dataset has no termination column)."""
    if ds.dims.termination == 0:
        return np.zeros(ds.num_rows, dtype=np.int64)
    return (ds.terminations[:, 0] != 0).astype(np.int64)


def _trajectory_end_of_row(ds: TrajectoryDataset) -> np.ndarray:
    """int64 ``(num_rows,)``: one past the last row of the trajectory each row belongs to."""
    return np.repeat(ds.trajectory_offsets[1:], ds.trajectory_lengths)


def valid_start_mask(ds: TrajectoryDataset, length: int) -> np.ndarray:
    """bool ``(num_rows,)``: True where a window of ``length`` rows may start."""
    if length < 1:
        raise RwmuError(f"window length must be at least 1, got {length}")
    rows = np.arange(ds.num_rows, dtype=np.int64)
    ends = rows + length  # one past the window's last row
    inside = ends <= _trajectory_end_of_row(ds)
    # terminations among rows [s, s + length - 1): cumulative sums, csum[i] = sum of flags[:i]
    csum = np.concatenate([[0], np.cumsum(_termination_flags(ds))])
    last_checked = np.minimum(ends - 1, ds.num_rows)
    no_termination = csum[last_checked] == csum[rows]
    return inside & no_termination


def window_starts(ds: TrajectoryDataset, length: int) -> np.ndarray:
    """int64 ``(n,)`` global row index of every valid window of ``length`` rows, ascending."""
    return np.flatnonzero(valid_start_mask(ds, length)).astype(np.int64)


def pick_windows(starts: np.ndarray, count: int, seed: int) -> np.ndarray:
    """At most ``count`` of the window ``starts`` (N,), drawn without replacement with ``seed`` and sorted (all of
    them, as given, when there are no more than ``count``)."""
    if starts.size <= count:
        return starts
    return np.sort(np.random.default_rng(seed).choice(starts, size=count, replace=False))


def segment_ids(ds: TrajectoryDataset) -> np.ndarray:
    """int64 ``(num_rows,)`` id of the segment of each row.

    Segments are the pieces of trajectories between terminations: a new segment starts at each trajectory start and
    on the row after each termination. Ids increase along the data, starting at 0.
    """
    starts = np.zeros(ds.num_rows, dtype=bool)
    starts[ds.trajectory_offsets[:-1]] = True
    term = _termination_flags(ds).astype(bool)
    starts[1:] |= term[:-1]
    return np.cumsum(starts) - 1


def block_ids(ds: TrajectoryDataset, block_length: int) -> np.ndarray:
    """int64 ``(num_rows,)`` id of the block of each row.

    Each segment of ``n`` rows is cut into ``max(1, n // block_length)`` blocks of near-equal length (each at least
    ``block_length`` rows when ``n >= block_length``), so one long recording still splits into several blocks.
    """
    if block_length < 1:
        raise RwmuError(f"block_length must be at least 1, got {block_length}")
    seg = segment_ids(ds)
    num_segments = int(seg[-1]) + 1 if seg.size else 0
    seg_len = np.bincount(seg, minlength=num_segments)
    seg_start = np.concatenate([[0], np.cumsum(seg_len)[:-1]])
    blocks_per_seg = np.maximum(1, seg_len // block_length)
    first_block = np.concatenate([[0], np.cumsum(blocks_per_seg)[:-1]])
    pos = np.arange(ds.num_rows, dtype=np.int64) - seg_start[seg]
    within = (pos * blocks_per_seg[seg]) // seg_len[seg]
    return first_block[seg] + within


def split_windows(
    ds: TrajectoryDataset,
    length: int,
    val_fraction: float = 0.1,
    seed: int = 0,
    block_length: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Split the valid windows into training and validation starts with no shared rows.

    Segments (see :func:`segment_ids`) are cut into blocks of about ``block_length`` rows (:func:`block_ids`); a
    seeded random permutation of the blocks assigns blocks to validation until they hold ``val_fraction`` of the
    rows (at least one block, never all). A window belongs to a split only if all its rows lie in blocks of that
    split; windows straddling a train/validation border are dropped, so no row is seen by both.

    Returns:
        ``(train_starts, val_starts)``: int64 arrays of global row indices, ascending. Deterministic for a seed.
        With ``val_fraction == 0`` every window is a training window and ``val_starts`` is empty.

    Raises:
        RwmuError: no valid window at all, or the data is too small to give both splits at least one window.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise RwmuError(f"val_fraction must be in [0, 1), got {val_fraction}")
    valid = valid_start_mask(ds, length)
    if not valid.any():
        raise RwmuError(
            f"no valid training window of {length} rows: every trajectory or episode is shorter "
            f"(longest trajectory {int(ds.trajectory_lengths.max())} rows); use more data or a shorter window"
        )
    if val_fraction == 0.0:
        return np.flatnonzero(valid).astype(np.int64), np.zeros(0, dtype=np.int64)

    block = block_ids(ds, block_length)
    num_blocks = int(block[-1]) + 1
    block_rows = np.bincount(block, minlength=num_blocks)
    # windows lying entirely inside one block, counted per block (used to guarantee a validation window)
    starts = np.flatnonzero(valid)
    inner = block[starts] == block[starts + length - 1]
    inner_windows = np.bincount(block[starts[inner]], minlength=num_blocks)

    rng = np.random.default_rng(seed)
    order = rng.permutation(num_blocks)
    # first validation block: the first block in permutation order that holds a whole window
    candidates = order[inner_windows[order] > 0]
    if candidates.size == 0 or num_blocks < 2:
        raise RwmuError(
            f"cannot split the data into training and validation: it holds {num_blocks} block(s) of about "
            f"{block_length} rows and no block holds a whole {length}-row window apart from the others; "
            f"use more data, a smaller --block-length or val_fraction 0"
        )
    first = candidates[0]
    rest = order[order != first]
    target = val_fraction * ds.num_rows
    taken_rows = block_rows[first] + np.cumsum(block_rows[rest])
    # take further blocks while the validation rows are still below the target (never all blocks)
    num_more = int(np.searchsorted(taken_rows - block_rows[rest], target, side="left"))
    num_more = min(num_more, rest.size - 1)
    val_blocks = np.concatenate([[first], rest[:num_more]])

    is_val_block = np.zeros(num_blocks, dtype=bool)
    is_val_block[val_blocks] = True
    row_is_val = is_val_block[block].astype(np.int64)
    csum = np.concatenate([[0], np.cumsum(row_is_val)])
    val_rows_in_window = csum[starts + length] - csum[starts]
    train_starts = starts[val_rows_in_window == 0].astype(np.int64)
    val_starts = starts[val_rows_in_window == length].astype(np.int64)
    if train_starts.size == 0:
        raise RwmuError(
            f"cannot split the data into training and validation: no training window of {length} rows is left "
            f"after holding out {val_fraction:.0%} for validation; use more data, lower val_fraction or block_length"
        )
    return train_starts, val_starts


def trajectory_segments(ds: TrajectoryDataset, starts: np.ndarray, block_length: int) -> np.ndarray:
    """int64 ``(n,)`` the trajectory segment each window start lies in: trajectories cut into ``block_length``-row
    segments, numbered along the data (the units of the trajectory bootstrap of ``rwmu train-model``)."""
    if block_length < 1:
        raise RwmuError(f"block length must be at least 1, got {block_length}")
    offsets = ds.trajectory_offsets
    per_traj = -(-np.diff(offsets) // block_length)  # segments of each trajectory
    first = np.concatenate([[0], np.cumsum(per_traj)[:-1]])
    traj = np.searchsorted(offsets, starts, side="right") - 1
    return (first[traj] + (starts - offsets[traj]) // block_length).astype(np.int64)


def gather_windows(data, starts, length: int):
    """Gather windows from a torch tensor by index arithmetic.

    Args:
        data: torch tensor ``(num_rows, num_columns)`` (the whole dataset, on any device).
        starts: ``(batch,)`` integer tensor or array of window start rows.
        length: rows per window.

    Returns:
        torch tensor ``(batch, length, num_columns)``; only the batch is copied, never the dataset.
    """
    import torch

    starts = torch.as_tensor(starts, dtype=torch.long, device=data.device)
    index = starts[:, None] + torch.arange(length, device=data.device, dtype=torch.long)
    return data[index]
