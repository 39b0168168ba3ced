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

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rwmu.behavior import TrotConfig, TrotDiversity
from rwmu.data.loading import load_dataset
from rwmu.data.native_format import save_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation import uncertainty as unc
from rwmu.evaluation.model_check import format_model_check
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.evaluation.tables import format_evaluation_table
from rwmu.evaluation.uncertainty_config import UncertaintyEvalConfig
from rwmu.experiments.demo_config import DemoConfig
from rwmu.experiments.demo_report import build_demo_report, describe_world_model
from rwmu.experiments.paths import DemoPaths, evaluation_key, lambda_label
from rwmu.experiments.steps import check_policy, score_policy, train_policy_continuing, train_world_model
from rwmu.models.checkpoint import load_world_model
from rwmu.sim.collect import collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks import get_task
from rwmu.tasks.base import Task
from rwmu.training.policy_config import PolicyTrainingConfig
from rwmu.training.policy_loader import load_behaviour_policy, load_policy
from rwmu.training.runner import latest_checkpoint
from rwmu.training.world_model_config import TrainModelConfig
from rwmu.utils.io import folder_lock, to_jsonable, write_json_atomic, write_run_config


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
    if config.behavior_policy != "scripted":
        load_policy(config.behavior_policy, 1, get_task("go2_flat"))  # a policy that does not load fails here
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
