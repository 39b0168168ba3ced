"""Settings of ``rwmu demo`` (:func:`rwmu.experiments.demo.run_demo`): each stage's own config, and the presets;
free of torch and MuJoCo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rwmu.errors import RwmuError
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.evaluation.uncertainty_config import UncertaintyEvalConfig
from rwmu.experiments.paths import lambda_label
from rwmu.models.config import ArchitectureConfig
from rwmu.recipes import get_recipe, world_model_for
from rwmu.sim.collect_config import CollectConfig
from rwmu.training.behavior_cloning_config import BehaviorCloningConfig
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.world_model_config import OptimConfig, TrainModelConfig, ValidationConfig

# ------------------------------------------------------------------------------------------------------------------
# Settings

# ------------------------------------------------------------------------------------------------------------------
# Settings
DEMO_RECIPE = "demo"
"""The recipe of the demo's world model and policies (docs/recipes.md)."""


def recipe_world_model(name: str) -> TrainModelConfig:
    """The world-model config of recipe ``name``."""
    return world_model_for(get_recipe(name))


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of ``rwmu demo``: the stages' own configs, sized for ~10 minutes on 2 CPU cores.

    ``seed``, ``device`` and ``progress`` apply to every stage and override the stages' own copies
    (:meth:`resolved`); each policy run's ``policy.env.uncertainty_penalty`` is one of ``lambdas``.
    """

    behavior_policy: str = field(
        default="expert",
        metadata={
            "help": "the policy that records the data: the shipped expert (default), any rwmu evaluate --policy, or "
            "scripted (the trotting controller with per-episode gait diversity)"
        },
    )
    action_noise: float = field(
        default=0.5,
        metadata={  # rwmu choice: a noisy expert, as D4RL's noisy datasets
            "help": "Gaussian action noise std added to a learned behaviour policy while it records the data and when "
            "it is scored (scripted: its own per-episode noise)"
        },
    )
    collect: CollectConfig = field(
        default_factory=lambda: CollectConfig(
            # ~25 s on 64 envs; the paper-scale data set is ~1M transitions (docs/method.md section 2, PRESETS["paper"])
            steps=100_000,
            num_envs=64,  # rwmu collect's default
            num_workers=1,  # the data does not depend on it
        )
    )
    # the demo recipe's world model and policy (rwmu.recipes: GRU 1x128, M = 16, 800 iterations; MOPO-PPO from the
    # behaviour-cloned actor with the BC regulariser and 48-step branched rollouts, 150 iterations x 256 envs)
    world_model: TrainModelConfig = field(default_factory=lambda: recipe_world_model(DEMO_RECIPE))
    # the protocol of docs/method.md section 8 unchanged: 32 held-out windows, 200-step open-loop rollouts
    uncertainty: UncertaintyEvalConfig = field(default_factory=lambda: UncertaintyEvalConfig(windows=32, horizon=200))
    policy: PolicyTrainingConfig = field(default_factory=lambda: get_recipe(DEMO_RECIPE).policy_config())
    lambdas: tuple[float, ...] = field(
        default=(1.0, 0.0),
        metadata={  # paper Table S11's 1, and 0 (no penalty)
            "help": "uncertainty penalties, one policy each (docs/method.md section 6)"
        },
    )
    evaluation: EvaluationConfig = field(
        default_factory=lambda: EvaluationConfig(
            episodes=32,  # 4 per command schedule (rwmu evaluate: 16)
        )
    )
    # rwmu check-model on each MOPO-PPO policy (docs/method.md section 8.4), at its defaults but half the episodes
    model_check: ModelCheckConfig = field(default_factory=lambda: ModelCheckConfig(episodes=8, num_envs=8))
    seed: int = field(default=0, metadata={"help": "seed of every stage"})
    # 1 thread: measured on 2 cores with one other busy process, torch's default 2 threads trained the world model
    # ~15x slower (oversubscription); raise it on an idle many-core machine
    threads: int | None = field(default=1, metadata={"help": "torch CPU threads; none = torch's default"})
    device: str = field(default="cpu", metadata={"help": "torch device for the world model and PPO (cpu or cuda)"})
    progress: bool = field(default=True, metadata={"help": "tqdm progress bars"})

    @property
    def behaviour_label(self) -> str:
        """The behaviour policy's name in the report."""
        if self.behavior_policy == "scripted":
            return "behaviour (scripted)"
        noise = f", action noise {self.action_noise:g}" if self.action_noise > 0 else ""
        return f"behaviour ({Path(self.behavior_policy).name}{noise})"

    def behaviour_evaluation(self) -> EvaluationConfig:
        """How the behaviour policy is scored: as it recorded the data, with its action noise."""
        noise = 0.0 if self.behavior_policy == "scripted" else self.action_noise
        return dataclasses.replace(self.resolved().evaluation, action_noise=noise)

    def resolved(self) -> DemoConfig:
        """This config with ``seed``, ``device`` and ``progress`` written into every stage's config, overriding the
        stages' own values: the configs the stages run with."""
        replace = dataclasses.replace
        return replace(
            self,
            collect=replace(self.collect, seed=self.seed),
            world_model=replace(self.world_model, seed=self.seed, device=self.device, progress=self.progress),
            uncertainty=replace(self.uncertainty, seed=self.seed, device=self.device),
            policy=replace(self.policy, seed=self.seed, device=self.device),
            evaluation=replace(self.evaluation, seed=self.seed),
            model_check=replace(self.model_check, seed=self.seed),
        )

    def policy_config(self, lam: float) -> PolicyTrainingConfig:
        """The resolved :class:`PolicyTrainingConfig` of the policy at uncertainty penalty ``lam``."""
        policy = self.resolved().policy
        return dataclasses.replace(policy, env=dataclasses.replace(policy.env, uncertainty_penalty=float(lam)))

    def check(self) -> None:
        """Raise :class:`RwmuError` for settings out of range (naming the ``rwmu demo`` flag); whether the behaviour
        policy loads is checked by :func:`rwmu.experiments.demo.run_demo` before any work."""
        for path in POSITIVE_SETTINGS:
            value = _setting(self, path)
            if value < 1:
                raise RwmuError(f"{_flag(path)} must be >= 1, got {value}")
        try:
            self.uncertainty.check()
        except RwmuError as err:  # its messages name the `rwmu eval-uncertainty` flags
            raise RwmuError(str(err).replace("--", "--uncertainty.", 1)) from None
        for stage, config in (("world-model", self.world_model), ("policy", self.policy)):
            try:
                config.check()
            except RwmuError as err:  # its messages name the `rwmu train-model` / `train-policy` flags
                raise RwmuError(str(err).replace("--", f"--{stage}.", 1)) from None
        if not self.lambdas:
            raise RwmuError("--lambdas: give at least one value, e.g. --lambdas 1 0")
        if any(not lam >= 0 for lam in self.lambdas):
            raise RwmuError(f"--lambdas {' '.join(f'{lam:g}' for lam in self.lambdas)}: every lambda must be >= 0")
        if len({lambda_label(lam) for lam in self.lambdas}) != len(self.lambdas):
            raise RwmuError(f"--lambdas {' '.join(f'{lam:g}' for lam in self.lambdas)}: values repeat")
        if not self.action_noise >= 0:
            raise RwmuError(f"--action-noise must be >= 0, got {self.action_noise}")
        if self.threads is not None and self.threads < 1:
            raise RwmuError(f"--threads must be >= 1, got {self.threads}")
        m, n = self.world_model.architecture.history_horizon, self.world_model.optim.forecast_horizon
        if self.collect.steps < 10 * (m + n):
            raise RwmuError(
                f"--collect.steps {self.collect.steps}: too few rows for windows of {m}+{n} steps; "
                f"record at least {10 * (m + n)}"
            )


