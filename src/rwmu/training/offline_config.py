"""Settings of a model-free offline RL baseline run (``rwmu train-baseline``, :mod:`rwmu.training.offline_baselines`).

Kept apart from the d3rlpy adapter so that the command line can be built without importing d3rlpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rwmu.errors import RwmuError

__all__ = ["METHODS", "METHOD_NAMES", "OfflineBaselineConfig"]

METHODS = ("bc", "td3bc", "iql", "cql")
"""Baselines: behaviour cloning, TD3+BC (Fujimoto & Gu 2021), IQL (Kostrikov et al. 2022), CQL (Kumar et al. 2020)."""

METHOD_NAMES = {"bc": "BC", "td3bc": "TD3+BC", "iql": "IQL", "cql": "CQL"}


@dataclass(frozen=True)
class OfflineBaselineConfig:
    """One d3rlpy baseline run (module docstring)."""

    method: Literal["bc", "td3bc", "iql", "cql"] = "iql"
    """bc, td3bc, iql or cql"""
    steps: int = 50_000
    """gradient steps (rwmu choice for 2 CPU cores; d3rlpy's D4RL reproductions train 500,000, BC 1/10 of that)"""
    steps_per_epoch: int = 1000
    """gradient steps between checkpoints and log lines (d3rlpy's reproductions: 1000)"""
    batch_size: int = 256
    """transitions per gradient step (d3rlpy's reproductions: 256)"""
    hidden_dims: tuple[int, ...] = (256, 256)
    """hidden layers of every actor and critic (d3rlpy default; its CQL reproduction uses 256, 256, 256)"""
    cql_conservative_weight: float = 5.0
    """CQL's alpha on the conservative term (d3rlpy's CQL reproduction: 5, 10 on D4RL medium-v0)"""
    iql_expectile: float = 0.7
    """IQL's expectile tau (IQL paper, locomotion)"""
    iql_temperature: float = 3.0
    """IQL's inverse temperature beta of advantage-weighted regression (IQL paper, locomotion)"""
    td3bc_alpha: float = 2.5
    """TD3+BC's alpha (TD3+BC paper)"""
    seed: int = 0
    """seed of d3rlpy (network initialisation, mini-batches)"""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise RwmuError(f"--method {self.method!r}: choose one of {', '.join(METHODS)}")
        if self.steps < 1 or self.steps_per_epoch < 1 or self.batch_size < 1:
            raise RwmuError("--steps, --steps-per-epoch and --batch-size must be >= 1")
        if not self.hidden_dims or min(self.hidden_dims) < 1:
            raise RwmuError(f"--hidden-dims {self.hidden_dims}: give one or more layer sizes >= 1")
        if not 0.0 < self.iql_expectile < 1.0:
            raise RwmuError(f"--iql-expectile must be in (0, 1), got {self.iql_expectile}")
