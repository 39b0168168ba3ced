"""A small, untrained world model and a synthetic ANYmal-shaped dataset on disk, shared by the policy tests."""

from __future__ import annotations

from pathlib import Path

import torch

from rwmu.data.native_format import save_dataset
from rwmu.data.normalization import Normalization
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.models.checkpoint import save_world_model
from rwmu.tasks import get_task

TASK = get_task("anymal_d_flat")


def write_untrained_world(folder: Path):
    """Write ``folder/wm.pt`` and ``folder/data.rwmu``; return ``(wm_path, data_path, model, dataset)``."""
    torch.manual_seed(0)
    model = WorldModelEnsemble(WorldModelConfig(ensemble_size=2, history_horizon=4, rnn_hidden_size=16,
                                                rnn_num_layers=1, state_mean_shape=(16,), state_logstd_shape=(16,),
                                                contact_shape=(16,), termination_shape=(16,)))  # fmt: skip
    model.normalization = Normalization.from_task(TASK)
    save_world_model(folder / "wm.pt", model)
    dataset = make_synthetic_dataset(2, 80, task=TASK, seed=1)
    save_dataset(dataset, folder / "data.rwmu")
    return folder / "wm.pt", folder / "data.rwmu", model, dataset
