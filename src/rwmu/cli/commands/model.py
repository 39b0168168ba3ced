"""Inspect world-model checkpoints: architecture, parameters, iterations, normalisation, data used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass(frozen=True)
class Info:
    """Architecture, parameters, iterations, normalisation and data of a world-model checkpoint."""

    path: tyro.conf.Positional[Path]
    """world-model checkpoint (rwmu or reference format)"""
    json: bool = False
    """print JSON instead of a table"""


SUBCOMMANDS = {"info": Info}
