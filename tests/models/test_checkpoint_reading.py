"""The one torch-checkpoint reader (rwmu.utils.checkpoints) and the world-model reader built on it: one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rwmu.errors import RwmuError
from rwmu.models.checkpoint import load_world_model, read_checkpoint
from rwmu.utils.checkpoints import is_torchscript_archive, read_torch_checkpoint


class _Payload:
    """Unpickling this would create a folder (a stand-in for arbitrary code)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert len(message.splitlines()) == 1, message
    return message


def test_plain_tensor_checkpoints_load_on_the_asked_device(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"w": torch.ones(2), "meta": {"iter": 3, "names": ["a"]}}, path)
    loaded = read_torch_checkpoint(path, "a test checkpoint", map_location="cpu")
    assert loaded["meta"] == {"iter": 3, "names": ["a"]} and loaded["w"].device.type == "cpu"
    assert read_checkpoint(path)["w"].sum() == 2


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: None, "no such file; give the path of a world-model checkpoint"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_bytes(os.urandom(300)), "not a torch checkpoint file"),
        (lambda p: p.write_bytes(b""), "not a torch checkpoint file"),
        (lambda p: torch.save([torch.zeros(1)], p), "holds a list, not a checkpoint dictionary"),
        (lambda p: torch.save({"a": np.zeros(2)}, p), "not a plain-tensor checkpoint"),
        (lambda p: torch.jit.script(torch.nn.Linear(2, 2)).save(str(p)), "is a TorchScript module"),
    ],
)
def test_world_model_reader_errors(tmp_path, make, expected):
    path = tmp_path / "model.pt"
    make(path)
    with pytest.raises(RwmuError, match=expected) as err:
        read_checkpoint(path)
    assert "world-model checkpoint" in _one_line(err)


def test_a_crafted_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "wm.pt"
    torch.save({"system_dynamics_state_dict": {}, "x": _Payload(marker)}, path)
    with pytest.raises(RwmuError, match="not a plain-tensor checkpoint") as err:
        load_world_model(path)
    message = _one_line(err)
    assert "weights_only" not in message and "mkdir" in message
    assert not marker.exists()


def test_a_policy_given_as_a_world_model(tmp_path):
    path = tmp_path / "model_10.pt"
    torch.save({"actor_state_dict": {"mlp.0.weight": torch.zeros(2, 2)}, "critic_state_dict": {}}, path)
    with pytest.raises(RwmuError, match="holds a policy") as err:
        load_world_model(path)
    _one_line(err)


def test_torchscript_archives_are_told_apart(tmp_path):
    script, saved = tmp_path / "policy.pt", tmp_path / "model.pt"
    torch.jit.script(torch.nn.Linear(2, 2)).save(str(script))
    torch.save({"w": torch.zeros(1)}, saved)
    assert is_torchscript_archive(script) and not is_torchscript_archive(saved)
    assert not is_torchscript_archive(tmp_path / "missing.pt")


class _System:
    def __reduce__(self):
        return (os.system, ("echo PAYLOAD-RAN",))


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--policy", "{file}", "--episodes", "1"],
        ["export", "{file}", "--out", "{tmp}/export"],
        [
            "train-policy",
            "--recipe",
            "paper",
            "--task",
            "anymal_d_flat",
            "--world-model",
            "{file}",
            "--data",
            "{tmp}",
            "--out",
            "{tmp}/run",
        ],
        ["eval-uncertainty", "--world-model", "{file}", "--data", "{tmp}", "--out", "{tmp}/unc"],
    ],
)
@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda p: torch.save({"actor_state_dict": {}, "x": _System()}, p),
            "refused, not a plain-tensor checkpoint: it holds the Python object posix.system, and loading it could run code",
        ),
        (
            lambda p: torch.save({"actor_state_dict": {}, "x": _System()}, p, _use_new_zipfile_serialization=False),
            "it holds the Python object posix.system",
        ),
        (
            lambda p: p.write_bytes(__import__("pickle").dumps({"x": _System()})),
            "refused, not a torch checkpoint file but a bare Python pickle, and loading it could run code",
        ),
        (
            lambda p: p.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 3),
            "not a torch checkpoint file (nor any checkpoint",
        ),
        (lambda p: p.write_text("hello"), "not a torch checkpoint file (nor any checkpoint"),
    ],
)
def test_every_command_refuses_unsafe_or_unreadable_checkpoints_in_one_line(tmp_path, capfd, argv, make, expected):
    from rwmu.cli.main import main

    path = tmp_path / "model_1.pt"
    make(path)
    assert main([a.format(file=path, tmp=tmp_path) for a in argv]) == 2
    err = capfd.readouterr()
    line = err.err.strip()
    assert f"error: {path}: " in line and expected in line and "\n" not in line
    assert "weights_only" not in line and "Traceback" not in line and "PAYLOAD-RAN" not in err.out + err.err


def test_a_world_model_of_another_task_is_refused_with_both_names(tmp_path, capsys):
    from rwmu.cli.main import main
    from rwmu.models import WorldModelConfig, WorldModelEnsemble
    from rwmu.models.checkpoint import save_world_model
    from rwmu.tasks import get_task

    path = tmp_path / "anymal_wm.pt"
    model = WorldModelEnsemble(
        WorldModelConfig(
            ensemble_size=2,
            history_horizon=4,
            rnn_hidden_size=8,
            rnn_num_layers=1,
            state_mean_shape=(8,),
            state_logstd_shape=(8,),
            contact_shape=(8,),
            termination_shape=(8,),
        )
    )
    save_world_model(path, model, extra={"task": "anymal_d_flat"})
    with pytest.raises(RwmuError, match="a world model trained for task anymal_d_flat, not go2_flat"):
        load_world_model(path, task=get_task("go2_flat"))
    assert load_world_model(path, task=get_task("anymal_d_flat")).dims == get_task("anymal_d_flat").dims
    assert (
        main(
            [
                "train-policy",
                "--recipe",
                "paper",
                "--task",
                "go2_flat",
                "--world-model",
                str(path),
                "--data",
                str(tmp_path),
                "--out",
                str(tmp_path / "run"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err == (
        f"rwmu train-policy: error: {path}: a world model trained for task anymal_d_flat, not go2_flat; "
        f"give --task anymal_d_flat, or a world model trained on go2_flat data"
    )


@pytest.mark.parametrize("name", ["train-model", "train-policy"])
def test_resume_refuses_a_crafted_checkpoint_in_the_run_folder(tmp_path, capfd, name):
    from rwmu.cli.main import main
    from tests.training.tiny_world import write_untrained_world

    wm, data, _, _ = write_untrained_world(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    saved = run / ("model_latest.pt" if name == "train-model" else "model_0.pt")
    torch.save({"x": _System()}, saved)
    inputs = {
        "train-model": ["--data", str(data), "--task", "anymal_d_flat"],
        "train-policy": ["--recipe", "paper", "--task", "anymal_d_flat", "--world-model", str(wm), "--data", str(data)],
    }
    assert main([name, *inputs[name], "--out", str(run), "--resume"]) == 2
    err = capfd.readouterr()
    assert err.err.strip().startswith(
        f"rwmu {name}: error: {saved}: refused, not a plain-tensor checkpoint: it holds "
        f"the Python object posix.system, and loading it could run code"
    )
    assert "\n" not in err.err.strip() and "weights_only" not in err.err and "PAYLOAD-RAN" not in err.out + err.err
