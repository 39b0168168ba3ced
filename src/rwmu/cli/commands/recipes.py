"""List the recipes (rwmu.recipes): name, version, what data it is for, its published result; --markdown writes the
page docs/recipes.md is generated from (``rwmu recipes --markdown > docs/recipes.md``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """List the recipes of rwmu train-model / train-policy --recipe."""

    markdown: bool = False
    """print docs/recipes.md (every recipe with its description, settings and result)"""
