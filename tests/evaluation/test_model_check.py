"""check-model: a policy's MuJoCo rollouts replayed through a world model, beside the behaviour data."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from rwmu.cli.main import main
from rwmu.data.native_format import save_dataset
from rwmu.data.normalization import Normalization
from rwmu.evaluation.model_check import _rates, check_model, format_model_check, score_windows
from rwmu.evaluation.model_check_config import ModelCheckConfig
from rwmu.models import WorldModelEnsemble
from rwmu.models.checkpoint import save_world_model
from rwmu.models.config import ArchitectureConfig
from rwmu.sim.collect import collect_dataset
from rwmu.sim.collect_config import CollectConfig
from rwmu.tasks import get_task
from rwmu.training.policy_loader import load_policy

GO2 = get_task("go2_flat")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    torch.manual_seed(0)
    arch = ArchitectureConfig(
        ensemble_size=2, history_horizon=4, rnn_hidden_size=16, rnn_num_layers=1, head_shape=(16,)
    )
    model = WorldModelEnsemble(arch.to_model_config(GO2.dims)).eval()
    model.normalization = Normalization.from_task(GO2)
    data, _ = collect_dataset(
        load_policy("scripted", 4, GO2), CollectConfig(steps=600, num_envs=4, seed=1), GO2, progress=False
    )
    folder = tmp_path_factory.mktemp("world")
    save_world_model(folder / "wm.pt", model)
    save_dataset(data, folder / "data.rwmu")
    return model, data, folder


def test_rates_count_precision_and_recall():
    predicted = np.array([True, True, False, False, True])
    real = np.array([True, False, True, False, True])
    assert _rates(predicted, real) == {"real": 3, "predicted": 3, "precision": 2 / 3, "recall": 2 / 3}
    assert _rates(np.zeros(3, bool), np.zeros(3, bool))["precision"] is None


def test_report_on_policy_rollouts_and_on_the_data(world):
    model, data, _ = world
    config = ModelCheckConfig(episodes=2, num_envs=2, horizon=4, windows=64)
    report = check_model(model, "zero", data, GO2, config)
    policy, behaviour = report["policy"], report["data"]
    assert policy["rows"] >= 2 * GO2.episode_length and behaviour["rows"] == data.num_rows
    assert policy["windows"] == behaviour["windows"] == 64
    for m in (policy, behaviour):
        assert m["one_step_rel_error"] > 0 and m["open_loop_rel_error"] > 0 and m["u"]["p90"] >= m["u"]["p50"] > 0
        assert m["falls_rule"] is not None and m["falls_head"]["real"] == m["falls_rule"]["real"]
        assert 0 <= m["contacts"]["feet_accuracy"] <= 1
    assert report["u_ratio"] == pytest.approx(policy["u"]["p50"] / behaviour["u"]["p50"])
    # Scoring the data again gives the same figures (fixed window draw per seed).
    assert score_windows(model, data, GO2, config)["one_step_rel_error"] == behaviour["one_step_rel_error"]
    assert len(format_model_check(report)) == 11


def test_cli_check_model_writes_json_and_refuses_bad_input(world, tmp_path):
    _, _, folder = world
    args = [
        "check-model",
        "--world-model",
        str(folder / "wm.pt"),
        "--data",
        str(folder / "data.rwmu"),
        "--policy",
        "zero",
        "--episodes",
        "1",
        "--num-envs",
        "1",
        "--windows",
        "32",
        "--no-progress",
    ]
    assert main(args + ["--json", str(tmp_path / "check.json")]) == 0
    report = json.loads((tmp_path / "check.json").read_text())
    assert report["policy"]["windows"] == 32 and report["world_model"].endswith("wm.pt")
    assert main(args + ["--json", str(tmp_path)]) == 2  # a folder, refused before any work
    assert (
        main(
            [
                "check-model",
                "--world-model",
                str(folder / "data.rwmu"),
                "--data",
                str(folder / "data.rwmu"),
                "--policy",
                "zero",
            ]
        )
        == 2
    )


def test_a_policy_that_falls_at_once_gets_a_note_not_an_error(world):
    model, data, _ = world
    short = dataclasses.replace(GO2, episode_length=3)  # every episode ends before the model's 4-step history fills
    report = check_model(model, "zero", data, short, ModelCheckConfig(episodes=1, num_envs=1, windows=16))
    assert report["policy"]["windows"] == 0 and "nothing to replay" in report["policy"]["note"]
    assert report["u_ratio"] is None and report["data"]["windows"] == 16
    assert any("nothing to replay" in line for line in format_model_check(report))
