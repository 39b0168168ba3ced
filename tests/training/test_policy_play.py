"""play-imagination: per-term imagined returns of a trained policy."""

from __future__ import annotations

import json

import pytest

from rwmu.cli.main import main
from rwmu.envs.imagination import ImaginationConfig, ImaginationEnv
from rwmu.training.export import load_actor
from rwmu.training.policy_play import SUMMARY_TERMS, play_policy
from tests.training.tiny_world import TASK, train_tiny_policy


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("play")
    summary, model, dataset = train_tiny_policy(
        folder, iterations=1, steps_per_env=4, num_envs=8, uncertainty_penalty=2.0
    )
    return folder, summary["final_checkpoint"], model, dataset


def test_play_policy_sums_are_consistent(run):
    _, checkpoint, model, dataset = run
    actor, _ = load_actor(checkpoint)
    env = ImaginationEnv(
        model, dataset, TASK, ImaginationConfig(num_envs=6, uncertainty_penalty=2.0, episode_length=7), seed=0
    )
    result = play_policy(env, actor, steps=20)
    ret = result["per_env_return"]
    terms = sum(ret[name] for name in SUMMARY_TERMS if name not in ("uncertainty_penalty", "task", "total"))
    assert ret["task"] == pytest.approx(terms, rel=1e-4, abs=1e-6)
    assert ret["total"] == pytest.approx(ret["task"] + ret["uncertainty_penalty"], rel=1e-4, abs=1e-6)
    assert ret["uncertainty_penalty"] < 0
    assert ret["uncertainty_penalty"] == pytest.approx(-2.0 * TASK.dt * result["epistemic_uncertainty"] * 20, rel=1e-3)
    assert result["episodes"]["finished"] >= 6 * 2  # episodes of at most 7 steps in 20 steps
    assert result["per_step"]["total"] == pytest.approx(ret["total"] / 20, rel=1e-5)


def test_play_imagination_cli_uses_the_checkpoint_defaults(run, tmp_path, capsys):
    _, checkpoint, _, _ = run
    out = tmp_path / "play.json"
    code = main(
        ["play-imagination", "--policy", str(checkpoint), "--steps", "10", "--num-envs", "4", "--json", str(out)]
    )
    assert code == 0
    text = capsys.readouterr().out
    for name in ("track_lin_vel_xy_exp", "uncertainty_penalty", "task", "total"):
        assert name in text
    result = json.loads(out.read_text())
    assert result["uncertainty_penalty"] == 2.0 and result["num_envs"] == 4 and result["steps"] == 10
