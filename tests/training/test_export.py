"""Export round trip (rsl_rl's exporters): the ONNX and TorchScript actors reproduce the torch actor on raw
observations, the learnt normalisation included."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from tensordict import TensorDict

from rwmu.cli.main import main
from rwmu.errors import RwmuError
from rwmu.training.export import export_policy, load_actor
from tests.training.tiny_world import train_tiny_policy


@pytest.fixture(scope="module")
def policy_checkpoint(tmp_path_factory):
    """Two PPO iterations with rsl_rl's empirical observation normalisation on (so there is something to fold)."""
    folder = tmp_path_factory.mktemp("export")
    summary, _, _ = train_tiny_policy(
        folder, iterations=2, steps_per_env=8, num_envs=16, obs_normalization=True, actor_hidden_dims=(32, 32)
    )
    return summary["final_checkpoint"]


def test_normaliser_is_learnt_and_inside_rsl_rls_export_module(policy_checkpoint):
    actor, info = load_actor(policy_checkpoint)
    assert actor.obs_normalization and int(actor.obs_normalizer.count) > 0
    assert float((actor.obs_normalizer._mean).abs().max()) > 0  # learnt statistics, not the identity
    obs = torch.randn(32, info["observation_dim"]) * 3.0
    expected = actor(TensorDict({"policy": obs}, batch_size=[32]))
    torch.testing.assert_close(actor.as_jit()(obs), expected, atol=1e-5, rtol=1e-5)  # raw observations in


def test_onnx_and_torchscript_match_the_torch_actor(policy_checkpoint, tmp_path):
    paths = export_policy(policy_checkpoint, tmp_path / "exported")
    actor, info = load_actor(policy_checkpoint)
    obs = torch.randn(9, info["observation_dim"]) * 2.0
    with torch.no_grad():
        expected = actor(TensorDict({"policy": obs}, batch_size=[9])).numpy()
    session = ort.InferenceSession(paths["onnx"], providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["obs"]
    onnx_actions = session.run(["actions"], {"obs": obs.numpy()})[0]
    np.testing.assert_allclose(onnx_actions, expected, atol=1e-5, rtol=1e-5)
    single = session.run(["actions"], {"obs": obs[:1].numpy()})[0]  # dynamic batch size
    np.testing.assert_allclose(single, expected[:1], atol=1e-5, rtol=1e-5)
    scripted = torch.jit.load(paths["torchscript"])
    np.testing.assert_allclose(scripted(obs).detach().numpy(), expected, atol=1e-5, rtol=1e-5)
    meta = json.loads(open(paths["meta"]).read())
    assert meta["observation_dim"] == 48 and meta["num_actions"] == 12 and meta["observation_normalization_included"]
    assert meta["observation_names"][9] == "command_lin_vel_x" and meta["task"] == "anymal_d_flat"


def test_a_run_folder_exports_its_latest_checkpoint(policy_checkpoint, tmp_path):
    from pathlib import Path

    run = Path(policy_checkpoint).parent
    paths = export_policy(run, tmp_path / "from_run")
    meta = json.loads(open(paths["meta"]).read())
    assert meta["source_checkpoint"] == str(Path(policy_checkpoint).resolve())
    actor, _ = load_actor(run)
    reference, _ = load_actor(policy_checkpoint)
    for a, b in zip(actor.state_dict().values(), reference.state_dict().values()):
        torch.testing.assert_close(a, b)
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(RwmuError, match="without model_<iteration>.pt"):
        export_policy(empty, tmp_path / "x")


def test_export_cli_and_errors(policy_checkpoint, tmp_path, capsys):
    assert main(["export", str(policy_checkpoint), "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "policy.onnx").is_file() and "onnx" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "x")]) == 2
    wm = tmp_path / "not_a_policy.pt"
    torch.save({"system_dynamics_state_dict": {}}, wm)
    with pytest.raises(RwmuError, match="it looks like a world model: pass it as --world-model"):
        load_actor(wm)
