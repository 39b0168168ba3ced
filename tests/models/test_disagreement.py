"""The one-step disagreement signals, and the fused GRU step computing each of them as the plain path does."""

from __future__ import annotations

import itertools

import pytest
import torch

from rwmu.models import WorldModelEnsemble, epistemic_uncertainty
from rwmu.models.config import WorldModelConfig


def test_each_reduction_is_its_definition():
    torch.manual_seed(0)
    means = torch.randn(4, 6, 5, dtype=torch.float64)
    std = means.std(dim=0)
    torch.testing.assert_close(epistemic_uncertainty(means, "std_sum"), std.sum(-1))
    torch.testing.assert_close(epistemic_uncertainty(means, "var_sum"), (std**2).sum(-1))
    torch.testing.assert_close(epistemic_uncertainty(means, "std_max"), std.amax(-1))
    brute = torch.stack(
        [max((means[i, k] - means[j, k]).norm() for i, j in itertools.combinations(range(4), 2)) for k in range(6)]
    )
    torch.testing.assert_close(epistemic_uncertainty(means, "pairwise_max"), brute)
    assert (epistemic_uncertainty(means[:1], "pairwise_max") == 0).all()
    with pytest.raises(ValueError, match="unknown epistemic reduction"):
        epistemic_uncertainty(means, "max")


@pytest.mark.parametrize("reduction", ["std_sum", "var_sum", "pairwise_max", "std_max"])
def test_the_fused_step_gives_every_reduction_of_the_plain_path(reduction):
    torch.manual_seed(1)
    config = WorldModelConfig(
        state_dim=5, action_dim=2, ensemble_size=3, history_horizon=4, rnn_hidden_size=8, rnn_num_layers=1
    )
    model = WorldModelEnsemble(config).eval()
    states, actions = torch.randn(7, 4, 5), torch.randn(7, 4, 2)
    results = []
    for fused in (True, False):
        model.fused_inference = fused
        model.reset()
        results.append(model.predict(states, actions, member_ids=torch.arange(7) % 3, reduction=reduction).epistemic)
    torch.testing.assert_close(results[0], results[1], atol=1e-5, rtol=1e-5)