# Settings that must be >= 1, as dotted paths into DemoConfig (the `rwmu demo` flag is --<path with - for _>).
POSITIVE_SETTINGS = (
    "collect.steps",
    "collect.num_envs",
    "collect.num_workers",
    "world_model.architecture.ensemble_size",
    "world_model.architecture.history_horizon",
    "world_model.architecture.rnn_hidden_size",
    "world_model.architecture.rnn_num_layers",
    "world_model.optim.iterations",
    "world_model.optim.batch_size",
    "world_model.optim.forecast_horizon",
    "world_model.validation.interval",
    "world_model.checkpoint_interval",
    "policy.iterations",
    "policy.steps_per_env",
    "policy.save_interval",
    "policy.env.num_envs",
    "evaluation.episodes",
    "evaluation.max_envs",
    "evaluation.num_workers",
)


def _setting(config: Any, path: str) -> Any:
    for name in path.split("."):
        config = getattr(config, name)
    return config


def _flag(path: str) -> str:
    return "--" + path.replace("_", "-")


def _paper_preset() -> DemoConfig:
    """Paper-scale settings of every stage (paper Tables S7, S10, S11; docs/method.md sections 2 and 8)."""
    return DemoConfig(
        collect=CollectConfig(steps=1_000_000, num_envs=64, num_workers=2),  # ~1M rows: docs/method.md section 2
        world_model=TrainModelConfig(  # rwmu train-model's defaults: paper Tables S7 and S10
            validation=ValidationConfig(interval=500, windows=64, horizons=(8, 32)),
            checkpoint_interval=2500,
        ),
        uncertainty=UncertaintyEvalConfig(windows=32, horizon=200),  # docs/method.md section 8
        policy=dataclasses.replace(PolicyTrainingConfig(), save_interval=2500),  # paper Table S11
        evaluation=EvaluationConfig(episodes=64),
        threads=None,
    )


def _tiny_preset() -> DemoConfig:
    """Smallest useful run (well under a minute): checks the pipeline, says nothing about the method."""
    return DemoConfig(
        collect=CollectConfig(steps=3_000, num_envs=8),
        world_model=TrainModelConfig(
            architecture=ArchitectureConfig(ensemble_size=2, history_horizon=8, rnn_hidden_size=16, rnn_num_layers=1),
            optim=OptimConfig(iterations=4, batch_size=32, learning_rate=1e-3, forecast_horizon=4),
            validation=ValidationConfig(interval=1, windows=64, horizons=(4, 32)),
            checkpoint_interval=4,
        ),
        uncertainty=UncertaintyEvalConfig(windows=4, horizon=16),
        policy=dataclasses.replace(
            PolicyTrainingConfig(),
            iterations=3,
            steps_per_env=8,
            save_interval=3,
            env=dataclasses.replace(PolicyTrainingConfig().env, num_envs=16),
            behavior=BehaviorCloningConfig(
                init=True, init_steps=20, batch_size=256, regularizer_steps=2, critic_warmup=1
            ),
        ),
        evaluation=EvaluationConfig(episodes=2),
        model_check=ModelCheckConfig(episodes=1, num_envs=1, windows=32, horizon=4),
    )


PRESETS: dict[str, Callable[[], DemoConfig]] = {"demo": DemoConfig, "paper": _paper_preset, "tiny": _tiny_preset}
