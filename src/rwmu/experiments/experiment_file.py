"""An experiment file: datasets x recipes x lambda x seeds and how every policy is scored, declared in TOML.

TOML, because an experiment is data: a reader sees the whole grid without running code, comments explain each
choice, and ``tomllib`` reads it with the standard library (docs/architecture.md, "Experiments"). The form::

    description = "MOPO-PPO recipes on the mixed data"
    task = "go2_flat"                       # optional (default go2_flat)

    [datasets.mixed]                        # one table per dataset; its name names the results folder
    collect = { policy = "docs/results/policies/behavior", checkpoints = "0:700:50", steps = 1_000_000 }
    # or: path = "results/datasets/mixed/dataset.rwmu" (an existing dataset)
    behavior = { policy = "...", action_noise = 0.4 }   # optional: the data's policy, scored beside

    [[grid]]                                # one or more blocks; each is datasets x recipes x lambdas x seeds
    datasets = ["mixed"]
    recipes = ["mopo_fbc_dc256", "fbc"]
    lambdas = [0, 1]
    seeds = [0, 1, 2]

    [evaluation]                            # optional; these are the defaults
    episodes = 32
    seed = 0
    check_model = true

A signal study (``rwmu signals`` on every policy of a block, pooled per dataset, recipe and lambda; docs/signals.md)
is declared with ``[[study]]`` blocks, which may stand without any ``[[grid]]``::

    [[study]]
    datasets = ["medium_noise"]
    recipes = ["mopo_bc_dc256_1000it_noreg_halt_bf16"]   # its world model is trained here; its policies studied
    lambdas = [0, 1]
    seeds = [0, 1, 2]
    policies = "docs/results/policies/{dataset}/{recipe}_lam{lambda}_seed{seed}"   # default: this experiment's runs

    [signals]                               # optional: rwmu signals settings (SignalStudyConfig)
    episodes = 32

``collect`` takes the settings of ``rwmu collect`` (``policy``, ``checkpoints``, ``action_noise``, ``steps``,
``num_envs``, ``num_workers``, ``seed``, ...): the dataset is recorded into the experiment's folder.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.experiments.paths import lambda_label
from rwmu.recipes import RECIPES, apply_delta, world_model_for
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.config import config_from_dict

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class BehaviorSpec:
    """The policy that recorded a dataset, scored in MuJoCo beside the offline policies."""

    policy: str
    action_noise: float = 0.0


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from: an existing file or folder (``path``), or ``rwmu collect`` settings."""

    name: str
    path: str | None = None
    collect: dict[str, Any] | None = None
    behavior: BehaviorSpec | None = None


@dataclass(frozen=True)
class GridSpec:
    """datasets x recipes x lambdas x seeds; ``policy`` and ``world_model`` are deltas applied on top of every
    recipe of the block (e.g. a smaller scale), recorded in each run's ``job.json``."""

    datasets: tuple[str, ...]
    recipes: tuple[str, ...]
    lambdas: tuple[float, ...]
    seeds: tuple[int, ...]
    policy: dict[str, Any] = field(default_factory=dict)
    world_model: dict[str, Any] = field(default_factory=dict)

    def world_model_config(self, recipe: str, where: str = "grid world_model") -> TrainModelConfig:
        """The world model of ``recipe`` with this block's override."""
        return world_model_for(RECIPES[recipe], self.world_model, where)

    def policy_config(self, recipe: str, where: str = "grid policy") -> PolicyTrainingConfig:
        """The policy training of ``recipe`` with this block's override (lambda and seed are the cell's)."""
        return apply_delta(RECIPES[recipe].policy_config(), self.policy, where)


@dataclass(frozen=True)
class StudySpec:
    """A signal study: every (dataset, recipe, lambda, seed) policy, found by the ``policies`` pattern (fields
    ``{dataset}``, ``{recipe}``, ``{lambda}``, ``{seed}``) or, without one, this experiment's own run of that cell."""

    datasets: tuple[str, ...]
    recipes: tuple[str, ...]
    lambdas: tuple[float, ...]
    seeds: tuple[int, ...]
    policies: str | None = None
    world_model: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[tuple[str, str, float, int]]:
        return [(d, r, lam, s) for d in self.datasets for r in self.recipes for lam in self.lambdas for s in self.seeds]

    def policy(self, dataset: str, recipe: str, lam: float, seed: int) -> str | None:
        """The policy of a cell by the pattern (None: the experiment's own run)."""
        if self.policies is None:
            return None
        return self.policies.format(dataset=dataset, recipe=recipe, seed=seed, **{"lambda": lambda_label(lam)})


