"""Trajectory datasets (SPEC section 2).

* :mod:`rwmu.data.layout`: the column convention (:class:`DataDims`).
* :mod:`rwmu.data.dataset`: :class:`TrajectoryDataset`, :func:`load_dataset` (CSV folder/files or native ``.rwmu``),
  :func:`save_dataset` (native format).
* :mod:`rwmu.data.writer`: :func:`write_csv_dataset` (reference CSV convention).
* :mod:`rwmu.data.windows`: :func:`window_starts`, :func:`split_windows`, :func:`gather_windows`.
* :mod:`rwmu.data.normalization`: :class:`Normalization`.
* :mod:`rwmu.data.synthetic`: :func:`make_synthetic_dataset`.

Names are imported lazily (``from rwmu.data import load_dataset`` works) so importing the package stays cheap.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "DataDims": "rwmu.data.layout",
    "TrajectoryDataset": "rwmu.data.dataset",
    "load_dataset": "rwmu.data.dataset",
    "save_dataset": "rwmu.data.dataset",
    "write_csv_dataset": "rwmu.data.writer",
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
