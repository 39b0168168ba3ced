"""Write a dataset in the reference CSV convention: one ``state_action_data_<k>.csv`` per trajectory, no header."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rwmu.data.dataset import TrajectoryDataset
from rwmu.utils.io import atomic_path

# float32 values need 9 significant digits to round-trip exactly through text.
CSV_FLOAT_FORMAT = "%.9g"


def write_csv_dataset(ds: TrajectoryDataset, folder: str | os.PathLike) -> list[Path]:
    """Write trajectory ``k`` of ``ds`` to ``folder/state_action_data_<k>.csv`` (each file atomically).

    Values are written with 9 significant digits, so reading the folder back gives the same float32 values.
    Returns the written paths in order.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(ds.num_trajectories):
        path = folder / f"state_action_data_{k}.csv"
        with atomic_path(path) as tmp:
            np.savetxt(tmp, ds.trajectory(k), fmt=CSV_FLOAT_FORMAT, delimiter=",")
        paths.append(path)
    return paths