@dataclass(frozen=True)
class EvaluationSpec:
    """How every policy is scored: ``rwmu evaluate`` (the 8 built-in schedules, unpenalised reward) and
    ``rwmu check-model`` on as many episodes."""

    episodes: int = 32  # 4 per built-in schedule, as every published result (docs/results.md)
    seed: int = 0  # the same episodes for every policy
    check_model: bool = True


@dataclass(frozen=True)
class ExperimentSpec:
    file: Path
    description: str
    task: str
    datasets: dict[str, DatasetSpec]
    grids: tuple[GridSpec, ...]
    evaluation: EvaluationSpec = field(default_factory=EvaluationSpec)
    studies: tuple[StudySpec, ...] = ()
    signals: SignalStudyConfig = field(default_factory=SignalStudyConfig)

    @property
    def name(self) -> str:
        return self.file.stem

    def cells(self) -> list[tuple[str, str, float, int, GridSpec]]:
        """Every (dataset, recipe, lambda, seed) once with its grid block, in the file's order (block by block,
        dataset-major)."""
        seen, cells = set(), []
        for grid in self.grids:
            for d in grid.datasets:
                for r in grid.recipes:
                    for lam in grid.lambdas:
                        for s in grid.seeds:
                            key = (d, r, lambda_label(lam), s)
                            if key not in seen:
                                seen.add(key)
                                cells.append((d, r, float(lam), int(s), grid))
        return cells


