"""Synthetic trajectory data: a damped linear system with contacts and terminations, for tests and examples.

A latent state ``z`` (``latent_dim``) follows ``z_{t+1} = A z_t + B a_{t+1} + w_t`` with ``A`` a damped rotation in
a random basis (spectral radius below 1), ``B`` a random input matrix, ``w_t ~ N(0, noise_std^2)`` and actions from
an Ornstein-Uhlenbeck process (smooth random). The state written to the dataset is ``s = mean + std * (W z)`` with
``W`` a fixed matrix with orthonormal columns (``W = I`` when ``latent_dim == dims.state``) and ``mean``/``std`` from
the task's normalisation when a task is given (so task-shaped data has realistic scales), else 0 and 1.

Rows follow the dataset convention (:mod:`rwmu.data.layout`): row ``t`` holds ``s_t`` and the action ``a_t`` that led
to it (zeros on the first row of each episode). Contacts are ``P z_t > 0`` for a fixed projection ``P``, extensions
``E z_t``; the termination flag is 1 when ``|z_t[0]|`` exceeds ``termination_sigmas`` stationary standard deviations,
after which the recording continues from a fresh reset state, so one trajectory holds several episodes.

The next state is an exact linear function of the current state and action plus small noise, so a least-squares
one-step model beats "no change" by a wide margin: a learnability check for the world model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from rwmu.data.dataset import DatasetSchema, TrajectoryDataset, default_column_names, require_schema
from rwmu.data.layout import DataDims
from rwmu.errors import RwmuError

DEFAULT_DIMS = DataDims(state=6, action=2, extension=0, contact=2, termination=1)


class ScaledDatasetSchema(DatasetSchema, Protocol):
    """A :class:`~rwmu.data.dataset.DatasetSchema` with the state normalisation (``None`` when it has none)."""

    @property
    def state_mean(self) -> Sequence[float] | None: ...

    @property
    def state_std(self) -> Sequence[float] | None: ...


def _system_matrices(latent_dim: int, action_dim: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Damped rotations (radius 0.90-0.97, 0.05-0.3 rad per step) in a random orthonormal basis; random input map."""
    blocks = np.zeros((latent_dim, latent_dim))
    for i in range(0, latent_dim, 2):
        radius = rng.uniform(0.90, 0.97)
        if i + 1 < latent_dim:
            angle = rng.uniform(0.05, 0.3)
            c, s = radius * np.cos(angle), radius * np.sin(angle)
            blocks[i : i + 2, i : i + 2] = [[c, -s], [s, c]]
        else:
            blocks[i, i] = radius
    basis, _ = np.linalg.qr(rng.standard_normal((latent_dim, latent_dim)))
    a_matrix = basis @ blocks @ basis.T
    b_matrix = rng.standard_normal((latent_dim, action_dim)) / np.sqrt(action_dim)
    return a_matrix, b_matrix


def _stationary_latent_covariance(
    a_matrix: np.ndarray, b_matrix: np.ndarray, smoothing: float, action_std: float, noise_std: float
) -> np.ndarray:
    """Stationary covariance of ``z`` for the joint linear system ``y = [z, ou]`` driven by white noise.

    ``ou' = c ou + q eps``, ``z' = A z + B ou' + w``  =>  ``y' = F y + G [eps; w]``; solved by Lyapunov doubling.
    """
    k, m = b_matrix.shape
    q = np.sqrt(1.0 - smoothing**2) * action_std
    f = np.zeros((k + m, k + m))
    f[:k, :k], f[:k, k:], f[k:, k:] = a_matrix, smoothing * b_matrix, smoothing * np.eye(m)
    g = np.zeros((k + m, m + k))
    g[:k, :m], g[:k, m:], g[k:, :m] = q * b_matrix, noise_std * np.eye(k), q * np.eye(m)
    cov, power = g @ g.T, f
    for _ in range(40):  # P = sum_j F^j Q F^j^T, doubling: 2^40 terms
        cov = cov + power @ cov @ power.T
        power = power @ power
    return cov[:k, :k]


