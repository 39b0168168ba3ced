"""Which uncertainty signal sees a policy's failures? The signal study of ``rwmu signals`` (docs/signals.md).

MOPO-PPO penalises an uncertainty signal ``u`` (paper Eq. 4-5); the penalty can only keep a policy out of trouble if
``u`` is high where the real robot is about to fail. This module measures that on the policy's *real* states:

1. roll the policy in MuJoCo (``rwmu collect``'s recorder, the task's random commands, no pushes), as
   :func:`rwmu.evaluation.model_check.check_model` does;
2. at every state ``s_t`` of those trajectories (after the model's ``M``-step history), read the world model on the
   real history and compute every candidate signal (:data:`SIGNALS`);
3. score each signal three ways:

   a. AUROC for "the real robot falls within the next ``k`` steps" (``k`` in ``fall_windows``), and the *early-warning*
      AUROC: states 10 to 35 steps before a fall against states more than 60 steps from any fall
      (:data:`LEAD_WINDOW`, :data:`FAR_FROM_FALL`), which leaves out the fall itself, where any signal rises;
   b. Spearman correlation with the real open-loop error: the ensemble mean rolled ``h`` steps from ``s_t`` under the
      recorded actions, L1 against the recorded ``s_{t+h}`` in normalised units (``h`` in ``error_horizons``);
   c. level: the signal's median on the policy's states over its median on the behaviour data's states.

The candidates (all in the model's normalised units; ``B`` members with means ``mu_b``):

- ``std_sum``: the paper's one-step signal as the reference code computes it, ``sum_d std_b(mu_b,d)``;
- ``std_norm_max`` / ``std_norm_sum``: the per-dimension std divided by the data's spread of that dimension's
  one-step change (so a dimension that barely moves counts as much as one that moves a lot), max and sum;
- ``pairwise_max``: MOReL's ``max_{i,j} ||mu_i - mu_j||_2``;
- ``multistep_h{h}``: each member propagated on its own predictions for ``h`` steps, the policy acting on the
  imagined states (as in imagination); ``sum_d std_b`` of the members' states at step ``h``;
- ``accumulated_u_h{h}``: TATU's accumulated uncertainty, the one-step ``std_sum`` summed along each member's own
  ``h``-step path, averaged over members;
- ``value_std_h{h}``: value-aware disagreement in the spirit of MOBILE's Bellman-target spread: the std over members
  of each member's own ``h``-step imagined task return (the task reward of the imagined states, stopped at an
  imagined fall). The ``h``-step return stands in for a learned critic, so the signal needs only the world model,
  the policy and the task;
- ``fall_prob_std``: the std over members of the predicted fall probability ``sigmoid(termination logit)``;
- ``nearest_data``: the Euclidean distance from ``(s_t, a_t)`` to the nearest dataset state-action pair (a sample of
  ``neighbours`` pairs away from the data points scored for the level).

One study writes ``signals.json`` (the three scores of every signal), ``signals.npz`` (every point's signals and
labels, so that studies of several policies can be pooled: :func:`pooled_metrics`) and ``roc.png``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.windows import gather_windows, pick_windows, window_starts
from rwmu.envs.imagination import imagined_outcome, task_rule
from rwmu.errors import RwmuError
from rwmu.evaluation.plots import new_figure, save_figure
from rwmu.evaluation.signals_config import SignalStudyConfig
from rwmu.models.disagreement import epistemic_uncertainty
from rwmu.models.rollout import l1_error, open_loop_rollout
from rwmu.sim.collect import collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks.base import Task
from rwmu.tasks.observations import build_policy_observation
from rwmu.tasks.rewards import RewardComputer
from rwmu.training.policy_loader import load_policy
from rwmu.utils.io import atomic_path, to_jsonable, write_json_atomic

LEAD_WINDOW = (10, 35)
"""Steps before a fall (exclusive, inclusive] whose states the early-warning AUROC counts as positives: far enough
ahead that a penalty could still steer away (0.2-0.7 s at 50 Hz)."""
FAR_FROM_FALL = 60
"""States more than this many steps from any fall are the early-warning AUROC's negatives."""


