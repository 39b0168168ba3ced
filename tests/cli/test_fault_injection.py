"""Fault injection: train-model, train-policy and collect killed with SIGKILL at a random (seeded) point, resumed,
and compared with runs that were never interrupted (docs/architecture.md, "Interrupted runs")."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rwmu.cli.main import main
from rwmu.data.csv_format import write_csv_dataset
from rwmu.data.native_format import read_native_dataset
from rwmu.data.synthetic import make_synthetic_dataset
from rwmu.models.checkpoint import load_world_model
from rwmu.training.runner import read_policy_checkpoint
from tests.training.tiny_world import write_untrained_world

RANDOM = random.Random(10)  # where each run is killed: seeded, so a failure repeats


def kill_at_random(args: list[str], started: Path, longest_delay: float) -> None:
    """Run ``rwmu ARGS`` in a process and SIGKILL it a random time after ``started`` (a first saved file) appears."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rwmu.cli.main", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, f"rwmu {args[0]} ended before it saved anything: {proc.communicate()[1]}"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(RANDOM.uniform(0.0, longest_delay))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, f"rwmu {args[0]} finished before it was killed; kill it sooner"
    finally:
        proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fault")
    write_untrained_world(folder)  # folder/wm.pt and folder/data.rwmu (anymal_d_flat)
    write_csv_dataset(make_synthetic_dataset(num_trajectories=3, steps=300, seed=1), folder / "csv")
    return folder


def test_train_model_killed_and_resumed_equals_the_uninterrupted_run(tiny, tmp_path):
    flags = [
        "--data",
        str(tiny / "csv"),
        "--dims",
        "6",
        "2",
        "0",
        "2",
        "1",
        "--optim.iterations",
        "400",
        "--optim.batch-size",
        "16",
        "--architecture.ensemble-size",
        "2",
        "--architecture.history-horizon",
        "5",
        "--architecture.rnn-hidden-size",
        "16",
        "--architecture.head-shape",
        "8",
        "--normalization",
        "data",
        "--validation.interval",
        "50",
        "--validation.horizons",
        "4",
        "--optim.forecast-horizon",
        "3",
        "--checkpoint-interval",
        "10",
        "--logger",
        "none",
        "--no-progress",
    ]
    assert main(["train-model", "--out", str(tmp_path / "whole"), *flags]) == 0
    killed = tmp_path / "killed"
    kill_at_random(["train-model", "--out", str(killed), *flags], killed / "model_latest.pt", 1.0)
    assert main(["train-model", "--out", str(killed), "--resume"]) == 0
    a = load_world_model(tmp_path / "whole" / "model_latest.pt").state_dict()
    b = load_world_model(killed / "model_latest.pt").state_dict()
    for name in a:  # equal up to CPU rounding with buffer alignment (docs/world_model.md, Reproducibility)
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-5)


def test_train_policy_killed_and_resumed_equals_the_uninterrupted_run(tiny, tmp_path):
    flags = [
        "--task",
        "anymal_d_flat",
        "--world-model",
        str(tiny / "wm.pt"),
        "--data",
        str(tiny / "data.rwmu"),
        "--iterations",
        "40",
        "--steps-per-env",
        "6",
        "--save-interval",
        "1",
        "--env.num-envs",
        "16",
        "--policy.actor-hidden-dims",
        "16",
        "--policy.critic-hidden-dims",
        "16",
    ]
    flags = ["--recipe", "paper", *flags]
    assert main(["train-policy", "--out", str(tmp_path / "whole"), *flags]) == 0
    killed = tmp_path / "killed"
    kill_at_random(["train-policy", "--out", str(killed), *flags], killed / "model_0.pt", 1.0)
    assert main(["train-policy", "--out", str(killed), "--resume"]) == 0
    a, b = read_policy_checkpoint(tmp_path / "whole" / "model_39.pt"), read_policy_checkpoint(killed / "model_39.pt")
    for part in ("actor_state_dict", "critic_state_dict"):
        for name in a[part]:  # bitwise (docs/mopo_ppo.md)
            assert torch.equal(a[part][name], b[part][name]), f"{part}.{name}"


def test_collect_killed_and_resumed_equals_the_uninterrupted_run(tmp_path):
    flags = [
        "--steps",
        "1200",
        "--num-envs",
        "3",
        "--chunk-rows",
        "100",
        "--min-trajectory-rows",
        "20",
        "--format",
        "rwmu",
        "--no-progress",
    ]
    assert main(["collect", "--out", str(tmp_path / "whole"), *flags]) == 0
    killed = tmp_path / "killed"
    kill_at_random(
        ["collect", "--out", str(killed), "--num-workers", "2", *flags], killed / ".collect" / "chunk_0.pt", 1.0
    )
    assert main(["collect", "--out", str(killed), "--resume"]) == 0
    a, b = read_native_dataset(tmp_path / "whole" / "dataset.rwmu"), read_native_dataset(killed / "dataset.rwmu")
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.context, b.context)
    np.testing.assert_array_equal(a.trajectory_offsets, b.trajectory_offsets)
