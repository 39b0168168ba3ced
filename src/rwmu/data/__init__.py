"""Trajectory datasets (docs/method.md section 2).

* :mod:`rwmu.data.layout`: the column convention (:class:`DataDims`).
* :mod:`rwmu.data.dataset`: the in-memory :class:`TrajectoryDataset` and :class:`DatasetSchema` (what the data layer
  reads from a task object).
* :mod:`rwmu.data.loading`: :func:`load_dataset` (CSV folder/files or native ``.rwmu``, picked by path).
* :mod:`rwmu.data.csv_format`: the reference CSV convention: :func:`find_csv_files`, :func:`read_csv_trajectory`,
  :func:`write_csv_dataset`.
* :mod:`rwmu.data.native_format`: the native ``.rwmu`` file: :func:`save_dataset`, :func:`read_native_header`.
* :mod:`rwmu.data.windows`: :func:`window_starts`, :func:`split_windows`, :func:`gather_windows`.
* :mod:`rwmu.data.normalization`: :class:`Normalization`.
* :mod:`rwmu.data.synthetic`: :func:`make_synthetic_dataset`.

Names are imported lazily (``from rwmu.data import load_dataset`` works) so importing the package stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DataDims": "rwmu.data.layout",
    "DatasetSchema": "rwmu.data.dataset",
    "TrajectoryDataset": "rwmu.data.dataset",
    "load_dataset": "rwmu.data.loading",
    "find_csv_files": "rwmu.data.csv_format",
    "read_csv_trajectory": "rwmu.data.csv_format",
    "write_csv_dataset": "rwmu.data.csv_format",
    "save_dataset": "rwmu.data.native_format",
    "read_native_header": "rwmu.data.native_format",
    "NATIVE_SUFFIX": "rwmu.data.native_format",
    "window_starts": "rwmu.data.windows",
    "split_windows": "rwmu.data.windows",
    "gather_windows": "rwmu.data.windows",
    "Normalization": "rwmu.data.normalization",
    "make_synthetic_dataset": "rwmu.data.synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rwmu.data' has no attribute {name!r}")
