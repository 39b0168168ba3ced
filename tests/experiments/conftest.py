"""Fixtures the experiment tests share: one tiny demo (data, world model, two policies), built once per session."""

import dataclasses

import pytest

from rwmu.experiments.demo import run_demo
from rwmu.experiments.demo_config import PRESETS


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """``(folder, config, report, log lines)`` of ``rwmu demo --preset tiny``."""
    out = tmp_path_factory.mktemp("demo")
    config = dataclasses.replace(PRESETS["tiny"](), progress=False, threads=1)
    messages = []
    report = run_demo(out, config, log=messages.append)
    return out, config, report, messages


@pytest.fixture(scope="session")
def tiny_sweep_argv(tiny_demo):
    """``argv(out, *flags)``: ``rwmu sweep`` of lambda 0 and 1, seed 0, on the tiny demo's data and world model, two
    runs side by side (2 PPO iterations of 16 envs x 8 steps, 2 MuJoCo episodes each), plus ``flags``."""
    folder = tiny_demo[0]

    def argv(out, *flags: str) -> list[str]:
        return [
            "sweep",
            "--world-model",
            str(folder / "world_model" / "model_best.pt"),
            "--data",
            str(folder / "data" / "dataset.rwmu"),
            "--out",
            str(out),
            "--lambdas",
            "0",
            "1",
            "--seeds",
            "0",
            "--jobs",
            "2",
            "--iterations",
            "2",
            "--num-envs",
            "16",
            "--steps-per-env",
            "8",
            "--episodes",
            "2",
            "--no-behavior",
            *flags,
        ]

    return argv
