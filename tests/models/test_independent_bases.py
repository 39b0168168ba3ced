"""Independent bases: one GRU per ensemble member (--architecture.base-sharing independent)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.envs.imagination import ImaginationConfig, ImaginationEnv
from rwmu.errors import RwmuError
from rwmu.models import WorldModelConfig, WorldModelEnsemble
from rwmu.models.bases import MemberGRUBase
from rwmu.models.checkpoint import load_world_model, save_world_model
from rwmu.tasks import get_task
from rwmu.training.world_model import WorldModelTrainer
from tests.training.test_world_model import tiny_config

CONFIG = WorldModelConfig(
    state_dim=5,
    action_dim=2,
    contact_dim=1,
    termination_dim=1,
    ensemble_size=3,
    history_horizon=4,
    rnn_hidden_size=8,
    base_sharing="independent",
)


def test_each_member_reads_its_own_slice_and_state():
    torch.manual_seed(0)
    base = MemberGRUBase(3, 5, 8, 2)
    x = torch.randn(4, 6, 5)
    out, hidden = base(x)
    assert out.shape == (3, 4, 6, 8) and hidden.shape == (2, 3, 4, 8)
    for b, gru in enumerate(base.members):
        expected, expected_hidden = gru(x)
        torch.testing.assert_close(out[b], expected)
        torch.testing.assert_close(hidden[:, b], expected_hidden)
    per_member = torch.randn(3, 4, 2, 5)  # one slice per member, continuing each member's own state
    out, _ = base(per_member, hidden)
    for b, gru in enumerate(base.members):
        torch.testing.assert_close(out[b], gru(per_member[b], hidden[:, b].contiguous())[0])
    assert not torch.allclose(base.members[0].weight_hh_l0, base.members[1].weight_hh_l0)  # own draws


def test_a_members_prediction_depends_on_its_own_base_only():
    torch.manual_seed(0)
    model = WorldModelEnsemble(CONFIG).eval()
    states, actions = torch.randn(6, 4, 5), torch.randn(6, 4, 2)
    before = model.member_predictions(states, actions).state
    with torch.no_grad():
        model.state_base.members[1].weight_hh_l0 += 0.5  # member 1's base only
    after = model.member_predictions(states, actions).state
    torch.testing.assert_close(after[0], before[0])
    torch.testing.assert_close(after[2], before[2])
    assert not torch.allclose(after[1], before[1])
    # one step at a time continues the same recurrent state as the whole history
    model.reset()
    model.predict(states[:, :3], actions[:, :3], member_ids=torch.arange(6) % 3)
    stepped = model.predict(states[:, 3:], actions[:, 3:], member_ids=torch.arange(6) % 3).state
    torch.testing.assert_close(stepped, after[torch.arange(6) % 3, torch.arange(6)], atol=1e-5, rtol=1e-5)


def test_only_gru_bases_can_be_independent():
    with pytest.raises(ValueError, match="independent bases are GRUs"):
        dataclasses.replace(CONFIG, base_type="lstm")


def test_an_ensemble_of_independent_bases_trains_and_saves(tmp_path):
    dataset = make_synthetic_dataset(num_trajectories=4, steps=400, seed=0)
    cfg = tiny_config(iterations=60)
    cfg = dataclasses.replace(cfg, architecture=dataclasses.replace(cfg.architecture, base_sharing="independent"))
    summary = WorldModelTrainer(dataset, None, tmp_path, cfg).train()
    val = summary["final_validation"]
    assert val["val/rel_error_forecast_mean"] < val["val/no_change_rel_error_forecast_mean"]
    model = load_world_model(tmp_path / "model_latest.pt")
    assert model.config.base_sharing == "independent" and isinstance(model.state_base, MemberGRUBase)
    save_world_model(tmp_path / "again.pt", model)
    again = load_world_model(tmp_path / "again.pt")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v)


def test_imagination_runs_on_independent_bases():
    task = get_task("anymal_d_flat")
    dataset = make_synthetic_dataset(3, 60, task=task, seed=0)
    torch.manual_seed(0)
    model = WorldModelEnsemble(
        WorldModelConfig(
            state_dim=task.dims.state,
            action_dim=task.dims.action,
            contact_dim=task.dims.contact,
            termination_dim=task.dims.termination,
            ensemble_size=3,
            history_horizon=4,
            rnn_hidden_size=8,
            base_sharing="independent",
        )
    )
    env = ImaginationEnv(model, dataset, task, ImaginationConfig(num_envs=4, pushes=False), seed=0)
    for _ in range(3):
        _, reward, _, extras = env.step(torch.zeros(4, task.dims.action))
    assert reward.shape == (4,) and bool(torch.isfinite(reward).all())
    assert float(extras["log"]["Imagination/epistemic_uncertainty"]) > 0
    with pytest.raises(RwmuError, match="independent bases"):  # bfloat16 needs the fused step of a shared base
        ImaginationEnv(model, dataset, task, ImaginationConfig(num_envs=4, model_precision="bfloat16"), seed=0)
