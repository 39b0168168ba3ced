"""The uncertainty term of imagination: signal, penalty form and halt rule (rwmu.envs.imagination.uncertainty)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from rwmu.envs.imagination import ImaginationConfig, UncertaintyTerm
from rwmu.errors import RwmuError
from tests.envs.test_imagination import Recorder, dataset, make_env, small_model  # noqa: F401 (fixture)

LEVELS = {"levels": [0.0, 0.5, 1.0], "std_sum": [0.0, 1.0, 2.0], "windows": 3, "source": "test"}


def term(n: int = 3, **settings) -> UncertaintyTerm:
    model = SimpleNamespace(config=SimpleNamespace(reduction="std_sum"), uncertainty_reference=LEVELS)
    return UncertaintyTerm(ImaginationConfig(**settings), model, None, None, n, dt=0.02, device="cpu")


def test_one_step_halting_stops_at_the_first_step_above_the_level():
    t = term(uncertainty_penalty=1.0, halt_quantile=0.5)  # level u_h = 1.0
    penalty, halted = t(torch.tensor([0.5, 1.5, 1.0]))
    assert halted.tolist() == [False, True, False]
    torch.testing.assert_close(penalty, -0.02 * torch.tensor([0.5, 1.5, 1.0]))


def test_accumulated_halting_tolerates_a_spike_but_not_a_drift():
    t = term(halt_quantile=0.5, halt_budget=1.0)  # halt once sum max(0, u - 1) passes 1.0
    assert t(torch.tensor([1.6, 1.3, 0.2]))[1].tolist() == [False, False, False]  # excess 0.6, 0.3, 0
    assert t(torch.tensor([0.5, 1.3, 0.2]))[1].tolist() == [False, False, False]  # a spike that ended; 0.6
    assert t(torch.tensor([1.1, 1.3, 0.2]))[1].tolist() == [False, False, False]  # 0.7, 0.9
    assert t(torch.tensor([1.5, 1.2, 3.0]))[1].tolist() == [True, True, True]  # 1.2, 1.1, 2.0
    t.reset(torch.tensor([0]))
    assert t(torch.tensor([1.5, 0.0, 0.0]))[1].tolist() == [False, False, False]  # env 0 starts again


def test_a_halted_step_pays_the_halt_reward_and_the_excess_form_charges_above_u0():
    t = term(uncertainty_penalty=2.0, penalty="excess", penalty_quantile=0.25, halt_quantile=1.0, halt_reward=-5.0)
    assert t.floor == pytest.approx(0.5) and t.halt_level == pytest.approx(2.0)
    penalty, halted = t(torch.tensor([0.4, 1.5, 2.5]))
    assert halted.tolist() == [False, False, True]
    torch.testing.assert_close(penalty, torch.tensor([0.0, -2.0 * 1.0 * 0.02, -2.0 * 2.0 * 0.02 - 5.0]))
    assert term().halt_level == math.inf and term().budget == math.inf


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"halt_budget": 1.0}, "need a halt rule"),
        ({"halt_quantile": 0.9, "halt_reward": 1.0}, "halt_reward must be a finite number <= 0"),
        ({"halt_quantile": 0.9, "halt_budget": -1.0}, "halt_budget must be a finite number >= 0"),
        ({"reduction": "max"}, "reduction must be one of std_sum, var_sum, pairwise_max, std_max"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(RwmuError, match=message):
        ImaginationConfig(**settings).validate()


def test_a_signal_the_checkpoint_has_no_levels_for_is_measured_on_the_data(dataset):  # noqa: F811
    model = small_model()
    env = make_env(dataset, model=model, reduction="std_sum", halt_quantile=0.9)
    model.uncertainty_reference = {k: v for k, v in env.uncertainty_reference.items() if k != "pairwise_max"}
    env = make_env(dataset, model=model, reduction="pairwise_max", halt_quantile=0.9)
    assert "stores none for pairwise_max" in env.uncertainty_reference["source"]
    rec = Recorder(env)
    env.step(torch.zeros(4, 12))
    out = rec.outputs[-1]
    assert out.epistemic.shape == (4,) and bool((out.epistemic > 0).all())