@dataclass
class StudyPoints:
    """Every scored state of one source (the policy's rollouts or the data), float64 numpy.

    Attributes:
        signals: name -> ``(n,)`` value of each signal.
        steps_to_fall: ``(n,)`` steps from the state to the real fall that ends its episode (``inf`` if the episode
            did not end in a fall).
        errors: ``h`` -> ``(n,)`` real ``h``-step open-loop L1 error (NaN where the episode ends sooner).
    """

    signals: dict[str, np.ndarray]
    steps_to_fall: np.ndarray
    errors: dict[int, np.ndarray] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------- labels
def steps_to_fall(ds: TrajectoryDataset, rows: np.ndarray) -> np.ndarray:
    """float64 ``(n,)``: for each global row, the steps until the end of its episode if that end is a fall, else inf."""
    ends = np.flatnonzero(ds.episode_ends)
    end = ends[np.searchsorted(ends, rows)]
    fell = ds.terminations[end, 0] > 0.5 if ds.dims.termination else np.zeros(rows.size, bool)
    return np.where(fell, (end - rows).astype(np.float64), np.inf)


def auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of ``scores`` for the boolean labels ``positive`` (Mann-Whitney U over
    ``n_pos * n_neg``; ties count half); None without both classes or with non-finite scores."""
    ok = np.isfinite(scores)
    scores, positive = scores[ok], positive[ok]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, true-positive rate) at every threshold, from (0, 0) to (1, 1)."""
    order = np.argsort(-scores, kind="stable")
    hits = positive[order]
    tpr = np.concatenate([[0.0], np.cumsum(hits) / max(hits.sum(), 1)])
    fpr = np.concatenate([[0.0], np.cumsum(~hits) / max((~hits).sum(), 1)])
    return fpr, tpr


