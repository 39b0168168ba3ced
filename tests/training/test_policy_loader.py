"""The one policy loader: every accepted form gives the same actions; every wrong file is a one-line error."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch
from tensordict import TensorDict

from rwmu.behavior import TrotController
from rwmu.errors import RwmuError
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.training.export import export_policy, load_actor
from rwmu.training.policy_loader import ModulePolicy, OnnxPolicy, load_policy
from tests.training.tiny_world import TASK, train_tiny_policy


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One PPO iteration (observation normalisation on) -> ``run/`` with two checkpoints, and its export folder."""
    folder = tmp_path_factory.mktemp("loader")
    train_tiny_policy(
        folder,
        iterations=2,
        steps_per_env=4,
        num_envs=8,
        save_interval=1,
        obs_normalization=True,
        actor_hidden_dims=(16, 16),
    )
    export_policy(folder / "run", folder / "exported")
    return folder


def _expected(folder: Path, obs: torch.Tensor) -> torch.Tensor:
    actor, _ = load_actor(folder / "run" / "model_1.pt")
    with torch.no_grad():
        return actor(TensorDict({"policy": obs}, batch_size=[obs.shape[0]]))


def test_every_accepted_form_gives_the_actor_mean(trained):
    torch.manual_seed(0)
    obs = torch.randn(5, TASK.observation_dim) * 2.0
    expected = _expected(trained, obs)
    forms = {
        "run folder": (trained / "run", ModulePolicy),
        "checkpoint": (trained / "run" / "model_1.pt", ModulePolicy),
        "export folder": (trained / "exported", ModulePolicy),  # prefers the TorchScript policy.pt
        "torchscript": (trained / "exported" / "policy.pt", ModulePolicy),
        "onnx": (trained / "exported" / "policy.onnx", OnnxPolicy),
    }
    for name, (spec, kind) in forms.items():
        policy = load_policy(str(spec), 5, TASK)
        assert isinstance(policy, kind), name
        torch.testing.assert_close(policy.act(obs), expected, atol=1e-5, rtol=1e-5, msg=name)
        torch.testing.assert_close(policy(obs), expected, atol=1e-5, rtol=1e-5, msg=name)
        policy.reset(None)
        policy.reset(torch.tensor([1, 3]))
    # The run folder's latest checkpoint, not its first.
    first = load_policy(str(trained / "run" / "model_0.pt"), 5, TASK)
    assert not torch.allclose(first.act(obs), expected)


def test_rsl_rl_runner_style_onnx_with_batch_one_runs_row_by_row(trained, tmp_path):
    """rsl_rl's OnPolicyRunner.export_policy_to_onnx traces ``as_onnx`` with its (1, obs_dim) dummy input."""
    actor, _ = load_actor(trained / "run")
    onnx_model = actor.as_onnx(verbose=False).eval()
    path = tmp_path / "rsl_rl_policy.onnx"  # outside an export folder: no policy.json to check
    torch.onnx.export(
        onnx_model,
        onnx_model.get_dummy_inputs(),
        str(path),
        input_names=onnx_model.input_names,
        output_names=onnx_model.output_names,
        opset_version=18,
        dynamo=False,
    )
    policy = load_policy(str(path), 4, TASK)
    assert policy.single_row
    obs = torch.randn(4, TASK.observation_dim)
    torch.testing.assert_close(policy.act(obs), _expected(trained, obs), atol=1e-5, rtol=1e-5)


def test_scripted():
    policy = load_policy("scripted", 3, GO2_FLAT, seed=2)
    assert isinstance(policy, TrotController) and policy.num_envs == 3
    with pytest.raises(RwmuError, match="drives the Go2"):
        load_policy("scripted", 3, TASK)


def test_a_policy_for_another_task_is_refused(trained):
    for spec in ("run", "run/model_1.pt", "exported", "exported/policy.pt", "exported/policy.onnx"):
        with pytest.raises(RwmuError, match="trained for task 'anymal_d_flat', not 'go2_flat'"):
            load_policy(str(trained / spec), 1, GO2_FLAT)


def test_a_world_model_given_as_a_policy(trained):
    with pytest.raises(RwmuError, match="it looks like a world model: pass it as --world-model"):
        load_policy(str(trained / "wm.pt"), 1, TASK)


def test_random_bytes_and_foreign_files(tmp_path):
    junk = tmp_path / "model_3.pt"
    junk.write_bytes(os.urandom(256))
    with pytest.raises(RwmuError, match="not a torch checkpoint file") as err:
        load_policy(str(junk), 1, TASK)
    assert len(str(err.value).splitlines()) == 1
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(RwmuError, match="actor_state_dict is missing"):
        load_policy(str(other), 1, TASK)
    bare = tmp_path / "bare.pt"  # an rsl_rl checkpoint without rwmu's metadata: no guessing of the architecture
    torch.save({"actor_state_dict": {"mlp.0.weight": torch.zeros(12, 48)}, "infos": None}, bare)
    with pytest.raises(RwmuError, match="without rwmu metadata"):
        load_policy(str(bare), 1, TASK)
    wrong = tmp_path / "wrong.pt"
    torch.jit.script(torch.nn.Linear(10, 12)).save(str(wrong))
    with pytest.raises(RwmuError, match="does not take the 48 observations"):
        load_policy(str(wrong), 1, TASK)
    short = tmp_path / "short.pt"
    torch.jit.script(torch.nn.Linear(48, 3)).save(str(short))
    with pytest.raises(RwmuError, match="12 actions"):
        load_policy(str(short), 1, TASK)


class _Payload:
    """Unpickling this would create a folder (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_a_crafted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model_7.pt"
    torch.save({"actor_state_dict": {}, "x": _Payload(marker)}, path)
    with pytest.raises(RwmuError, match="not a plain-tensor checkpoint") as err:
        load_policy(str(path), 1, TASK)
    message = str(err.value)
    assert "weights_only" not in message and len(message.splitlines()) == 1
    assert not marker.exists()


def test_folders_without_a_policy_and_missing_paths(trained, tmp_path):
    empty = tmp_path / "run"
    empty.mkdir()
    (empty / "model_final.pt").write_bytes(b"")  # not model_<iteration>.pt
    with pytest.raises(RwmuError, match="holds neither model_<iteration>.pt checkpoints"):
        load_policy(str(empty), 1, TASK)
    with pytest.raises(RwmuError, match="no such file or folder"):
        load_policy(str(tmp_path / "missing"), 1, TASK)
    half = tmp_path / "half_export"
    half.mkdir()
    shutil.copy(trained / "exported" / "policy.json", half / "policy.json")
    with pytest.raises(RwmuError, match="without policy.pt or policy.onnx"):
        load_policy(str(half), 1, TASK)
    (half / "policy.json").write_text("{}")
    with pytest.raises(RwmuError, match="not a policy description written by rwmu export"):
        load_policy(str(half), 1, TASK)
