"""Window indexing around terminations and trajectory boundaries; the leak-free split; batched gathering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.layout import DataDims
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.data.windows import block_ids, gather_windows, pick_windows, segment_ids, split_windows, window_starts
from rwmu.errors import RwmuError

DIMS = DataDims(state=1, action=1, extension=0, contact=0, termination=1)


def make(lengths, termination_rows) -> TrajectoryDataset:
    rows = int(sum(lengths))
    data = np.zeros((rows, 3), dtype=np.float32)
    data[:, 0] = np.arange(rows)
    data[list(termination_rows), 2] = 1.0
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return TrajectoryDataset(data, DIMS, offsets)


def brute_force_starts(ds: TrajectoryDataset, length: int) -> list[int]:
    term = ds.terminations[:, 0]
    out = []
    for i in range(ds.num_trajectories):
        lo, hi = ds.trajectory_offsets[i], ds.trajectory_offsets[i + 1]
        for s in range(lo, hi - length + 1):
            if not term[s : s + length - 1].any():
                out.append(s)
    return out


def test_known_starts_around_terminations_and_boundaries():
    # trajectory 0: rows 0-9, termination on row 3; trajectory 1: rows 10-15, termination on its last row 15
    ds = make([10, 6], [3, 15])
    # length 3: rows [s, s+2] in one trajectory, no termination in rows s, s+1
    assert window_starts(ds, 3).tolist() == [0, 1, 4, 5, 6, 7, 10, 11, 12, 13]
    assert window_starts(ds, 4).tolist() == [0, 4, 5, 6, 10, 11, 12]  # a termination may be the last row
    assert window_starts(ds, 6).tolist() == [4, 10]
    assert window_starts(ds, 7).tolist() == []
    assert window_starts(ds, 1).tolist() == list(range(16))
    assert window_starts(ds, 3).dtype == np.int64


@pytest.mark.parametrize("length", [1, 2, 5, 17, 40])
def test_matches_brute_force_on_random_data(length):
    rng = np.random.default_rng(length)
    lengths = rng.integers(1, 80, size=12)
    rows = int(lengths.sum())
    terms = np.flatnonzero(rng.random(rows) < 0.05)
    ds = make(lengths, terms)
    assert window_starts(ds, length).tolist() == brute_force_starts(ds, length)


def test_no_termination_column_uses_only_boundaries():
    dims = DataDims(state=1, action=1, termination=0)
    ds = TrajectoryDataset(np.zeros((7, 2), np.float32), dims, [0, 4, 7])
    assert window_starts(ds, 3).tolist() == [0, 1, 4]


def test_segments_and_blocks():
    ds = make([10, 6], [3, 15])
    assert segment_ids(ds).tolist() == [0] * 4 + [1] * 6 + [2] * 6
    blocks = block_ids(ds, block_length=3)
    # segment 0 (4 rows) -> 1 block; segment 1 (6 rows) -> 2 blocks of 3; segment 2 (6 rows) -> 2 blocks
    assert blocks.tolist() == [0] * 4 + [1, 1, 1, 2, 2, 2] + [3, 3, 3, 4, 4, 4]


def test_split_has_no_leakage_and_is_deterministic():
    ds = make_synthetic_dataset(2, 3000, seed=1)
    length = 40
    train, val = split_windows(ds, length, val_fraction=0.2, seed=7, block_length=200)
    assert len(train) > 0 and len(val) > 0
    train_rows = (train[:, None] + np.arange(length)).ravel()
    val_rows = (val[:, None] + np.arange(length)).ravel()
    assert np.intersect1d(train_rows, val_rows).size == 0
    valid = set(window_starts(ds, length).tolist())
    assert set(train.tolist()) <= valid and set(val.tolist()) <= valid
    val_share = np.unique(val_rows).size / ds.num_rows
    assert 0.1 < val_share < 0.35
    again = split_windows(ds, length, val_fraction=0.2, seed=7, block_length=200)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], val)
    other = split_windows(ds, length, val_fraction=0.2, seed=8, block_length=200)
    assert not np.array_equal(other[1], val)


def test_single_long_recording_still_gets_validation():
    ds = make([5000], [])
    train, val = split_windows(ds, 40, val_fraction=0.1, seed=0)
    assert len(val) > 0 and len(train) > 0
    assert train.max() + 40 <= ds.num_rows


def test_small_val_fraction_still_gives_a_validation_window():
    ds = make([400, 400, 400], [])
    train, val = split_windows(ds, 40, val_fraction=0.001, seed=3, block_length=100)
    assert len(val) >= 1 and len(train) > 0


def test_split_errors_clearly():
    with pytest.raises(RwmuError, match="no valid training window of 40 rows"):
        split_windows(make([30, 20], []), 40)
    with pytest.raises(RwmuError, match="cannot split"):
        split_windows(make([45], []), 40, val_fraction=0.1)  # one block only
    train, val = split_windows(make([45], []), 40, val_fraction=0.0)
    assert train.tolist() == list(range(6)) and val.size == 0


def test_gather_windows_content():
    data = torch.arange(20 * 3, dtype=torch.float32).reshape(20, 3)
    starts = torch.tensor([0, 5, 17])
    batch = gather_windows(data, starts, 3)
    assert batch.shape == (3, 3, 3)
    for b, s in enumerate(starts.tolist()):
        torch.testing.assert_close(batch[b], data[s : s + 3])
    from_numpy = gather_windows(data, np.array([2]), 4)
    torch.testing.assert_close(from_numpy[0], data[2:6])


def test_pick_windows_draws_a_sorted_repeatable_subset():
    starts = np.arange(0, 300, 3, dtype=np.int64)  # 100 starts
    picked = pick_windows(starts, 10, seed=4)
    assert picked.size == 10 and np.all(np.diff(picked) > 0) and np.isin(picked, starts).all()
    assert np.array_equal(picked, pick_windows(starts, 10, seed=4))
    assert not np.array_equal(picked, pick_windows(starts, 10, seed=5))
    assert pick_windows(starts, 100, seed=4) is starts  # no more than asked: all of them, unchanged
