"""Normalisation from a task or from data: round trips, stored form, the std floor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rwmu.data.dataset import TrajectoryDataset
from rwmu.data.layout import DataDims
from rwmu.data.normalization import DATA_STD_FLOOR, Normalization
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError
from rwmu.tasks import get_task


def test_from_task_matches_spec():
    from rwmu.tasks import get_task

    norm = Normalization.from_task(get_task("anymal_d_flat"))
    assert norm.state_mean.shape == (45,) and norm.action_std.shape == (12,)
    assert norm.state_mean[8].item() == -1.0 and norm.state_std[2].item() == pytest.approx(0.1)
    assert norm.state_mean[33].item() == -2.0 and norm.state_std[44].item() == 15.0
    assert torch.all(norm.action_mean == 0) and torch.all(norm.action_std == 1)
    assert norm.state_mean.dtype == torch.float32


def test_from_dataset_statistics_and_floor():
    dims = DataDims(state=3, action=2, termination=0)
    rng = np.random.default_rng(0)
    data = np.zeros((1000, 5), dtype=np.float32)
    data[:, 0] = rng.normal(2.0, 3.0, 1000)
    data[:, 1] = 5.0  # constant column: std floored
    data[:, 2] = rng.normal(-1.0, 0.5, 1000)
    data[:, 3:] = rng.normal(0.0, 2.0, (1000, 2))
    norm = Normalization.from_dataset(TrajectoryDataset(data, dims, [0, 1000]))
    np.testing.assert_allclose(norm.state_mean.numpy(), data[:, :3].mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.state_std.numpy()[[0, 2]], data[:, [0, 2]].std(0), rtol=1e-4)
    assert norm.state_std[1].item() == pytest.approx(DATA_STD_FLOOR)
    z = norm.normalize_state(torch.from_numpy(data[:, :3]))
    assert torch.isfinite(z).all()
    assert z[:, [0, 2]].std(0).sub(1).abs().max() < 1e-2


def test_round_trips_and_dict():
    norm = Normalization(
        torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0]), torch.tensor([0.1]), torch.tensor([2.0]), source="x"
    )
    x = torch.randn(4, 7, 2)
    a = torch.randn(5, 1)
    torch.testing.assert_close(norm.denormalize_state(norm.normalize_state(x)), x)
    torch.testing.assert_close(norm.denormalize_action(norm.normalize_action(a)), a)
    torch.testing.assert_close(norm.normalize_state(torch.tensor([2.0, 1.0])), torch.tensor([2.0, 1.0]))
    d = norm.to_dict()
    assert all(isinstance(d[k], list) for k in ("state_mean", "state_std", "action_mean", "action_std"))
    back = Normalization.from_dict(d)
    torch.testing.assert_close(back.state_std, norm.state_std)
    assert back.source == "x"
    moved = norm.to("cpu")
    torch.testing.assert_close(moved.action_mean, norm.action_mean)
    with pytest.raises(RwmuError, match="state_std"):
        Normalization.from_dict({"state_mean": [0.0], "action_mean": [0.0], "action_std": [1.0]})


def test_rejects_non_positive_std():
    with pytest.raises(RwmuError, match="positive"):
        Normalization(torch.zeros(2), torch.tensor([1.0, 0.0]), torch.zeros(1), torch.ones(1))


def test_extension_columns_are_normalised_and_old_checkpoints_still_load():
    go2 = get_task("go2_flat")
    norm = Normalization.from_task(go2)
    e = torch.tensor([[0.301, 0.141, 0.0357, 0.037, 0.0565, 0.0577], [0.2, -0.01, 0.0, 0.1, 0.2, 0.3]])
    torch.testing.assert_close(norm.denormalize_extension(norm.normalize_extension(e)), e)
    torch.testing.assert_close(norm.normalize_extension(e)[0, :2], torch.zeros(2), atol=1e-3, rtol=0)
    back = Normalization.from_dict(norm.to_dict())
    torch.testing.assert_close(back.extension_std, norm.extension_std)
    old = {k: v for k, v in norm.to_dict().items() if not k.startswith("extension")}
    legacy = Normalization.from_dict(old)  # written before extension statistics existed: extensions pass through
    torch.testing.assert_close(legacy.normalize_extension(e), e)
    ds = make_synthetic_dataset(2, 50, task=go2, seed=1)
    from_data = Normalization.from_dataset(ds)
    z = from_data.normalize_extension(torch.as_tensor(ds.extensions))
    assert z.shape == (ds.num_rows, 6) and z.mean(0).abs().max() < 1e-4
