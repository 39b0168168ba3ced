"""Evaluation in MuJoCo: the JSON summary, determinism, schedules, a policy given as a path, the text table, the CLI.

The policy formats themselves are tested with their loader (tests/training/test_policy_loader.py)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from rwmu.errors import RwmuError
from rwmu.evaluation.episodes import schedule_tensor, summarize_episodes
from rwmu.evaluation.schedules import COMMAND_SCHEDULES
from rwmu.evaluation.simulator import _run_wave, evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.evaluation.tables import format_evaluation_table
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.training.export import EXPORT_FORMAT

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=15)


def test_evaluation_summary_keys_and_consistency():
    config = EvaluationConfig(episodes=3, max_envs=2, seed=0, schedules=("forward_0.5", "turn_1.0"))
    result = evaluate_policy("scripted", config, SHORT_TASK, progress=False)
    for key in (
        "return_mean",
        "return_std",
        "episodes",
        "terms",
        "episode_length_mean",
        "falls",
        "fall_rate",
        "lin_vel_error_mean",
        "yaw_rate_error_mean",
        "per_schedule",
        "per_episode",
    ):
        assert key in result
    assert result["episodes"] == 3 and len(result["per_episode"]) == 3
    assert [e["schedule"] for e in result["per_episode"]] == ["forward_0.5", "turn_1.0", "forward_0.5"]
    returns = np.array([e["return"] for e in result["per_episode"]])
    assert result["return_mean"] == pytest.approx(returns.mean())
    assert result["return_std"] == pytest.approx(returns.std())
    assert set(result["terms"]) == {f.name for f in dataclasses.fields(GO2_FLAT.rewards)}
    # Per-term returns add up to the return.
    for e in result["per_episode"]:
        assert sum(e["terms"].values()) == pytest.approx(e["return"], rel=1e-5, abs=1e-6)
        assert e["length"] == 15 and not e["fell"]
    assert result["max_return"] == pytest.approx((1.0 + 0.5) * 0.02 * 15)
    assert 0 < result["return_mean"] < result["max_return"]
    json.dumps(result)  # plain JSON types only
    table = format_evaluation_table(result)
    assert table.startswith("episodes 3  return") and "forward_0.5" in table and "track_lin_vel_xy_exp" in table
    again = evaluate_policy("scripted", config, SHORT_TASK, progress=False)
    assert again["return_mean"] == result["return_mean"]  # deterministic for a seed


def test_schedule_tensor_holds_last_segment():
    t = schedule_tensor(COMMAND_SCHEDULES["mixed"], 300)
    assert t.shape == (300, 3)
    torch.testing.assert_close(t[0], torch.tensor([0.7, 0.0, 0.0]))
    torch.testing.assert_close(t[299], torch.tensor([-0.4, 0.3, 0.5]))


def test_a_policy_given_as_an_export_folder(tmp_path):
    """evaluate_policy reads a path with the training layer's loader; the task in policy.json is checked."""
    torch.manual_seed(0)
    actor = torch.nn.Sequential(torch.nn.Linear(48, 16), torch.nn.ELU(), torch.nn.Linear(16, 12))
    torch.nn.init.zeros_(actor[2].weight)  # zero actions: the default standing pose
    torch.nn.init.zeros_(actor[2].bias)
    folder = tmp_path / "exported"
    folder.mkdir()
    torch.jit.script(actor).save(str(folder / "policy.pt"))
    (folder / "policy.json").write_text(json.dumps({"format": EXPORT_FORMAT, "task": "go2_flat"}))
    config = EvaluationConfig(episodes=1, max_envs=1, schedules=("stand",))
    result = evaluate_policy(str(folder), config, SHORT_TASK, progress=False)
    assert result["episodes"] == 1 and result["per_episode"][0]["length"] == 15
    (folder / "policy.json").write_text(json.dumps({"format": EXPORT_FORMAT, "task": "anymal_d_flat"}))
    with pytest.raises(RwmuError, match="trained for task 'anymal_d_flat'"):
        evaluate_policy(folder, config, SHORT_TASK, progress=False)


