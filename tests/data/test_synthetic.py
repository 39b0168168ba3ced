"""Synthetic data: shapes, conventions, determinism and that the dynamics are learnable."""

from __future__ import annotations

import numpy as np

from rwmu.data.synthetic import DEFAULT_DIMS, make_synthetic_dataset
from rwmu.data.windows import window_starts


def one_step_errors(ds) -> tuple[float, float]:
    """Mean squared error of a least-squares fit s_{t+1} ~ [s_t, a_{t+1}, 1] and of predicting no change."""
    starts = window_starts(ds, 2)
    s, a, nxt = ds.states[starts], ds.actions[starts + 1], ds.states[starts + 1]
    x = np.concatenate([s, a, np.ones((len(s), 1))], axis=1).astype(np.float64)
    w, *_ = np.linalg.lstsq(x, nxt, rcond=None)
    return float(np.mean((x @ w - nxt) ** 2)), float(np.mean((s - nxt) ** 2))


def test_default_shape_and_conventions():
    ds = make_synthetic_dataset(3, 1500, seed=0)
    assert ds.dims == DEFAULT_DIMS and ds.num_rows == 4500 and ds.num_trajectories == 3
    assert ds.num_terminations >= 3  # several episodes per recording
    assert ds.num_episodes > ds.num_trajectories
    assert set(np.unique(ds.contacts)) <= {0.0, 1.0} and 0.2 < ds.contacts.mean() < 0.8
    assert np.all(ds.actions[ds.trajectory_offsets[:-1]] == 0)  # first row: no action yet
    after_termination = np.flatnonzero(ds.terminations[:-1, 0] == 1) + 1
    assert np.all(ds.actions[after_termination] == 0)  # reset rows: no action yet
    ds.check_values()


def test_deterministic_for_seed():
    a = make_synthetic_dataset(2, 300, seed=5)
    b = make_synthetic_dataset(2, 300, seed=5)
    c = make_synthetic_dataset(2, 300, seed=6)
    assert a.data.tobytes() == b.data.tobytes()
    assert a.data.tobytes() != c.data.tobytes()


def test_learnable_beats_no_change():
    fit, hold = one_step_errors(make_synthetic_dataset(4, 1000, seed=2))
    assert hold > 5 * fit


def test_task_shaped_anymal_data():
    from rwmu.data.normalization import Normalization
    from rwmu.tasks import get_task

    task = get_task("anymal_d_flat")
    ds = make_synthetic_dataset(2, 1000, seed=0, task=task)
    assert ds.dims == task.dims and ds.data.shape == (2000, 66)
    assert ds.meta["task"] == "anymal_d_flat" and ds.meta["column_names"] == list(task.column_names)
    assert ds.num_terminations >= 1
    z = Normalization.from_task(task).normalize_state(__import__("torch").from_numpy(ds.states))
    assert 0.2 < float(z.std(0).mean()) < 3.0  # realistic scale under the task normalisation
    fit, hold = one_step_errors(ds)
    assert hold > 5 * fit
