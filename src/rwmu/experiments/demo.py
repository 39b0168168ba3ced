"""``rwmu demo``: the whole RWM-U / MOPO-PPO pipeline end to end on a small Go2 problem, on CPU.

Stages (each writes into its own sub-folder of the output folder and is skipped on a re-run when its outputs exist,
so an interrupted demo continues where it stopped):

1. ``collect``      -> ``data/dataset.rwmu``: the behaviour policy in the MuJoCo Go2 simulator (default: the shipped
   expert with action noise 0.5, a "noisy expert" dataset; or the scripted trotting controller);
2. ``world_model``  -> ``world_model/model_best.pt``: RWM-U ensemble trained offline on that data;
3. ``uncertainty``  -> ``uncertainty/summary.json``: the uncertainty-versus-error protocol of ``docs/method.md``
   section 8 (held out);
4. ``policy_lam<l>`` -> ``policy_lam<l>/summary.json``: MOPO-PPO in imagination, one run per lambda;
5. ``evaluate``     -> ``evaluation/<name>.json``: every policy and the behaviour policy in MuJoCo on the true,
   unpenalised reward;
6. ``report``       -> ``report.md``, ``report.json`` and PNG plots.

:class:`DemoConfig` holds each stage's own config (the one ``rwmu collect``, ``rwmu train-model``,
``rwmu eval-uncertainty``, ``rwmu train-policy`` and ``rwmu evaluate`` take), with defaults sized for about 10 minutes
on 2 CPU cores; ``PRESETS["paper"]`` gives the paper's settings for every stage. Wall time per stage goes to
``stages.json`` and into the report.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rwmu.behavior import TrotConfig, TrotDiversity
from rwmu.data.loading import load_dataset
from rwmu.data.native_format import save_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation import uncertainty as unc
from rwmu.evaluation.model_check import ModelCheckConfig, format_model_check
from rwmu.evaluation.simulator import EvaluationConfig
from rwmu.evaluation.tables import format_evaluation_table
from rwmu.evaluation.uncertainty import UncertaintyEvalConfig
from rwmu.experiments.demo_report import build_demo_report, describe_world_model
from rwmu.experiments.paths import DemoPaths, evaluation_key, lambda_label
from rwmu.experiments.steps import check_policy, score_policy, train_policy_continuing, train_world_model
from rwmu.models.checkpoint import load_world_model
from rwmu.models.config import ArchitectureConfig
from rwmu.recipes import get_recipe, world_model_for
from rwmu.sim.collect import CollectConfig, collect_dataset
from rwmu.tasks import get_task
from rwmu.tasks.base import Task
from rwmu.training.behavior_cloning import BehaviorCloningConfig
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.policy_loader import load_behaviour_policy, load_policy
from rwmu.training.runner import latest_checkpoint
from rwmu.training.world_model_config import OptimConfig, TrainModelConfig, ValidationConfig
from rwmu.utils.io import folder_lock, to_jsonable, write_json_atomic, write_run_config

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
        """Raise :class:`RwmuError` for settings out of range (naming the ``rwmu demo`` flag)."""
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
        if self.behavior_policy != "scripted":
            load_policy(self.behavior_policy, 1, get_task("go2_flat"))  # a policy that does not load fails here
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


# ------------------------------------------------------------------------------------------------------------------
# Stage bookkeeping
class StageLog:
    """Wall time and status of each stage, kept in ``out/stages.json`` across re-runs.

    A stage that runs records ``status="ran"`` and its seconds; a stage skipped because its outputs exist keeps the
    seconds of the run that produced them and gets ``status="skipped (outputs present)"``.
    """

    def __init__(self, out_dir: Path, log: Callable[[str], None] = print):
        self.path = DemoPaths(Path(out_dir)).stages
        self.log = log
        self.stages: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            try:
                self.stages = json.loads(self.path.read_text()).get("stages", {})
            except (json.JSONDecodeError, AttributeError):
                self.stages = {}
        self.order: list[str] = []

    def run(self, name: str, done: bool, action: Callable[[], Any], what: str) -> Any:
        """Run ``action`` unless ``done``; print where the demo is; record the wall time."""
        self.order.append(name)
        if done:
            previous = self.stages.get(name, {})
            self.stages[name] = {**previous, "status": "skipped (outputs present)", "what": what}
            self.log(f"[demo] {name}: outputs present, skipped ({what})")
            write_json_atomic(self.path, {"stages": self.stages})
            return None
        self.log(f"[demo] {name}: {what} ...")
        start = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - start
        self.stages[name] = {"status": "ran", "seconds": seconds, "what": what}
        write_json_atomic(self.path, {"stages": self.stages})
        self.log(f"[demo] {name}: done in {seconds:.1f} s")
        return result

    def table(self) -> list[dict[str, Any]]:
        """Stages in run order: name, status, seconds (None if never timed), what."""
        return [{"stage": n, **self.stages.get(n, {})} for n in self.order]


# ------------------------------------------------------------------------------------------------------------------
# Stages: each takes its stage's resolved config (DemoConfig.resolved) and hands it to the library as it is
def stage_collect(
    config: CollectConfig,
    paths: DemoPaths,
    task: Task,
    behavior_policy: str,
    action_noise: float,
    progress: bool = True,
) -> None:
    """Record ``config.steps`` rows with the behaviour policy: the scripted controller (per-episode gait diversity
    and action noise, as ``rwmu collect --policy scripted``) or a learned policy with Gaussian action noise (as
    ``rwmu collect --policy P --action-noise STD``)."""
    scripted = TrotConfig(diversity=TrotDiversity(), seed=config.seed + 1) if behavior_policy == "scripted" else None
    policy = load_behaviour_policy(behavior_policy, config.num_envs, task, config.seed, action_noise, scripted)
    start = time.perf_counter()
    provenance = {
        "policy": behavior_policy,
        "action_noise": action_noise if scripted is None else None,
        "seed": config.seed,
        "by": "rwmu demo",
    }
    dataset, stats = collect_dataset(policy, config, task, progress=progress, provenance=provenance)
    seconds = time.perf_counter() - start
    save_dataset(dataset, paths.data)
    write_run_config(
        paths.data.parent,
        {
            "collect": config,
            "task": task.name,
            "policy": behavior_policy,
            "action_noise": action_noise,
            "scripted": scripted,
        },
    )
    write_json_atomic(paths.collect_stats, {**stats.as_dict(), "seconds": seconds})


def stage_world_model(config: TrainModelConfig, paths: DemoPaths, task: Task) -> None:
    """Train the world model; continues from ``model_latest.pt`` if an earlier run stopped midway."""
    train_world_model(config, paths.data, paths.world_model_dir, task)


def stage_uncertainty(config: UncertaintyEvalConfig, paths: DemoPaths, task: Task) -> None:
    """The protocol of docs/method.md section 8 on held-out windows (as ``rwmu eval-uncertainty``)."""
    config.check()
    model, ckpt = load_world_model(paths.world_model, device=config.device, task=task, return_checkpoint=True)
    dataset = load_dataset(paths.data, task=task)
    evaluation = unc.evaluate_uncertainty(model, dataset, config, train=ckpt.get("train"))
    write_run_config(
        paths.uncertainty_dir,
        {"eval_uncertainty": config, "world_model": str(paths.world_model), "data": str(paths.data), "task": task.name},
    )
    summary = unc.write_report(
        evaluation, paths.uncertainty_dir, extra={"world_model": str(paths.world_model), "data": str(paths.data)}
    )
    print(unc.format_table(summary))


def policy_finished(run_dir: Path) -> bool:
    """A policy run is finished when its ``summary.json`` exists."""
    return (run_dir / "summary.json").is_file()


def stage_policy(
    config: PolicyTrainingConfig, run_dir: Path, paths: DemoPaths, task: Task, progress: bool = True
) -> None:
    """MOPO-PPO with ``config``; continues from the latest checkpoint if an earlier run stopped midway."""
    train_policy_continuing(config, task, paths.world_model, paths.data, run_dir, progress)


def stage_model_check(config: ModelCheckConfig, paths: DemoPaths, task: Task, name: str, policy_spec: str) -> None:
    """``rwmu check-model`` of one policy against the demo's world model and data."""
    report = check_policy(config, task, paths.world_model, paths.data, policy_spec, paths.model_check(name))
    print(format_model_check(report)[-1])


