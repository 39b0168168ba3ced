"""The completed chunks of an interrupted ``rwmu collect``, kept in ``OUT/.collect/`` until the dataset is written.

Chunk ``k`` is two files: ``chunk_<k>.rwmu`` (its rows, native format) and, written after it, ``chunk_<k>.pt`` (its
statistics and the random and task state of the simulator and the behaviour policy at its end, read with
``weights_only``). A chunk counts as completed once its ``.pt`` exists; both are written atomically, so a killed
collection leaves only whole chunks. ``manifest.json`` records what the chunks depend on (the settings and the
behaviour policies' files), so that a resumed collection continues only the same one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.native_format import read_native_dataset, save_dataset
from rwmu.utils.checkpoints import read_torch_checkpoint
from rwmu.utils.io import to_jsonable, torch_save_atomic, write_json_atomic

FOLDER = ".collect"


class ChunkStore:
    """The ``.collect`` folder of a collection's output folder ``out``."""

    def __init__(self, out: str | Path):
        self.folder = Path(out) / FOLDER

    def completed(self) -> int:
        """How many chunks, from chunk 0 on without a gap, are completed."""
        k = 0
        while (self.folder / f"chunk_{k}.pt").is_file() and (self.folder / f"chunk_{k}.rwmu").is_file():
            k += 1
        return k

    def manifest(self) -> dict[str, Any] | None:
        """What the chunks were collected with (:meth:`start`), or None if no collection started here."""
        path = self.folder / "manifest.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def start(self, manifest: dict[str, Any]) -> None:
        """Record what a new collection's chunks depend on (removes chunks of an earlier one)."""
        self.clear()
        write_json_atomic(self.folder / "manifest.json", to_jsonable(manifest))

    def save(self, k: int, dataset: TrajectoryDataset, record: dict[str, Any]) -> None:
        """Store chunk ``k``: its rows, then its ``record`` (tensors, numbers, lists and dicts)."""
        save_dataset(dataset, self.folder / f"chunk_{k}.rwmu")
        torch_save_atomic(record, self.folder / f"chunk_{k}.pt")

    def dataset(self, k: int) -> TrajectoryDataset:
        return read_native_dataset(self.folder / f"chunk_{k}.rwmu")

    def record(self, k: int) -> dict[str, Any]:
        return read_torch_checkpoint(self.folder / f"chunk_{k}.pt", "a chunk record written by rwmu collect")

    def clear(self) -> None:
        """Remove the folder (the dataset is written, or a new collection starts)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def equal_shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` shares that differ by at most one, the larger ones first (e.g. 301 in 2:
    151, 150): the rows of each behaviour checkpoint of a mixed collection, or of each shard."""
    return [total // parts + (k < total % parts) for k in range(parts)]


def chunk_sizes(rows: int, chunk_rows: int) -> list[int]:
    """``rows`` split into chunks of ``chunk_rows`` (the last one takes the remainder; 0: one chunk)."""
    if chunk_rows <= 0 or rows <= chunk_rows:
        return [rows]
    sizes = [chunk_rows] * (rows // chunk_rows)
    if rows % chunk_rows:
        sizes.append(rows % chunk_rows)
    return sizes
