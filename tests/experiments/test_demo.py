"""``rwmu demo`` end to end at the tiny preset, its resumability, and the report helpers."""

import csv
import dataclasses
import json

import pytest

from rwmu.errors import RwmuError
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.experiments import report as rep
from rwmu.experiments.demo import run_demo
from rwmu.experiments.demo_config import PRESETS, DemoConfig
from rwmu.experiments.demo_report import compare_returns, comparison_lines
from rwmu.experiments.paths import evaluation_key, lambda_label


def test_tiny_demo_writes_the_report(tiny_demo):
    out, config, report, messages = tiny_demo
    assert (out / "report.md").is_file() and (out / "report.json").is_file()
    stored = json.loads((out / "report.json").read_text())
    names = [p["policy"] for p in stored["policies"]]
    assert names == ["behaviour (expert, action noise 0.5)", "MOPO-PPO lambda=1", "MOPO-PPO lambda=0"]
    behaviour = json.loads((out / "evaluation" / f"{evaluation_key(names[0])}.json").read_text())
    assert behaviour["config"]["action_noise"] == 0.5  # scored as it recorded the data
    assert json.loads((out / "data" / "config.json").read_text())["config"]["action_noise"] == 0.5
    for p in stored["policies"]:  # numbers come from the MuJoCo evaluation files
        evaluation = json.loads((out / "evaluation" / f"{evaluation_key(p['policy'])}.json").read_text())
        assert p["true_return_mean"] == evaluation["return_mean"]
        assert p["episodes"] == config.evaluation.episodes
    lam1 = json.loads((out / "policy_lam1" / "summary.json").read_text())
    assert stored["policies"][1]["imagined_reward"] == lam1["imagined_reward"]
    for name in stored["plots"].values():
        assert (out / name).stat().st_size > 1000, name
    assert stored["data"]["rows"] == config.collect.steps
    assert set(stored["uncertainty"]) >= {"mean", "sampled_member"}
    stages = {s["stage"]: s for s in stored["stages"]}
    assert all(s["status"] == "ran" and s["seconds"] >= 0 for s in stages.values())
    assert {"collect", "world_model", "uncertainty", "policy_lam1", "policy_lam0", "evaluate_behaviour"} <= set(stages)
    md = (out / "report.md").read_text()
    assert "Where the time goes" in md and "![true return](true_return.png)" in md
    # The closed-loop check of each trained policy, and the penalty against the task reward, are in the report.
    assert "Imagination against the simulator" in md
    for p in stored["policies"][1:]:
        check = json.loads((out / "model_check" / f"{evaluation_key(p['policy'])}.json").read_text())
        assert p["model_check"]["u_ratio"] == check["u_ratio"] and check["policy"]["windows"] == 32
        assert p["penalty_per_step"] == pytest.approx(p["imagined_task_reward"] - p["imagined_reward"])
        assert p["imagined_episode_length"] is not None
    assert any("collect" in m for m in messages)


def test_tiny_demo_rerun_skips_finished_stages(tiny_demo):
    out, config, report, _ = tiny_demo
    mtime = (out / "world_model" / "model_best.pt").stat().st_mtime_ns
    first = json.loads((out / "stages.json").read_text())["stages"]
    again = run_demo(out, config, log=lambda s: None)
    stages = {s["stage"]: s for s in again["stages"]}
    assert all(s["status"].startswith("skipped") for name, s in stages.items() if name != "report")
    assert stages["collect"]["seconds"] == first["collect"]["seconds"]  # time of the run that made the outputs
    assert (out / "world_model" / "model_best.pt").stat().st_mtime_ns == mtime


def test_tiny_demo_repeats_with_the_same_seed(tiny_demo, tmp_path):
    out, config, report, _ = tiny_demo
    again = run_demo(tmp_path / "again", config, log=lambda s: None)
    keys = ("true_return_mean", "true_return_std", "falls", "imagined_reward", "imagined_task_reward")
    first = [[p.get(k) for k in keys] for p in report["policies"]]
    assert first == [[p.get(k) for k in keys] for p in again["policies"]]
    lam1 = json.loads((out / "policy_lam1" / "summary.json").read_text())
    assert lam1["behavior_cloning"]["pairs"] > 0 and "mse" in lam1["behavior_cloning"]  # the demo clones first


def test_demo_refuses_a_folder_with_other_settings(tiny_demo):
    out, config, _, _ = tiny_demo
    other = dataclasses.replace(config, seed=config.seed + 1)
    with pytest.raises(RwmuError, match="other settings"):
        run_demo(out, other, log=lambda s: None)
    optim = dataclasses.replace(config.world_model.optim, learning_rate=0.5)
    other = dataclasses.replace(config, world_model=dataclasses.replace(config.world_model, optim=optim))
    with pytest.raises(RwmuError, match=r"\(world_model\.optim\.learning_rate differ"):
        run_demo(out, other, log=lambda s: None)


