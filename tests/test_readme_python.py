"""The README's Python loop (``rwmu.collect`` -> ``train_model`` -> ``train_policy`` -> ``evaluate``) runs as
written, at a tiny scale: the block is executed with its sizes replaced by the tiny demo preset's configs (each
replaced text must be in the block, so an edit of the README that this test no longer covers fails here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rwmu.api import Evaluation, PolicyResult, WorldModelResult
from rwmu.cli.commands import train_model, train_policy
from rwmu.cli.commands.shared import stored_config
from rwmu.experiments.demo_config import PRESETS

README = Path(__file__).resolve().parents[1] / "README.md"

TINY = {
    'checkpoints="0:700:50"': 'checkpoints="0:700:700", progress=False',
    "CollectConfig(steps=1_000_000, num_envs=64)": "CollectConfig(steps=3000, num_envs=8)",
    'task="go2_flat")': 'task="go2_flat", config=tiny.world_model)',
    '"runs/py/pi")': '"runs/py/pi", config=tiny.policy)',
    "rwmu.evaluate(policy.checkpoint)": "rwmu.evaluate(policy.checkpoint, config=tiny.evaluation, progress=False)",
}


def readme_python_loop() -> str:
    text = README.read_text()
    return next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "rwmu.train_policy(" in b)


def test_the_readme_python_loop_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "docs").symlink_to(README.parent / "docs")  # the published behaviour policies
    code = readme_python_loop()
    for text, tiny in TINY.items():
        assert text in code, f"the README's Python loop no longer holds {text!r}: update TINY"
        code = code.replace(text, tiny)
    namespace = {"tiny": PRESETS["tiny"]()}
    exec(compile(code, "README.md", "exec"), namespace)
    model, policy, score = namespace["model"], namespace["policy"], namespace["score"]
    assert isinstance(model, WorldModelResult) and model.checkpoint.is_file()
    assert isinstance(policy, PolicyResult) and policy.checkpoint.is_file() and policy.iterations == 3
    assert isinstance(score, Evaluation) and score.episodes == 2
    assert namespace["data"].rows == 3000 and (tmp_path / "runs/py/data/dataset.rwmu").is_file()
    # the typed results are the files' figures
    summary = json.loads((tmp_path / "runs/py/pi/summary.json").read_text())
    assert policy.imagined_reward == summary["imagined_reward"]
    assert f"{score.falls}/{score.episodes} falls" in capsys.readouterr().out
    # what the API records is the command line's own command: `rwmu train-policy --out runs/py/pi --resume` continues it
    stored = stored_config(tmp_path / "runs/py/pi", train_policy.Command)
    assert stored.train == namespace["tiny"].policy and stored.task == "go2_flat"
    assert stored_config(tmp_path / "runs/py/wm", train_model.Command).train == namespace["tiny"].world_model
