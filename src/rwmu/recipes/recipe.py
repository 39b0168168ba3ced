"""A recipe: a named, versioned delta on the configs of ``rwmu train-model`` and ``rwmu train-policy``.

A delta is a nested mapping of field names to values, e.g. ``{"iterations": 100, "env": {"num_envs": 512}}``;
:func:`apply_delta` writes it into a frozen dataclass config, refusing names the config does not have. Deltas
compose with :func:`merge` (later ones win), so a recipe that differs from another by one setting says only that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rwmu.errors import RwmuError
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.world_model_config import TrainModelConfig

T = TypeVar("T")
Delta = Mapping[str, Any]


def merge(*deltas: Delta) -> dict[str, Any]:
    """Deep merge of ``deltas``, the later ones winning: ``merge({"env": {"a": 1}}, {"env": {"b": 2}})`` is
    ``{"env": {"a": 1, "b": 2}}``."""
    out: dict[str, Any] = {}
    for delta in deltas:
        for key, value in delta.items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = merge(out[key], value)
            else:
                out[key] = dict(value) if isinstance(value, Mapping) else value
    return out


def apply_delta(config: T, delta: Delta, where: str = "recipe") -> T:
    """``config`` (a frozen dataclass) with ``delta`` written into it; a name the config lacks is a one-line
    :class:`RwmuError` naming its dotted path."""
    names = {f.name for f in dataclasses.fields(config)}  # type: ignore[arg-type]
    changes: dict[str, Any] = {}
    for key, value in delta.items():
        if key not in names:
            raise RwmuError(
                f"{where}: {type(config).__name__} has no setting {key!r} (known: {', '.join(sorted(names))})"
            )
        current = getattr(config, key)
        if isinstance(value, Mapping):
            if not dataclasses.is_dataclass(current):
                raise RwmuError(f"{where}: {key!r} is a value, not a group of settings")
            changes[key] = apply_delta(current, value, f"{where}.{key}")
        else:
            changes[key] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(config, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class PublishedResult:
    """What a recipe gave in MuJoCo on the unpenalised reward (``rwmu evaluate``, 32 episodes per policy over the 8
    built-in schedules), as published in docs/results.md; ``tests/recipes`` checks it against the results files."""

    dataset: str
    """the dataset it was trained on (docs/results.md, "The datasets")"""
    lam: float
    """the uncertainty penalty lambda of the quoted row"""
    seeds: int
    return_mean: float
    """mean over seeds of the mean MuJoCo return"""
    return_ci95: float | None
    """half-width of the 95 % Student-t interval over seeds (None with one seed)"""
    normalized_score: float
    """0 = standing still, 1 = the shipped expert"""
    falls: int
    episodes: int
    experiment: str
    """the experiment file that regenerates it (``rwmu experiment run FILE``)"""

    def line(self) -> str:
        ci = f" +- {self.return_ci95:.2f}" if self.return_ci95 is not None else ""
        return (
            f"{self.dataset}, lambda {self.lam:g}, {self.seeds} seed(s): return {self.return_mean:.2f}{ci}, "
            f"normalised {self.normalized_score:.2f}, falls {self.falls}/{self.episodes}"
        )


@dataclass(frozen=True)
class Recipe:
    """A named way to train: which world model, and how MOPO-PPO (and behaviour cloning around it) runs."""

    name: str
    version: int
    summary: str
    """one line, for listings and tables"""
    description: str
    """one paragraph: what it does and why"""
    data: str
    """what data it is for"""
    world_model: str
    """the name of its world-model delta (:data:`rwmu.recipes.registry.WORLD_MODELS`)"""
    policy: Delta = field(default_factory=dict)
    """its delta on :class:`~rwmu.training.policy_config.PolicyTrainingConfig` (behaviour cloning included)"""
    result: PublishedResult | None = None

    def policy_config(self, base: PolicyTrainingConfig | None = None) -> PolicyTrainingConfig:
        """``base`` (default: the paper's Table S11 settings) with this recipe's policy delta."""
        return apply_delta(base or PolicyTrainingConfig(), self.policy, f"recipe {self.name}")

    def label(self) -> str:
        return f"{self.name} (v{self.version})"


def world_model_config(
    delta: Delta, base: TrainModelConfig | None = None, where: str = "world model"
) -> TrainModelConfig:
    """``base`` (default: the paper's Table S10 settings) with a world-model ``delta``."""
    return apply_delta(base or TrainModelConfig(), delta, where)
