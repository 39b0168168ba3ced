"""Model-check error measures against hand-computed values."""

import pytest
import torch

from rwmu.models.rollout import l1_error, relative_error


def test_l1_error_sums_absolute_errors_over_dimensions():
    true = torch.tensor([[[1.0, -2.0], [0.0, 3.0]]])  # (n=1, H=2, S=2)
    pred = torch.tensor([[[1.5, -1.0], [-1.0, 3.0]]])
    # step 0: |0.5| + |1.0| = 1.5; step 1: |-1.0| + 0 = 1.0
    torch.testing.assert_close(l1_error(pred, true), torch.tensor([[1.5, 1.0]]))


def test_relative_error_pools_windows_and_dimensions_per_step():
    true = torch.tensor([[[1.0, -2.0], [2.0, 2.0]], [[0.0, 1.0], [-4.0, 0.0]]])  # (n=2, H=2, S=2)
    pred = torch.tensor([[[2.0, -2.0], [2.0, 1.0]], [[0.0, 0.0], [-4.0, 1.0]]])
    # step 0: (1 + 0 + 0 + 1) / (1 + 2 + 0 + 1) = 2 / 4; step 1: (0 + 1 + 0 + 1) / (2 + 2 + 4 + 0) = 2 / 8
    torch.testing.assert_close(relative_error(pred, true), torch.tensor([0.5, 0.25]))


def test_relative_error_of_a_perfect_prediction_is_zero_and_all_zero_truth_is_finite():
    true = torch.randn(3, 4, 5)
    assert float(relative_error(true.clone(), true).abs().max()) == 0.0
    err = relative_error(torch.ones(1, 2, 3), torch.zeros(1, 2, 3))
    assert bool(torch.isfinite(err).all()) and float(err[0]) == pytest.approx(3 / 1e-12)
