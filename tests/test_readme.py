"""The README's "Using rwmu" loop runs as written, at a tiny scale.

Every ``rwmu`` command of the README's first bash block under "## Using rwmu" is run in order, in an empty folder,
exactly as written plus the flags of :data:`TINY` appended (a flag given twice takes its last value), so the loop a
new user copies is the loop that is tested.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from rwmu.cli.main import main

README = Path(__file__).resolve().parents[1] / "README.md"

TINY: dict[str, list[str]] = {
    "collect": [
        "--steps",
        "6000",
        "--num-envs",
        "8",
        "--num-workers",
        "1",
        "--checkpoints",
        "0:700:700",
        "--no-progress",
    ],
    "train-model": [
        "--architecture.ensemble-size",
        "2",
        "--architecture.history-horizon",
        "8",
        "--architecture.rnn-hidden-size",
        "16",
        "--architecture.rnn-num-layers",
        "1",
        "--optim.forecast-horizon",
        "4",
        "--optim.iterations",
        "4",
        "--optim.batch-size",
        "32",
        "--validation.interval",
        "2",
        "--validation.windows",
        "16",
        "--validation.horizons",
        "4",
        "16",
        "--checkpoint-interval",
        "4",
        "--no-progress",
    ],
    "eval-uncertainty": ["--windows", "4", "--horizon", "16"],
    "train-policy": ["--iterations", "2", "--steps-per-env", "8", "--env.num-envs", "16"],
    "play-imagination": ["--steps", "8", "--num-envs", "8"],
    "evaluate": ["--episodes", "1", "--max-envs", "1", "--schedules", "forward_0.5", "--no-progress"],
    "check-model": ["--episodes", "1", "--num-envs", "1", "--windows", "16", "--horizon", "4", "--no-progress"],
    "signals": [
        "--episodes",
        "1",
        "--num-envs",
        "1",
        "--max-points",
        "32",
        "--data-points",
        "16",
        "--neighbours",
        "100",
        "--batch",
        "16",
        "--no-progress",
    ],
    "sweep": [
        "--lambdas",
        "0",
        "--seeds",
        "0",
        "--jobs",
        "1",
        "--iterations",
        "1",
        "--num-envs",
        "8",
        "--steps-per-env",
        "4",
        "--episodes",
        "1",
        "--no-behavior",
    ],
}


def readme_loop() -> list[list[str]]:
    """The ``rwmu`` commands of the README's "Using rwmu" bash block, as argument lists (without ``rwmu``)."""
    text = README.read_text()
    section = text[text.index("## Using rwmu") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "rwmu":
            commands.append(words[1:])
    return commands


def test_the_readme_block_is_the_whole_loop():
    names = [words[0] for words in readme_loop()]
    for step in ("collect", "train-model", "eval-uncertainty", "train-policy", "evaluate", "export", "sweep"):
        assert step in names


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_readme_loop_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "docs").symlink_to(README.parent / "docs")  # the loop runs in a clone: the published policies
    for words in readme_loop():
        args = words + TINY.get(words[0], [])
        assert main(args) == 0, f"rwmu {shlex.join(args)} failed"
    assert (tmp_path / "data/mixed/dataset.rwmu").is_file()
    assert (tmp_path / "runs/wm/model_best.pt").is_file()
    assert json.loads((tmp_path / "runs/unc/summary.json").read_text())["windows"] == 4
    evaluation = json.loads((tmp_path / "runs/pi/eval.json").read_text())
    assert evaluation["episodes"] == 1 and evaluation["command"]["policy"] == "runs/pi"
    assert json.loads((tmp_path / "runs/pi/check.json").read_text())["policy"]["windows"] > 0
    assert {p.name for p in (tmp_path / "runs/pi/export").iterdir()} >= {"policy.pt", "policy.onnx", "policy.json"}
    assert (tmp_path / "runs/sweep/sweep.csv").is_file()
    assert "std_sum" in json.loads((tmp_path / "runs/pi/signals/signals.json").read_text())["signals"]
    stored = json.loads((tmp_path / "runs/pi/config.json").read_text())["config"]["command"]
    assert stored["train"]["iterations"] == 2 and stored["train"]["env"]["uncertainty_penalty"] == 1.0
    # the default recipe, flags winning: filtered BC from the data, 256-step episodes, 16 envs
    assert stored["recipe"] == "mopo_fbc_dc256" and stored["train"]["behavior"]["top_fraction"] == 0.1
    assert stored["train"]["env"]["episode_length"] == 256 and stored["train"]["env"]["num_envs"] == 16


def test_the_readme_results_table_is_generated_from_the_published_files():
    from rwmu.experiments.headline import END, START, headline_table

    text = README.read_text()
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == headline_table(README.parent).strip(), "run: rwmu manifest table --write README.md"
    assert text.index(START) < text.index("## Using rwmu")  # on the first screen, before the loop
