"""What several command declarations share: the column widths of a dataset, and the stored command of a resumed run
(the defaults ``--resume`` gives)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from rwmu.errors import RwmuError
from rwmu.utils.config import config_from_dict

T = TypeVar("T")


Dims = tuple[int, int, int, int, int]
"""Column widths ``state action extension contact termination`` of a dataset row, e.g. ``45 12 0 8 1``."""


def resumed_command(argv: list[str], cls: type[T]) -> T | None:
    """With ``--resume`` among ``argv``: the command the run in ``--out`` was started with (its ``config.json``),
    with ``out`` and ``resume`` set, as the defaults the flags given now override; else None."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--resume", action="store_true")
    known = parser.parse_known_args(argv)[0]
    if not known.resume or known.out is None:
        return None
    stored = stored_config(known.out, cls)
    return dataclasses.replace(stored, out=known.out, resume=True) if stored is not None else None


def stored_config(out: Path, cls: type[T]) -> T | None:
    """The command config a run in ``out`` was started with (its ``config.json``), or None if there is none."""
    path = Path(out) / "config.json"
    if not path.is_file():
        return None
    try:
        stored: Any = json.loads(path.read_text(encoding="utf-8"))["config"]["command"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise RwmuError(
            f"{path}: not a config.json written by rwmu (unreadable, or without the key config.command); "
            f"resume only a run rwmu started, or choose a new --out"
        ) from None
    return config_from_dict(cls, stored)