def stage_evaluate(
    config: EvaluationConfig, paths: DemoPaths, task: Task, name: str, policy_spec: str, progress: bool = True
) -> None:
    """Score one policy in MuJoCo on the unpenalised reward (as ``rwmu evaluate --json``, ``--action-noise`` from
    ``config``)."""
    result = score_policy(config, task, policy_spec, paths.evaluation(name), progress)
    print(format_evaluation_table(result).splitlines()[0])


# ------------------------------------------------------------------------------------------------------------------
# Pipeline
def run_demo(out_dir: str | Path, config: DemoConfig | None = None, log: Callable[[str], None] = print) -> dict:
    """Run (or continue) every stage into ``out_dir`` and write the report; return the report's JSON dict."""
    config = DemoConfig() if config is None else config
    config.check()
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {config.device}: no CUDA device is available here; use --device cpu")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RwmuError(f"--out {out}: exists and is not a folder")
    with folder_lock(out, "rwmu demo"):
        return _run_demo_locked(out, config, log)


def _run_demo_locked(out: Path, config: DemoConfig, log: Callable[[str], None]) -> dict:
    """:func:`run_demo` once ``out`` is locked."""
    run = config.resolved()
    _check_same_config(out, run)
    write_run_config(out, {"demo": run})
    task = get_task("go2_flat")
    paths = DemoPaths(out)
    stages = StageLog(out, log)
    total_start = time.perf_counter()

    c = run.collect
    stages.run(
        "collect",
        paths.data.is_file() and paths.collect_stats.is_file(),
        lambda: stage_collect(c, paths, task, run.behavior_policy, run.action_noise, run.progress),
        f"{c.steps} rows from {run.behaviour_label.removeprefix('behaviour ')} in {c.num_envs} MuJoCo Go2s",
    )
    stages.run(
        "world_model",
        (paths.world_model_dir / "summary.json").is_file() and paths.world_model.is_file(),
        lambda: stage_world_model(run.world_model, paths, task),
        describe_world_model(run.world_model),
    )
    u = run.uncertainty
    stages.run(
        "uncertainty",
        (paths.uncertainty_dir / "summary.json").is_file(),
        lambda: stage_uncertainty(u, paths, task),
        f"{u.windows} {'held-out ' if u.split == 'heldout' else ''}windows, {u.horizon}-step open-loop rollouts",
    )
    p = run.policy
    for lam in run.lambdas:
        stages.run(
            f"policy_lam{lambda_label(lam)}",
            policy_finished(paths.policy_dir(lam)),
            lambda lam=lam: stage_policy(run.policy_config(lam), paths.policy_dir(lam), paths, task, run.progress),
            f"MOPO-PPO lambda={lam:g}: {p.iterations} iterations x {p.env.num_envs} envs x {p.steps_per_env} steps",
        )
    policies = {run.behaviour_label: run.behavior_policy}
    for lam in run.lambdas:
        policies[f"MOPO-PPO lambda={lam:g}"] = str(latest_checkpoint(paths.policy_dir(lam)))
    for name, spec in policies.items():
        key = evaluation_key(name)
        stages.run(
            f"evaluate_{key}",
            paths.evaluation(key).is_file(),
            lambda key=key, spec=spec, name=name: stage_evaluate(
                run.behaviour_evaluation() if name == run.behaviour_label else run.evaluation,
                paths,
                task,
                key,
                spec,
                run.progress,
            ),
            f"{name}: {run.evaluation.episodes} MuJoCo episodes, unpenalised reward",
        )

    for name, spec in policies.items():
        if name == run.behaviour_label:
            continue
        key = evaluation_key(name)
        stages.run(
            f"check_{key}",
            paths.model_check(key).is_file(),
            lambda key=key, spec=spec: stage_model_check(run.model_check, paths, task, key, spec),
            f"{name}: world model replayed on {run.model_check.episodes} MuJoCo episodes of the policy",
        )

    report = stages.run(
        "report",
        False,
        lambda: build_demo_report(out, run, policies, stages.table()),
        "report.md, report.json and plots",
    )
    # the report stage's own time is only known now: add it to the written JSON
    report["stages"] = stages.table()
    report["total_seconds_this_invocation"] = time.perf_counter() - total_start
    write_json_atomic(out / "report.json", report)
    log(f"[demo] report: {out / 'report.md'} ({report['total_seconds_this_invocation']:.0f} s in this invocation)")
    return report


# Settings that change no output: a demo folder may be continued with other values.
OUTPUT_NEUTRAL_SETTINGS = frozenset({"threads", "progress", "world_model.progress", "policy.verbose"})


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists are values)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _check_same_config(out: Path, config: DemoConfig) -> None:
    """Refuse to continue a demo folder that was started with other settings (its outputs would not match)."""
    stored = out / "config.json"
    if not stored.is_file():
        return
    try:
        previous = _flatten(json.loads(stored.read_text())["config"]["demo"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return
    now = _flatten(to_jsonable(config))
    diff = [
        k
        for k in sorted(previous.keys() | now.keys())
        if k not in OUTPUT_NEUTRAL_SETTINGS and previous.get(k) != now.get(k)
    ]
    if diff:
        listed = ", ".join(diff[:5]) + (f" and {len(diff) - 5} more" if len(diff) > 5 else "")
        raise RwmuError(
            f"--out {out}: holds a demo run with other settings ({listed} differ, see {stored}); use "
            "another --out or the same settings to continue it"
        )
