"""User command schedules (``rwmu evaluate --commands FILE``): reading JSON and CSV, errors, and running them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rwmu.cli.main import main
from rwmu.errors import RwmuError
from rwmu.evaluation.episodes import schedule_tensor
from rwmu.evaluation.schedules import read_schedule_file
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.tasks.go2_flat import GO2_FLAT

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=12)


def test_json_and_csv_give_the_same_schedules(tmp_path):
    schedules = {"zigzag": [[5, 0.5, 0, 0], [5, 0, -0.5, 0.2]], "slow": [[3, 0.2, 0, 0]]}
    (tmp_path / "s.json").write_text(json.dumps(schedules))
    rows = "zigzag,5,0.5,0,0\nslow,3,0.2,0,0\nzigzag,5,0,-0.5,0.2\n"
    (tmp_path / "s.csv").write_text("schedule,steps,vx,vy,wz\n" + rows)
    expected = {"zigzag": [(5, 0.5, 0.0, 0.0), (5, 0.0, -0.5, 0.2)], "slow": [(3, 0.2, 0.0, 0.0)]}
    assert read_schedule_file(tmp_path / "s.json") == expected
    assert read_schedule_file(tmp_path / "s.csv") == expected
    steps = schedule_tensor(expected["zigzag"], 12)
    assert steps[4].tolist() == [0.5, 0.0, 0.0] and steps[5].tolist() == pytest.approx([0.0, -0.5, 0.2])
    assert steps[11].tolist() == pytest.approx([0.0, -0.5, 0.2])  # the last segment holds


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.json", "{not json", "not valid JSON"),
        ("a.json", '{"x": [[0, 0.1, 0, 0]]}', "steps must be a whole number >= 1"),
        ("a.json", '{"x": [[5, 0.1, 0]]}', "4 values"),
        ("a.json", '{"stand": [[5, 0, 0, 0]]}', "built-in"),
        ("a.json", '{"x": []}', "without segments"),
        ("a.csv", "schedule,steps,vx,vy,wz\nx,5,0.1,nan,0\n", "row 2"),
        ("a.csv", "schedule,steps,vx,vy,wz\nx,5,0.1,0\n", "row 2 has 4 columns, expected 5"),
        ("a.csv", "name,steps,vx,vy,wz\nx,5,0.1,0,0\n", "header"),
        ("a.csv", "schedule,steps,vx,vy,wz\nx,5,abc,0,0\n", "not all numbers"),
        ("a.txt", "", ".json or .csv"),
        ("a.json", '{"fast": [[5, 1000000, 0, 0]]}', "exceed 5 .m/s, rad/s. in magnitude"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(RwmuError, match=message) as err:
        read_schedule_file(tmp_path / name)
    assert "\n" not in str(err.value)


def test_non_utf8_and_huge_segments(tmp_path):
    (tmp_path / "latin.csv").write_bytes("schedule,steps,vx,vy,wz\nr\xe9,5,0.1,0,0\n".encode("latin-1"))
    with pytest.raises(RwmuError, match="not UTF-8 text"):
        read_schedule_file(tmp_path / "latin.csv")
    (tmp_path / "big.json").write_text('{"big": [[1000000000, 0.5, 0, 0]]}')
    (segment,) = read_schedule_file(tmp_path / "big.json")["big"]
    assert segment[0] <= 100_000  # capped while reading; the tensor holds the episode only
    assert schedule_tensor([segment], 256).shape == (256, 3)


def test_user_schedules_run_beside_the_built_in_ones(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"creep": [[12, 0.2, 0.0, 0.0]]}))
    config = EvaluationConfig(episodes=2, max_envs=2, schedules=("stand",), commands=path)
    result = evaluate_policy("scripted", config, SHORT_TASK, progress=False)
    assert set(result["per_schedule"]) == {"stand", "creep"} and result["episodes"] == 2
    only_mine = dataclasses.replace(config, schedules=(), episodes=1)
    assert set(evaluate_policy("scripted", only_mine, SHORT_TASK, progress=False)["per_schedule"]) == {"creep"}


def test_cli_refuses_a_missing_commands_file_before_any_work(tmp_path, capsys):
    assert main(["evaluate", "--policy", "scripted", "--commands", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rwmu evaluate: error:") and "no such file" in err and "\n" not in err
