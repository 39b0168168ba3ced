"""PPO online in MuJoCo: training reward, command curriculum, the runner end to end, and its run folder as a policy."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from rwmu.cli.main import main
from rwmu.data.loading import load_dataset
from rwmu.errors import RwmuError
from rwmu.evaluation.simulator import evaluate_policy
from rwmu.evaluation.simulator_config import EvaluationConfig
from rwmu.sim.env_config import Go2EnvConfig
from rwmu.tasks import get_task
from rwmu.tasks.go2_flat import GO2_FLAT
from rwmu.training.online import OnlineGo2Env, train_online
from rwmu.training.online_config import CommandCurriculumConfig, OnlineTrainingConfig, TrainingRewardConfig

SHORT_TASK = dataclasses.replace(GO2_FLAT, episode_length=16)


def make_env(reward=TrainingRewardConfig(), curriculum=CommandCurriculumConfig(), n=4):
    return OnlineGo2Env(Go2EnvConfig(num_envs=n, seed=0), SHORT_TASK, reward, curriculum)


def test_training_reward_is_the_clipped_task_reward_plus_the_termination_penalty():
    env = make_env(TrainingRewardConfig(only_positive=True, termination_penalty=-0.5))
    try:
        seen_negative_task = seen_termination = False
        generator = torch.Generator().manual_seed(0)
        for _ in range(300):  # large random actions: negative task rewards and, soon, falls
            _, reward, _, extras = env.step(5.0 * torch.randn(4, 12, generator=generator))
            task_reward, terminated = env.last_step.reward, env.last_step.terminated
            torch.testing.assert_close(reward, task_reward.clamp(min=0) - 0.5 * terminated.float())
            assert float(extras["log"]["Train/task_reward"]) == pytest.approx(float(task_reward.mean()))
            seen_negative_task |= bool((task_reward < 0).any())
            seen_termination |= bool(terminated.any())
            if seen_negative_task and seen_termination:
                break
        assert seen_negative_task and seen_termination
    finally:
        env.close()


def test_curriculum_widens_only_when_tracking_is_good():
    env = make_env(curriculum=CommandCurriculumConfig(initial_scale=0.2, step=0.1, threshold=0.8, interval=2))
    try:
        assert env.command_scale == 0.2
        assert env.core.command_sampler.config.lin_vel_x == pytest.approx((-0.2, 0.2))
        assert float(env.commands.abs().max()) <= 0.2 + 1e-6
        w, dt = GO2_FLAT.rewards.track_lin_vel_xy_exp, GO2_FLAT.dt

        def episodes(kernel):  # two finished episodes of 10 steps with this mean tracking kernel
            return {
                "Episode_Reward/track_lin_vel_xy_exp": torch.tensor(kernel * w * dt * 10),
                "Episode/length": torch.tensor(10.0),
                "Episode_Termination/terminated": torch.tensor(0.0),
                "Episode_Termination/time_out": torch.tensor(2.0),
            }

        env._update_curriculum(episodes(0.5))
        env._update_curriculum({})
        assert env.command_scale == 0.2  # poor tracking: stays
        env._update_curriculum(episodes(0.9))
        env._update_curriculum({})
        assert env.command_scale == pytest.approx(0.3)
        assert env.core.command_sampler.config.ang_vel_z == pytest.approx((-0.3, 0.3))
    finally:
        env.close()


def test_curriculum_off_uses_the_task_ranges():
    env = make_env(curriculum=CommandCurriculumConfig(enabled=False))
    try:
        assert env.command_scale == 1.0 and env.core.command_sampler.config == SHORT_TASK.commands
    finally:
        env.close()


def tiny_config(iterations: int) -> OnlineTrainingConfig:
    base = OnlineTrainingConfig()
    return dataclasses.replace(
        base,
        iterations=iterations,
        steps_per_env=8,
        save_interval=1,
        env=dataclasses.replace(base.env, num_envs=8, num_workers=1),
        policy=dataclasses.replace(base.policy, actor_hidden_dims=(16,), critic_hidden_dims=(16,)),
    )


def test_train_online_saves_self_describing_checkpoints_and_resumes(tmp_path, one_thread):
    out = tmp_path / "run"
    summary = train_online(SHORT_TASK, out, tiny_config(2), progress=False)
    assert summary["iterations"] == 2 and summary["control_steps_per_second"] > 0
    assert len(summary["history"]["episode_return"]) == 2
    info = json.loads((out / "run_info.json").read_text())
    assert info["task"] == "go2_flat" and info["trained_in"] == "mujoco" and "rsl_rl_cfg" in info
    assert not (out / "git").exists()  # no code state unless asked
    with pytest.raises(RwmuError, match="already holds a policy run"):
        train_online(SHORT_TASK, out, tiny_config(3), progress=False)
    resumed = train_online(SHORT_TASK, out, tiny_config(3), resume=True, progress=False)
    assert resumed["iterations"] == 3 and len(resumed["history"]["episode_return"]) == 3
    assert (out / "model_2.pt").is_file()


def test_cli_train_online_then_evaluate_and_collect_from_the_run_folder(tmp_path, one_thread):
    out = tmp_path / "expert"
    assert (
        main(
            [
                "train-online",
                "--out",
                str(out),
                "--iterations",
                "2",
                "--save-interval",
                "1",
                "--steps-per-env",
                "8",
                "--env.num-envs",
                "8",
                "--env.num-workers",
                "1",
                "--policy.actor-hidden-dims",
                "16",
                "--policy.critic-hidden-dims",
                "16",
            ]
        )
        == 0
    )
    stored = json.loads((out / "config.json").read_text())["config"]["command"]
    assert stored["train"]["env"]["num_envs"] == 8 and stored["task"] == "go2_flat_deploy"  # the default
    assert main(["evaluate", "--policy", str(out), "--episodes", "1", "--schedules", "stand", "--no-progress"]) == 0
    data = tmp_path / "data"
    assert (
        main(
            [
                "collect",
                "--policy",
                str(out),
                "--steps",
                "200",
                "--num-envs",
                "4",
                "--min-trajectory-rows",
                "16",
                "--format",
                "rwmu",
                "--out",
                str(data),
                "--no-progress",
            ]
        )
        == 0
    )
    dataset = load_dataset(data / "dataset.rwmu")
    assert dataset.num_rows == 200 and dataset.meta["provenance"]["policy"] == str(out.resolve())
    assert dataset.meta["provenance"]["checkpoint_iteration"] == 1  # the latest checkpoint (after 2 iterations)
    # A "mixed" dataset: the run's checkpoints in turn, each its share of the rows, each recorded with its hash.
    mixed = tmp_path / "mixed"
    assert (
        main(
            [
                "collect",
                "--policy",
                str(out),
                "--checkpoints",
                "all",
                "--steps",
                "201",
                "--num-envs",
                "4",
                "--min-trajectory-rows",
                "16",
                "--format",
                "rwmu",
                "--out",
                str(mixed),
                "--no-progress",
            ]
        )
        == 0
    )
    dataset = load_dataset(mixed / "dataset.rwmu")
    segments = dataset.meta["provenance"]["segments"]
    assert [s["checkpoint_iteration"] for s in segments] == [0, 1]
    assert [s["rows"] for s in segments] == [[0, 101], [101, 201]] and dataset.num_rows == 201
    assert segments[0]["policy_sha256"] != segments[1]["policy_sha256"]
    assert segments[1]["trajectories"][1] == dataset.num_trajectories and dataset.commands.shape == (201, 3)
    stats = json.loads((mixed / "collect_stats.json").read_text())
    assert stats["rows"] == 201 and stats["falls"] == sum(s["stats"]["falls"] for s in stats["segments"])
    assert stats["speed_coverage"]["commanded"] is not None
    assert main(["collect", "--policy", str(out), "--checkpoints", "7", "--out", str(tmp_path / "m2")]) == 2
    assert not (tmp_path / "m2").exists()
    assert main(["train-online", "--task", "anymal_d_flat", "--out", str(tmp_path / "x")]) == 2


def test_the_deployable_go2_trains_an_asymmetric_actor_critic(tmp_path, one_thread):
    """go2_flat_deploy: the actor reads 45 measured numbers, the critic 60 privileged ones (rsl_rl obs_groups), and
    the run evaluates as a go2_flat_deploy policy only."""
    task = dataclasses.replace(get_task("go2_flat_deploy"), episode_length=16)
    out = tmp_path / "run"
    train_online(task, out, tiny_config(1), progress=False)
    saved = torch.load(out / "model_0.pt", weights_only=True)
    first = [v for k, v in saved["actor_state_dict"].items() if k.endswith("weight")][0]
    critic_first = [v for k, v in saved["critic_state_dict"].items() if k.endswith("weight")][0]
    assert first.shape[1] == 45 and critic_first.shape[1] == 60
    info = json.loads((out / "run_info.json").read_text())
    assert info["task"] == "go2_flat_deploy" and info["observation_dim"] == 45
    assert info["rsl_rl_cfg"]["obs_groups"] == {"actor": ["policy"], "critic": ["critic"]}
    assert "base_lin_vel_x" not in info["observation_names"]
    summary = evaluate_policy(str(out), EvaluationConfig(episodes=1, schedules=("stand",), score_reference=None), task)
    assert summary["episodes"] == 1
    with pytest.raises(RwmuError, match="go2_flat_deploy"):
        evaluate_policy(str(out), EvaluationConfig(episodes=1, score_reference=None), GO2_FLAT)