def test_demo_config_checks():
    with pytest.raises(RwmuError, match="--lambdas"):
        dataclasses.replace(DemoConfig(), lambdas=(1.0, -1.0)).check()
    with pytest.raises(RwmuError, match="--lambdas"):
        dataclasses.replace(DemoConfig(), lambdas=()).check()
    optim = dataclasses.replace(DemoConfig().world_model.optim, iterations=0)
    with pytest.raises(RwmuError, match=r"^--world-model\.optim\.iterations must be >= 1, got 0$"):
        dataclasses.replace(
            DemoConfig(), world_model=dataclasses.replace(DemoConfig().world_model, optim=optim)
        ).check()
    env = dataclasses.replace(DemoConfig().policy.env, num_envs=0)
    with pytest.raises(RwmuError, match=r"^--policy\.env\.num-envs must be >= 1"):
        dataclasses.replace(DemoConfig(), policy=dataclasses.replace(DemoConfig().policy, env=env)).check()
    with pytest.raises(RwmuError, match=r"^--uncertainty\.windows must be at least 1"):
        dataclasses.replace(DemoConfig(), uncertainty=dataclasses.replace(DemoConfig().uncertainty, windows=0)).check()
    with pytest.raises(RwmuError, match=r"^--collect\.steps 100: too few rows"):
        dataclasses.replace(DemoConfig(), collect=dataclasses.replace(DemoConfig().collect, steps=100)).check()
    for make in PRESETS.values():
        make().check()
    paper = PRESETS["paper"]()
    assert paper.policy.env.num_envs == 4096 and paper.world_model.architecture.rnn_hidden_size == 256


def test_demo_settings_override_the_stage_copies():
    config = dataclasses.replace(PRESETS["tiny"](), seed=7, device="cuda", progress=False)
    run = config.resolved()
    assert run.collect.seed == run.world_model.seed == run.uncertainty.seed == run.policy.seed == 7
    assert run.evaluation.seed == 7 and run.world_model.progress is False
    assert run.world_model.device == run.uncertainty.device == run.policy.device == "cuda"
    assert run.world_model.optim == config.world_model.optim  # everything else is the stage's own
    policy = config.policy_config(0.5)
    assert policy.env.uncertainty_penalty == 0.5 and policy.seed == 7 and policy.env.num_envs == 16
    assert run.resolved() == run


def test_labels():
    assert lambda_label(1.0) == "1" and lambda_label(0.5) == "0.5" and lambda_label(0) == "0"
    assert evaluation_key("MOPO-PPO lambda=0.5") == "mopo_ppo_lambda_0.5"
    assert evaluation_key("behaviour (scripted)") == "behaviour"


def test_compare_returns_by_hand():
    a = {"true_return_mean": 3.0, "true_return_std": 1.0, "episodes": 4, "policy": "A", "lambda": 1.0}
    b = {"true_return_mean": 2.0, "true_return_std": 2.0, "episodes": 16, "policy": "B", "lambda": None}
    c = compare_returns(a, b)
    assert c["difference"] == pytest.approx(1.0)
    assert c["standard_error"] == pytest.approx((1 / 4 + 4 / 16) ** 0.5)
    assert c["clear"] is False  # 1.0 < 2 * 0.707
    lines = comparison_lines([b, a])
    assert lines == [
        "- A is not distinguishable from B: difference +1.000, standard error over episodes 0.707 (one training seed)."
    ]
    assert compare_returns(a, {**b, "true_return_mean": None}) is None


def test_markdown_table_and_numbers():
    table = rep.markdown_table(["a", "b"], [[1, 2.34567], ["x", None]], digits=2)
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2.35 |", "| x | n/a |"]
    assert rep.format_number(float("nan")) == "n/a"


def test_sweep_cli_end_to_end_on_the_tiny_demo(tiny_sweep_argv, tmp_path):
    """Two real runs (subprocesses, side by side) on the tiny demo's world model; a re-run skips them."""
    from rwmu.cli.main import main

    argv = tiny_sweep_argv(tmp_path / "sweep")
    assert main(argv) == 0
    data = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [row["lambda"] for row in data["aggregated"]] == [0.0, 1.0]
    for run in data["runs"]:
        evaluation = json.loads(
            (tmp_path / "sweep" / "runs" / f"lam{lambda_label(run['lambda'])}_seed0" / "evaluation.json").read_text()
        )
        assert run["true_return_mean"] == evaluation["return_mean"] and evaluation["episodes"] == 2
        assert run["u_ratio"] is not None  # rwmu check-model ran on every policy
    summary = json.loads((tmp_path / "sweep" / "runs" / "lam1_seed0" / "summary.json").read_text())
    assert summary["uncertainty_penalty"] == 1.0 and summary["iterations"] == 2
    mtime = (tmp_path / "sweep" / "runs" / "lam1_seed0" / "evaluation.json").stat().st_mtime_ns
    assert main(argv) == 0  # resumed: nothing to do
    assert (tmp_path / "sweep" / "runs" / "lam1_seed0" / "evaluation.json").stat().st_mtime_ns == mtime
    # A larger --iterations continues both runs; --curve scores every saved checkpoint in MuJoCo.
    more = argv[: argv.index("--iterations") + 1] + ["3"] + argv[argv.index("--iterations") + 2 :] + ["--curve"]
    assert main(more) == 0
    summary = json.loads((tmp_path / "sweep" / "runs" / "lam1_seed0" / "summary.json").read_text())
    assert summary["iterations"] == 3 and len(summary["history"]["imagined_reward"]) == 3
    assert (tmp_path / "sweep" / "runs" / "lam1_seed0" / "evaluation.json").stat().st_mtime_ns != mtime
    with open(tmp_path / "sweep" / "sweep_curve.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted({int(r["iterations"]) for r in rows}) == [1, 2, 3] and len(rows) == 6
    run = tmp_path / "sweep" / "runs" / "lam1_seed0"
    final = json.loads((run / "evaluation.json").read_text())
    assert final["policy"] == str(run / "export" / "policy.onnx")  # the run's score is its published ONNX file's
    at3 = next(r for r in rows if float(r["lambda"]) == 1.0 and r["iterations"] == "3")
    checkpoint = evaluate_policy(str(run / "model_2.pt"), EvaluationConfig(episodes=2, seed=0), progress=False)
    assert float(at3["true_return_mean"]) == pytest.approx(checkpoint["return_mean"])  # the curve: the checkpoint