# ---------------------------------------------------------------------------------------------------------- signals
class SignalReader:
    """Computes every signal of :data:`SIGNALS` for batches of real histories (module docstring).

    Args:
        model: a :class:`~rwmu.models.WorldModelEnsemble` with its normalisation, ``B >= 2`` members.
        policy_spec: the policy that acts on imagined states: anything :func:`load_policy` reads but the scripted
            controller (whose hidden gait phase an imagined path cannot continue), or a memoryless policy object.
        dataset: the behaviour data (the spread of each state dimension's one-step change, and the nearest-data
            reference pairs).
        task: the task (observation, reward, termination and contact rules).
        reference_rows: int64 rows ``r`` of ``dataset`` whose pairs ``(s_r, a_r)`` form the nearest-data reference.
    """

    def __init__(
        self,
        model,
        policy_spec: Any,
        dataset: TrajectoryDataset,
        task: Task,
        config: SignalStudyConfig,
        reference_rows: np.ndarray,
    ):
        self.model, self.task, self.config = model, task, config
        self.norm = model.normalization
        self.dims = dataset.dims
        self.B = model.ensemble_size
        self.M = model.history_horizon
        # the policy observes imagined states without observation noise: a signal must not depend on a noise draw
        self.obs_task = dataclasses.replace(
            task, observation_noise=dataclasses.replace(task.observation_noise, enabled=False)
        )
        self.policy = (
            load_policy(policy_spec, config.batch * self.B, task, seed=config.seed)
            if isinstance(policy_spec, str)
            else policy_spec
        )
        self.contact_rule = task_rule(model, task, task.contact_rule, "auto", "contacts")
        self.termination_rule = task_rule(model, task, task.termination_rule, "auto", "termination")
        data = torch.from_numpy(np.asarray(dataset.data, dtype=np.float32))
        s, a = self.dims.state_slice, self.dims.action_slice
        states = self.norm.normalize_state(data[reference_rows, s])
        nxt = self.norm.normalize_state(data[reference_rows + 1, s])
        self.spread = (nxt - states).std(dim=0).clamp_min(1e-6)  # (S,) the data's one-step change per dimension
        # (s_r, a_r): the action applied at s_r is the action column of row r + 1
        self.reference = torch.cat([states, self.norm.normalize_action(data[reference_rows + 1, a])], dim=-1)

    @torch.no_grad()
    def read(self, raw: torch.Tensor, commands: torch.Tensor) -> dict[str, torch.Tensor]:
        """Signals at the last history state of ``n`` windows.

        Args:
            raw: ``(n, M + 1, columns)`` physical dataset rows ``t - M + 1 .. t + 1``: the history ends at ``s_t``,
                and row ``t + 1`` carries the recorded action ``a_t``.
            commands: ``(n, 3)`` the command at ``s_t``.

        Returns:
            name -> ``(n,)`` float64.
        """
        c, M, dims, norm = raw.shape[0], self.M, self.dims, self.norm
        rows = norm.normalize_rows(raw, dims)
        hist_s, hist_a = rows[:, :M, dims.state_slice], rows[:, 1 : M + 1, dims.action_slice]
        out: dict[str, torch.Tensor] = {}

        members = self.model.member_predictions(hist_s, hist_a)
        out["std_sum"] = epistemic_uncertainty(members.state, "std_sum")
        out["pairwise_max"] = epistemic_uncertainty(members.state, "pairwise_max")
        std = members.state.std(dim=0)  # (n, S), unbiased as the reference's torch.std
        out["std_norm_max"] = (std / self.spread).amax(-1)
        out["std_norm_sum"] = (std / self.spread).sum(-1)
        if members.termination is not None:
            out["fall_prob_std"] = torch.sigmoid(members.termination[..., 0]).std(dim=0)
        else:
            out["fall_prob_std"] = torch.full((c,), float("nan"))
        pairs = torch.cat([hist_s[:, -1], hist_a[:, -1]], dim=-1)
        out["nearest_data"] = torch.cat([torch.cdist(p, self.reference).amin(-1) for p in pairs.split(256)])
        out.update(self._member_paths(raw, rows, commands))
        return {k: v.double() for k, v in out.items()}

    def _member_paths(self, raw: torch.Tensor, rows: torch.Tensor, commands: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each member propagated on its own predictions, the policy acting: the multi-step, accumulated and
        value-aware signals."""
        c, M, B, dims, norm, task = raw.shape[0], self.M, self.B, self.dims, self.norm, self.task
        horizon = max(max(self.config.disagreement_horizons), self.config.path_horizon)
        rep = lambda x: x.repeat(B, *([1] * (x.dim() - 1)))  # noqa: E731  member-major: row b * c + i
        ids = torch.arange(B).repeat_interleave(c)
        hist_s, hist_a = rep(rows[:, :M, dims.state_slice]), rep(rows[:, 1 : M + 1, dims.action_slice])
        command = rep(commands)
        action = rep(raw[:, M, dims.action_slice])  # a_t, physical: the recorded first action
        rewards = RewardComputer(task, B * c)
        joint_vel = task.layout.joint_vel
        rewards.reset(
            previous_action=rep(raw[:, M - 1, dims.action_slice]),
            previous_joint_vel=rep(raw[:, M - 1, dims.state_slice][:, joint_vel]),
            contact_history=rep(raw[:, :M, dims.contact_slice]) if dims.contact else None,
        )
        self.model.reset()
        self.policy.reset()
        alive = torch.ones(B * c, dtype=torch.bool)
        ret = torch.zeros(B * c)
        accumulated = torch.zeros(B * c)
        out: dict[str, torch.Tensor] = {}
        state, act_n = hist_s, hist_a
        for step in range(1, horizon + 1):
            pred = self.model.predict(state, act_n, member_ids=ids, reduction="std_sum", aleatoric=False)
            physical, contacts, fell = imagined_outcome(pred, norm, task, self.contact_rule, self.termination_rule)
            reward, _ = rewards.compute(physical, action, contacts, command)
            if step <= self.config.path_horizon:
                ret += torch.where(alive, reward, 0.0)
                accumulated += torch.where(alive, pred.epistemic, 0.0)
                alive &= ~fell
            if step in self.config.disagreement_horizons:
                out[f"multistep_h{step}"] = epistemic_uncertainty(pred.state.view(B, c, -1), "std_sum")
            if step == self.config.path_horizon:
                out[f"value_std_h{step}"] = ret.view(B, c).std(dim=0)
                out[f"accumulated_u_h{step}"] = accumulated.view(B, c).mean(dim=0)
            if step == horizon:
                break
            obs = build_policy_observation(physical, command, action, self.obs_task)
            action = self.policy.act(obs).float()
            state, act_n = pred.state[:, None], norm.normalize_action(action)[:, None]
        self.model.reset()
        return out


# ---------------------------------------------------------------------------------------------------------- study
def _read_points(
    reader: SignalReader, ds: TrajectoryDataset, points: np.ndarray, label: str, progress: bool
) -> dict[str, np.ndarray]:
    """Signals at every window start of ``points`` (windows of ``M + 1`` rows), in batches of ``config.batch``;
    the last batch is padded to the full size (the policy keeps per-environment state for a fixed batch)."""
    M, size = reader.M, reader.config.batch
    data = torch.from_numpy(np.asarray(ds.data, dtype=np.float32))
    commands = torch.from_numpy(np.asarray(ds.commands, dtype=np.float32))
    parts: dict[str, list[np.ndarray]] = {}
    for first in tqdm(range(0, points.size, size), desc=f"signals: {label}", disable=not progress, leave=False):
        chunk = points[first : first + size]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], size - chunk.size)])
        raw = gather_windows(data, torch.as_tensor(padded), M + 1)
        values = reader.read(raw, commands[padded + M - 1])
        for name, v in values.items():
            parts.setdefault(name, []).append(v[: chunk.size].numpy())
    return {name: np.concatenate(v) for name, v in parts.items()}


def _open_loop_errors(model, ds: TrajectoryDataset, points: np.ndarray, horizons: Sequence[int], batch: int):
    """``h`` -> ``(n,)`` L1 error of the ensemble-mean ``h``-step open-loop rollout from each point (NaN where the
    window of ``M + h`` rows leaves the episode)."""
    M = model.history_horizon
    data = model.normalization.normalize_rows(torch.from_numpy(np.asarray(ds.data, dtype=np.float32)), ds.dims)
    s, a = ds.dims.state_slice, ds.dims.action_slice
    errors = {}
    for h in horizons:
        error = np.full(points.size, np.nan)
        eligible = np.flatnonzero(np.isin(points, window_starts(ds, M + h)))
        for first in range(0, eligible.size, batch):
            idx = eligible[first : first + batch]
            rows = gather_windows(data, torch.as_tensor(points[idx]), M + h)
            roll = open_loop_rollout(model, rows[..., s], rows[..., a], h, reduction="std_sum")
            error[idx] = l1_error(roll.state[:, -1:], rows[:, M + h - 1 : M + h, s])[:, 0].double().numpy()
        errors[h] = error
    return errors


def _reference_rows(ds: TrajectoryDataset, data_points: np.ndarray, M: int, count: int, seed: int) -> np.ndarray:
    """Rows ``r`` (with ``r + 1`` in the same episode) for the nearest-data reference, none within 50 steps of a data
    point scored for the level (a state's own neighbours in time would make its distance 0); on data too small for
    that, the band shrinks so that three quarters of the rows stay."""
    band = max(0, min(50, ds.num_rows // (8 * max(data_points.size, 1))))
    cover = np.zeros(ds.num_rows + 1, dtype=np.int64)
    centres = data_points + M - 1
    np.add.at(cover, np.clip(centres - band, 0, ds.num_rows), 1)
    np.add.at(cover, np.clip(centres + band + 1, 0, ds.num_rows), -1)
    near = np.cumsum(cover[:-1]) > 0
    rows = window_starts(ds, 2)
    rows = rows[~near[rows]]
    if rows.size == 0:
        raise RwmuError("the data holds no state-action pair for the nearest-data reference; use more data")
    return pick_windows(rows, count, seed + 1)


def roll_policy(model, policy, task: Task, episodes: int, num_envs: int, seed: int, progress: bool):
    """The policy's own trajectories in MuJoCo (the task's random commands, no pushes), as ``rwmu check-model``;
    ``policy`` is a :func:`load_policy` spec or a policy object."""
    actor = load_policy(policy, num_envs, task, seed=seed) if isinstance(policy, str) else policy
    collect = CollectConfig(
        steps=episodes * (task.episode_length + 1),
        num_envs=num_envs,
        seed=seed,
        pushes=False,
        min_trajectory_rows=model.history_horizon + 1,
    )
    rollouts, _ = collect_dataset(actor, collect, task, provenance={"policy": str(policy)}, progress=progress)
    return rollouts


def study_signals(
    model,
    policy: Any,
    dataset: TrajectoryDataset,
    task: Task,
    config: SignalStudyConfig = SignalStudyConfig(),
    progress: bool = False,
    rollouts: TrajectoryDataset | None = None,
) -> tuple[StudyPoints, StudyPoints]:
    """Roll ``policy`` in MuJoCo (or take its ``rollouts``) and read every signal on its states and on the data's.

    Args:
        policy: a :func:`load_policy` spec (not ``scripted``) or a memoryless policy object.

    Returns:
        (policy points with fall and error labels, data points with signals only).
    """
    config.check()
    if policy == "scripted":
        raise RwmuError(
            "--policy scripted: the scripted controller keeps a hidden gait phase that an imagined path cannot "
            "continue; study a trained policy (a run folder, checkpoint, export or .onnx file)"
        )
    if model.ensemble_size < 2:
        raise RwmuError("the world model has one member: there is no disagreement to study; train B >= 2 members")
    if model.normalization is None:
        raise RwmuError("the world model stores no normalisation; pass --task so the task's constants are used")
    if dataset.dims != model.dims or dataset.commands is None:
        raise RwmuError(
            f"the data ({dataset.dims.describe()}) must have the world model's columns ({model.dims.describe()}) "
            "and its commands (recorded by rwmu collect)"
        )
    model.eval()
    M = model.history_horizon
    if rollouts is None:
        rollouts = roll_policy(model, policy, task, config.episodes, config.num_envs, config.seed, progress)
    policy_points = pick_windows(window_starts(rollouts, M + 1), config.max_points, config.seed)
    data_points = pick_windows(window_starts(dataset, M + 1), config.data_points, config.seed)
    if policy_points.size == 0 or data_points.size == 0:
        raise RwmuError(f"no window of {M + 1} rows to score (every episode ended within the model's history)")
    reader = SignalReader(
        model, policy, dataset, task, config, _reference_rows(dataset, data_points, M, config.neighbours, config.seed)
    )
    on_policy = StudyPoints(
        _read_points(reader, rollouts, policy_points, "policy states", progress),
        steps_to_fall(rollouts, policy_points + M - 1),
        _open_loop_errors(model, rollouts, policy_points, config.error_horizons, config.batch),
    )
    on_data = StudyPoints(
        _read_points(reader, dataset, data_points, "data states", progress), steps_to_fall(dataset, data_points + M - 1)
    )
    return on_policy, on_data


# ---------------------------------------------------------------------------------------------------------- scores
def signal_metrics(
    on_policy: StudyPoints, on_data: StudyPoints, config: SignalStudyConfig
) -> dict[str, dict[str, float | None]]:
    """name -> ``auroc_k{k}``, ``auroc_early`` (:data:`LEAD_WINDOW` against :data:`FAR_FROM_FALL`),
    ``spearman_h{h}``, ``level`` (policy median / data median), ``policy_median``, ``data_median`` of every signal
    (module docstring, scores a-c)."""
    out: dict[str, dict[str, float | None]] = {}
    for name in config.signal_names():
        x = on_policy.signals[name]
        row: dict[str, float | None] = {}
        steps = on_policy.steps_to_fall
        for k in config.fall_windows:
            row[f"auroc_k{k}"] = auroc(x, steps <= k)
        lead = (steps > LEAD_WINDOW[0]) & (steps <= LEAD_WINDOW[1])
        counted = lead | (steps > FAR_FROM_FALL)
        row["auroc_early"] = auroc(x[counted], lead[counted])
        for h in config.error_horizons:
            err = on_policy.errors.get(h)
            ok = np.isfinite(x) & np.isfinite(err) if err is not None else np.zeros(x.size, bool)
            varies = ok.sum() > 2 and np.ptp(x[ok]) > 0 and np.ptp(err[ok]) > 0  # a constant has no rank correlation
            row[f"spearman_h{h}"] = float(stats.spearmanr(x[ok], err[ok]).statistic) if varies else None
        p_med, d_med = float(np.nanmedian(x)), float(np.nanmedian(on_data.signals[name]))
        row.update(policy_median=p_med, data_median=d_med, level=p_med / d_med if d_med > 0 else None)
        out[name] = row
    return out


def label_counts(on_policy: StudyPoints, config: SignalStudyConfig) -> dict[str, int]:
    """How many states were scored and how many lie within ``k`` steps of a fall."""
    steps = on_policy.steps_to_fall
    counts = {"states": int(steps.size), "falls": int((steps == 1).sum())}
    for k in config.fall_windows:
        counts[f"within_k{k}"] = int((steps <= k).sum())
    counts["early"] = int(((steps > LEAD_WINDOW[0]) & (steps <= LEAD_WINDOW[1])).sum())
    return counts


def save_points(path, on_policy: StudyPoints, on_data: StudyPoints) -> None:
    """Every point's signals and labels as ``.npz`` (keys ``policy/<signal>``, ``data/<signal>``,
    ``steps_to_fall``, ``error_h<h>``), written atomically."""
    arrays = {f"policy/{k}": v for k, v in on_policy.signals.items()}
    arrays |= {f"data/{k}": v for k, v in on_data.signals.items()}
    arrays["steps_to_fall"] = on_policy.steps_to_fall
    arrays |= {f"error_h{h}": v for h, v in on_policy.errors.items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def load_points(paths: Sequence) -> tuple[StudyPoints, StudyPoints]:
    """The points of several studies (:func:`save_points` files) pooled into one policy and one data set."""
    pol: dict[str, list] = {}
    dat: dict[str, list] = {}
    falls, errors = [], {}
    for path in paths:
        with np.load(path) as f:
            for key in f.files:
                if key.startswith("policy/"):
                    pol.setdefault(key[7:], []).append(f[key])
                elif key.startswith("data/"):
                    dat.setdefault(key[5:], []).append(f[key])
                elif key.startswith("error_h"):
                    errors.setdefault(int(key[7:]), []).append(f[key])
            falls.append(f["steps_to_fall"])
    cat = lambda d: {k: np.concatenate(v) for k, v in d.items()}  # noqa: E731
    data = cat(dat)
    n_data = len(next(iter(data.values())))
    return StudyPoints(cat(pol), np.concatenate(falls), cat(errors)), StudyPoints(data, np.full(n_data, np.inf))


def plot_roc(path, points: StudyPoints, config: SignalStudyConfig, title: str) -> None:
    """ROC curves of every signal on the policy ``points``: one panel per "fall within k steps" and one for the
    early warning (:data:`LEAD_WINDOW` against :data:`FAR_FROM_FALL`); the legends give each AUROC, the paper's
    ``std_sum`` drawn thick."""
    steps = points.steps_to_fall
    lead = (steps > LEAD_WINDOW[0]) & (steps <= LEAD_WINDOW[1])
    panels = [(f"a fall within {k} steps", steps <= k, np.ones(steps.size, bool)) for k in config.fall_windows]
    panels.append(
        (
            f"early warning: {LEAD_WINDOW[0] + 1}-{LEAD_WINDOW[1]} steps ahead of a fall",
            lead,
            lead | (steps > FAR_FROM_FALL),
        )
    )
    fig = new_figure(5.5 * len(panels), 5.5)
    for i, (label, positive, counted) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for name in config.signal_names():
            x = points.signals[name]
            ok = np.isfinite(x) & counted
            score = auroc(x[ok], positive[ok])
            if score is None:
                continue
            fpr, tpr = roc_curve(x[ok], positive[ok])
            ax.plot(fpr, tpr, lw=2.4 if name == "std_sum" else 1.0, label=f"{name} ({score:.2f})")
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.set_title(label, fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)


# ---------------------------------------------------------------------------------------------------------- outputs
SIGNALS_JSON, POINTS_NPZ, ROC_PNG = "signals.json", "signals.npz", "roc.png"


def write_study(
    out, on_policy: StudyPoints, on_data: StudyPoints, config: SignalStudyConfig, title: str, extra: dict | None = None
) -> dict[str, Any]:
    """``signals.json`` (every signal's scores, the label counts, ``extra``), ``signals.npz`` and ``roc.png`` into
    ``out``; returns the JSON document."""
    out = Path(out)
    save_points(out / POINTS_NPZ, on_policy, on_data)
    plot_roc(out / ROC_PNG, on_policy, config, title)
    document = {
        **(extra or {}),
        "counts": label_counts(on_policy, config),
        "signals": signal_metrics(on_policy, on_data, config),
        "config": to_jsonable(config),
    }
    write_json_atomic(out / SIGNALS_JSON, document)
    return document


def format_signals(document: dict[str, Any]) -> list[str]:
    """The scores of :func:`write_study`'s document as a text table, one row per signal."""
    signals = document["signals"]
    columns = list(next(iter(signals.values())))
    columns = [c for c in columns if c.startswith(("auroc", "spearman")) or c == "level"]
    width = max(map(len, signals))
    lines = [f"{'signal':<{width}}  " + "  ".join(f"{c:>12}" for c in columns)]
    for name, row in signals.items():
        cells = ("-" if row[c] is None else f"{row[c]:.3f}" for c in columns)
        lines.append(f"{name:<{width}}  " + "  ".join(f"{v:>12}" for v in cells))
    counts = document["counts"]
    near = ", ".join(f"{v} within {k[8:]} steps" for k, v in counts.items() if k.startswith("within_k"))
    lines.append(f"{counts['states']} policy states, {counts['falls']} falls ({near})")
    return lines