def test_evaluate_cli_writes_json(tmp_path):
    from rwmu.cli.main import main

    out = tmp_path / "eval.json"
    code = main(
        [
            "evaluate",
            "--task",
            "go2_flat",
            "--policy",
            "scripted",
            "--episodes",
            "2",
            "--seed",
            "1",
            "--json",
            str(out),
            "--schedules",
            "stand",
            "forward_0.5",
            "--no-progress",
        ]
    )
    assert code == 0
    result = json.loads(out.read_text())
    assert {"return_mean", "return_std", "episodes", "terms"} <= set(result)
    assert result["episodes"] == 2 and result["config"]["seed"] == 1
    assert main(["evaluate", "--policy", "scripted", "--episodes", "1", "--schedules", "moonwalk"]) == 2
    assert (
        main(
            [
                "evaluate",
                "--policy",
                "scripted",
                "--episodes",
                "1",
                "--video",
                str(tmp_path / "v.avi"),
                "--schedules",
                "stand",
            ]
        )
        == 2
    )


def test_mp4_video_without_opencv_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import sys

    from rwmu.cli.main import main

    monkeypatch.setitem(sys.modules, "cv2", None)  # opencv-python is not installed
    assert (
        main(
            [
                "evaluate",
                "--policy",
                "scripted",
                "--episodes",
                "1",
                "--schedules",
                "stand",
                "--no-progress",
                "--video",
                str(tmp_path / "walk.mp4"),
            ]
        )
        == 2
    )
    assert "needs opencv-python" in capsys.readouterr().err
    assert not (tmp_path / "walk.mp4").exists()


