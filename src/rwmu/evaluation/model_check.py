"""Closed-loop check of a world model: does imagination hold on the states a policy actually visits?

A policy trained in imagination visits states its world model chose for it; the model was fitted on the behaviour
data. :func:`check_model` rolls the policy in MuJoCo (``rwmu collect``'s recorder, the task's random commands, no
pushes), replays the recorded trajectories through the world model under the recorded actions, and reports, on the
policy's states and on the dataset's for comparison:

- one-step and open-loop (``horizon`` steps) relative state error, ``sum |pred - true| / sum |true|`` (the reference
  model check, :func:`rwmu.models.rollout.relative_error`);
- the epistemic uncertainty ``u`` of one-step predictions (mean and quantiles), and its median relative to the data's:
  a ratio well above 1 means the policy lives where the model is unsure, and the penalty is doing the steering;
- predicted against real falls (precision and recall) with the termination imagination uses (the task's rule on the
  predicted state and extension columns, or the learned head), and with the learned head alone;
- contact accuracy of the feet and of the undesired (thigh/calf) contacts, and the rate of undesired contacts
  predicted against real, with imagination's contacts (the task's contact rule on predicted clearances, or the
  learned head) and with the head alone: the undesired-contact penalty of imagination is only as good as that rate.

``rwmu check-model`` prints it; this is how a user learns whether to trust imagination for a policy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.windows import gather_windows, pick_windows, window_starts
from rwmu.errors import RwmuError
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.models.rollout import open_loop_rollout, relative_error
from rwmu.sim.collect import collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks.base import Task
from rwmu.training.policy_loader import load_policy


def _rates(predicted: np.ndarray, real: np.ndarray) -> dict[str, Any]:
    """Counts, precision and recall of boolean ``predicted`` against ``real`` (None where undefined)."""
    tp = int((predicted & real).sum())
    return {
        "real": int(real.sum()),
        "predicted": int(predicted.sum()),
        "precision": tp / int(predicted.sum()) if predicted.any() else None,
        "recall": tp / int(real.sum()) if real.any() else None,
    }


@torch.no_grad()
def score_windows(model, ds: TrajectoryDataset, task: Task, config: ModelCheckConfig) -> dict[str, Any]:
    """The module's metrics for one dataset (the policy's rollouts or the behaviour data)."""
    M, dims = model.history_horizon, ds.dims
    if dims != task.dims or model.dims.state != dims.state:
        raise RwmuError(f"data ({dims.describe()}) does not fit the world model or task {task.name}")
    data = model.normalization.normalize_rows(torch.tensor(np.asarray(ds.data, dtype=np.float32)), dims)
    norm = model.normalization
    out: dict[str, Any] = {"rows": ds.num_rows, "episodes": ds.num_episodes, "falls": ds.num_terminations}

    # One step: windows of M + 1 rows (the last row may be a fall).
    starts = pick_windows(window_starts(ds, M + 1), config.windows, config.seed)
    if starts.size == 0:  # every episode ended within the model's history: nothing to replay, and that is the finding
        lengths = ds.trajectory_lengths
        out.update(
            windows=0,
            one_step_rel_error=None,
            u=None,
            falls_head=None,
            falls_rule=None,
            contacts=None,
            open_loop_rel_error=None,
            open_loop_windows=0,
            note=f"no episode lasted the model's {M}-step history plus one step (longest trajectory "
            f"{int(lengths.max())} rows, {out['falls']} falls): nothing to replay",
        )
        return out
    rows = gather_windows(data, torch.as_tensor(starts), M + 1)
    one = open_loop_rollout(model, rows[..., dims.state_slice], rows[..., dims.action_slice], 1)
    true_next = rows[:, M : M + 1, dims.state_slice]
    out["windows"] = int(starts.size)
    out["one_step_rel_error"] = float(relative_error(one.state, true_next)[0])
    u = one.epistemic[:, 0].double()
    out["u"] = {"mean": float(u.mean()), "p50": float(u.quantile(0.5)), "p90": float(u.quantile(0.9))}

    real_fall = (
        rows[:, M, dims.termination_slice][:, 0].numpy() > 0.5 if dims.termination else np.zeros(len(starts), bool)
    )
    head = one.termination[:, 0, 0].numpy() > 0 if one.termination is not None else np.zeros(len(starts), bool)
    out["falls_head"] = _rates(head, real_fall)
    has_extension = one.extension is not None and dims.extension == model.dims.extension and dims.extension > 0
    extension = norm.denormalize_extension(one.extension[:, 0]) if has_extension else None
    rule = task.termination_rule
    if rule is not None and has_extension:
        state = norm.denormalize_state(one.state[:, 0])
        out["falls_rule"] = _rates(rule(state, extension, task.layout).numpy(), real_fall)
    else:
        out["falls_rule"] = None
    if one.contact is not None and dims.contact:
        head_contacts = (one.contact[:, 0] > 0).float()
        imagined = task.contact_rule(head_contacts, extension) if task.contact_rule and has_extension else head_contacts
        predicted, by_head = imagined.numpy() > 0.5, head_contacts.numpy() > 0.5
        real = rows[:, M, dims.contact_slice].numpy() > 0.5
        feet, undesired = list(task.foot_contact_ids), list(task.undesired_contact_ids)
        out["contacts"] = {
            "feet_accuracy": float((predicted[:, feet] == real[:, feet]).mean()) if feet else None,
            "undesired_accuracy": float((predicted[:, undesired] == real[:, undesired]).mean()) if undesired else None,
            "undesired_rate_real": float(real[:, undesired].any(-1).mean()) if undesired else None,
            "undesired_rate_predicted": float(predicted[:, undesired].any(-1).mean()) if undesired else None,
            "undesired_rate_head": float(by_head[:, undesired].any(-1).mean()) if undesired else None,
        }

    # Open loop: windows of M + horizon rows without a fall before their last row.
    long_starts = pick_windows(window_starts(ds, M + config.horizon), config.windows, config.seed)
    if long_starts.size:
        rows = gather_windows(data, torch.as_tensor(long_starts), M + config.horizon)
        roll = open_loop_rollout(model, rows[..., dims.state_slice], rows[..., dims.action_slice], config.horizon)
        err = relative_error(roll.state, rows[:, M:, dims.state_slice])
        out["open_loop_rel_error"] = float(err[-1])
        out["open_loop_windows"] = int(long_starts.size)
    else:
        out["open_loop_rel_error"], out["open_loop_windows"] = None, 0
    return out


def check_model(
    model,
    policy: str | Any,
    dataset: TrajectoryDataset,
    task: Task,
    config: ModelCheckConfig = ModelCheckConfig(),
    progress: bool = False,
) -> dict[str, Any]:
    """Roll ``policy`` in MuJoCo and score the world model on its trajectories and on ``dataset`` (module docstring).

    Args:
        model: a :class:`~rwmu.models.WorldModelEnsemble` with its normalisation.
        policy: anything :func:`rwmu.training.policy_loader.load_policy` reads, or a policy object.
        dataset: the behaviour data the model was trained on (physical units).
        task: the simulated task.

    Returns:
        ``{"policy": metrics, "data": metrics, "u_ratio": policy u median / data u median, "horizon": H}``.
    """
    if config.episodes < 1 or config.num_envs < 1 or config.horizon < 1 or config.windows < 1:
        raise RwmuError("--episodes, --num-envs, --horizon and --windows must be >= 1")
    model.eval()
    actor = load_policy(policy, config.num_envs, task, seed=config.seed) if isinstance(policy, str) else policy
    collect = CollectConfig(
        steps=config.episodes * (task.episode_length + 1),
        num_envs=config.num_envs,
        seed=config.seed,
        pushes=False,
        min_trajectory_rows=model.history_horizon + 1,
    )
    rollouts, _ = collect_dataset(actor, collect, task, provenance={"policy": str(policy)}, progress=progress)
    on_policy = score_windows(model, rollouts, task, config)
    on_data = score_windows(model, dataset, task, config)
    if on_data["windows"] == 0:
        raise RwmuError(f"the dataset has no {model.history_horizon + 1}-row window to check the model on")
    data_u = on_data["u"]["p50"]
    return {
        "policy": on_policy,
        "data": on_data,
        "horizon": config.horizon,
        "u_ratio": on_policy["u"]["p50"] / data_u if on_policy["u"] and data_u > 0 else None,
    }


def format_model_check(report: dict[str, Any]) -> list[str]:
    """A readable table of :func:`check_model`'s report: one column per source."""

    def fmt(value: Any, digits: int = 3) -> str:
        if value is None:
            return "-"
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    def falls(m: dict, key: str) -> str:
        r = m.get(key)
        if not r:
            return "-"
        return f"{r['predicted']} vs {r['real']} (P {fmt(r['precision'], 2)}, R {fmt(r['recall'], 2)})"

    rows = [
        ("windows scored", lambda m: fmt(m["windows"])),
        ("one-step relative error", lambda m: fmt(m["one_step_rel_error"])),
        (f"open-loop relative error at {report['horizon']} steps", lambda m: fmt(m["open_loop_rel_error"])),
        (
            "u mean / median / p90",
            lambda m: f"{fmt(m['u']['mean'])} / {fmt(m['u']['p50'])} / {fmt(m['u']['p90'])}" if m["u"] else "-",
        ),
        (
            "falls predicted vs real (imagination)",
            lambda m: falls(m, "falls_rule") if m.get("falls_rule") else falls(m, "falls_head"),
        ),
        ("falls predicted vs real (learned head)", lambda m: falls(m, "falls_head")),
        ("foot contact accuracy", lambda m: fmt((m.get("contacts") or {}).get("feet_accuracy"))),
        (
            "undesired contacts: predicted / real rate",
            lambda m: (
                f"{fmt((m.get('contacts') or {}).get('undesired_rate_predicted'))} / "
                f"{fmt((m.get('contacts') or {}).get('undesired_rate_real'))}"
            ),
        ),
        ("undesired contacts by the learned head", lambda m: fmt((m.get("contacts") or {}).get("undesired_rate_head"))),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{'':<{width}}  {'policy in MuJoCo':<36}  behaviour data"]
    for name, get in rows:
        lines.append(f"{name:<{width}}  {get(report['policy']):<36}  {get(report['data'])}")
    if report["policy"].get("note"):
        lines.append(f"policy: {report['policy']['note']}")
    lines.append(f"u on the policy's states is {fmt(report['u_ratio'], 2)}x its median on the data")
    return lines
