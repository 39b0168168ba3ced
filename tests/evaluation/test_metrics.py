"""Every uncertainty-versus-error statistic against values computed by hand on small inputs."""

import math

import numpy as np
import pytest
import torch

from rwmu.evaluation.metrics import (
    average_ranks,
    calibration_table,
    pearson,
    spearman,
    step_means,
    uncertainty_error_correlations,
)


def test_pearson_hand_computed():
    # x - mean = [-1.5, -0.5, 0.5, 1.5], y - mean = [-1.75, 0.25, 1.25, 0.25]
    # sum of products 3.5, sum x^2 5, sum y^2 4.75 -> 3.5 / sqrt(23.75)
    assert pearson([1, 2, 3, 4], [2, 4, 5, 4]) == pytest.approx(3.5 / math.sqrt(23.75), abs=1e-12)
    assert pearson([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 1, -1]) == pytest.approx(-1.0)


def test_pearson_flattens_2d_and_accepts_torch():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([[2.0, 4.0], [5.0, 4.0]])
    assert pearson(torch.tensor(x), torch.tensor(y)) == pytest.approx(3.5 / math.sqrt(23.75), abs=1e-7)


def test_pearson_is_nan_for_constant_or_single_input_and_rejects_shape_mismatch():
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(pearson([1], [2]))
    with pytest.raises(ValueError, match="one shape"):
        pearson([1, 2, 3], [1, 2])


def test_average_ranks_share_the_mean_position_on_ties():
    np.testing.assert_array_equal(average_ranks([10, 20, 20, 30]), [1, 2.5, 2.5, 4])
    np.testing.assert_array_equal(average_ranks([3, 1, 3, 3, 2]), [4, 1, 4, 4, 2])
    np.testing.assert_array_equal(average_ranks([5, 5, 5]), [2, 2, 2])


def test_spearman_with_ties_hand_computed():
    # ranks x = [1, 2.5, 2.5, 4], ranks y = [1, 3, 2, 4]; centred: [-1.5, 0, 0, 1.5], [-1.5, 0.5, -0.5, 1.5]
    # sum of products 4.5, sums of squares 4.5 and 5 -> 4.5 / sqrt(22.5)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(22.5), abs=1e-12)
    assert spearman([1, 2, 3, 4], [1, 8, 27, 64]) == pytest.approx(1.0)  # monotone, not linear
    assert pearson([1, 2, 3, 4], [1, 8, 27, 64]) < 0.99


def test_step_averaged_and_all_points_correlations_differ_as_computed_by_hand():
    epi = np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]])
    err = np.array([[3.0, 4.0, 5.0], [1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(step_means(epi), [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(step_means(err), [2.0, 3.0, 4.0])
    c = uncertainty_error_correlations(epi, err)
    # all points: centred epi [-2, -1, 0, 0, 1, 2], err [0, 1, 2, -2, -1, 0]: products sum -2, squares 10 and 10
    assert c["pearson_all"] == pytest.approx(-0.2)
    assert c["pearson_step_averaged"] == pytest.approx(1.0)
    assert c["spearman_step_averaged"] == pytest.approx(1.0)
    # all-point ranks: epi [1, 2, 3.5, 3.5, 5, 6], err [3.5, 5, 6, 1, 2, 3.5]
    ranks_e, ranks_r = [1, 2, 3.5, 3.5, 5, 6], [3.5, 5, 6, 1, 2, 3.5]
    assert c["spearman_all"] == pytest.approx(pearson(ranks_e, ranks_r))
    # centred ranks: [-2.5, -1.5, 0, 0, 1.5, 2.5] and [0, 1.5, 2.5, -2.5, -1.5, 0]: products -4.5, squares 17 and 17
    assert c["spearman_all"] == pytest.approx(-4.5 / 17)


def test_correlations_need_two_equal_2d_arrays():
    with pytest.raises(ValueError):
        uncertainty_error_correlations(np.zeros(3), np.zeros(3))


def test_calibration_bins_equal_counts_hand_computed():
    u = np.arange(1.0, 9.0)  # quartile edges 1, 2.75, 4.5, 6.25, 8
    e = 10.0 * u
    t = calibration_table(u.reshape(2, 4), e.reshape(2, 4), num_bins=4)
    np.testing.assert_array_equal(t.count, [2, 2, 2, 2])
    np.testing.assert_allclose(t.lower, [1.0, 2.75, 4.5, 6.25])
    np.testing.assert_allclose(t.upper, [2.75, 4.5, 6.25, 8.0])
    np.testing.assert_allclose(t.uncertainty_mean, [1.5, 3.5, 5.5, 7.5])
    np.testing.assert_allclose(t.error_mean, [15.0, 35.0, 55.0, 75.0])
    np.testing.assert_allclose(t.error_std, [5.0, 5.0, 5.0, 5.0])
    rows = t.rows()
    assert rows[0] == {
        "lower": 1.0,
        "upper": 2.75,
        "count": 2,
        "uncertainty_mean": 1.5,
        "error_mean": 15.0,
        "error_std": 5.0,
    }


def test_calibration_ties_share_a_bin_and_empty_bins_are_dropped():
    # quartile edges of [0,0,0,0,0,0,1,2] are 0, 0, 0, 0.25, 2: every 0 lands in [0, 0.25), 1 and 2 in the last bin
    u = [0, 0, 0, 0, 0, 0, 1, 2]
    e = [1, 2, 3, 4, 5, 6, 10, 20]
    t = calibration_table(u, e, num_bins=4)
    np.testing.assert_array_equal(t.count, [6, 2])
    np.testing.assert_allclose(t.lower, [0.0, 0.25])
    np.testing.assert_allclose(t.error_mean, [3.5, 15.0])
    np.testing.assert_allclose(t.uncertainty_mean, [0.0, 1.5])


def test_calibration_ignores_non_finite_points_and_one_bin_is_the_mean():
    t = calibration_table([1.0, 2.0, np.nan, 4.0], [2.0, 4.0, 100.0, np.inf], num_bins=1)
    np.testing.assert_array_equal(t.count, [2])
    np.testing.assert_allclose(t.error_mean, [3.0])
    assert calibration_table([np.nan], [1.0]).rows() == []
    with pytest.raises(ValueError):
        calibration_table([1.0], [1.0], num_bins=0)