def make_synthetic_dataset(
    num_trajectories: int,
    steps: int,
    dims: DataDims = DEFAULT_DIMS,
    seed: int = 0,
    *,
    task: ScaledDatasetSchema | None = None,
    latent_dim: int | None = None,
    noise_std: float = 0.01,
    action_std: float = 1.0,
    action_smoothing: float = 0.9,
    termination_sigmas: float = 2.5,
    reset_std: float = 0.3,
) -> TrajectoryDataset:
    """Simulate ``num_trajectories`` recordings of ``steps`` rows each.

    Args:
        num_trajectories: files/trajectories to generate.
        steps: rows per trajectory.
        dims: column widths (ignored when ``task`` is given). Default 6/2/0/2/1.
        seed: everything is a deterministic function of the seed.
        task: a task object (:class:`ScaledDatasetSchema`, e.g. :class:`rwmu.tasks.base.Task`; not its name: resolve
            names with :func:`rwmu.tasks.get_task`): use its dims, normalisation scales, column names and dt.
        latent_dim: dimension of the underlying linear system; default ``min(dims.state, 12)``.
        noise_std: process noise on the latent state per step.
        action_std: stationary std of the OU actions.
        action_smoothing: OU coefficient in [0, 1): ``a <- c a + sqrt(1 - c^2) action_std eps``.
        termination_sigmas: terminate when ``|z[0]|`` exceeds this many stationary standard deviations of ``z[0]``
            (with the defaults episodes last a few hundred steps).
        reset_std: std of the latent state at the start of each episode (the input matrix is scaled so that the
            stationary std of the latent coordinates is about 1 on average).

    Returns:
        a :class:`TrajectoryDataset` with ``meta["provenance"]["source_format"] == "synthetic"``.
    """
    require_schema(task, "make_synthetic_dataset")
    if task is not None:
        dims = task.dims
    if num_trajectories < 1 or steps < 1:
        raise RwmuError(f"need at least one trajectory of one step, got {num_trajectories} x {steps}")
    k = latent_dim if latent_dim is not None else min(dims.state, 12)
    if not 1 <= k <= dims.state:
        raise RwmuError(f"latent_dim must be in [1, {dims.state}], got {k}")

    rng = np.random.default_rng(seed)
    a_matrix, b_matrix = _system_matrices(k, dims.action, rng)
    cov = _stationary_latent_covariance(a_matrix, b_matrix, action_smoothing, action_std, noise_std)
    b_matrix = b_matrix / np.sqrt(np.mean(np.diag(cov)))  # average stationary latent variance ~ 1
    cov = _stationary_latent_covariance(a_matrix, b_matrix, action_smoothing, action_std, noise_std)
    termination_threshold = termination_sigmas * float(np.sqrt(cov[0, 0]))
    embed = np.eye(dims.state) if k == dims.state else np.linalg.qr(rng.standard_normal((dims.state, k)))[0]
    contact_map = rng.standard_normal((dims.contact, k))
    extension_map = rng.standard_normal((dims.extension, k)) / np.sqrt(k)
    if task is not None and task.state_mean is not None and task.state_std is not None:
        state_mean, state_scale = np.asarray(task.state_mean), np.asarray(task.state_std)
        # W z has unit-scale columns spread over S dims; scale back up so normalised states are O(1).
        state_scale = state_scale * np.sqrt(dims.state / k)
    else:
        state_mean, state_scale = np.zeros(dims.state), np.ones(dims.state)

    n = num_trajectories
    latent = np.empty((steps, n, k))
    actions = np.empty((steps, n, dims.action))
    terminated = np.zeros((steps, n), dtype=bool)
    z = rng.standard_normal((n, k)) * reset_std
    ou = rng.standard_normal((n, dims.action)) * action_std
    innovation = np.sqrt(1.0 - action_smoothing**2) * action_std
    reset_next = np.ones(n, dtype=bool)  # row 0 of every trajectory is an episode start
    for t in range(steps):  # loop over time only; all trajectories advance together
        ou = action_smoothing * ou + innovation * rng.standard_normal((n, dims.action))
        stepped = z @ a_matrix.T + ou @ b_matrix.T + noise_std * rng.standard_normal((n, k))
        fresh = rng.standard_normal((n, k)) * reset_std
        z = np.where(reset_next[:, None], fresh, stepped)
        latent[t] = z
        actions[t] = np.where(reset_next[:, None], 0.0, ou)
        terminated[t] = np.abs(z[:, 0]) > termination_threshold
        reset_next = terminated[t]

    # (steps, n, .) -> trajectory-major rows (n * steps, .)
    latent = latent.transpose(1, 0, 2).reshape(n * steps, k)
    columns = [
        state_mean + state_scale * (latent @ embed.T),
        actions.transpose(1, 0, 2).reshape(n * steps, dims.action),
        latent @ extension_map.T,
        (latent @ contact_map.T > 0).astype(np.float64),
    ]
    if dims.termination:
        columns.append(terminated.T.reshape(n * steps, 1).astype(np.float64))
    data = np.concatenate(columns, axis=1).astype(np.float32)
    offsets = np.arange(n + 1, dtype=np.int64) * steps
    meta = {
        "column_names": list(task.column_names) if task is not None else default_column_names(dims),
        "dt": float(task.dt) if task is not None else 0.02,
        "task": task.name if task is not None else None,
        "provenance": {
            "source_format": "synthetic",
            "generator": "rwmu.data.synthetic.make_synthetic_dataset",
            "seed": seed,
            "latent_dim": k,
            "noise_std": noise_std,
            "termination_sigmas": termination_sigmas,
            "termination_threshold": termination_threshold,
        },
    }
    return TrajectoryDataset(data=data, dims=dims, trajectory_offsets=offsets, meta=meta)
