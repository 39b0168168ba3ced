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

import importlib

_EXPORTS = {
    "PENALTY_NAMES": "rwmu.envs.imagination.env",
    "REWARD_NAMES": "rwmu.envs.imagination.env",
    "DatasetHistorySampler": "rwmu.envs.imagination.starts",
    "DynamicsMode": "rwmu.envs.imagination.config",
    "HistoryBatch": "rwmu.envs.imagination.starts",
    "ImaginationConfig": "rwmu.envs.imagination.config",
    "ImaginationEnv": "rwmu.envs.imagination.env",
    "StartPool": "rwmu.envs.imagination.starts",
    "UncertaintyTerm": "rwmu.envs.imagination.uncertainty",
    "WarmStarts": "rwmu.envs.imagination.starts",
    "imagined_outcome": "rwmu.envs.imagination.outcome",
    "task_rule": "rwmu.envs.imagination.outcome",
}
"""Each re-exported name and its module, imported on first use: the config (``rwmu.envs.imagination.config``)
imports no torch, so that ``rwmu COMMAND --help`` starts quickly (docs/architecture.md, Layers)."""

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'rwmu.envs.imagination' has no attribute {name!r}")
