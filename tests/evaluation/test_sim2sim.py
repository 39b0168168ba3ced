"""The sim-to-sim loop: it reads only deploy.yaml and policy.onnx, and a zero-action Go2 export scores in it as in
rwmu's simulator (physics, PD law, observation and reward agree); bad exports are one-line errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import yaml

from rwmu.cli.main import main
from rwmu.errors import RwmuError
from rwmu.evaluation.sim2sim import compare_with_evaluate, read_unitree_export, run_sim2sim
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.tasks import get_task
from rwmu.training.unitree_export import export_unitree
from tests.training.tiny_world import tiny_online

CONFIG = EvaluationConfig(episodes=8, seed=3, schedules=("stand", "forward_0.5"), score_reference=None)


@pytest.fixture(scope="module")
def zero_export(tmp_path_factory):
    """A go2_flat_deploy policy whose last layer is zeroed (it commands the default pose), exported for Unitree."""
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("sim2sim")
    run = tiny_online(dataclasses.replace(get_task("go2_flat_deploy"), episode_length=16), folder / "run")
    checkpoint = torch.load(run / "model_0.pt", weights_only=True)
    actor = checkpoint["actor_state_dict"]
    last = max((k for k in actor if k.startswith("mlp.") and k.endswith(".weight")), key=lambda k: int(k.split(".")[1]))
    actor[last].zero_()
    actor[last.replace("weight", "bias")].zero_()
    torch.save(checkpoint, run / "model_0.pt")
    export_unitree(run, folder / "go2")
    return folder / "go2"


def test_a_zero_action_export_scores_in_the_sim2sim_loop_as_in_rwmus_simulator(zero_export):
    result = compare_with_evaluate(zero_export, CONFIG, progress=False)
    low, high = result["return_difference_ci95"]
    assert low <= 0.0 <= high and abs(result["return_difference"]) < 0.4
    assert result["falls"] == {"sim2sim": 0, "evaluate": 0}
    sim, reference = result["sim2sim"], result["evaluate"]
    for term in ("track_lin_vel_xy_exp", "track_ang_vel_z_exp", "stand_still", "dof_torques_l2"):
        assert sim["terms"][term] == pytest.approx(reference["terms"][term], abs=0.25), term
    assert sim["per_schedule"]["forward_0.5"]["lin_vel_error_mean"] == pytest.approx(0.5, abs=0.05)  # it stands


def test_sim2sim_is_repeatable_for_a_seed(zero_export):
    first = run_sim2sim(zero_export, dataclasses.replace(CONFIG, episodes=2), progress=False)
    again = run_sim2sim(zero_export, dataclasses.replace(CONFIG, episodes=2), progress=False)
    assert [e["return"] for e in first["per_episode"]] == [e["return"] for e in again["per_episode"]]


def test_bad_exports_are_one_line_errors(zero_export, tmp_path, capsys):
    assert main(["sim2sim", str(tmp_path / "none"), "--no-progress"]) == 2
    assert "deploy.yaml: missing" in capsys.readouterr().err
    broken = tmp_path / "broken"
    (broken / "params").mkdir(parents=True)
    (broken / "exported").mkdir()
    (broken / "exported" / "policy.onnx").write_bytes((zero_export / "exported" / "policy.onnx").read_bytes())
    (broken / "params" / "deploy.yaml").write_text("joint_ids_map: [0, 1\n")
    with pytest.raises(RwmuError, match="not readable YAML"):
        read_unitree_export(broken)
    deploy = yaml.safe_load((zero_export / "params" / "deploy.yaml").read_text())
    (broken / "params" / "deploy.yaml").write_text(yaml.safe_dump({k: v for k, v in deploy.items() if k != "damping"}))
    with pytest.raises(RwmuError, match="no key damping"):
        read_unitree_export(broken)
    (broken / "params" / "deploy.yaml").write_text(yaml.safe_dump({**deploy, "joint_ids_map": [0] * 12}))
    with pytest.raises(RwmuError, match="not a permutation"):
        run_sim2sim(broken, CONFIG, progress=False)
