"""The imagination environment: a batched rsl_rl ``VecEnv`` whose dynamics are a learned world model.

:class:`ImaginationEnv` lets rsl_rl's ``OnPolicyRunner``/``PPO`` train a policy entirely inside a
:class:`~rwmu.models.WorldModelEnsemble` (MOPO-PPO, docs/method.md section 6). Everything is vectorised over
environments. Commands, pushes, the task reward, episode sums, time-outs, the observation and the episode logs come
from :class:`rwmu.tasks.locomotion.LocomotionCore`, the very code the MuJoCo simulator uses; this module adds the
learned dynamics, the starting histories and the uncertainty penalty.

Units. The world model works in normalised units; rewards, commands, pushes and the policy observation in physical
units. The environment keeps the current state in both and converts with the model's normalisation.

History and recurrent state. At a reset an environment draws a dataset window of ``M`` rows (``M`` = the model's
history horizon) ``t0 .. t0+M-1`` that lies in one trajectory and contains no termination. Row ``t0+M-1`` becomes the
current state; its action column (the action that led to it) becomes the "last action" of the observation. The
other ``M-1`` states are paired with the actions applied at them (the action column of the following row,
docs/method.md section 2 / :mod:`rwmu.data.layout`). A recurrent model gets that environment's hidden state zeroed
and warmed up on these ``M-1`` pairs (:meth:`~rwmu.models.WorldModelEnsemble.warm_up`; starts are drawn and warmed up
``warmup_batch`` at a time ahead of the resets that use them, :class:`StartPool`); from then on every step feeds one pair
(current state, policy action), so the first prediction has seen exactly ``M`` pairs, as in training. An MLP model
instead gets the rolling ``M``-step window every step.

Initial states (docs/method.md section 6, reference ``init_data_ratio = 0.8``). A share ``init_data_ratio`` of
resets start from a dataset history as is. The reference fills the rest from a "random" set; we use dataset
histories perturbed by Gaussian noise of std ``random_init_noise_std`` in normalised units (states and actions
alike): starts near, but off, the data, which the uncertainty penalty then weighs.

Commands at a start. By default every episode gets a fresh command from the task's ranges, as in the simulator. With
``data_command_ratio > 0`` that share of resets keeps the command recorded at the start's dataset row (its context
columns): the command the behaviour policy was following in the state imagination branches from. A fresh command
makes every imagined episode open with a change of command, a transient that the data holds only once per
resampling interval (100-120 steps); the recorded one branches the rollout from a (state, command) pair the data
contains, as MOPO's branched rollouts do.

Dynamics (docs/method.md section 7.1). ``dynamics = "member"`` (reference; trajectory sampling, PETS): each
environment draws one ensemble member at every reset and follows that member's mean. ``"mean"`` (paper Eq. 4): the
ensemble mean. Either way the penalty uses the disagreement of all members, reduced as ``reduction`` says
(docs/method.md section 7.2).

Reward. ``r~ = r - lambda * u * dt`` with the task reward ``r`` of the core and ``lambda = uncertainty_penalty >= 0``
(``penalty = "reference"``; the reference code writes ``r += weight * u * dt`` with ``weight = -lambda``), or
``r~ = r - lambda * max(0, u - u0) * dt`` (``penalty = "excess"``), which charges only the uncertainty above the
model's own level on its data: ``u0`` is the ``penalty_quantile`` of ``u`` on held-out dataset windows, stored in the
world-model checkpoint by ``rwmu train-model`` (:mod:`rwmu.models.calibration`; measured on this dataset's windows
for a model without one). ``-lambda * (...) * dt`` is the core's penalty term ``uncertainty_penalty``. With
``halt_quantile`` set, an episode also ends (as a termination) where ``u`` exceeds that quantile, as MOReL's HALT
state does: imagination stops trusting the model there.

Episode end (``termination``). ``"rule"``: the task's termination rule (:class:`rwmu.tasks.base.TerminationRule`)
applied to the predicted state and extension columns, e.g. the Go2's tilt and body clearance, the very rule of the
simulator; ``"head"``: the model's learned termination, ``round(sigmoid(logit))``, trained on the rare recorded
falls; ``"auto"`` (default) takes the rule where the task has one and the model predicts its extension columns, the
head otherwise. A time-out after ``episode_length`` steps is reported in ``extras["time_outs"]`` so PPO bootstraps
it. Contacts (``contacts``, same choices) come from the predicted contact logits, except those the task's contact rule
(:class:`rwmu.tasks.base.ContactRule`) derives from predicted extension columns: the Go2's undesired thigh/calf
contacts, from each leg's predicted clearance above the floor. Commands are resampled and pushes applied by the core; a push adds its kick to the
imagined body-frame base velocity (physical units), which is then renormalised for the model.

Logging (``extras["log"]``, averaged by rsl_rl's logger over an iteration): the core's episode logs
(``Episode_Reward/<term>`` of every task term, ``Episode_Reward/uncertainty_penalty``, ``Episode_Reward/task``
(unpenalised) and ``Episode_Reward/total``; ``Episode_Termination/{terminated,time_out}``; ``Episode/length``), and
per step ``Imagination/reward``, ``Imagination/task_reward`` and ``Imagination/epistemic_uncertainty``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from tensordict import TensorDict
from torch.profiler import record_function

from rwmu.data.normalization import Normalization
from rwmu.data.windows import gather_windows, pick_windows, window_starts
from rwmu.errors import RwmuError
from rwmu.models.bases import select_hidden
from rwmu.models.calibration import CALIBRATION_WINDOWS, uncertainty_quantile, uncertainty_reference
from rwmu.tasks.base import Task
from rwmu.tasks.dataset_rewards import recorded_commands
from rwmu.tasks.locomotion import LocomotionCore, LocomotionVecEnv, reward_names

__all__ = [
    "REWARD_NAMES",
    "DatasetHistorySampler",
    "HistoryBatch",
    "ImaginationConfig",
    "ImaginationEnv",
    "StartPool",
    "WarmStarts",
    "imagined_outcome",
    "task_rule",
]

PENALTY_NAMES = ("uncertainty_penalty",)
# Names of the per-step terms (``ImaginationEnv.last_step_terms``) and episode sums: the task terms,
# ``uncertainty_penalty``, ``task`` (unpenalised) and ``total``.
REWARD_NAMES = reward_names(PENALTY_NAMES)

DynamicsMode = Literal["member", "mean"]


@dataclass(frozen=True)
class ImaginationConfig:
    """Settings of the imagination environment (defaults: paper Table S11 / docs/method.md sections 3, 6, 7)."""

    num_envs: int = dataclasses.field(
        default=4096,  # paper Table S11 (reference config: 8192)
        metadata={"help": "parallel imagined environments"},
    )
    uncertainty_penalty: float = dataclasses.field(
        default=1.0,  # paper lambda = 1.0 (Table S11); the reference code's weight -1.0
        metadata={"help": "lambda >= 0 in r~ = r - lambda*u*dt (reference weight = -lambda)"},
    )
    dynamics: DynamicsMode = dataclasses.field(
        default="member",  # reference code: one sampled member per env (docs/method.md section 7.1)
        metadata={
            "help": "member: each env follows one sampled ensemble member (reference); mean: ensemble mean "
            "(paper Eq. 4)"
        },
    )
    reduction: Literal["std_sum", "var_sum"] | None = dataclasses.field(
        default=None,  # None: the model's own setting (reference std_sum; paper var_sum), docs/method.md 7.2
        metadata={"help": "epistemic reduction std_sum (reference) or var_sum (paper); none = model default"},
    )
    init_data_ratio: float = dataclasses.field(
        default=0.8,  # docs/method.md section 6: 80% dataset / 20% "random" starts (reference init_data_ratio)
        metadata={"help": "share of resets starting from an unperturbed dataset history"},
    )
    random_init_noise_std: float = dataclasses.field(
        default=0.1,  # rwmu choice for the reference's "random" starts (module docstring)
        metadata={"help": "std of the Gaussian noise (normalised units) on the other resets' histories"},
    )
    episode_length: int | None = dataclasses.field(
        default=None,  # None -> task.episode_length (256 steps, docs/method.md section 3)
        metadata={"help": "imagined episode length in steps; none = the task's (256)"},
    )
    clip_actions: float | None = dataclasses.field(
        default=None, metadata={"help": "clip policy actions to [-c, c]; none = no clipping"}
    )
    pushes: bool = dataclasses.field(
        default=True, metadata={"help": "random base-velocity pushes (docs/method.md section 3)"}
    )
    standing_fraction: float | None = dataclasses.field(
        default=0.125,  # one of the 8 built-in evaluation schedules is "stand" (docs/go2.md); the task's is 2 %
        metadata={"help": "share of commands that are zero (standing); none = the task's (2 %)"},
    )
    observation_noise: bool | None = dataclasses.field(
        default=None, metadata={"help": "uniform observation noise; none = the task's setting (off)"}
    )
    penalty: Literal["reference", "excess"] = dataclasses.field(
        default="reference",  # paper Eq. 5 / reference code: r - lambda * u * dt
        metadata={
            "help": "reference: r - lambda*u*dt; excess: r - lambda*max(0, u - u0)*dt with u0 the model's "
            "--env.penalty-quantile of u on held-out data"
        },
    )
    penalty_quantile: float = dataclasses.field(
        default=0.9,  # rwmu choice: charge what 90 % of held-out data windows stay under (docs/method.md 6.1)
        metadata={"help": "u0 of the excess penalty: this quantile of u on held-out data windows"},
    )
    halt_quantile: float | None = dataclasses.field(
        default=None,  # off, as in MOPO; MOReL halts where the ensemble disagrees beyond its data level
        metadata={
            "help": "end an episode (as a termination) where u exceeds this quantile of u on held-out "
            "data (MOReL-style halting); none = never"
        },
    )
    termination: Literal["auto", "rule", "head"] = dataclasses.field(
        default="auto",  # module docstring: the task's rule on predicted states where possible
        metadata={
            "help": "episode end: rule (the task's fall rule on predicted states), head (learned "
            "termination) or auto (rule where the model predicts its columns)"
        },
    )
    contacts: Literal["auto", "rule", "head"] = dataclasses.field(
        default="auto",  # module docstring: the task's contact rule on predicted clearances where possible
        metadata={
            "help": "contacts: rule (the task's contact rule on predicted extension columns for the contacts "
            "it covers), head (learned contacts only) or auto (rule where the model predicts its "
            "columns)"
        },
    )
    data_command_ratio: float = dataclasses.field(
        default=0.0,  # the simulator's: every episode draws its command (module docstring, "Commands at a start")
        metadata={
            "help": "share of resets that keep the command recorded at the start's dataset row (the data's "
            "command columns) instead of drawing one; 0 = always draw"
        },
    )
    warmup_batch: int = dataclasses.field(
        default=1024,  # docs/performance.md: a reset's warm-up in small batches ran at a third of the GEMM rate
        metadata={
            "help": "recurrent models: starting histories drawn and warmed up this many at a time, ahead of "
            "the resets that use them (same distribution of starts); 0 = at each reset"
        },
    )
    model_precision: Literal["float32", "bfloat16"] = dataclasses.field(
        default="float32",  # the model's own precision; bfloat16 is a speed option (docs/performance.md)
        metadata={
            "help": "dtype of the world model's matrix products in imagination: float32, or bfloat16 "
            "(float32 accumulation and recurrent state; a GRU model on a CPU with bfloat16 matrix "
            "units; 1.6x faster model step, docs/performance.md)"
        },
    )
    log_window: int = 100  # steps kept for step_statistics() (set to the steps per PPO iteration)

    def validate(self) -> None:
        if self.num_envs < 1:
            raise RwmuError(f"num_envs must be >= 1, got {self.num_envs}")
        if not self.uncertainty_penalty >= 0.0:
            raise RwmuError(
                f"uncertainty penalty lambda must be >= 0 (r~ = r - lambda*u*dt), got {self.uncertainty_penalty}; "
                f"the reference's negative weight w corresponds to lambda = -w (e.g. weight -1.0 -> lambda 1.0)"
            )
        if self.dynamics not in ("member", "mean"):
            raise RwmuError(f"dynamics must be 'member' or 'mean', got {self.dynamics!r}")
        if self.reduction not in (None, "std_sum", "var_sum"):
            raise RwmuError(f"reduction must be std_sum or var_sum, got {self.reduction!r}")
        if not 0.0 <= self.init_data_ratio <= 1.0:
            raise RwmuError(f"init_data_ratio must be in [0, 1], got {self.init_data_ratio}")
        if not 0.0 <= self.data_command_ratio <= 1.0:
            raise RwmuError(f"data_command_ratio must be in [0, 1], got {self.data_command_ratio}")
        if self.random_init_noise_std < 0:
            raise RwmuError(f"random_init_noise_std must be >= 0, got {self.random_init_noise_std}")
        if self.warmup_batch < 0:
            raise RwmuError(f"warmup_batch must be >= 0, got {self.warmup_batch}")
        if self.episode_length is not None and self.episode_length < 1:
            raise RwmuError(f"episode_length must be >= 1, got {self.episode_length}")
        for name in ("termination", "contacts"):
            if getattr(self, name) not in ("auto", "rule", "head"):
                raise RwmuError(f"{name} must be auto, rule or head, got {getattr(self, name)!r}")
        if self.penalty not in ("reference", "excess"):
            raise RwmuError(f"penalty must be reference or excess, got {self.penalty!r}")
        if self.model_precision not in ("float32", "bfloat16"):
            raise RwmuError(f"model_precision must be float32 or bfloat16, got {self.model_precision!r}")
        for name in ("penalty_quantile", "halt_quantile"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise RwmuError(f"{name} must be in [0, 1], got {value}")


@dataclass
class HistoryBatch:
    """Histories for ``k`` resetting environments (M = history horizon).

    Attributes:
        states: (k, M, S) normalised states, oldest first; ``states[:, -1]`` is the current state.
        applied_actions: (k, M-1, A) normalised actions applied at ``states[:, :-1]``.
        last_action: (k, A) PHYSICAL action that led to the current state (the observation's last action).
        contacts: (k, M, C) contacts of the history rows (0/1).
        commands: (k, 3) PHYSICAL command recorded at the current state's row [vx, vy, wz]; zeros for data without
            command columns.
    """

    states: torch.Tensor
    applied_actions: torch.Tensor
    last_action: torch.Tensor
    contacts: torch.Tensor
    commands: torch.Tensor


class DatasetHistorySampler:
    """Draws M-step starting histories from a dataset (all on one device, no Python loop over envs).

    Args:
        dataset: a :class:`rwmu.data.dataset.TrajectoryDataset` (physical units).
        normalization: :class:`rwmu.data.normalization.Normalization` of the world model.
        history_horizon: M.
        device: where the data tensor lives.
        generator: random source on ``device``.
    """

    def __init__(self, dataset, normalization, history_horizon: int, device, generator: torch.Generator | None):
        self.dims = dataset.dims
        self.history_horizon = int(history_horizon)
        self.device = torch.device(device)
        self.generator = generator
        self.normalization = normalization.to(self.device)
        # Windows of M + 1 rows: the M history rows contain no termination and lie in one trajectory.
        starts = window_starts(dataset, self.history_horizon + 1)
        if starts.size == 0:
            lengths = np.diff(dataset.trajectory_offsets)
            raise RwmuError(
                f"the dataset has no {self.history_horizon}-step history without a termination to start imagination "
                f"from (longest trajectory: {int(lengths.max())} rows); use more data or a model with a shorter "
                f"history"
            )
        self.starts = torch.as_tensor(starts, dtype=torch.long, device=self.device)
        self.data = torch.as_tensor(dataset.data, dtype=torch.float32).to(self.device)
        commands = dataset.commands  # (N, 3) or None
        self.commands = None if commands is None else torch.as_tensor(commands, dtype=torch.float32).to(self.device)

    @property
    def num_windows(self) -> int:
        return int(self.starts.numel())

    def sample(self, k: int, noise_std: torch.Tensor | None = None) -> HistoryBatch:
        """Draw ``k`` histories; ``noise_std`` (k,) adds Gaussian noise of that std (normalised units) per row."""
        m, dims = self.history_horizon, self.dims
        pick = torch.randint(0, self.num_windows, (k,), generator=self.generator, device=self.device)
        rows = gather_windows(self.data, self.starts[pick], m)  # (k, M, columns)
        if self.commands is None:
            commands = torch.zeros(k, 3, device=self.device)
        else:
            commands = self.commands[self.starts[pick] + (m - 1)]  # (k, 3) at the current state's row
        states = self.normalization.normalize_state(rows[..., dims.state_slice])
        actions = self.normalization.normalize_action(rows[..., dims.action_slice])  # row t: action that led to s_t
        if noise_std is not None:
            scale = noise_std.to(self.device).view(k, 1, 1)
            states = states + scale * torch.randn(states.shape, generator=self.generator, device=self.device)
            actions = actions + scale * torch.randn(actions.shape, generator=self.generator, device=self.device)
        return HistoryBatch(
            states=states,
            applied_actions=actions[:, 1:],
            last_action=self.normalization.denormalize_action(actions[:, -1]),
            contacts=rows[..., dims.contact_slice],
            commands=commands,
        )


def _cat(a, b):
    """Concatenate two batches along the environment dimension: HistoryBatch (dim 0), hidden states (dim -2,
    tensors or (h, c) pairs) or None."""
    if a is None:
        return b
    if isinstance(a, HistoryBatch):
        return HistoryBatch(*(torch.cat((x, y)) for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b))))
    if isinstance(a, tuple):
        return tuple(torch.cat((x, y), dim=-2) for x, y in zip(a, b))
    return torch.cat((a, b), dim=-2)


def _rows(batch, rows: slice):
    """Rows ``rows`` of a batch as in :func:`_cat`."""
    if batch is None:
        return None
    if isinstance(batch, HistoryBatch):
        return HistoryBatch(*(x[rows] for x in dataclasses.astuple(batch)))
    return select_hidden(batch, rows)


@dataclass
class WarmStarts:
    """Starting points for ``k`` environments.

    Attributes:
        history: their :class:`HistoryBatch`.
        hidden: ``(layers, 2, k, H)`` the recurrent model's state after the ``M - 1`` history pairs before the current
            state (a pair of them for LSTM); None for MLP models and M = 1 (nothing to warm up).
    """

    history: HistoryBatch
    hidden: torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


class StartPool:
    """Starting histories drawn and, for recurrent models, warmed up ``batch_size`` at a time (docs/performance.md).

    A reset takes the next ``k`` prepared starts and draws a new batch when fewer are left. Each start is drawn exactly
    as before (a dataset window; with probability ``1 - init_data_ratio`` Gaussian noise on it), and its recurrent
    state is the model's after reading its history from zeros, so the distribution of starts does not depend on the
    batch size; only the order in which the random generator is used does. ``batch_size = 0`` draws and warms up at
    each reset.
    """

    def __init__(
        self,
        sampler: DatasetHistorySampler,
        model,
        generator: torch.Generator,
        init_data_ratio: float,
        noise_std: float,
        batch_size: int,
    ):
        self.sampler, self.model, self.generator = sampler, model, generator
        self.init_data_ratio, self.noise_std = float(init_data_ratio), float(noise_std)
        self.warm = bool(model.is_recurrent and model.history_horizon > 1)
        self.batch_size = int(batch_size) if self.warm else 0
        self._history: HistoryBatch | None = None
        self._hidden = None
        self._available = 0

    def _draw(self, k: int) -> WarmStarts:
        device = self.sampler.device
        from_data = torch.rand(k, generator=self.generator, device=device) < self.init_data_ratio
        noise = None
        if self.noise_std > 0 and not bool(from_data.all()):
            noise = torch.where(from_data, 0.0, self.noise_std).to(torch.float32)
        history = self.sampler.sample(k, noise)
        hidden = self.model.warm_up(history.states[:, :-1], history.applied_actions) if self.warm else None
        return WarmStarts(history, hidden)

    def take(self, k: int) -> WarmStarts:
        """The next ``k`` starts."""
        if k > self._available:
            fresh = self._draw(max(k - self._available, self.batch_size))
            self._history, self._hidden = _cat(self._history, fresh.history), _cat(self._hidden, fresh.hidden)
            self._available += fresh.history.states.shape[0]
        out = WarmStarts(_rows(self._history, slice(0, k)), _rows(self._hidden, slice(0, k)))
        rest = slice(k, None)
        self._history, self._hidden = _rows(self._history, rest), _rows(self._hidden, rest)
        self._available -= k
        return out


def task_rule(model, task: Task, rule, mode: str, flag: str):
    """``rule`` (the task's termination or contact rule) if ``mode`` (``rule``, ``head`` or ``auto``) asks for it or
    allows it and the model predicts the extension columns it reads, else None (the learned head)."""
    usable = rule is not None and (not rule.reads_extension or model.dims.extension == task.dims.extension)
    if mode == "rule" and not usable:
        why = (
            f"defines no {flag} rule"
            if rule is None
            else (
                f"needs the {task.dims.extension} extension columns {', '.join(task.extension_names)}, which the "
                f"world model does not predict ({model.dims.extension} extension columns)"
            )
        )
        raise RwmuError(f"--env.{flag} rule: task {task.name} {why}; use --env.{flag} head")
    if mode == "head" or not usable:
        return None
    return rule


def imagined_outcome(
    out, normalization: Normalization, task: Task, contact_rule, termination_rule
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What one world-model prediction means for the task, as imagination reads it (module docstring, "Episode end").

    Args:
        out: a prediction with ``state`` ``(n, S)`` and ``extension``, ``contact``, ``termination`` (or None),
            normalised (:class:`~rwmu.models.WorldModelOutput`, or one member's slice of
            :class:`~rwmu.models.MemberPredictions`).
        contact_rule, termination_rule: the task's rules in use (:func:`task_rule`), None for the learned heads.

    Returns:
        ``(next_physical (n, S), contacts (n, C) 0/1, terminated (n,) bool)``.
    """
    n = out.state.shape[0]
    next_physical = normalization.denormalize_state(out.state)
    extension = normalization.denormalize_extension(out.extension) if out.extension is not None else None
    if out.contact is not None:
        contacts = (out.contact > 0).float()  # round(sigmoid(logit))
    else:
        contacts = torch.zeros(n, task.dims.contact, device=out.state.device)
    if contact_rule is not None:
        contacts = contact_rule(contacts, extension)
    if termination_rule is not None:
        terminated = termination_rule(next_physical, extension, task.layout)
    elif out.termination is not None:
        terminated = out.termination[:, 0] > 0
    else:
        terminated = torch.zeros(n, dtype=torch.bool, device=out.state.device)
    return next_physical, contacts, terminated


class ImaginationEnv(LocomotionVecEnv):
    """rsl_rl vectorised environment rolled out by a world model.

    Args:
        model: a :class:`~rwmu.models.WorldModelEnsemble` (eval mode; its ``normalization`` converts units unless
            ``normalization`` is given).
        dataset: the :class:`~rwmu.data.dataset.TrajectoryDataset` the starting histories come from.
        task: the task (observation, rewards, commands, pushes, episode length, dt).
        config: :class:`ImaginationConfig`.
        device: torch device of the simulation (the model is moved there).
        seed: seeds the environment's own ``torch.Generator`` (histories, members, commands, pushes, noise).
        normalization: overrides ``model.normalization``.

    Attributes: ``core`` (the :class:`~rwmu.tasks.locomotion.LocomotionCore`), ``state`` (n, S) normalised current
    state, ``state_physical`` (n, S) the same in physical units, ``commands`` (n, 3), ``last_actions`` (n, A),
    ``member_ids`` (n,), ``last_step_terms`` (name of ``REWARD_NAMES`` -> (n,) of the latest step).
    """

    def __init__(
        self,
        model,
        dataset,
        task: Task,
        config: ImaginationConfig = ImaginationConfig(),
        device: str | torch.device = "cpu",
        seed: int = 0,
        normalization=None,
    ):
        config.validate()
        self.cfg = config
        self.device = torch.device(device)
        self.num_envs = int(config.num_envs)
        self.num_actions = task.dims.action
        self.dt = float(task.dt)
        self.penalty_scale = float(config.uncertainty_penalty) * self.dt  # lambda * dt

        self.model = model.to(self.device).eval()
        self._check_dims(model, dataset, task)
        self.model.inference_dtype = self._inference_dtype(model, config.model_precision, self.device)
        self.normalization = (normalization or model.normalization or Normalization.from_task(task)).to(self.device)
        self.history_horizon = int(model.history_horizon)
        self.is_recurrent = bool(model.is_recurrent)
        self.ensemble_size = int(model.ensemble_size)
        self.use_members = config.dynamics == "member" and self.ensemble_size > 1
        self.reduction = config.reduction
        self.termination_rule = task_rule(model, task, task.termination_rule, config.termination, "termination")
        self.contact_rule = task_rule(model, task, task.contact_rule, config.contacts, "contacts")
        self.uncertainty_reference = self._uncertainty_reference(model, dataset)
        reduction = self.reduction or model.config.reduction
        self.uncertainty_floor = (
            uncertainty_quantile(self.uncertainty_reference, config.penalty_quantile, reduction)
            if config.penalty == "excess"
            else 0.0
        )
        self.halt_threshold = (
            uncertainty_quantile(self.uncertainty_reference, config.halt_quantile, reduction)
            if config.halt_quantile is not None
            else math.inf
        )

        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(seed))
        self.history_sampler = DatasetHistorySampler(
            dataset, self.normalization, self.history_horizon, self.device, self.generator
        )
        if config.data_command_ratio > 0:  # the one check that data records its commands
            recorded_commands(
                dataset,
                task,
                "--data",
                "--env.data-command-ratio > 0 (the default recipe's 1.0) cannot keep them: give --env.data-command-ratio 0 (--recipe paper has it)",
            )
        self.start_pool = StartPool(
            self.history_sampler,
            self.model,
            self.generator,
            config.init_data_ratio,
            config.random_init_noise_std,
            min(config.warmup_batch, self.num_envs),
        )
        n, s, a = self.num_envs, task.dims.state, task.dims.action
        # Buffers are created outside inference mode and only ever updated in place, so they stay usable both
        # inside torch.inference_mode() (rsl_rl rollouts) and outside it.
        self.core = LocomotionCore(
            task,
            n,
            self.device,
            self.generator,
            episode_length=config.episode_length,
            pushes=config.pushes,
            observation_noise=config.observation_noise,
            penalty_names=PENALTY_NAMES,
            standing_fraction=config.standing_fraction,
        )
        self.task = self.core.task
        self.state = torch.zeros(n, s, device=self.device)  # (n, S) normalised current state
        self.state_physical = torch.zeros(n, s, device=self.device)  # (n, S) same, physical units
        self.member_ids = torch.zeros(n, dtype=torch.long, device=self.device)  # (n,)
        # MLP models read the rolling window: (n, M, S) states and (n, M, A) actions applied at them (the last
        # action slot is filled with the policy action at every step).
        if not self.is_recurrent:
            self.state_history = torch.zeros(n, self.history_horizon, s, device=self.device)
            self.action_history = torch.zeros(n, self.history_horizon, a, device=self.device)
        self.model.reset(num_envs=n)
        self.reset_envs(torch.arange(n, device=self.device))
        self._update_observations()
        self.step_history: deque[torch.Tensor] = deque(maxlen=max(1, int(config.log_window)))
        self.last_step_terms: dict[str, torch.Tensor] = {}

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _inference_dtype(model, precision: str, device: torch.device) -> torch.dtype:
        """The model's matrix-product dtype for ``--env.model-precision``: bfloat16 runs in the fused GRU step on a
        CPU with bfloat16 matrix units (elsewhere torch would emulate it, slower than float32)."""
        if precision == "float32":
            return torch.float32
        if model.config.base_type != "gru" or device.type != "cpu":
            raise RwmuError(
                f"--env.model-precision bfloat16 needs a GRU world model on a CPU (the fused step); this "
                f"is a {model.config.base_type} model on {device.type}: use float32"
            )
        if not torch.ops.mkldnn._is_mkldnn_bf16_supported():
            raise RwmuError(
                "--env.model-precision bfloat16: this CPU has no bfloat16 matrix units (AVX512-BF16 or "
                "AMX), so it would be slower than float32; use float32"
            )
        return torch.bfloat16

    @staticmethod
    def _check_dims(model, dataset, task: Task) -> None:
        if model.dims.state != task.dims.state or model.dims.action != task.dims.action:
            raise RwmuError(
                f"world model state/action dims {model.dims.state}/{model.dims.action} do not match task "
                f"{task.name} ({task.dims.state}/{task.dims.action}); pass the task the model was trained for"
            )
        if dataset.dims != task.dims:
            raise RwmuError(
                f"dataset dims ({dataset.dims.describe()}) do not match task {task.name} ({task.dims.describe()}); "
                f"load the data with the same task"
            )
        if task.dims.contact and model.dims.contact != task.dims.contact:
            raise RwmuError(
                f"world model predicts {model.dims.contact} contacts, task {task.name} needs {task.dims.contact}"
            )

    def _uncertainty_reference(self, model, dataset) -> dict | None:
        """The model's stored uncertainty quantiles, measured here on this dataset's windows if it has none and the
        penalty or halting needs them."""
        needed = self.cfg.penalty == "excess" or self.cfg.halt_quantile is not None
        if not needed or model.uncertainty_reference:
            return model.uncertainty_reference
        m = self.history_horizon
        starts = window_starts(dataset, m + 1)
        if starts.size == 0:
            raise RwmuError(f"the dataset has no {m + 1}-row window to measure the world model's uncertainty on")
        picked = pick_windows(starts, CALIBRATION_WINDOWS, seed=0)
        rows = gather_windows(torch.as_tensor(dataset.data), torch.as_tensor(picked), m + 1).to(self.device)
        compact = self.normalization.normalize_rows(rows, dataset.dims).reshape(-1, rows.shape[-1])
        offsets = torch.arange(0, compact.shape[0], m + 1, device=self.device)
        reference = uncertainty_reference(
            model, compact, offsets, source="imagination dataset windows (the model stores no reference)"
        )
        model.reset()
        return reference

    # ------------------------------------------------------------------ VecEnv interface
    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        """Advance every environment one control step.

        Args:
            actions: (n, A) policy actions (physical units).

        Returns:
            observations (TensorDict, ``policy`` (n, obs_dim)), rewards (n,) penalised, dones (n,) long,
            extras with ``time_outs`` (n,) bool and ``log`` (dict of 0-dim tensors).
        """
        with torch.inference_mode():
            return self._step(actions)

    # ------------------------------------------------------------------ internals
    def _predict(self, action_normalized: torch.Tensor):
        members = self.member_ids if self.use_members else None
        if self.is_recurrent:
            return self.model.predict(
                self.state[:, None],
                action_normalized[:, None],
                member_ids=members,
                reduction=self.reduction,
                aleatoric=False,
            )
        self.action_history[:, -1] = action_normalized
        return self.model.predict(
            self.state_history, self.action_history, member_ids=members, reduction=self.reduction, aleatoric=False
        )

    def _step(self, actions: torch.Tensor):
        # The record_function ranges name the parts of a step for torch.profiler (benchmarks/bench_imagination.py).
        with record_function("imagination/model"):
            actions = self._prepare_actions(actions, self.cfg.clip_actions)
            out = self._predict(self.normalization.normalize_action(actions))
        with record_function("imagination/task"):
            next_state = out.state
            next_physical, contacts, terminated = imagined_outcome(
                out, self.normalization, self.task, self.contact_rule, self.termination_rule
            )
            epistemic = out.epistemic
            penalty = -self.penalty_scale * (epistemic - self.uncertainty_floor).clamp(min=0.0)
            halted = epistemic > self.halt_threshold
            terminated = terminated | halted
            outcome = self.core.step(next_physical, actions, contacts, terminated, {"uncertainty_penalty": penalty})
            self.last_step_terms = outcome.all_terms

            # Advance the current state and the histories.
            self.state.copy_(next_state)
            self.state_physical.copy_(next_physical)
            if not self.is_recurrent:  # action_history[:, -1] holds this step's action (set in _predict)
                self.state_history.copy_(torch.cat((self.state_history[:, 1:], next_state[:, None]), dim=1))
                self.action_history.copy_(torch.cat((self.action_history[:, 1:], self.action_history[:, :1]), dim=1))

            reward, task_reward = outcome.reward, outcome.task_reward
            log: dict[str, torch.Tensor] = {
                "Imagination/reward": reward.mean(),
                "Imagination/task_reward": task_reward.mean(),
                "Imagination/epistemic_uncertainty": epistemic.mean(),
                "Imagination/halted": halted.float().mean(),
                **outcome.log,
            }
            self.step_history.append(torch.stack((reward.mean(), task_reward.mean(), epistemic.mean())))
        with record_function("imagination/resets"):
            self._reset_envs(outcome.reset_ids)
        with record_function("imagination/commands_pushes"):
            kicks = self.core.advance()
            if self.core.pushes_enabled and bool(self.core.pushed.any()):
                self._apply_push(kicks)
        with record_function("imagination/observations"):
            self._update_observations()
        extras = {"time_outs": outcome.time_out, "log": log}
        return self.get_observations(), reward, outcome.dones.long(), extras

    def _apply_push(self, kicks: torch.Tensor) -> None:
        """Add (n, 2) body-frame base-velocity kicks [m/s] to vx, vy of the current state and renormalise."""
        self.core.apply_push(self.state_physical, kicks)
        self.state.copy_(self.normalization.normalize_state(self.state_physical))
        if not self.is_recurrent:
            self.state_history[:, -1] = self.state

    def _observed_state(self) -> torch.Tensor:
        return self.state_physical

    def reset_envs(self, env_ids: torch.Tensor) -> None:
        """Start new episodes in ``env_ids`` (k,): history, member, recurrent state, then the core's task state."""
        with torch.inference_mode():
            self._reset_envs(env_ids)

    def _reset_envs(self, env_ids: torch.Tensor) -> None:
        k = int(env_ids.numel())
        if k == 0:
            return
        starts = self.start_pool.take(k)
        history = starts.history
        current = history.states[:, -1]
        current_physical = self.normalization.denormalize_state(current)
        self.state[env_ids] = current
        self.state_physical[env_ids] = current_physical
        if self.use_members:
            self.member_ids[env_ids] = torch.randint(
                0, self.ensemble_size, (k,), generator=self.generator, device=self.device
            )
        if self.is_recurrent:  # the state after the M-1 pairs before the current state (zeros when M = 1)
            if starts.hidden is None:
                self.model.reset(env_ids=env_ids)
            else:
                self.model.set_hidden(env_ids, starts.hidden)
        else:
            self.state_history[env_ids] = history.states
            actions = torch.zeros(k, self.history_horizon, self.num_actions, device=self.device)
            actions[:, :-1] = history.applied_actions
            self.action_history[env_ids] = actions
        self.core.reset(
            env_ids,
            last_action=history.last_action,
            previous_joint_vel=current_physical[:, self.task.layout.joint_vel],
            contact_history=history.contacts if history.contacts.shape[-1] else None,
        )
        if self.cfg.data_command_ratio > 0:  # module docstring, "Commands at a start"
            keep = torch.rand(k, generator=self.generator, device=self.device) < self.cfg.data_command_ratio
            self.core.set_commands(env_ids[keep], history.commands[keep])

    # ------------------------------------------------------------------ statistics
    def step_statistics(self, last_steps: int | None = None) -> dict[str, float]:
        """Mean over the last ``last_steps`` steps (default: all kept, ``config.log_window``) of the per-step means.

        Returns ``reward`` (penalised), ``task_reward`` (unpenalised) and ``epistemic_uncertainty``, per env and step;
        NaN before the first step.
        """
        kept = list(self.step_history)
        if last_steps is not None:
            kept = kept[-last_steps:]
        if not kept:
            return {"reward": float("nan"), "task_reward": float("nan"), "epistemic_uncertainty": float("nan")}
        mean = torch.stack(kept).mean(dim=0).tolist()
        return {"reward": mean[0], "task_reward": mean[1], "epistemic_uncertainty": mean[2]}
