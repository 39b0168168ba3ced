"""``rwmu demo``: the whole RWM-U / MOPO-PPO pipeline end to end on a small Go2 problem, on CPU.

Stages (each writes into its own sub-folder of the output folder and is skipped on a re-run when its outputs exist,
so an interrupted demo continues where it stopped):

1. ``collect``      -> ``data/dataset.rwmu``: the scripted trotting controller in the MuJoCo Go2 simulator;
2. ``world_model``  -> ``world_model/model_best.pt``: RWM-U ensemble trained offline on that data;
3. ``uncertainty``  -> ``uncertainty/summary.json``: SPEC section 8 uncertainty-versus-error protocol (held out);
4. ``policy_lam<l>`` -> ``policy_lam<l>/summary.json``: MOPO-PPO in imagination, one run per lambda;
5. ``evaluate``     -> ``evaluation/<name>.json``: every policy and the behaviour controller in MuJoCo on the true,
   unpenalised reward;
6. ``report``       -> ``report.md``, ``report.json`` and PNG plots.

Defaults (:class:`DemoConfig`) are sized for about 10 minutes on 2 CPU cores; ``preset="paper"`` (:data:`PRESETS`)
gives the paper's settings for every stage. Wall time per stage goes to ``stages.json`` and into the report.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rwmu.errors import RwmuError


# ------------------------------------------------------------------------------------------------------------------
# Settings
@dataclass(frozen=True)
class DemoCollectConfig:
    """Stage 1: offline data from the scripted controller (``rwmu collect``)."""

    collect_steps: int = field(default=100_000, metadata={  # demo size: ~25 s; paper-scale run: 1M (issue 5)
        "help": "dataset rows to record with the scripted controller"})
    collect_envs: int = field(default=64, metadata={"help": "simulated Go2s stepped together"})  # rwmu collect default
    collect_workers: int = field(default=1, metadata={"help": "processes stepping MuJoCo"})


@dataclass(frozen=True)
class DemoWorldModelConfig:
    """Stage 2: the world model (``rwmu train-model``; paper values in :data:`PRESETS`)."""

    ensemble_size: int = field(default=5, metadata={"help": "ensemble members B"})  # paper Table S7: 5
    history_horizon: int = field(default=16, metadata={"help": "history M"})  # paper Table S10: 32
    forecast_horizon: int = field(default=8, metadata={"help": "forecast N"})  # paper Table S10: 8
    rnn_hidden_size: int = field(default=128, metadata={"help": "GRU hidden size"})  # paper Table S7: 256
    rnn_num_layers: int = field(default=1, metadata={"help": "GRU layers"})  # paper Table S7: 2
    model_batch_size: int = field(default=256, metadata={"help": "windows per step"})  # paper Table S10: 1024
    model_iterations: int = field(default=800, metadata={"help": "training steps"})  # paper Table S10: 2500
    model_learning_rate: float = field(default=1e-3, metadata={  # paper 1e-4; larger for the short demo run
        "help": "Adam learning rate"})


@dataclass(frozen=True)
class DemoUncertaintyConfig:
    """Stage 3: uncertainty versus error (``rwmu eval-uncertainty``)."""

    uncertainty_windows: int = field(default=32, metadata={"help": "held-out windows"})  # SPEC section 8: 32
    uncertainty_horizon: int = field(default=200, metadata={"help": "open-loop rollout steps"})  # SPEC 8: 200


@dataclass(frozen=True)
class DemoPolicyConfig:
    """Stage 4: MOPO-PPO in imagination (``rwmu train-policy``; paper values in :data:`PRESETS`)."""

    lambdas: tuple[float, ...] = field(default=(1.0, 0.0), metadata={  # issue 5: lambda = 1 and lambda = 0
        "help": "uncertainty penalties, one policy each"})
    policy_iterations: int = field(default=150, metadata={"help": "PPO iterations"})  # paper Table S11: 2500
    policy_envs: int = field(default=256, metadata={"help": "imagined environments"})  # paper Table S11: 4096
    steps_per_env: int = field(default=24, metadata={"help": "imagined steps per env per iteration"})  # ref.: 24


@dataclass(frozen=True)
class DemoEvaluationConfig:
    """Stage 5: MuJoCo evaluation on the unpenalised reward (``rwmu evaluate``)."""

    eval_episodes: int = field(default=32, metadata={  # 4 per command schedule (rwmu evaluate default: 16)
        "help": "MuJoCo episodes per policy"})


@dataclass(frozen=True)
class DemoConfig:
    """Every setting of ``rwmu demo``: defaults fit ~10 minutes on 2 CPU cores; see :data:`PRESETS`."""

    collect: DemoCollectConfig = field(default_factory=DemoCollectConfig)
    world_model: DemoWorldModelConfig = field(default_factory=DemoWorldModelConfig)
    uncertainty: DemoUncertaintyConfig = field(default_factory=DemoUncertaintyConfig)
    policy: DemoPolicyConfig = field(default_factory=DemoPolicyConfig)
    evaluation: DemoEvaluationConfig = field(default_factory=DemoEvaluationConfig)
    seed: int = field(default=0, metadata={"help": "seed of every stage"})
    # 1 thread: measured on 2 cores with one other busy process, torch's default 2 threads trained the world model
    # ~15x slower (oversubscription); raise it on an idle many-core machine
    threads: int | None = field(default=1, metadata={"help": "torch CPU threads; none = torch's default"})
    device: str = field(default="cpu", metadata={"help": "torch device for the world model and PPO (cpu or cuda)"})
    progress: bool = field(default=True, metadata={"help": "tqdm progress bars"})

    def check(self) -> None:
        """Raise :class:`RwmuError` for settings out of range."""
        positive = {
            "--collect-steps": self.collect.collect_steps, "--collect-envs": self.collect.collect_envs,
            "--collect-workers": self.collect.collect_workers, "--ensemble-size": self.world_model.ensemble_size,
            "--history-horizon": self.world_model.history_horizon,
            "--forecast-horizon": self.world_model.forecast_horizon,
            "--rnn-hidden-size": self.world_model.rnn_hidden_size, "--rnn-num-layers": self.world_model.rnn_num_layers,
            "--model-batch-size": self.world_model.model_batch_size,
            "--model-iterations": self.world_model.model_iterations,
            "--uncertainty-windows": self.uncertainty.uncertainty_windows,
            "--uncertainty-horizon": self.uncertainty.uncertainty_horizon,
            "--policy-iterations": self.policy.policy_iterations, "--policy-envs": self.policy.policy_envs,
            "--steps-per-env": self.policy.steps_per_env, "--eval-episodes": self.evaluation.eval_episodes,
        }  # fmt: skip
        for flag, value in positive.items():
            if value < 1:
                raise RwmuError(f"{flag} must be >= 1, got {value}")
        if not self.policy.lambdas:
            raise RwmuError("--lambdas: give at least one value, e.g. 1,0")
        if any(not lam >= 0 for lam in self.policy.lambdas):
            raise RwmuError(f"--lambdas {self.policy.lambdas}: every lambda must be >= 0")
        if len({lambda_label(lam) for lam in self.policy.lambdas}) != len(self.policy.lambdas):
            raise RwmuError(f"--lambdas {self.policy.lambdas}: values repeat")
        if self.threads is not None and self.threads < 1:
            raise RwmuError(f"--threads must be >= 1, got {self.threads}")
        min_rows = 10 * (self.world_model.history_horizon + self.world_model.forecast_horizon)
        if self.collect.collect_steps < min_rows:
            raise RwmuError(f"--collect-steps {self.collect.collect_steps}: too few rows for windows of "
                            f"{self.world_model.history_horizon}+{self.world_model.forecast_horizon} steps; "
                            f"record at least {min_rows}")  # fmt: skip


def _paper_preset() -> DemoConfig:
    """Paper-scale settings of every stage (Tables S7, S10, S11; SPEC section 8; issue 5's 1M transitions)."""
    return DemoConfig(
        collect=DemoCollectConfig(collect_steps=1_000_000, collect_workers=2),
        world_model=DemoWorldModelConfig(history_horizon=32, rnn_hidden_size=256, rnn_num_layers=2,
                                         model_batch_size=1024, model_iterations=2500, model_learning_rate=1e-4),
        uncertainty=DemoUncertaintyConfig(uncertainty_windows=32, uncertainty_horizon=200),
        policy=DemoPolicyConfig(policy_iterations=2500, policy_envs=4096, steps_per_env=100),
        evaluation=DemoEvaluationConfig(eval_episodes=64),
        threads=None,
    )  # fmt: skip


def _tiny_preset() -> DemoConfig:
    """Smallest useful run (well under a minute): checks the pipeline, says nothing about the method."""
    return DemoConfig(
        collect=DemoCollectConfig(collect_steps=3_000, collect_envs=8),
        world_model=DemoWorldModelConfig(ensemble_size=2, history_horizon=8, forecast_horizon=4, rnn_hidden_size=16,
                                         model_batch_size=32, model_iterations=4),
        uncertainty=DemoUncertaintyConfig(uncertainty_windows=4, uncertainty_horizon=16),
        policy=DemoPolicyConfig(policy_iterations=2, policy_envs=16, steps_per_env=8),
        evaluation=DemoEvaluationConfig(eval_episodes=2),
    )  # fmt: skip


PRESETS: dict[str, Callable[[], DemoConfig]] = {"demo": DemoConfig, "paper": _paper_preset, "tiny": _tiny_preset}


def lambda_label(lam: float) -> str:
    """Folder-safe label of a lambda: 1.0 -> ``1``, 0.5 -> ``0.5``, 2.25 -> ``2.25``."""
    text = f"{float(lam):g}"
    return text.replace("-", "m")


# ------------------------------------------------------------------------------------------------------------------
# Stage bookkeeping
STAGES_JSON = "stages.json"


class StageLog:
    """Wall time and status of each stage, kept in ``out/stages.json`` across re-runs.

    A stage that runs records ``status="ran"`` and its seconds; a stage skipped because its outputs exist keeps the
    seconds of the run that produced them and gets ``status="skipped (outputs present)"``.
    """

    def __init__(self, out_dir: Path, log: Callable[[str], None] = print):
        self.path = out_dir / STAGES_JSON
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
        from rwmu.utils.io import write_json_atomic

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
# Paths
@dataclass(frozen=True)
class DemoPaths:
    """Where each stage writes inside the demo folder."""

    out: Path

    @property
    def data(self) -> Path:
        return self.out / "data" / "dataset.rwmu"

    @property
    def collect_stats(self) -> Path:
        return self.out / "data" / "collect_stats.json"

    @property
    def world_model_dir(self) -> Path:
        return self.out / "world_model"

    @property
    def world_model(self) -> Path:
        return self.world_model_dir / "model_best.pt"

    @property
    def uncertainty_dir(self) -> Path:
        return self.out / "uncertainty"

    def policy_dir(self, lam: float) -> Path:
        return self.out / f"policy_lam{lambda_label(lam)}"

    def evaluation(self, name: str) -> Path:
        return self.out / "evaluation" / f"{name}.json"


# ------------------------------------------------------------------------------------------------------------------
# Stages
def stage_collect(config: DemoConfig, paths: DemoPaths, task) -> None:
    """Record ``collect_steps`` rows with the scripted controller (per-episode gait diversity and action noise)."""
    from rwmu.behavior import TrotConfig, TrotDiversity
    from rwmu.data.dataset import save_dataset
    from rwmu.evaluation.simulator import load_policy
    from rwmu.sim.collect import CollectConfig, collect_dataset
    from rwmu.utils.io import write_json_atomic, write_run_config

    c = config.collect
    collect_config = CollectConfig(steps=c.collect_steps, num_envs=c.collect_envs, num_workers=c.collect_workers,
                                   seed=config.seed)  # fmt: skip
    scripted = TrotConfig(diversity=TrotDiversity(), seed=config.seed + 1)  # as `rwmu collect --policy scripted`
    policy = load_policy("scripted", collect_config.num_envs, task, seed=config.seed, scripted_config=scripted)
    start = time.perf_counter()
    dataset, stats = collect_dataset(policy, collect_config, task, progress=config.progress,
                                     provenance={"policy": "scripted", "seed": config.seed, "by": "rwmu demo"})  # fmt: skip
    seconds = time.perf_counter() - start
    save_dataset(dataset, paths.data)
    write_run_config(paths.data.parent, {"collect": collect_config, "task": task.name, "policy": "scripted",
                                         "scripted": scripted})  # fmt: skip
    write_json_atomic(paths.collect_stats, {**stats.as_dict(), "seconds": seconds})


def world_model_train_config(config: DemoConfig):
    """The :class:`~rwmu.training.world_model_config.TrainModelConfig` the demo trains with."""
    from rwmu.training.world_model_config import ArchitectureConfig, OptimConfig, TrainModelConfig, ValidationConfig

    w = config.world_model
    iterations = w.model_iterations
    return TrainModelConfig(
        architecture=ArchitectureConfig(ensemble_size=w.ensemble_size, history_horizon=w.history_horizon,
                                        rnn_hidden_size=w.rnn_hidden_size, rnn_num_layers=w.rnn_num_layers),
        optim=OptimConfig(iterations=iterations, batch_size=w.model_batch_size, learning_rate=w.model_learning_rate,
                          forecast_horizon=w.forecast_horizon),
        # validate ~5 times per run on few windows (the demo's budget); long horizons only if the data allows
        validation=ValidationConfig(interval=max(1, iterations // 5), windows=64, horizons=(w.forecast_horizon, 32)),
        checkpoint_interval=max(iterations, 1),
        seed=config.seed, device=config.device, logger="tensorboard", progress=config.progress,
    )  # fmt: skip


def stage_world_model(config: DemoConfig, paths: DemoPaths, task) -> None:
    """Train the world model; continues from ``model_latest.pt`` if an earlier run stopped midway."""
    from rwmu.data.dataset import load_dataset
    from rwmu.training.world_model import WorldModelTrainer

    dataset = load_dataset(paths.data, task=task)
    resume = (paths.world_model_dir / "model_latest.pt").exists()
    trainer = WorldModelTrainer(dataset, task, paths.world_model_dir, world_model_train_config(config), resume=resume,
                                data_path=str(paths.data))  # fmt: skip
    trainer.train()


def stage_uncertainty(config: DemoConfig, paths: DemoPaths, task) -> None:
    """SPEC section 8 protocol on held-out windows (as ``rwmu eval-uncertainty``)."""
    from rwmu.data.dataset import load_dataset
    from rwmu.evaluation.uncertainty import UncertaintyEvalConfig, evaluate_uncertainty, format_table, write_report
    from rwmu.models.checkpoint import load_world_model
    from rwmu.utils.io import write_run_config

    u = config.uncertainty
    eval_config = UncertaintyEvalConfig(windows=u.uncertainty_windows, horizon=u.uncertainty_horizon,
                                        seed=config.seed, device=config.device)  # fmt: skip
    eval_config.check()
    model, ckpt = load_world_model(paths.world_model, device=config.device, task=task, return_checkpoint=True)
    dataset = load_dataset(paths.data, task=task)
    evaluation = evaluate_uncertainty(model, dataset, eval_config, train=ckpt.get("train"))
    write_run_config(paths.uncertainty_dir, {"eval_uncertainty": eval_config, "world_model": str(paths.world_model),
                                             "data": str(paths.data), "task": task.name})  # fmt: skip
    summary = write_report(evaluation, paths.uncertainty_dir,
                           extra={"world_model": str(paths.world_model), "data": str(paths.data)})  # fmt: skip
    print(format_table(summary))


def policy_train_config(config: DemoConfig, lam: float):
    """The :class:`~rwmu.training.policy_config.PolicyTrainingConfig` of the policy at ``lam``."""
    from rwmu.training.policy_config import PolicyTrainingConfig

    base = PolicyTrainingConfig()
    p = config.policy
    return dataclasses.replace(
        base, iterations=p.policy_iterations, steps_per_env=p.steps_per_env, seed=config.seed, device=config.device,
        save_interval=max(p.policy_iterations, 1),
        env=dataclasses.replace(base.env, num_envs=p.policy_envs, uncertainty_penalty=float(lam)),
    )  # fmt: skip


def policy_finished(run_dir: Path) -> bool:
    """A policy run is finished when its ``summary.json`` exists."""
    return (run_dir / "summary.json").is_file()


def stage_policy(config: DemoConfig, paths: DemoPaths, task, lam: float) -> None:
    """MOPO-PPO at ``lam``; continues from the latest checkpoint if an earlier run stopped midway."""
    from rwmu.training.policy import train_policy

    run_dir = paths.policy_dir(lam)
    resume = run_dir.is_dir() and any(run_dir.glob("model_*.pt"))
    train_policy(task, paths.world_model, paths.data, run_dir, policy_train_config(config, lam),
                 resume=True if resume else None, progress=config.progress)  # fmt: skip


def policy_checkpoint(run_dir: Path) -> Path:
    """The final checkpoint named in ``summary.json`` (resolved against the run folder if relative)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    path = Path(summary["final_checkpoint"])
    return path if path.is_file() else run_dir / path.name


def stage_evaluate(config: DemoConfig, paths: DemoPaths, task, name: str, policy_spec: str) -> None:
    """Score one policy in MuJoCo on the unpenalised reward (as ``rwmu evaluate --json``)."""
    from rwmu.evaluation.simulator import EvaluationConfig, evaluate_policy, format_table
    from rwmu.utils.io import run_metadata, to_jsonable, write_json_atomic

    eval_config = EvaluationConfig(episodes=config.evaluation.eval_episodes, seed=config.seed)
    result = evaluate_policy(policy_spec, eval_config, task, progress=config.progress)
    result["policy"] = policy_spec
    print(format_table(result).splitlines()[0])
    write_json_atomic(paths.evaluation(name), {**result, "config": to_jsonable(eval_config), "meta": run_metadata()})


# ------------------------------------------------------------------------------------------------------------------
# Pipeline
def run_demo(out_dir: str | Path, config: DemoConfig = DemoConfig(), log: Callable[[str], None] = print) -> dict:
    """Run (or continue) every stage into ``out_dir`` and write the report; return the report's JSON dict."""
    import torch

    from rwmu.tasks import get_task
    from rwmu.utils.io import write_run_config

    config.check()
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise RwmuError(f"--device {config.device}: no CUDA device is available here; use --device cpu")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise RwmuError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    _check_same_config(out, config)
    write_run_config(out, {"demo": config})
    task = get_task("go2_flat")
    paths = DemoPaths(out)
    stages = StageLog(out, log)
    total_start = time.perf_counter()

    c, w = config.collect, config.world_model
    stages.run("collect", paths.data.is_file() and paths.collect_stats.is_file(),
               lambda: stage_collect(config, paths, task),
               f"{c.collect_steps} rows from the scripted controller in {c.collect_envs} MuJoCo Go2s")  # fmt: skip
    stages.run("world_model", (paths.world_model_dir / "summary.json").is_file() and paths.world_model.is_file(),
               lambda: stage_world_model(config, paths, task),
               f"GRU {w.rnn_num_layers}x{w.rnn_hidden_size}, B={w.ensemble_size}, M={w.history_horizon}, "
               f"N={w.forecast_horizon}, {w.model_iterations} iterations of {w.model_batch_size} windows")  # fmt: skip
    u = config.uncertainty
    stages.run("uncertainty", (paths.uncertainty_dir / "summary.json").is_file(),
               lambda: stage_uncertainty(config, paths, task),
               f"{u.uncertainty_windows} held-out windows, {u.uncertainty_horizon}-step open-loop rollouts")  # fmt: skip
    p = config.policy
    for lam in p.lambdas:
        stages.run(f"policy_lam{lambda_label(lam)}", policy_finished(paths.policy_dir(lam)),
                   lambda lam=lam: stage_policy(config, paths, task, lam),
                   f"MOPO-PPO lambda={lam:g}: {p.policy_iterations} iterations x {p.policy_envs} envs x "
                   f"{p.steps_per_env} steps")  # fmt: skip
    policies = {"behaviour (scripted)": "scripted"}
    for lam in p.lambdas:
        policies[f"MOPO-PPO lambda={lam:g}"] = str(policy_checkpoint(paths.policy_dir(lam)))
    for name, spec in policies.items():
        key = evaluation_key(name)
        stages.run(f"evaluate_{key}", paths.evaluation(key).is_file(),
                   lambda key=key, spec=spec: stage_evaluate(config, paths, task, key, spec),
                   f"{name}: {config.evaluation.eval_episodes} MuJoCo episodes, unpenalised reward")  # fmt: skip

    from rwmu.experiments.demo_report import build_demo_report

    report = stages.run("report", False, lambda: build_demo_report(out, config, policies, stages.table()),
                        "report.md, report.json and plots")  # fmt: skip
    # the report stage's own time is only known now: add it to the written JSON
    report["stages"] = stages.table()
    report["total_seconds_this_invocation"] = time.perf_counter() - total_start
    from rwmu.utils.io import write_json_atomic

    write_json_atomic(out / "report.json", report)
    log(f"[demo] report: {out / 'report.md'} ({report['total_seconds_this_invocation']:.0f} s in this invocation)")
    return report


def evaluation_key(name: str) -> str:
    """File-name key of a policy label: ``MOPO-PPO lambda=1`` -> ``mopo_ppo_lambda_1``."""
    if name.startswith("behaviour"):
        return "behaviour"
    return "".join(ch if ch.isalnum() or ch == "." else "_" for ch in name.lower()).replace("__", "_")


def _check_same_config(out: Path, config: DemoConfig) -> None:
    """Refuse to continue a demo folder that was started with other settings (its outputs would not match)."""
    from rwmu.utils.io import to_jsonable

    stored = out / "config.json"
    if not stored.is_file():
        return
    try:
        previous = json.loads(stored.read_text())["config"]["demo"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return
    now = to_jsonable(config)
    ignore = {"progress", "threads"}  # do not change any output
    diff = [k for k in now if k not in ignore and previous.get(k) != now[k]]
    if diff:
        raise RwmuError(f"--out {out}: holds a demo run with other settings ({', '.join(diff)} differ, see "
                        f"{stored}); use another --out or the same flags to continue it")  # fmt: skip
