"""Fixtures the experiment tests share: one tiny demo (data, world model, two policies), built once per session."""

import dataclasses

import pytest

from rwmu.experiments.demo import PRESETS, run_demo


@pytest.fixture(scope="session")
def tiny_demo(tmp_path_factory):
    """``(folder, config, report, log lines)`` of ``rwmu demo --preset tiny``."""
    out = tmp_path_factory.mktemp("demo")
    config = dataclasses.replace(PRESETS["tiny"](), progress=False, threads=1)
    messages = []
    report = run_demo(out, config, log=messages.append)
    return out, config, report, messages