def test_video_renders_or_fails_with_one_line(tmp_path):
    """With MUJOCO_GL=egl the video is written; without a usable GL backend the CLI says so in one line."""
    import os
    import subprocess
    import sys

    out = tmp_path / "walk.gif"
    env = {**os.environ, "MUJOCO_GL": "egl"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rwmu.cli.main",
            "evaluate",
            "--policy",
            "scripted",
            "--episodes",
            "1",
            "--schedules",
            "forward_0.5",
            "--video",
            str(out),
            "--video-steps",
            "24",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        from PIL import Image

        with Image.open(out) as gif:
            assert gif.n_frames == 12 and gif.size == (480, 360)  # every 2nd of 24 steps
    else:
        assert proc.returncode == 2 and "no offscreen OpenGL renderer" in proc.stderr


class _ScriptedEnv:
    """Replays fixed per-step records, to check the episode accounting of ``_run_wave`` by hand (the MuJoCo
    numbers themselves cannot be hand-computed; the end-to-end tests above run the real simulator)."""

    def __init__(self, steps):
        self.steps, self.t, self.num_envs = steps, 0, 2
        self.base_pos = torch.zeros(2, 3)

    def step(self, actions):
        rec = self.steps[self.t]
        self.t += 1
        self.last_step = rec
        return {"policy": torch.zeros(2, 48)}, rec.reward, rec.dones, {}


def test_episode_accounting_by_hand():
    from types import SimpleNamespace

    def step(reward, vel, yaw, cmd, terminated, dones, pos):
        state = torch.zeros(2, 45)
        state[:, 0:2] = torch.tensor(vel)
        state[:, 5] = torch.tensor(yaw)
        return SimpleNamespace(
            reward=torch.tensor(reward),
            dones=torch.tensor(dones),
            state=state,
            command=torch.tensor(cmd),
            terminated=torch.tensor(terminated),
            base_pos=torch.tensor(pos),
            terms={"a": torch.tensor(reward) * 0.25, "b": torch.tensor(reward) * 0.75},
        )

    cmd = [[1.0, 0.0, 0.5], [0.0, 0.0, 0.0]]
    steps = [  # env 0 falls on the second step; env 1 runs all three
        step(
            [1.0, 0.5],
            [[0.0, 0.0], [3.0, 4.0]],
            [0.5, 1.0],
            cmd,
            [False, False],
            [False, False],
            [[1.0, 0.0, 0.3], [0.0, 1.0, 0.3]],
        ),
        step(
            [2.0, 0.5],
            [[1.0, 0.0], [0.0, 0.0]],
            [0.0, 0.0],
            cmd,
            [True, False],
            [True, False],
            [[3.0, 4.0, 0.1], [0.0, 2.0, 0.3]],
        ),
        step(
            [9.0, 0.5],
            [[0.0, 0.0], [0.0, 0.0]],
            [0.0, 2.0],
            cmd,
            [False, False],
            [False, False],
            [[9.0, 9.0, 0.1], [0.0, 3.0, 0.3]],
        ),
    ]
    policy = SimpleNamespace(act=lambda obs: torch.zeros(2, 12), reset=lambda ids: None)
    wave = _run_wave(_ScriptedEnv(steps), policy, torch.zeros(2, 48), T=3, recorder=None)
    assert wave["return"] == pytest.approx([3.0, 1.5])  # env 0's third step (after its fall) is not counted
    assert wave["length"] == [2, 3] and wave["fell"] == [True, False]
    # lin vel error: env 0 |(1,0)-(0,0)| = 1 then |(1,0)-(1,0)| = 0 -> 0.5; env 1 |(0,0)-(3,4)| = 5, 0, 0 -> 5/3
    assert wave["lin_vel_error"] == pytest.approx([0.5, 5 / 3])
    # yaw rate error: env 0 |0.5-0.5| = 0, |0.5-0| = 0.5 -> 0.25; env 1 1, 0, 2 -> 1
    assert wave["yaw_rate_error"] == pytest.approx([0.25, 1.0])
    assert wave["distance"] == pytest.approx([5.0, 3.0])  # xy distance from the start at the last counted step
    assert wave["terms"][0] == pytest.approx({"a": 0.75, "b": 2.25})

    episodes = [{"schedule": s, **{k: v[i] for k, v in wave.items()}} for i, s in enumerate(("x", "y"))]
    episodes.append({**episodes[1], "schedule": "x", "return": 4.5})
    task = dataclasses.replace(GO2_FLAT, episode_length=3)
    summary = summarize_episodes(episodes, task, EvaluationConfig(episodes=3))
    assert summary["return_mean"] == pytest.approx(3.0)  # (3 + 1.5 + 4.5) / 3
    assert summary["return_std"] == pytest.approx(np.sqrt((0 + 1.5**2 + 1.5**2) / 3))  # population std
    assert summary["falls"] == 1 and summary["fall_rate"] == pytest.approx(1 / 3)
    assert summary["episode_length_mean"] == pytest.approx(8 / 3)
    assert summary["lin_vel_error_mean"] == pytest.approx((0.5 + 5 / 3 + 5 / 3) / 3)
    assert summary["terms"]["a"] == pytest.approx((0.75 + 0.375 + 0.375) / 3)
    assert summary["max_return"] == pytest.approx((1.0 + 0.5) * 0.02 * 3)
    assert summary["per_schedule"]["x"]["return_mean"] == pytest.approx(3.75)
    assert summary["per_schedule"]["x"]["falls"] == 1 and summary["per_schedule"]["y"]["episodes"] == 1


def test_action_noise_changes_the_policy_not_the_score_references():
    task = dataclasses.replace(GO2_FLAT, episode_length=40)
    base = EvaluationConfig(episodes=2, schedules=("forward_0.5",), score_reference="zero")
    clean = evaluate_policy("expert", base, task, progress=False)
    noisy = evaluate_policy("expert", dataclasses.replace(base, action_noise=1.0), task, progress=False)
    assert noisy["return_mean"] != clean["return_mean"]
    assert noisy["score_references"] == clean["score_references"]  # the references run without the noise
    again = evaluate_policy("expert", dataclasses.replace(base, action_noise=1.0), task, progress=False)
    assert again["return_mean"] == noisy["return_mean"]  # seeded noise
    with pytest.raises(RwmuError, match="--action-noise"):
        evaluate_policy("expert", dataclasses.replace(base, action_noise=-1.0), task, progress=False)
