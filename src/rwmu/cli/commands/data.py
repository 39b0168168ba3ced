"""Convert, inspect, validate and generate trajectory datasets (reference CSV folders and native .rwmu files).

Column convention: docs/method.md section 2 (state | action | extension | contact | termination, one row per
control step). CSV data needs --task or --dims to name its columns; a .rwmu file records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tyro

from rwmu.cli.commands.shared import Dims


@dataclass(frozen=True)
class Info:
    """Dims, rows, trajectories, terminations and per-column statistics of a dataset."""

    path: tyro.conf.Positional[Path]
    """CSV folder, CSV file or .rwmu file"""
    task: str | None = None
    """task that names the CSV columns (anymal_d_flat, go2_flat)"""
    dims: Dims | None = None
    """column widths state action extension contact termination, instead of --task"""
    json: bool = False
    """print JSON instead of a table"""


@dataclass(frozen=True)
class Validate:
    """Check a dataset; print a summary, or one line naming the first problem (file, row, column)."""

    path: tyro.conf.Positional[Path]
    """CSV folder, CSV file or .rwmu file"""
    task: str | None = None
    """task that names the CSV columns (anymal_d_flat, go2_flat)"""
    dims: Dims | None = None
    """column widths state action extension contact termination, instead of --task"""
    min_rows: int = 1
    """minimum rows per trajectory (e.g. history + forecast horizon, M + N)"""


@dataclass(frozen=True)
class Convert:
    """Convert CSV data to a native .rwmu file (DST ends in .rwmu), or any dataset to a folder of CSV files."""

    src: tyro.conf.Positional[tuple[Path, ...]]
    """CSV folder, CSV file(s) or .rwmu file, then the output: a .rwmu file or a CSV folder"""
    task: str | None = None
    """task that names the CSV columns (anymal_d_flat, go2_flat)"""
    dims: Dims | None = None
    """column widths state action extension contact termination, instead of --task"""


@dataclass(frozen=True)
class Example:
    """Write synthetic example data: a damped linear system shaped like a task's rows."""

    out: Path
    """output folder (or a .rwmu file path with --format rwmu)"""
    task: str | None = "anymal_d_flat"
    """task whose row shape to imitate; None with --dims, or for the small 6/2/0/2/1 system"""
    dims: Dims | None = None
    """column widths state action extension contact termination, instead of --task"""
    trajectories: int = 4
    """number of trajectories (files)"""
    steps: int = 2500
    """rows per trajectory"""
    seed: int = 0
    format: Literal["csv", "rwmu"] = "csv"
    """csv: state_action_data_<k>.csv files; rwmu: one native file"""


SUBCOMMANDS = {"info": Info, "validate": Validate, "convert": Convert, "example": Example}