def _keys(table: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise RwmuError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def _list(value: Any, kind: type, where: str) -> tuple:
    if not isinstance(value, list) or not value:
        raise RwmuError(f"{where}: give a non-empty list")
    for v in value:
        if kind is float and isinstance(v, (int, float)) and not isinstance(v, bool):
            continue
        if not isinstance(v, kind) or isinstance(v, bool):
            raise RwmuError(f"{where}: {v!r} is not a {kind.__name__}")
    return tuple(kind(v) for v in value)


def _block(table: dict, extra: set[str], where: str, datasets: dict) -> tuple[tuple, tuple, tuple, tuple]:
    """The (datasets, recipes, lambdas, seeds) of a ``[[grid]]`` or ``[[study]]`` block, checked: known keys (the
    four and ``extra``), declared datasets, registered recipes, finite lambdas >= 0."""
    _keys(table, {"datasets", "recipes", "lambdas", "seeds", *extra}, where)
    missing = [k for k in ("datasets", "recipes", "lambdas", "seeds") if k not in table]
    if missing:
        raise RwmuError(f"{where}: missing {', '.join(missing)}")
    cells = (
        _list(table["datasets"], str, f"{where}.datasets"),
        _list(table["recipes"], str, f"{where}.recipes"),
        _list(table["lambdas"], float, f"{where}.lambdas"),
        _list(table["seeds"], int, f"{where}.seeds"),
    )
    for d in cells[0]:
        if d not in datasets:
            raise RwmuError(f"{where}.datasets: {d!r} is not declared (declared: {', '.join(datasets) or 'none'})")
    for r in cells[1]:
        if r not in RECIPES:
            raise RwmuError(f"{where}.recipes: unknown recipe {r!r} (rwmu recipes lists them)")
    if any(not (math.isfinite(lam) and lam >= 0) for lam in cells[2]):
        raise RwmuError(f"{where}.lambdas: every lambda must be a finite number >= 0")
    return cells


def read_experiment(path: str | Path) -> ExperimentSpec:
    """Read and check an experiment file: every key known, every recipe in the registry, lambdas >= 0, datasets
    declared; a one-line :class:`RwmuError` naming the file and key otherwise."""
    path = Path(path)
    if not path.is_file():
        raise RwmuError(f"{path}: no such experiment file")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise RwmuError(f"{path}: not valid TOML ({err})") from None
    _keys(raw, {"description", "task", "datasets", "grid", "evaluation", "study", "signals"}, str(path))
    datasets: dict[str, DatasetSpec] = {}
    for name, table in (raw.get("datasets") or {}).items():
        where = f"{path}: datasets.{name}"
        if not isinstance(table, dict):
            raise RwmuError(f"{where}: give a table")
        _keys(table, {"path", "collect", "behavior"}, where)
        if ("path" in table) == ("collect" in table):
            raise RwmuError(f"{where}: give either path (an existing dataset) or collect (rwmu collect settings)")
        behavior = table.get("behavior")
        if behavior is not None:
            _keys(behavior, {"policy", "action_noise"}, f"{where}.behavior")
            if "policy" not in behavior:
                raise RwmuError(f"{where}.behavior: give its policy")
            behavior = BehaviorSpec(str(behavior["policy"]), float(behavior.get("action_noise", 0.0)))
        datasets[name] = DatasetSpec(name, table.get("path"), table.get("collect"), behavior)
    grids = []
    for i, table in enumerate(raw.get("grid") or []):
        where = f"{path}: grid {i + 1}"
        grid = GridSpec(
            *_block(table, {"policy", "world_model"}, where, datasets),
            dict(table.get("policy", {})),
            dict(table.get("world_model", {})),
        )
        for r in grid.recipes:  # an override naming an unknown setting or a bad value fails here, before any work
            try:
                grid.world_model_config(r, f"{where}.world_model").check()
                grid.policy_config(r, f"{where}.policy").check()
            except RwmuError as err:
                raise RwmuError(f"{where} ({r}): {err}") from None
        grids.append(grid)
    grid_cells = {
        (d, r, lambda_label(lam), s)
        for g in grids
        for d in g.datasets
        for r in g.recipes
        for lam in g.lambdas
        for s in g.seeds
    }
    studies = []
    for i, table in enumerate(raw.get("study") or []):
        where = f"{path}: study {i + 1}"
        study = StudySpec(
            *_block(table, {"policies", "world_model"}, where, datasets),
            table.get("policies"),
            dict(table.get("world_model", {})),
        )
        for r in study.recipes:
            try:
                world_model_for(RECIPES[r], study.world_model, f"{where}.world_model").check()
            except RwmuError as err:
                raise RwmuError(f"{where} ({r}): {err}") from None
        for d, r, lam, s in study.cells():
            try:
                policy = study.policy(d, r, lam, s)
            except (KeyError, IndexError, ValueError) as err:
                raise RwmuError(
                    f"{where}.policies: bad pattern ({err}); its fields are {{dataset}}, {{recipe}}, {{lambda}}, {{seed}}"
                ) from None
            if policy is None and (d, r, lambda_label(lam), s) not in grid_cells:
                raise RwmuError(
                    f"{where}: {d} {r} lambda {lam:g} seed {s} is no [[grid]] cell of this file; add it to a grid "
                    "or give the study a policies pattern"
                )
            if policy is not None and not Path(policy).exists():
                raise RwmuError(f"{where}.policies: {policy} does not exist")
        studies.append(study)
    if not grids and not studies:
        raise RwmuError(f"{path}: declare at least one [[grid]] or [[study]]")
    signals = raw.get("signals") or {}
    _keys(signals, {f.name for f in dataclasses.fields(SignalStudyConfig)}, f"{path}: signals")
    try:
        signal_config = config_from_dict(SignalStudyConfig, signals)
    except (TypeError, ValueError) as err:
        raise RwmuError(f"{path}: signals: {err}") from None
    signal_config.check()
    evaluation = raw.get("evaluation") or {}
    _keys(evaluation, {"episodes", "seed", "check_model"}, f"{path}: evaluation")
    spec = EvaluationSpec(**evaluation)
    if spec.episodes < 1:
        raise RwmuError(f"{path}: evaluation.episodes must be >= 1")
    return ExperimentSpec(
        path,
        str(raw.get("description", "")),
        str(raw.get("task", "go2_flat")),
        datasets,
        tuple(grids),
        spec,
        tuple(studies),
        signal_config,
    )
