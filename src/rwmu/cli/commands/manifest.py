"""Check and re-score the manifest of published policies (docs/results/policies.json).

``rwmu manifest check`` lists entries whose file is missing, files shared by entries with different recorded
scores, and entries that name no recipe (or method) or no experiment; exit code 1 when there is any.
``rwmu manifest table`` prints (or with --write, updates in README.md) the README's results table.
``rwmu manifest rescore`` scores entries again in MuJoCo: at the recorded evaluation seed on the built-in schedules it
lists every entry whose return differs from its record; with another --seed or --heldout-seed (schedules drawn from
the task's command ranges that no policy was tuned on) it reports the new scores per dataset, recipe and lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rwmu.experiments.paths import MANIFEST


@dataclass(frozen=True)
class Check:
    """List broken entries of a policy manifest (exit code 1 if any)."""

    manifest: Path = MANIFEST
    """the manifest; its files are relative to the current folder"""


@dataclass(frozen=True)
class Rescore:
    """Score manifest entries again in MuJoCo and list those that differ from their record."""

    out: Path
    """folder for rescore.json and rescore.md"""
    manifest: Path = MANIFEST
    """the manifest; its files are relative to the current folder"""
    recipe: tuple[str, ...] = ()
    """only entries of these recipes (default: every entry)"""
    dataset: tuple[str, ...] = ()
    """only entries of these datasets"""
    episodes: int = 32
    """MuJoCo episodes per policy (the recorded scores used 32)"""
    seed: int = 0
    """evaluation seed (the recorded scores used 0)"""
    heldout_seed: int | None = None
    """instead of the built-in schedules, 8 schedules drawn with this seed from the task's command ranges"""


@dataclass(frozen=True)
class Table:
    """Print the README's results table from the published results files (run from the repository root)."""

    write: Path | None = None
    """rewrite the table block of this file (README.md) instead of printing it"""


SUBCOMMANDS = {"check": Check, "rescore": Rescore, "table": Table}
