"""The uncertainty term of imagination, in three pluggable parts (docs/mopo_ppo.md, "Penalty and halting").

1. **Signal** (``ImaginationConfig.reduction``, else the model's): the one-step disagreement of the members'
   predicted means that the world model returns with every prediction (:func:`rwmu.models.epistemic_uncertainty`):
   ``std_sum`` (the reference code), ``var_sum`` (paper Eq. 4), ``pairwise_max`` (MOReL's largest distance between
   two members) or ``std_max`` (the largest per-dimension std).
2. **Penalty form** (``penalty``): ``reference``, ``r - lambda * u * dt`` (paper Eq. 5), or ``excess``,
   ``r - lambda * max(0, u - u0) * dt`` with ``u0`` the ``penalty_quantile`` of ``u`` on held-out data.
3. **Halt rule** (``halt_quantile``, ``halt_budget``, ``halt_reward``): an episode ends as a termination where the
   signal leaves the data's range: at the first step above the ``halt_quantile`` level ``u_h`` (MOReL's HALT state;
   ``halt_budget = 0``), or once the excess accumulated since the episode start, ``sum_t max(0, u_t - u_h)``, passes
   ``halt_budget * u_h`` (truncation on accumulated uncertainty, as TATU: a brief spike is tolerated, a sustained
   drift is not). A halted step also pays ``halt_reward`` (MOReL's negative HALT reward, ``<= 0``).

The data levels come from the quantiles the world-model checkpoint stores (:mod:`rwmu.models.calibration`), or are
measured on this dataset's windows when the checkpoint has none for the signal.
"""

from __future__ import annotations

import math

import torch

from rwmu.data.windows import gather_windows, pick_windows, window_starts
from rwmu.envs.imagination.config import ImaginationConfig
from rwmu.errors import RwmuError
from rwmu.models.calibration import CALIBRATION_WINDOWS, uncertainty_quantile, uncertainty_reference


class UncertaintyTerm:
    """Penalty and halting of ``n`` imagined environments from the signal ``u`` of each step.

    Args:
        config: the imagination settings (signal, penalty form, halt rule, lambda).
        model: the world model (its stored reference levels and its default signal).
        dataset: the behaviour data, to measure the levels on when the model stores none for the signal.
        normalization: the model's normalisation (the data's windows are normalised with it).
        num_envs: ``n``.
        dt: the control step [s].
        device: where the per-environment sums live.
    """

    def __init__(self, config: ImaginationConfig, model, dataset, normalization, num_envs: int, dt: float, device):
        self.config = config
        self.signal = config.reduction or model.config.reduction
        self.scale = float(config.uncertainty_penalty) * float(dt)  # lambda * dt
        self.reference = self._reference(model, dataset, normalization, device)
        self.floor = (
            uncertainty_quantile(self.reference, config.penalty_quantile, self.signal)
            if config.penalty == "excess"
            else 0.0
        )
        self.halt_level = (
            uncertainty_quantile(self.reference, config.halt_quantile, self.signal)
            if config.halt_quantile is not None
            else math.inf
        )
        self.budget = float(config.halt_budget) * self.halt_level if config.halt_quantile is not None else math.inf
        self.excess = torch.zeros(num_envs, device=device)  # (n,) accumulated excess over the halt level

    def _reference(self, model, dataset, normalization, device) -> dict | None:
        """The model's stored levels of the signal, or levels measured here on this dataset's windows if it stores
        none and the penalty or halting needs them."""
        cfg = self.config
        needed = cfg.penalty == "excess" or cfg.halt_quantile is not None
        stored = model.uncertainty_reference
        if not needed or (stored and self.signal in stored):
            return stored
        m = model.history_horizon
        starts = window_starts(dataset, m + 1)
        if starts.size == 0:
            raise RwmuError(f"the dataset has no {m + 1}-row window to measure the world model's uncertainty on")
        picked = pick_windows(starts, CALIBRATION_WINDOWS, seed=0)
        rows = gather_windows(torch.as_tensor(dataset.data), torch.as_tensor(picked), m + 1).to(device)
        compact = normalization.normalize_rows(rows, dataset.dims).reshape(-1, rows.shape[-1])
        offsets = torch.arange(0, compact.shape[0], m + 1, device=device)
        why = "the model stores none" if not stored else f"the model stores none for {self.signal}"
        reference = uncertainty_reference(model, compact, offsets, source=f"imagination dataset windows ({why})")
        model.reset()
        return reference

    def __call__(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The penalty (``(n,)``, <= 0, added to the reward) and the halted environments (``(n,)`` bool) of one step
        whose signal is ``u`` ``(n,)``."""
        penalty = -self.scale * (u - self.floor).clamp(min=0.0)
        over = (u - self.halt_level).clamp(min=0.0)
        self.excess += torch.where(torch.isfinite(over), over, 0.0)
        halted = (u > self.halt_level) & (self.excess > self.budget) if self.budget > 0 else u > self.halt_level
        if self.config.halt_reward:
            penalty = penalty + torch.where(halted, self.config.halt_reward, 0.0)
        return penalty, halted

    def reset(self, env_ids: torch.Tensor) -> None:
        """New episodes in ``env_ids`` start with no accumulated excess."""
        self.excess[env_ids] = 0.0
