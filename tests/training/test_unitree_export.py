"""Deployment facts and ``rwmu export --format unitree``: the joint map against the MJCF's names, deploy.yaml in
unitree_rl_lab's layout, the same facts in the ONNX metadata and policy.json, and the refusal of a policy that
observes what a Go2 cannot measure."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import yaml

from rwmu.cli.main import main
from rwmu.errors import RwmuError
from rwmu.sim.model import go2_indices, load_go2_model
from rwmu.tasks import get_task
from rwmu.tasks.go2_flat import DEFAULT_JOINT_POS, GO2_ACTUATION, JOINT_NAMES, SDK_JOINT_NAMES
from rwmu.training.deploy_facts import deploy_facts, joint_ids_map
from rwmu.training.export import load_actor
from rwmu.training.unitree_export import export_unitree
from tests.training.tiny_world import tiny_online

DEPLOY = dataclasses.replace(get_task("go2_flat_deploy"), episode_length=16)


@pytest.fixture(scope="module")
def deploy_run(tmp_path_factory):
    torch.set_num_threads(1)
    return tiny_online(DEPLOY, tmp_path_factory.mktemp("deploy") / "run")


def test_the_joint_map_sends_each_policy_joint_to_the_motor_of_the_same_mjcf_joint():
    model = load_go2_model()
    mjcf = [model.joint(i).name for i in range(model.njnt) if model.joint(i).name]
    assert sorted(JOINT_NAMES) == sorted(mjcf) == sorted(SDK_JOINT_NAMES)
    ids = joint_ids_map()
    assert [SDK_JOINT_NAMES[k] for k in ids] == list(JOINT_NAMES)
    # the simulator drives policy joint i through the MJCF joint of that name
    indices = go2_indices(model)
    for i, name in enumerate(JOINT_NAMES):
        assert model.joint(int(model.actuator_trnid[indices.actuator[i], 0])).name == name
    # Unitree's motor order (FR, FL, RR, RL; hip, thigh, calf), and the map Go2 deployments of Isaac Lab's order use
    assert SDK_JOINT_NAMES[:4] == ("FR_hip_joint", "FR_thigh_joint", "FR_calf_joint", "FL_hip_joint")
    assert ids == [3, 0, 9, 6, 4, 1, 10, 7, 5, 2, 11, 8]


def test_deploy_facts_are_the_simulators_own_numbers():
    facts = deploy_facts(DEPLOY)
    assert facts["step_dt"] == pytest.approx(GO2_ACTUATION.physics_dt * GO2_ACTUATION.decimation)
    assert facts["stiffness"] == [GO2_ACTUATION.kp] * 12 and facts["damping"] == [GO2_ACTUATION.kd] * 12
    assert facts["default_joint_pos"] == list(DEFAULT_JOINT_POS)
    action = facts["actions"]["JointPositionAction"]
    assert action["scale"] == [0.25] * 12 and action["offset"] == list(DEFAULT_JOINT_POS)
    assert action["clip"] == [[-100.0, 100.0]] * 12
    assert list(facts["observations"]) == list(DEPLOY.observation_terms)
    assert facts["commands"]["base_velocity"]["ranges"]["lin_vel_x"] == [-1.0, 1.0]
    with pytest.raises(RwmuError, match="not a Go2 task"):
        deploy_facts(get_task("anymal_d_flat"))


def test_unitree_export_writes_deploy_yaml_onnx_metadata_and_an_rwmu_export_folder(deploy_run, tmp_path):
    out = tmp_path / "go2"
    assert main(["export", str(deploy_run), "--out", str(out), "--format", "unitree"]) == 0
    deploy = yaml.safe_load((out / "params" / "deploy.yaml").read_text())
    assert deploy == json.loads(json.dumps(deploy_facts(DEPLOY)))
    assert list(deploy) == [
        "joint_ids_map",
        "step_dt",
        "stiffness",
        "damping",
        "default_joint_pos",
        "commands",
        "actions",
        "observations",
    ]
    assert "base_lin_vel" not in deploy["observations"]
    meta = json.loads((out / "exported" / "policy.json").read_text())
    assert meta["task"] == "go2_flat_deploy" and meta["observation_dim"] == 45 and meta["deploy"] == deploy
    props = {p.key: p.value for p in onnx.load(str(out / "exported" / "policy.onnx")).metadata_props}
    assert props["joint_ids_map"] == "3,0,9,6,4,1,10,7,5,2,11,8" and props["task"] == "go2_flat_deploy"
    assert props["observation_terms"].split(",") == list(DEPLOY.observation_terms)
    assert [float(v) for v in props["default_joint_pos"].split(",")] == list(DEFAULT_JOINT_POS)
    # the network is the actor, taking the 45 raw observations
    actor, _ = load_actor(deploy_run)
    obs = torch.randn(3, 45)
    session = ort.InferenceSession(str(out / "exported" / "policy.onnx"))
    (onnx_actions,) = session.run(None, {session.get_inputs()[0].name: obs.numpy()})
    with torch.no_grad():
        expected = actor.as_jit()(obs).numpy()
    np.testing.assert_allclose(onnx_actions, expected, atol=1e-5)
    # exported/ is an rwmu export folder: rwmu evaluate scores it on its task
    argv = ["evaluate", "--policy", str(out / "exported"), "--task", "go2_flat_deploy", "--episodes", "1"]
    assert main([*argv, "--schedules", "stand", "--score-reference", "None", "--no-progress"]) == 0


def test_a_policy_that_observes_base_velocity_does_not_export_for_unitree(tmp_path, capsys):
    run = tiny_online(dataclasses.replace(get_task("go2_flat"), episode_length=16), tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "x"), "--format", "unitree"]) == 2
    err = capsys.readouterr().err
    assert "observes base_lin_vel" in err and "go2_flat_deploy" in err and not (tmp_path / "x").exists()
    with pytest.raises(RwmuError, match="observes base_lin_vel"):
        export_unitree(run, tmp_path / "y")
