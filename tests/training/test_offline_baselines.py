"""Model-free offline baselines (d3rlpy): the transitions, seeded and resumed training, the export, the command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from d3rlpy.algos.utility import build_scalers_with_transition_picker

from rwmu.cli.main import main
from rwmu.data.native_format import save_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.errors import RwmuError
from rwmu.tasks import get_task
from rwmu.tasks.dataset_rewards import dataset_rewards
from rwmu.tasks.observations import build_policy_observation
from rwmu.training import offline_baselines as baselines
from rwmu.training.offline_baselines import export_baseline, make_algorithm, offline_transitions, train_baseline
from rwmu.training.offline_config import METHODS, OfflineBaselineConfig
from rwmu.training.policy_loader import load_policy
from tests.training.test_behavior_cloning import with_commands

GO2 = get_task("go2_flat")
TINY = {"steps": 6, "steps_per_epoch": 3, "batch_size": 16, "hidden_dims": (16,)}


@pytest.fixture(scope="module")
def dataset():
    ds = with_commands(make_synthetic_dataset(3, 30, task=GO2, seed=4))
    ds.data[10, ds.dims.termination_slice] = 1.0  # a fall at row 10 (row 11 starts a new episode)
    return ds


def test_a_transition_is_the_observation_at_a_row_the_next_action_and_the_reward_into_the_next_row(dataset):
    tr = offline_transitions(dataset, GO2)
    rewards = dataset_rewards(dataset, GO2).rewards
    # Kept rows: all but the fall row 10 (a transition target only); trajectory ends 29, 59, 89 are time-out rows.
    rows = [r for r in range(dataset.num_rows) if r != 10]
    assert tr.observations.shape == (len(rows), GO2.observation_dim)
    k = rows.index(4)
    expected = build_policy_observation(
        torch.from_numpy(dataset.states[[4]]),
        torch.from_numpy(dataset.commands[[4]]),
        torch.from_numpy(dataset.actions[[4]]),
        GO2,
    )
    np.testing.assert_allclose(tr.observations[k : k + 1], expected.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(tr.actions[k], dataset.actions[5])
    assert tr.rewards[k] == pytest.approx(rewards[5])
    fall = rows.index(9)  # the step into the fall row is the episode's terminal transition
    assert tr.terminals[fall] == 1 and tr.terminals.sum() == 1 and tr.rewards[fall] == pytest.approx(rewards[10])
    assert [rows[i] for i in np.flatnonzero(tr.timeouts)] == [29, 59, 89]  # cut episodes keep their last row
    assert tr.num_transitions == len(rows) - 3
    assert len(tr.episode_returns) == 1  # only the fall ends an episode; the others are cut by the data's end


def test_transitions_need_commands():
    with pytest.raises(RwmuError, match="no command columns"):
        offline_transitions(make_synthetic_dataset(2, 20, task=GO2, seed=0), GO2)


def test_config_is_checked():
    for bad in ({"steps": 0}, {"hidden_dims": ()}, {"iql_expectile": 1.0}):
        with pytest.raises(RwmuError):
            OfflineBaselineConfig(**bad).validate()


def _actions(algo, obs: np.ndarray) -> np.ndarray:
    return algo.predict(obs)


@pytest.mark.parametrize("method", METHODS)
def test_seeded_training_repeats_and_resumes_exactly_and_the_export_runs_in_rwmu(
    dataset, tmp_path, method, monkeypatch
):
    tr = offline_transitions(dataset, GO2)
    config = OfflineBaselineConfig(method=method, seed=3, **TINY)
    obs = tr.observations[:5]
    whole = train_baseline(tr, config, tmp_path / "whole", progress=False)
    again = train_baseline(tr, config, tmp_path / "again", progress=False)
    np.testing.assert_array_equal(_actions(whole["algorithm"], obs), _actions(again["algorithm"], obs))
    # Interrupted right after the first epoch's checkpoint, then resumed: the same weights as uninterrupted.
    save = baselines.torch_save_atomic

    def save_then_stop(obj, path):
        save(obj, path)
        raise KeyboardInterrupt

    monkeypatch.setattr(baselines, "torch_save_atomic", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train_baseline(tr, config, tmp_path / "resumed", progress=False)
    monkeypatch.setattr(baselines, "torch_save_atomic", save)
    resumed = train_baseline(tr, config, tmp_path / "resumed", progress=False)
    assert resumed["resumed_from"] == 3 and resumed["steps"] == 6
    np.testing.assert_array_equal(_actions(whole["algorithm"], obs), _actions(resumed["algorithm"], obs))

    files = export_baseline(whole["algorithm"], GO2, tmp_path / "export", tmp_path / "whole" / "checkpoint.d3", method)
    meta = json.loads((tmp_path / "export" / "policy.json").read_text())
    assert meta["task"] == "go2_flat" and meta["observation_dim"] == GO2.observation_dim
    want = _actions(whole["algorithm"], obs)
    for name in ("torchscript", "onnx"):  # each file alone, through rwmu's own policy loader
        alone = tmp_path / f"only_{name}"
        alone.mkdir()
        shutil.copy(files[name], alone)
        shutil.copy(files["meta"], alone)
        policy = load_policy(alone, 5, GO2)
        np.testing.assert_allclose(policy.act(torch.from_numpy(obs)).numpy(), want, rtol=1e-4, atol=1e-5)


def test_actions_are_scaled_to_the_range_of_the_data_actions(dataset):
    algo = make_algorithm(OfflineBaselineConfig(method="bc", **TINY))
    tr = offline_transitions(dataset, GO2)
    build_scalers_with_transition_picker(algo, tr.mdp_dataset())  # as d3rlpy's fitter does
    scaler = algo.config.action_scaler
    taken = tr.actions[tr.timeouts == 0]  # the zero placeholders of time-out rows are no actions
    low, high = taken.min(0), taken.max(0)
    np.testing.assert_allclose(np.asarray(scaler.minimum), low, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(scaler.maximum), high, rtol=1e-6)


def test_command_trains_exports_and_refuses_misuse(dataset, tmp_path, capsys):
    data = tmp_path / "data.rwmu"
    save_dataset(dataset, data)
    out = tmp_path / "run"
    args = [
        "train-baseline",
        "--task",
        "go2_flat",
        "--data",
        str(data),
        "--out",
        str(out),
        "--method",
        "bc",
        "--steps",
        "4",
        "--steps-per-epoch",
        "2",
        "--batch-size",
        "16",
        "--hidden-dims",
        "16",
        "--no-progress",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["falls"] == 1 and summary["method"] == "BC"
    assert (out / "config.json").is_file() and (out / "export" / "policy.onnx").is_file()
    capsys.readouterr()
    assert main(args) == 2  # the folder holds a run
    assert "holds a baseline run; continue it with rwmu train-baseline" in capsys.readouterr().err
    assert main(["train-baseline", "--out", str(out), "--resume", "--method", "cql"]) == 2
    assert "--method cql differs from bc" in capsys.readouterr().err
    no_commands = tmp_path / "plain.rwmu"
    save_dataset(make_synthetic_dataset(2, 20, task=GO2, seed=0), no_commands)
    assert (
        main(["train-baseline", "--task", "go2_flat", "--data", str(no_commands), "--out", str(tmp_path / "r2")]) == 2
    )
    err = capsys.readouterr().err
    assert "no command columns" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_iql_refuses_data_whose_episode_returns_do_not_spread(tmp_path, capsys):
    one = with_commands(make_synthetic_dataset(1, 40, task=GO2, seed=2))  # one trajectory: one episode, one return
    transitions = offline_transitions(one, GO2)
    assert transitions.d3rlpy_returns().size == 1
    with pytest.raises(RwmuError, match="--method iql scales rewards by 1000"):
        baselines.check_transitions_fit(transitions, OfflineBaselineConfig(method="iql", **TINY))
    baselines.check_transitions_fit(transitions, OfflineBaselineConfig(method="bc", **TINY))  # BC needs no return
    save_dataset(one, tmp_path / "one.rwmu")
    out = tmp_path / "iql"
    args = ["train-baseline", "--task", "go2_flat", "--data", str(tmp_path / "one.rwmu"), "--out", str(out)]
    args += ["--method", "iql"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--method iql scales" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (out / "config.json").exists()  # refused before any work


def test_d3rlpy_returns_split_after_terminals_and_timeouts(dataset):
    t = offline_transitions(dataset, GO2)
    returns = t.d3rlpy_returns()
    assert returns.size == int(t.terminals.sum() + t.timeouts.sum())
    assert returns.sum() == pytest.approx(float(t.rewards.sum()))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_baseline_stops_and_says_how_to_resume(dataset, tmp_path, sig):
    data, out = tmp_path / "data.rwmu", tmp_path / "run"
    save_dataset(dataset, data)
    command = [sys.executable, "-m", "rwmu.cli.main", "train-baseline", "--task", "go2_flat", "--data", str(data)]
    command += ["--out", str(out), "--method", "bc", "--steps", "10000000", "--steps-per-epoch", "20"]
    command += ["--batch-size", "16", "--hidden-dims", "16", "--no-progress"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        # a terminal's Ctrl-C reaches the command even where the tests run as a background job (SIGINT ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "progress.pt").is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "progress.pt").is_file(), proc.stderr.read() if proc.poll() is not None else "no epoch"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + sig
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert err.strip().endswith(f"continue with: rwmu train-baseline --out {out} --resume")
        assert not list(out.rglob("*.tmp"))  # nothing half-written
        assert torch.load(out / "progress.pt", weights_only=True)["step"] >= 20  # resumable from an epoch
    finally:
        proc.kill()
        proc.communicate()
